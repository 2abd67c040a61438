// Test helpers: an in-memory Storage (Node 20 has no localStorage) and a
// real HTTP server that speaks POST /events/batch as Sendora does.
import { createServer } from "node:http";

/** MemoryStorage is the Web Storage interface over a Map, with an optional quota in characters. */
export class MemoryStorage {
  constructor(quota = Infinity) {
    this.map = new Map();
    this.quota = quota;
    this.writes = 0;
  }
  get length() {
    return this.map.size;
  }
  key(i) {
    return [...this.map.keys()][i] ?? null;
  }
  getItem(k) {
    return this.map.has(k) ? this.map.get(k) : null;
  }
  setItem(k, v) {
    v = String(v);
    let used = 0;
    for (const [key, val] of this.map) if (key !== k) used += key.length + val.length;
    if (used + k.length + v.length > this.quota) {
      const e = new Error("The quota has been exceeded.");
      e.name = "QuotaExceededError";
      throw e;
    }
    this.writes++;
    this.map.set(k, v);
  }
  removeItem(k) {
    this.map.delete(k);
  }
  clear() {
    this.map.clear();
  }
}

/** BrokenStorage throws on every call, like Safari's old private windows on writes or a browser blocking site data. */
export class BrokenStorage {
  get length() {
    throw new Error("SecurityError: storage is disabled");
  }
  key() {
    throw new Error("SecurityError: storage is disabled");
  }
  getItem() {
    throw new Error("SecurityError: storage is disabled");
  }
  setItem() {
    throw new Error("SecurityError: storage is disabled");
  }
  removeItem() {
    throw new Error("SecurityError: storage is disabled");
  }
}

/**
 * startServer runs a real HTTP server with Sendora's batch contract:
 * events are stored once per messageId, an identityToken "forged" is
 * refused with signature_mismatch, an event without type is INVALID_EVENT.
 * `next` queues answers for the coming requests: {status, headers, body}
 * (JSON) or {status, headers, raw} (text as is),
 * or "drop" (the connection is destroyed without an answer). While `down`
 * is set, every request is dropped.
 */
export async function startServer() {
  const s = {
    requests: [],
    stored: new Map(),
    next: [],
  };
  const server = createServer((req, res) => {
    let raw = "";
    req.setEncoding("utf8");
    req.on("data", (c) => (raw += c));
    req.on("end", () => {
      let body;
      try {
        body = JSON.parse(raw);
      } catch {
        body = undefined;
      }
      s.requests.push({ method: req.method, url: req.url, headers: req.headers, raw, body });
      const cors = { "Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": "Retry-After" };
      const plan = s.down ? "drop" : s.next.shift();
      if (plan === "drop") return req.socket.destroy();
      if (plan) {
        res.writeHead(plan.status, { "Content-Type": "application/json", ...cors, ...(plan.headers || {}) });
        return res.end(plan.raw ?? JSON.stringify(plan.body || {}));
      }
      if (!body || !Array.isArray(body.events)) {
        res.writeHead(400, { "Content-Type": "application/json", ...cors });
        return res.end(JSON.stringify({ error: { code: "INVALID_JSON", message: "bad batch" } }));
      }
      const rejected = [];
      let accepted = 0;
      body.events.forEach((e, index) => {
        if (!e.type) rejected.push({ index, code: "INVALID_EVENT", field: "type", message: "type is required" });
        else if (e.identityToken === "forged")
          rejected.push({ index, code: "IDENTITY_UNVERIFIED", reason: "signature_mismatch", message: "identityToken does not match userId" });
        else {
          accepted++;
          if (!s.stored.has(e.messageId)) s.stored.set(e.messageId, e);
        }
      });
      res.writeHead(200, { "Content-Type": "application/json", ...cors });
      res.end(JSON.stringify({ accepted, rejected }));
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  s.url = "http://127.0.0.1:" + server.address().port;
  s.close = () => new Promise((r) => { server.closeAllConnections(); server.close(r); });
  /** events lists every event of every request, in order. */
  s.events = () => s.requests.flatMap((r) => (r.body && r.body.events) || []);
  return s;
}

/** until polls cond every 10 ms until it holds; the deadline only stops a stuck test. */
export async function until(cond, what = "condition", deadline = 20000) {
  const end = Date.now() + deadline;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error("gave up waiting for " + what);
    await new Promise((r) => setTimeout(r, 10));
  }
}
