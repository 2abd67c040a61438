// Time-ordered message ids: UUIDv7 (RFC 9562). The first 48 bits are the
// Unix time in milliseconds, so ids sort by creation time and the server's
// dedup index takes them on its last pages. Within one millisecond the 12
// bits after the version are a counter (RFC 9562 §6.2, method 1), and the
// clock never goes backwards, so ids made by one page strictly increase.

let lastMs = 0;
let seq = 0;

const hex = (b: Uint8Array, from: number, to: number): string => {
  let s = "";
  for (let i = from; i < to; i++) s += (b[i] + 256).toString(16).slice(1);
  return s;
};

export function uuidv7(now: number = Date.now()): string {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  if (now > lastMs) {
    lastMs = now;
    seq = ((b[6] & 7) << 8) | b[7]; // a random start in the lower half leaves room to count
  } else if (++seq > 0xfff) {
    lastMs++; // 4,096 ids in one millisecond: borrow the next one
    seq = 0;
  }
  let t = lastMs;
  for (let i = 5; i >= 0; i--) {
    b[i] = t % 256;
    t = Math.floor(t / 256);
  }
  b[6] = 0x70 | (seq >> 8);
  b[7] = seq & 0xff;
  b[8] = 0x80 | (b[8] & 0x3f);
  return hex(b, 0, 4) + "-" + hex(b, 4, 6) + "-" + hex(b, 6, 8) + "-" + hex(b, 8, 10) + "-" + hex(b, 10, 16);
}
