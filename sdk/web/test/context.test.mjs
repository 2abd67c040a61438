import { test } from "node:test";
import assert from "node:assert/strict";
import { now, context, LIBRARY } from "../build/internal.mjs";

test("now is RFC 3339 in UTC, within the years the server takes; outside them it is left out", (t) => {
  assert.match(now(), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  t.mock.timers.enable({ apis: ["Date"], now: Date.UTC(10000, 0, 1) }); // a device clock in the year 10000
  assert.equal(now(), undefined);
  t.mock.timers.reset();
  t.mock.method(globalThis, "Date", class extends Date {
    constructor(...a) { super(...(a.length ? a : [Date.UTC(1969, 11, 31, 23, 59, 59)])); } // before 1970
  });
  assert.equal(now(), undefined);
  t.mock.restoreAll();
  t.mock.timers.enable({ apis: ["Date"], now: Date.UTC(1970, 0, 1) });
  assert.equal(now(), "1970-01-01T00:00:00.000Z");
  t.mock.timers.setTime(Date.UTC(9999, 11, 31, 23, 59, 59, 999));
  assert.equal(now(), "9999-12-31T23:59:59.999Z");
});

test("context names the library, and leaves out what the runtime lacks", () => {
  const c = context();
  assert.deepEqual(c.library, LIBRARY);
  assert.equal(c.library.name, "sdk-web");
  assert.deepEqual(Object.keys(c.page), ["url", "path", "referrer", "title"]);
  assert.equal(typeof c.timezone, "string");
});
