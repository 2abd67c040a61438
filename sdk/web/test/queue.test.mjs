import { test, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { Queue, uuidv7, utf8Length } from "../build/internal.mjs";
import { MemoryStorage, BrokenStorage } from "./helpers.mjs";

const P = "sendora:pk_live_test:";
const size = (e) => utf8Length(JSON.stringify(e));
const ev = (n) => ({ messageId: uuidv7(), type: "track", event: "e" + n });
const it = (e) => ({ e, n: size(e) });
const tick = () => new Promise((r) => setTimeout(r, 0));
const queue = (id, opts = {}) => {
  const dropped = [];
  const q = new Queue(P, id, opts.maxEvents ?? 1000, opts.maxBytes ?? 1 << 20, opts.alive ?? 20000, size, (items) => dropped.push(...items));
  q.dropped = dropped;
  return q;
};
const names = (q) => q._items.map((x) => x.e.event);

beforeEach(() => {
  globalThis.localStorage = new MemoryStorage();
});

test("the queue is written to localStorage, and removed when it empties", async () => {
  const q = queue("tab1");
  const events = [ev(1), ev(2)];
  q._push(events.map(it));
  await tick();
  assert.deepEqual(JSON.parse(localStorage.getItem(P + "q:tab1")), events);
  assert.ok(+localStorage.getItem(P + "h:tab1") > Date.now());
  q._remove(new Set(events.map((e) => e.messageId)));
  await tick();
  assert.equal(localStorage.getItem(P + "q:tab1"), null);
  assert.equal(localStorage.getItem(P + "h:tab1"), null);
});

test("writes within one task are coalesced into one", async () => {
  const q = queue("tab1");
  for (let i = 0; i < 50; i++) q._push([it(ev(i))]);
  await tick();
  assert.equal(localStorage.writes, 2); // heartbeat and record, once
});

test("a reload: the closed page's queue is adopted by the next page, in order", async () => {
  const old = queue("old");
  old._push([it(ev(1)), it(ev(2)), it(ev(3))]);
  old._close(); // pagehide
  const next = queue("new");
  next._push([it(ev(4))]); // made after the old ones: ids are time-ordered
  assert.equal(next._adopt(), false);
  assert.deepEqual(names(next), ["e1", "e2", "e3", "e4"]);
  assert.equal(localStorage.getItem(P + "q:old"), null);
  await tick();
  assert.equal(JSON.parse(localStorage.getItem(P + "q:new")).length, 4);
});

test("two live tabs never take each other's events", async () => {
  const a = queue("a");
  const b = queue("b");
  a._push([it(ev(1))]);
  b._push([it(ev(2))]);
  await tick();
  assert.equal(a._adopt(), true, "a sees b's live record");
  assert.equal(b._adopt(), true);
  assert.deepEqual(names(a), ["e1"]);
  assert.deepEqual(names(b), ["e2"]);
  // b closes; a adopts its events, once.
  b._close();
  assert.equal(a._adopt(), false);
  assert.deepEqual(names(a), ["e1", "e2"]);
  const c = queue("c");
  c._adopt();
  assert.deepEqual(names(c), [], "a record is adopted by one page");
});

test("a crashed tab's record is adopted once its heartbeat runs out, not before", async (t) => {
  let now = Date.now();
  t.mock.method(Date, "now", () => now);
  const crashed = queue("crashed", { alive: 20000 });
  crashed._push([it(ev(1))]);
  await tick();
  const other = queue("other");
  now += 19999;
  assert.equal(other._adopt(), true);
  assert.deepEqual(names(other), []);
  now += 2;
  assert.equal(other._adopt(), false);
  assert.deepEqual(names(other), ["e1"]);
});

test("two pages adopting the same record at once both get it; messageIds keep them one event each", () => {
  const old = queue("old");
  const e = ev(1);
  old._push([it(e)]);
  old._close();
  // Both read before either removes: what localStorage's lack of transactions allows.
  const raw = localStorage.getItem(P + "q:old");
  const a = queue("a");
  a._adopt();
  localStorage.setItem(P + "q:old", raw);
  const b = queue("b");
  b._adopt();
  assert.equal(a._items[0].e.messageId, e.messageId);
  assert.equal(b._items[0].e.messageId, e.messageId);
});

test("adopting what is already queued does not duplicate it", () => {
  const q = queue("q");
  const e = ev(1);
  q._push([it(e)]);
  q._push([it(e), it(ev(2))]);
  assert.deepEqual(names(q), ["e1", "e2"]);
});

test("the queue is bounded: the oldest events are dropped and reported", () => {
  const q = queue("q", { maxEvents: 3 });
  q._push([1, 2, 3, 4, 5].map((n) => it(ev(n))));
  assert.deepEqual(names(q), ["e3", "e4", "e5"]);
  assert.deepEqual(q.dropped.map((x) => x.e.event), ["e1", "e2"]);
  const small = queue("small", { maxBytes: 3 * size(ev(1)) + 5 });
  small._push([1, 2, 3, 4].map((n) => it(ev(n))));
  assert.deepEqual(names(small), ["e2", "e3", "e4"]);
});

test("a full localStorage: the queue keeps working in memory and says it is not stored", async () => {
  globalThis.localStorage = new MemoryStorage(200);
  const q = queue("q");
  q._push([it({ ...ev(1), traits: { big: "x".repeat(500) } })]);
  await tick();
  assert.equal(q._stored, false);
  assert.equal(q._items.length, 1);
  q._remove(new Set([q._items[0].e.messageId]));
  await tick();
  assert.equal(q._stored, true);
});

test("localStorage that throws on every call (blocked site data, private windows): nothing breaks", async () => {
  globalThis.localStorage = new BrokenStorage();
  const q = queue("q");
  q._push([it(ev(1))]);
  await tick();
  assert.equal(q._stored, false);
  assert.equal(q._adopt(), false);
  assert.equal(q._items.length, 1);
  delete globalThis.localStorage; // no localStorage at all (a server render)
  q._push([it(ev(2))]);
  await tick();
  assert.equal(q._adopt(), false);
});

test("garbage in a record is skipped, not fatal", () => {
  localStorage.setItem(P + "q:junk", "{not json");
  localStorage.setItem(P + "q:arr", JSON.stringify([null, 5, { no: "id" }, { messageId: "ok-1", type: "track" }]));
  const q = queue("q");
  q._adopt();
  assert.deepEqual(q._items.map((x) => x.e.messageId), ["ok-1"]);
  assert.equal(localStorage.getItem(P + "q:junk"), null);
});

test("another project's records are not touched", () => {
  localStorage.setItem("sendora:pk_live_other:q:x", JSON.stringify([ev(1)]));
  const q = queue("q");
  q._adopt();
  assert.equal(q._items.length, 0);
  assert.notEqual(localStorage.getItem("sendora:pk_live_other:q:x"), null);
});
