// The committed builds: their shape, and the size budget (5 KB gzipped).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const dir = new URL("../../../web/static/sdk/v1/", import.meta.url);
const read = (f) => readFileSync(new URL(f, dir));
const BUDGET = 5 * 1024;

for (const f of ["sendora.js", "sendora.mjs"]) {
  test(`${f} is at most 5 KB minified and gzipped`, (t) => {
    const gz = gzipSync(read(f), { level: 9 }).length;
    t.diagnostic(`${f}: ${read(f).length} bytes minified, ${gz} gzipped (budget ${BUDGET})`);
    assert.ok(gz <= BUDGET, `${f} is ${gz} bytes gzipped, over ${BUDGET}`);
  });
}

test("sendora.js is a classic script that sets window.Sendora; sendora.mjs has a default export", () => {
  const js = read("sendora.js").toString();
  assert.ok(!/^\s*(import|export)\b/m.test(js), "the script build has no import or export");
  assert.match(js, /window\.Sendora=/);
  assert.match(read("sendora.mjs").toString(), /export\s*\{[^}]*\bas default\b/);
  const dts = read("sendora.d.ts").toString();
  assert.match(dts, /export default class Sendora/);
  assert.ok(!/private /.test(dts) && !/^import /m.test(dts));
});

test("no runtime dependencies", () => {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url)));
  assert.deepEqual(Object.keys(pkg.dependencies || {}), []);
});
