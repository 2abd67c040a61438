// localStorage that never throws. It is missing on servers, throws when the
// user blocks site data, and refuses writes when full (or, in old Safari,
// in private windows). Each failure reads as "nothing stored" or a false
// return, and the SDK carries on in memory.

const ls = (): Storage => globalThis.localStorage;

export function read(key: string): any {
  try {
    const v = ls().getItem(key);
    return v == null ? undefined : JSON.parse(v);
  } catch {
    return undefined;
  }
}

export function write(key: string, value: unknown): boolean {
  try {
    ls().setItem(key, JSON.stringify(value));
    return true;
  } catch {
    return false;
  }
}

export function remove(key: string): void {
  try {
    ls().removeItem(key);
  } catch {
    // nothing stored, nothing to remove
  }
}

export function keys(prefix: string): string[] {
  const out: string[] = [];
  try {
    const s = ls();
    for (let i = 0; i < s.length; i++) {
      const k = s.key(i);
      if (k && k.indexOf(prefix) == 0) out.push(k);
    }
  } catch {
    // no storage: no keys
  }
  return out;
}
