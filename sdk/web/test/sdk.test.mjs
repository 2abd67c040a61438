// The built ES module (web/static/sdk/v1/sendora.mjs) against a real HTTP
// server. Real fetch, real sockets; localStorage is the in-memory one.
import { test, beforeEach, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { setMaxListeners } from "node:events";
import { MemoryStorage, BrokenStorage, startServer, until } from "./helpers.mjs";

// The page's events (pagehide, visibilitychange) on a plain EventTarget.
const page = new EventTarget();
setMaxListeners(1000, page);
globalThis.addEventListener = page.addEventListener.bind(page);
globalThis.document = { visibilityState: "visible" };

const { default: Sendora } = await import("../../../web/static/sdk/v1/sendora.mjs");
const version = JSON.parse(readFileSync(new URL("../package.json", import.meta.url))).version;

const server = await startServer();
after(() => server.close());

let n = 0;
/** sdk makes an SDK with a project key of its own, so tests never share stored state. */
function sdk(options = {}) {
  const rejections = [];
  const s = new Sendora({
    publicKey: options.publicKey || "pk_live_test" + ++n,
    endpoint: server.url + "/",
    flushInterval: 60_000,
    flushAt: 500,
    onRejected: (rs) => rejections.push(...rs),
    ...options,
  });
  s.rejections = rejections;
  return s;
}
const uuidv7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let warnings = [];
const warn = console.warn;
console.warn = (...a) => warnings.push(a.join(" "));
after(() => (console.warn = warn));

beforeEach(() => {
  globalThis.localStorage = new MemoryStorage();
  server.requests.length = 0;
  server.stored.clear();
  server.next.length = 0;
  server.down = false;
  warnings = [];
});

test("identify's token rides on every later event of that user, until reset()", async () => {
  const s = sdk();
  s.track("Before Login");
  s.identify("u_123", { plan: "pro" }, { identityToken: "hmac_v1:abc" });
  s.track("Report Exported", { format: "csv" });
  s.page("Pricing");
  s.identify("u_123", { seen: true }); // the same user again, no token given: keep it
  s.reset();
  s.track("After Logout");
  const r = await s.flush();
  assert.equal(r.accepted, 6);
  assert.deepEqual(r.rejected, []);
  assert.equal(r.queued, 0);
  const ev = server.events();
  assert.deepEqual(ev.map((e) => [e.type, e.userId, e.identityToken]), [
    ["track", undefined, undefined],
    ["identify", "u_123", "hmac_v1:abc"],
    ["track", "u_123", "hmac_v1:abc"],
    ["page", "u_123", "hmac_v1:abc"],
    ["identify", "u_123", "hmac_v1:abc"],
    ["track", undefined, undefined],
  ]);
  assert.deepEqual(ev[1].traits, { plan: "pro" });
  assert.deepEqual(ev[2].properties, { format: "csv" });
  assert.equal(ev[3].properties.name, "Pricing");
  assert.equal(ev[2].anonymousId, ev[0].anonymousId);
  assert.notEqual(ev[5].anonymousId, ev[0].anonymousId, "reset() makes a new anonymousId");
});

test("another user's identify drops the previous user's token", async () => {
  const s = sdk();
  s.identify("u_1", {}, { identityToken: "t1" });
  s.identify("u_2", {});
  s.track("x");
  await s.flush();
  assert.deepEqual(server.events().map((e) => [e.userId, e.identityToken]), [["u_1", "t1"], ["u_2", undefined], ["u_2", undefined]]);
});

test("anonymousId, userId and token are kept in localStorage for the next page; reset() clears them", async () => {
  const pk = "pk_live_persist";
  const a = sdk({ publicKey: pk });
  a.identify("u_9", {}, { identityToken: "tok9" });
  await a.flush();
  const b = sdk({ publicKey: pk }); // the next page
  assert.equal(b.anonymousId, a.anonymousId);
  assert.equal(b.userId, "u_9");
  b.track("Next Page");
  await b.flush();
  const last = server.events().at(-1);
  assert.deepEqual([last.userId, last.identityToken, last.anonymousId], ["u_9", "tok9", a.anonymousId]);
  b.reset();
  const c = sdk({ publicKey: pk });
  assert.equal(c.userId, undefined);
  assert.equal(c.anonymousId, b.anonymousId);
  assert.notEqual(c.anonymousId, a.anonymousId);
});

test("every event: a UUIDv7 messageId in order, timestamp, sentAt at send time, context", async () => {
  const s = sdk();
  for (let i = 0; i < 50; i++) s.track("e" + i);
  const before = new Date().toISOString();
  await s.flush();
  const ev = server.events();
  assert.equal(ev.length, 50);
  for (let i = 0; i < ev.length; i++) {
    const e = ev[i];
    assert.match(e.messageId, uuidv7);
    if (i) assert.ok(ev[i - 1].messageId < e.messageId, "ids increase");
    assert.match(e.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.ok(e.sentAt >= before && e.sentAt >= e.timestamp, `sentAt ${e.sentAt} before send`);
    assert.deepEqual(e.context.library, { name: "sdk-web", version });
    assert.equal(e.context.timezone, Intl.DateTimeFormat().resolvedOptions().timeZone);
    assert.ok("page" in e.context);
  }
  const req = server.requests[0];
  assert.equal(req.url, "/events/batch");
  assert.match(req.headers["content-type"], /^text\/plain/);
  assert.equal(req.body.publicKey, s.rejections && req.body.publicKey);
  assert.equal(req.headers.cookie, undefined);
});

test("flushAt: the batch goes as soon as that many events wait", async () => {
  const s = sdk({ flushAt: 5 });
  for (let i = 0; i < 4; i++) s.track("e" + i);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(server.requests.length, 0);
  s.track("e4");
  await until(() => server.stored.size == 5, "the batch at flushAt");
  assert.equal(server.requests.length, 1);
  assert.equal(server.requests[0].body.events.length, 5);
});

test("flushInterval: what waits is sent without a flush()", async () => {
  const s = sdk({ flushInterval: 50 });
  s.track("alone");
  await until(() => server.stored.size == 1, "the timer's send");
});

test("batches stay within 500 events and 512 KiB", async () => {
  const s = sdk();
  for (let i = 0; i < 1000; i++) s.track("small " + i);
  let r = await s.flush();
  assert.equal(r.accepted, 1000);
  assert.deepEqual(server.requests.map((q) => q.body.events.length), [500, 500]);
  server.requests.length = 0;
  const big = "x".repeat(30 * 1024);
  for (let i = 0; i < 30; i++) s.track("big " + i, { big }); // 900 KiB: within the queue's 1 MiB
  r = await s.flush();
  assert.equal(r.accepted, 30);
  assert.ok(server.requests.length >= 2);
  for (const q of server.requests) assert.ok(Buffer.byteLength(q.raw) <= 512 * 1024, `${Buffer.byteLength(q.raw)} bytes`);
});

test("the queue is bounded: past 1,000 waiting events the oldest are dropped, warned about and reported", async () => {
  const s = sdk();
  server.down = true;
  for (let i = 0; i < 1000; i++) s.track("e" + i);
  assert.equal((await s.flush()).queued, 1000);
  for (let i = 1000; i < 1005; i++) s.track("e" + i);
  server.down = false;
  assert.deepEqual(s.rejections.map((x) => [x.code, x.event.event]), [0, 1, 2, 3, 4].map((i) => ["QUEUE_FULL", "e" + i]));
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /QUEUE_FULL/);
  const r = await s.flush();
  assert.equal(r.accepted, 1000);
  assert.equal(server.stored.size, 1000);
  assert.ok(!server.stored.has(s.rejections[0].event.messageId));
});

test("an event over 32 KiB is dropped with a warning and reported to onRejected; the others go", async () => {
  const s = sdk();
  s.track("ok", { pad: "y".repeat(31 * 1024) });
  s.identify("u_1", { huge: "z".repeat(40 * 1024) }, { identityToken: "secret-token" });
  s.track("ok too");
  const r = await s.flush();
  assert.equal(r.accepted, 2);
  assert.deepEqual(server.events().map((e) => e.event), ["ok", "ok too"]);
  assert.equal(s.rejections.length, 1);
  const [rej] = s.rejections;
  assert.equal(rej.code, "PAYLOAD_TOO_LARGE");
  assert.equal(rej.event.type, "identify");
  assert.equal(rej.event.identityToken, undefined, "no token in what onRejected gets");
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /PAYLOAD_TOO_LARGE.*Fix: keep each event under 32 KiB/);
  s.track("again", { huge: "z".repeat(40 * 1024) });
  assert.equal(warnings.length, 1, "once per reason");
  assert.equal(s.rejections.length, 2);
});

test("an event JSON cannot carry (a cycle) is refused at once; the SDK carries on", async () => {
  const s = sdk();
  const traits = { a: 1 };
  traits.self = traits;
  s.identify("u_1", traits);
  s.track("fine", { n: 10n === 10n ? 1 : 0 });
  s.track("bigint", { n: 10n });
  const r = await s.flush();
  assert.equal(r.accepted, 1);
  assert.deepEqual(s.rejections.map((x) => [x.code, x.event.type]), [["INVALID_EVENT", "identify"], ["INVALID_EVENT", "track"]]);
});

test("the event is copied when made: later changes to the app's objects do not reach it; Dates become ISO strings", async () => {
  const s = sdk();
  const props = { plan: "pro", at: new Date("2026-11-24T10:00:00Z"), list: [1] };
  s.track("Upgraded", props);
  props.plan = "free";
  props.list.push(2);
  await s.flush();
  assert.deepEqual(server.events()[0].properties, { plan: "pro", at: "2026-11-24T10:00:00.000Z", list: [1] });
});

test("a lone UTF-16 surrogate (a string cut inside an emoji) is sent as U+FFFD, not refused; pairs are kept", async () => {
  const s = sdk();
  const cut = "Party 🎉".slice(0, 7); // "Party " and half of the emoji
  s.track("t", { cut, whole: "🎉", low: "\udc00x", escaped: "\\ud800" });
  const r = await s.flush();
  assert.equal(r.accepted, 1);
  const p = server.events()[0].properties;
  assert.deepEqual(p, { cut: "Party \ufffd", whole: "🎉", low: "\ufffdx", escaped: "\\ud800" });
  assert.ok(!/\\ud[89ab]/i.test(server.requests[0].raw.replace(/\\\\/g, "")), "no escaped lone surrogate on the wire");
});

test("503 with Retry-After: kept, not resent before the server said, then sent with the same messageIds", async (t) => {
  const frozen = Date.now();
  t.mock.method(Date, "now", () => frozen); // the clock stands still: the second has not passed
  const s = sdk();
  for (let i = 0; i < 3; i++) s.track("e" + i);
  server.next.push({ status: 503, headers: { "Retry-After": "1" }, body: { error: { code: "OVERLOADED", message: "busy" } } });
  let r = await s.flush();
  assert.deepEqual([r.accepted, r.rejected.length, r.queued], [0, 0, 3]);
  r = await s.flush(); // within the second: the SDK waits as told
  assert.equal(server.requests.length, 1);
  assert.equal(r.queued, 3);
  t.mock.restoreAll(); // time moves on; the SDK's timer retries by itself
  await until(() => server.stored.size == 3, "the retry after Retry-After");
  const [first, second] = server.requests;
  assert.deepEqual(second.body.events.map((e) => e.messageId), first.body.events.map((e) => e.messageId));
  assert.ok(second.body.events[0].sentAt > first.body.events[0].sentAt, "sentAt is the time of each send");
  assert.deepEqual(s.rejections, []);
});

test("network errors, 408, 429 and 500 are retried, with the same messageIds; each event is stored once", async (t) => {
  const frozen = Date.now();
  t.mock.method(Date, "now", () => frozen); // no backoff runs out: only flush() sends
  const s = sdk();
  s.track("a");
  s.track("b");
  server.next.push(
    "drop",
    { status: 408, body: { error: { code: "REQUEST_TIMEOUT", message: "the body did not arrive in time" } } },
    { status: 429, body: { error: { code: "RATE_LIMITED" } } },
    { status: 500, body: {} },
  );
  for (let i = 0; i < 4; i++) assert.equal((await s.flush()).queued, 2);
  const r = await s.flush();
  assert.deepEqual([r.accepted, r.queued], [2, 0]);
  const ids = server.requests.map((q) => q.body.events.map((e) => e.messageId).join());
  assert.equal(new Set(ids).size, 1, "every attempt carries the same ids");
  assert.equal(server.stored.size, 2);
});

test("a lost answer: the server stored the batch but the SDK never heard; the resend is stored once", async (t) => {
  const frozen = Date.now();
  t.mock.method(Date, "now", () => frozen);
  const s = sdk();
  s.track("a");
  // The server handles the request, then the connection dies before the answer.
  const orig = server.next;
  server.next.push("drop");
  const stored = server.stored;
  await s.flush();
  const firstIds = server.requests[0].body.events.map((e) => e.messageId);
  firstIds.forEach((id, i) => stored.set(id, server.requests[0].body.events[i])); // as if committed
  await s.flush();
  assert.equal(stored.size, 1);
  assert.equal(orig.length, 0);
});

test("a 2xx that is not Sendora's answer (a web page served for any path) keeps the events, warns, and retries", async (t) => {
  const frozen = Date.now();
  t.mock.method(Date, "now", () => frozen);
  const s = sdk();
  s.track("a");
  server.next.push({ status: 200, headers: { "Content-Type": "text/html" }, raw: "<!doctype html><title>Shop</title>" }, { status: 204, raw: "" });
  for (let i = 0; i < 2; i++) {
    const r = await s.flush();
    assert.deepEqual([r.accepted, r.queued], [0, 1]);
  }
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /without Sendora's JSON: check the endpoint option/);
  assert.equal((await s.flush()).accepted, 1);
  assert.equal(server.stored.size, 1);
});

test("other 4xx are never retried: every event of the batch goes to onRejected with the code", async () => {
  for (const [status, code] of [[401, "INVALID_PUBLIC_KEY"], [403, "ORIGIN_NOT_ALLOWED"], [400, "INVALID_JSON"], [413, "PAYLOAD_TOO_LARGE"], [422, undefined]]) {
    server.requests.length = 0;
    const s = sdk({ debug: true });
    s.track("a");
    s.track("b");
    server.next.push({ status, body: code ? { error: { code, message: "no" } } : {} });
    const r = await s.flush();
    assert.equal(r.accepted, 0);
    assert.equal(r.queued, 0, `${status}: nothing left to retry`);
    assert.deepEqual(r.rejected.map((x) => x.code), [code || "HTTP_" + status, code || "HTTP_" + status]);
    assert.equal(s.rejections.length, 2);
    await s.flush();
    assert.equal(server.requests.length, 1, `${status} was retried`);
  }
});

test("a forged token: onRejected gets the event with IDENTITY_UNVERIFIED and signature_mismatch; debug warns once, naming the fix", async () => {
  const s = sdk({ debug: true });
  s.identify("u_victim", { plan: "enterprise" }, { identityToken: "forged" });
  s.track("x");
  s.reset();
  s.track("anonymous");
  const r = await s.flush();
  assert.equal(r.accepted, 1);
  assert.equal(r.rejected.length, 2);
  for (const x of [...r.rejected, ...s.rejections.slice(0, 2)]) {
    assert.equal(x.code, "IDENTITY_UNVERIFIED");
    assert.equal(x.reason, "signature_mismatch");
    assert.equal(x.event.userId, "u_victim");
    assert.equal(x.event.identityToken, undefined);
  }
  assert.deepEqual(r.rejected.map((x) => x.event.type), ["identify", "track"]);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /IDENTITY_UNVERIFIED signature_mismatch.*Fix: sign this exact userId/);
  assert.ok(!warnings[0].includes("forged"), "the warning shows no token");
});

test("without debug, server rejections do not warn", async () => {
  const s = sdk();
  s.identify("u_victim", {}, { identityToken: "forged" });
  await s.flush();
  assert.equal(s.rejections.length, 1);
  assert.deepEqual(warnings, []);
});

test("an onRejected that throws does not stop the SDK", async () => {
  const errors = [];
  const error = console.error;
  console.error = (e) => errors.push(e);
  try {
    const s = sdk({ onRejected: () => { throw new Error("app bug"); } });
    s.identify("u", {}, { identityToken: "forged" });
    await s.flush();
    s.reset();
    s.track("after");
    const r = await s.flush();
    assert.equal(r.accepted, 1);
    assert.equal(errors.length, 1);
  } finally {
    console.error = error;
  }
});

test("a full localStorage, or one that throws: events are still sent, and debug says they are kept in memory only", async () => {
  for (const storage of [new MemoryStorage(100), new BrokenStorage()]) {
    globalThis.localStorage = storage;
    warnings = [];
    const s = sdk({ debug: true });
    s.identify("u_1", { big: "x".repeat(1000) }, { identityToken: "t" });
    s.track("a");
    const r = await s.flush();
    assert.equal(r.accepted, 2);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /localStorage refuses writes/);
  }
});

test("flush() while a send is in flight counts that send's events too", async () => {
  const s = sdk({ flushAt: 2 });
  s.track("a");
  s.track("b"); // starts a send
  const r = await s.flush();
  assert.equal(r.accepted, 2);
  assert.equal(server.requests.length, 1);
});

test("pagehide: the queue goes out with keepalive, and the next page adopts what was left and resends it once", async (t) => {
  const frozen = Date.now();
  t.mock.method(Date, "now", () => frozen); // the old page's own retry never comes: it is gone
  const pk = "pk_live_pagehide";
  const a = sdk({ publicKey: pk });
  a.track("one");
  a.track("two");
  server.next.push("drop"); // the keepalive request is lost with the page
  page.dispatchEvent(new Event("pagehide"));
  await until(() => server.requests.length == 1, "the keepalive request");
  assert.deepEqual(server.requests[0].body.events.map((e) => e.event), ["one", "two"]);
  // The next page (a reload) finds the closed page's record at once.
  const b = sdk({ publicKey: pk });
  b.track("three");
  const r = await b.flush();
  assert.deepEqual(server.events().slice(2).map((e) => e.event), ["one", "two", "three"]);
  assert.equal(r.accepted, 3);
  assert.equal(server.stored.size, 3);
  await a.flush(); // the old page, had it lived on: nothing is stored twice
  assert.equal(server.stored.size, 3);
});

test("visibilitychange to hidden sends what waits, and the page carries on", async () => {
  const s = sdk();
  s.track("before hiding");
  document.visibilityState = "hidden";
  page.dispatchEvent(new Event("visibilitychange"));
  document.visibilityState = "visible";
  await until(() => server.stored.size == 1, "the keepalive send");
  s.track("after");
  const r = await s.flush();
  assert.equal(r.queued, 0);
  // The event in the keepalive request is not sent again by the flush.
  assert.deepEqual(server.requests.map((q) => q.body.events.map((e) => e.event)), [["before hiding"], ["after"]]);
});
