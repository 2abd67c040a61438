import { test } from "node:test";
import assert from "node:assert/strict";
import { uuidv7 } from "../build/internal.mjs";

const shape = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const millis = (id) => parseInt(id.replace(/-/g, "").slice(0, 12), 16);

test("a UUIDv7: version 7, RFC 9562 variant, the first 48 bits are the Unix milliseconds", () => {
  const before = Date.now();
  const id = uuidv7();
  const after = Date.now();
  assert.match(id, shape);
  assert.ok(millis(id) >= before && millis(id) <= after, `${millis(id)} not in [${before}, ${after}]`);
});

test("ids made one after another strictly increase, within a millisecond too", () => {
  const ids = Array.from({ length: 20000 }, () => uuidv7());
  for (let i = 1; i < ids.length; i++) assert.ok(ids[i - 1] < ids[i], `${ids[i - 1]} !< ${ids[i]}`);
  assert.equal(new Set(ids).size, ids.length);
  for (const id of ids) assert.match(id, shape);
});

test("4,096 ids in one millisecond: the counter borrows the next millisecond instead of wrapping", () => {
  const t = Date.now() + 10_000;
  const ids = Array.from({ length: 5000 }, () => uuidv7(t));
  for (let i = 1; i < ids.length; i++) assert.ok(ids[i - 1] < ids[i]);
  assert.ok(millis(ids.at(-1)) > t && millis(ids.at(-1)) <= t + 2);
});

test("a clock that goes back does not make ids go back", () => {
  const a = uuidv7(Date.now() + 20_000);
  const b = uuidv7(Date.now() - 60_000);
  assert.ok(a < b);
});
