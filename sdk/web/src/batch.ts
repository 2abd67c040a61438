// The server's limits, kept on this side so no request is refused whole.

/** An event is at most 32 KiB as the server counts it: its JSON and the comma before it. */
export const MAX_EVENT_BYTES = 32 * 1024;
/** A batch body is at most 512 KiB... */
export const MAX_BODY_BYTES = 512 * 1024;
/** ...and at most 500 events. */
export const MAX_BATCH_EVENTS = 500;
/** Browsers allow 64 KiB of keepalive request bodies in flight per page. */
export const KEEPALIVE_BYTES = 64 * 1024;

/** One queued event and the size of its JSON as sent. */
export interface Item {
  e: { messageId: string; [k: string]: unknown };
  n: number;
}

/** utf8Length is the UTF-8 byte count of a well-formed string (JSON.stringify escapes lone surrogates). */
export function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) n += c < 0x800 || (c >= 0xd800 && c < 0xe000) ? 1 : 2; // a surrogate pair is 4 bytes: 2 + 1 + 1
  }
  return n;
}

/** head is the batch body before its events: `{"publicKey":"…","events":[`. */
export const head = (publicKey: string): string => '{"publicKey":' + JSON.stringify(publicKey) + ',"events":[';

/**
 * take picks the oldest items not skipped that fit one request of at most
 * `budget` bytes (and MAX_BATCH_EVENTS events), in queue order. It stops at
 * the first item that does not fit, so events go out in the order they were
 * made.
 */
export function take(items: Item[], budget: number, headBytes: number, skip: (it: Item) => boolean): Item[] {
  const out: Item[] = [];
  let bytes = headBytes + 2; // "]}"
  for (const it of items) {
    if (skip(it)) continue;
    if (out.length == MAX_BATCH_EVENTS || bytes + it.n + 1 > budget) break;
    bytes += it.n + 1;
    out.push(it);
  }
  return out;
}

/** size is the body's byte count for these items (take's arithmetic). */
export const size = (items: Item[], headBytes: number): number =>
  items.reduce((s, it) => s + it.n + 1, headBytes + 2);

/** body is the batch request's JSON, every event stamped with the same sentAt. */
export function body(publicKey: string, items: Item[], sentAt: string | undefined): string {
  return head(publicKey) + items.map((it) => JSON.stringify({ ...it.e, sentAt })).join(",") + "]}";
}
