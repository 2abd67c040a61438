// Signs and verifies identity JWTs with the two JWT libraries customers use
// most in Node, for the cross-checks in internal/identity (jwt_node_test.go):
// jsonwebtoken (Auth0) and jose (panva). Reads a JSON array of jobs on stdin
// and writes the same array with results added, one job a line:
//
//   {"op": "sign", "lib": "jsonwebtoken"|"jose", "secret", "payload", "alg"?, "header"?}
//     → "token"
//   {"op": "verify", "lib": …, "secret", "token", "now" (unix seconds)}
//     → "ok", and "sub" and "traits" (JSON text) or "error"
//
// The libraries are pinned in package.json / package-lock.json beside this
// file; install them with `npm ci` here (node_modules is not committed).
// Regenerate the committed vectors (from internal/identity):
//   (cd testdata/node && npm ci) && node testdata/node/jwt.mjs < testdata/node/jwt_cases.json > testdata/jwt_vectors.json
import { readFileSync } from "node:fs";
import jsonwebtoken from "jsonwebtoken";
import * as jose from "jose";

const jobs = JSON.parse(readFileSync(0, "utf8"));
const out = [];
for (const job of jobs) {
  try {
    if (job.op === "sign") {
      out.push({ ...job, token: await sign(job) });
    } else {
      out.push({ ...job, ...(await verify(job)) });
    }
  } catch (e) {
    out.push({ ...job, error: String(e && e.message || e) });
  }
}
process.stdout.write("[\n" + out.map((j) => "  " + JSON.stringify(j)).join(",\n") + "\n]\n");

async function sign({ lib, secret, payload, alg = "HS256", header = {} }) {
  if (lib === "jsonwebtoken") {
    // Without "iat" in the payload jsonwebtoken adds the current time;
    // vectors stay reproducible by leaving it out (noTimestamp) unless given.
    const opts = { algorithm: alg, header: { alg, ...header }, noTimestamp: !("iat" in payload) };
    return jsonwebtoken.sign(payload, alg === "none" ? "" : secret, opts);
  }
  if (alg === "none") {
    return new jose.UnsecuredJWT(payload).encode();
  }
  return await new jose.SignJWT(payload)
    .setProtectedHeader({ alg, ...header })
    .sign(new TextEncoder().encode(secret));
}

async function verify({ lib, secret, token, now }) {
  if (lib === "jsonwebtoken") {
    const p = jsonwebtoken.verify(token, secret, { algorithms: ["HS256"], clockTimestamp: now, clockTolerance: 60 });
    return { ok: true, sub: p.sub, traits: p.traits === undefined ? undefined : JSON.stringify(p.traits) };
  }
  const { payload: p } = await jose.jwtVerify(token, new TextEncoder().encode(secret), {
    algorithms: ["HS256"], currentDate: new Date(now * 1000), clockTolerance: 60,
  });
  return { ok: true, sub: p.sub, traits: p.traits === undefined ? undefined : JSON.stringify(p.traits) };
}
