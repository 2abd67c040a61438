import { test } from "node:test";
import assert from "node:assert/strict";
import { utf8Length, take, body, size, head, MAX_BATCH_EVENTS, MAX_BODY_BYTES, KEEPALIVE_BYTES } from "../build/internal.mjs";

test("utf8Length counts bytes as the server sees them", () => {
  const samples = ["", "plain", "é", "€uro", "日本語", "😀 emoji", "\u0000\u007f\u0080\u07ff\u0800\uffff", "a\ud83d\ude00b"];
  for (const s of samples) assert.equal(utf8Length(s), Buffer.byteLength(s, "utf8"), JSON.stringify(s));
  // JSON.stringify escapes a lone surrogate, so what is measured is what is sent.
  const lone = JSON.stringify({ x: "a\ud800b" });
  assert.equal(utf8Length(lone), Buffer.byteLength(lone, "utf8"));
  let random = "";
  for (let i = 0; i < 5000; i++) random += String.fromCodePoint(Math.floor(Math.random() * 0x10ffff) % 0xd800);
  assert.equal(utf8Length(random), Buffer.byteLength(random, "utf8"));
});

const item = (i, pad = 0) => {
  const e = { messageId: "m" + String(i).padStart(6, "0"), type: "track", event: "x".repeat(pad) };
  return { e, n: utf8Length(JSON.stringify({ ...e, sentAt: "2000-01-01T00:00:00.000Z" })) };
};

test("a batch holds at most 500 events", () => {
  const items = Array.from({ length: 1200 }, (_, i) => item(i));
  const hb = utf8Length(head("pk_live_x"));
  const b = take(items, MAX_BODY_BYTES, hb, () => false);
  assert.equal(b.length, MAX_BATCH_EVENTS);
  assert.deepEqual(b, items.slice(0, 500));
});

test("a batch body stays within the byte budget, and its size is never understated", () => {
  const items = Array.from({ length: 100 }, (_, i) => item(i, 20000 + i)); // ~20 KiB each
  const pk = "pk_live_0123456789abcdefghijklmn";
  const hb = utf8Length(head(pk));
  for (const budget of [MAX_BODY_BYTES, KEEPALIVE_BYTES]) {
    const b = take(items, budget, hb, () => false);
    const text = body(pk, b, "2026-11-24T10:00:01.000Z");
    const bytes = Buffer.byteLength(text);
    assert.ok(bytes <= budget, `${bytes} > ${budget}`);
    assert.ok(size(b, hb) >= bytes);
    // One more event would not have fitted.
    assert.ok(size(items.slice(0, b.length + 1), hb) > budget);
    const parsed = JSON.parse(text);
    assert.equal(parsed.publicKey, pk);
    assert.equal(parsed.events.length, b.length);
    for (const e of parsed.events) assert.equal(e.sentAt, "2026-11-24T10:00:01.000Z");
  }
});

test("take keeps queue order, skips what is in flight, and stops at the first event that does not fit", () => {
  const items = [item(1), item(2, 40000), item(3), item(4)];
  const hb = 30;
  assert.deepEqual(take(items, 1000, hb, () => false), [items[0]]);
  assert.deepEqual(take(items, 1000, hb, (it) => it === items[0] || it === items[1]), [items[2], items[3]]);
  assert.deepEqual(take(items, 10, hb, () => false), []);
});
