import { test } from "node:test";
import assert from "node:assert/strict";
import { backoff, retryAfter, BASE_DELAY, MAX_DELAY, MAX_RETRY_AFTER } from "../build/internal.mjs";

test("backoff doubles with each failure, jittered within the upper half of the window", () => {
  for (let attempt = 1; attempt <= 6; attempt++) {
    const window = BASE_DELAY * 2 ** (attempt - 1);
    assert.equal(backoff(attempt, 0, 0), window / 2, `attempt ${attempt}, lowest`);
    assert.equal(backoff(attempt, 0, 1), window, `attempt ${attempt}, highest`);
    const d = backoff(attempt, 0, 0.37);
    assert.ok(d > window / 2 && d < window);
  }
});

test("backoff is capped, however many failures", () => {
  assert.equal(backoff(7, 0, 1), MAX_DELAY);
  assert.equal(backoff(1000, 0, 1), MAX_DELAY);
  assert.ok(backoff(1000, 0, 0) >= MAX_DELAY / 2);
});

test("jitter spreads clients that failed together", () => {
  const seen = new Set(Array.from({ length: 100 }, () => backoff(3)));
  assert.ok(seen.size > 50, `only ${seen.size} distinct delays`);
  for (const d of seen) assert.ok(d >= 2000 && d <= 4000);
});

test("Retry-After is a floor: never sooner, at most a second later", () => {
  for (const r of [0, 0.5, 1]) {
    const d = backoff(1, 5000, r);
    assert.ok(d >= 5000 && d <= 6000, `${d}`);
  }
  // A short Retry-After does not undercut the exponential backoff.
  assert.ok(backoff(6, 1000, 0) >= 16000);
  // An absurd one is bounded.
  assert.ok(backoff(1, 1e12, 0) <= MAX_RETRY_AFTER + 1000);
});

test("retryAfter reads seconds and HTTP dates, and ignores garbage", () => {
  assert.equal(retryAfter("2"), 2000);
  assert.equal(retryAfter(" 30 "), 30000);
  assert.equal(retryAfter("0"), 0);
  const now = Date.parse("2026-11-24T10:00:00Z");
  assert.equal(retryAfter("Tue, 24 Nov 2026 10:00:07 GMT", now), 7000);
  assert.equal(retryAfter("Tue, 24 Nov 2026 09:00:00 GMT", now), 0); // in the past
  for (const h of [null, undefined, "", "soon", "-5", "1e3"]) assert.equal(retryAfter(h), 0, String(h));
  assert.equal(retryAfter("999999999"), MAX_RETRY_AFTER);
});
