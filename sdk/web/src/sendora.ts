// Sendora's browser SDK: identify, track and page events, batched to
// POST /events/batch, kept in localStorage until the server acknowledges
// them, retried with backoff, and sent with keepalive when the page goes.

import { backoff, retryAfter } from "./backoff";
import { type Item, KEEPALIVE_BYTES, MAX_BODY_BYTES, MAX_EVENT_BYTES, body, head, size, take, utf8Length } from "./batch";
import { context, now, page } from "./context";
import { Queue } from "./queue";
import { read, remove, write } from "./storage";
import { uuidv7 } from "./uuid";

/** Options of `new Sendora(options)`. */
export interface SendoraOptions {
  /** The project's public key, `pk_live_…` (Settings → Identity). Not a secret. */
  publicKey: string;
  /** The Sendora server's URL, e.g. `https://sendora.example.com`. Default: where this script was loaded from. */
  endpoint?: string;
  /** Send as soon as this many events wait (1 to 500). Default 20. */
  flushAt?: number;
  /** Send what waits at least this often, in milliseconds. Default 1000. */
  flushInterval?: number;
  /** Called with the events the server (or this SDK) refused; they are not retried. */
  onRejected?: (rejections: Rejection[]) => void;
  /** Warn in the console, once per reason, when events are refused, naming the fix. */
  debug?: boolean;
}

/** The options of `identify`. */
export interface IdentifyOptions {
  /** The token your backend made for this userId. It is sent with every later event until `reset()`. */
  identityToken?: string;
}

/** Free-form traits or properties: anything JSON can carry. */
export type Properties = Record<string, unknown>;

/** An event as the SDK sends it. */
export interface SendoraEvent {
  type: "identify" | "track" | "page";
  messageId: string;
  anonymousId: string;
  userId?: string;
  event?: string;
  traits?: Properties;
  properties?: Properties;
  timestamp?: string;
  context: Properties;
}

/** One refused event. */
export interface Rejection {
  /** The event, without its identityToken (so logging a rejection never leaks a token). */
  event: SendoraEvent;
  /** The server's code (IDENTITY_UNVERIFIED, INVALID_EVENT, …) or this SDK's (PAYLOAD_TOO_LARGE, QUEUE_FULL). */
  code: string;
  /** For IDENTITY_UNVERIFIED: missing_token, signature_mismatch, … */
  reason?: string;
  /** For INVALID_EVENT: the field at fault. */
  field?: string;
  message: string;
}

/** What `flush()` resolves with. */
export interface FlushResult {
  /** Events the server stored. */
  accepted: number;
  /** Events refused for good. */
  rejected: Rejection[];
  /** Events still waiting, to be retried (the server is unreachable, or asked to wait). */
  queued: number;
}

declare global {
  interface Window {
    /** Set by the script-tag build, /sdk/v1/sendora.js. */
    Sendora: typeof Sendora;
  }
}

/** The queue keeps at most this many events... */
export const MAX_QUEUE_EVENTS = 1000;
/** ...and this many bytes, so a long outage cannot fill the site's localStorage. */
export const MAX_QUEUE_BYTES = 1024 * 1024;

// The fix for each code or reason, for the debug warnings.
const FIXES: Record<string, string> = {
  missing_token: "pass { identityToken } (made by your backend) to identify()",
  missing_user_id: "call identify(userId, traits, { identityToken }) first",
  malformed_token: "pass the token your backend made, unchanged",
  unsupported_scheme: "make the token as the project accepts (hmac_v1 or jwt)",
  signature_mismatch: "sign this exact userId on your backend with the project's current identity secret",
  rotated_secret: "your backend signs with a rotated-out secret: deploy the new SENDORA_IDENTITY_SECRET",
  expired_token: "make a fresh token on your backend and call identify() again",
  user_mismatch: "the token was made for another userId: sign this user's id",
  no_secret: "create an identity secret in Settings → Identity",
  INVALID_PUBLIC_KEY: "check publicKey (Settings → Identity)",
  ORIGIN_NOT_ALLOWED: "allow this site's origin for the project",
  PAYLOAD_TOO_LARGE: "keep each event under 32 KiB: send fewer or smaller traits and properties",
  INVALID_EVENT: "correct the field the rejection names",
  QUEUE_FULL: "the server was unreachable for long; the oldest queued events were dropped",
};

let scriptOrigin = "";
/** @internal The builds set where the script came from, the default endpoint. */
export function setScriptOrigin(origin: string): void {
  scriptOrigin = origin;
}

/** Sendora's browser SDK. */
export default class Sendora {
  /** The id of this browser, kept in localStorage until `reset()`. */
  anonymousId: string;
  /** The identified user, kept in localStorage until `reset()`. */
  userId?: string;
  private _token?: string;
  private _pk: string;
  private _key: string;
  private _url: string;
  private _headBytes: number;
  private _flushAt: number;
  private _interval: number;
  private _onRejected?: (r: Rejection[]) => void;
  private _debug: boolean;
  private _q: Queue;
  /** Items in a regular request, and in a keepalive one. */
  private _busy = new Set<string>();
  private _kbusy = new Set<string>();
  /** Bytes of keepalive request bodies in flight. */
  private _kbytes = 0;
  private _chain: Promise<unknown> = Promise.resolve();
  private _timer?: ReturnType<typeof setTimeout>;
  /** Failures in a row; when the next automatic send may go; until when the server asked to wait. */
  private _attempt = 0;
  private _retryAt = 0;
  private _holdUntil = 0;
  private _collectors: FlushResult[] = [];
  private _warned = new Set<string>();
  private _live = false;

  constructor(options: SendoraOptions) {
    const o = options || ({} as SendoraOptions);
    if (!o.publicKey) throw new TypeError("Sendora: publicKey is required");
    this._pk = o.publicKey;
    this._key = "sendora:" + o.publicKey + ":";
    this._url = (o.endpoint || scriptOrigin).replace(/\/+$/, "") + "/events/batch";
    this._headBytes = utf8Length(head(o.publicKey));
    this._flushAt = Math.min(Math.max(o.flushAt || 20, 1), 500);
    this._interval = Math.max(o.flushInterval || 1000, 50);
    this._onRejected = o.onRejected;
    this._debug = !!o.debug;

    this.anonymousId = read(this._key + "a") || this._anon();
    const u = read(this._key + "u");
    if (u && typeof u.u == "string") {
      this.userId = u.u;
      this._token = u.t;
    }
    this._q = new Queue(this._key, uuidv7(), MAX_QUEUE_EVENTS, MAX_QUEUE_BYTES, 20_000 + 2 * this._interval,
      (e) => this._measure(e), (items) => this._report(items.map((it) => this._rejection(it.e, "QUEUE_FULL", "the queue is full; this, its oldest event, was dropped"))));
    this._live = this._q._adopt();
    this._arm(0);

    if (typeof addEventListener == "function") {
      addEventListener("pagehide", () => this._unload(true));
      addEventListener("visibilitychange", () => document.visibilityState == "hidden" && this._unload(false));
      addEventListener("pageshow", () => this._q._close(false)); // back from the back/forward cache: take the record back
    }
  }

  /**
   * identify says who the user is. The token (made by your backend) is sent
   * with this and every later event until `reset()`, so strict identity
   * accepts them.
   */
  identify(userId: string, traits?: Properties, options?: IdentifyOptions): void {
    userId = String(userId);
    const token = options && options.identityToken;
    if (token || userId != this.userId) this._token = token;
    this.userId = userId;
    write(this._key + "u", { u: userId, t: this._token });
    this._add({ type: "identify", traits: traits || {} });
  }

  /** track records that the user did something. */
  track(event: string, properties?: Properties): void {
    this._add({ type: "track", event, properties: properties || {} });
  }

  /** page records a page view (the current page's url, path, search, referrer and title, and properties). */
  page(name?: string, properties?: Properties): void {
    this._add({ type: "page", properties: { ...page(), ...(name ? { name } : {}), ...properties } });
  }

  /**
   * flush sends every waiting event now and resolves with what became of
   * them. It never rejects: events that could not be sent stay queued
   * (counted in `queued`) and are retried.
   */
  flush(): Promise<FlushResult> {
    const r: FlushResult = { accepted: 0, rejected: [], queued: 0 };
    this._collectors.push(r);
    return this._run(true).then(() => {
      this._collectors.splice(this._collectors.indexOf(r), 1);
      r.queued = this._q._items.length;
      return r;
    });
  }

  /**
   * reset forgets the user, their token and the anonymousId (call it at
   * logout). Events already made keep theirs and are still sent.
   */
  reset(): void {
    this.userId = this._token = undefined;
    remove(this._key + "u");
    this.anonymousId = this._anon();
  }

  private _anon(): string {
    const id = uuidv7();
    write(this._key + "a", id);
    return id;
  }

  /** measure is the event's size as sent, sentAt included. */
  private _measure(e: Item["e"]): number {
    return utf8Length(JSON.stringify({ ...e, sentAt: "2000-01-01T00:00:00.000Z" }));
  }

  private _add(fields: Properties): void {
    let e = {
      ...fields,
      messageId: uuidv7(),
      anonymousId: this.anonymousId,
      timestamp: now(),
      context: context(),
    } as Item["e"];
    if (this.userId != null) {
      e.userId = this.userId;
      if (this._token) e.identityToken = this._token;
    }
    let n: number;
    try {
      // A copy, as JSON will carry it: later changes to the app's objects do
      // not reach the queued event, and a lone UTF-16 surrogate (a string cut
      // inside an emoji), which the server refuses, becomes U+FFFD.
      e = JSON.parse(JSON.stringify(e, (_, v) => (typeof v == "string" ? v.replace(/[\ud800-\udbff][\udc00-\udfff]|[\ud800-\udfff]/g, (m) => (m.length > 1 ? m : "\ufffd")) : v)));
      n = this._measure(e);
    } catch (err) {
      return this._report([this._rejection(e, "INVALID_EVENT", "the event cannot be sent as JSON: " + err)]);
    }
    if (n + 1 > MAX_EVENT_BYTES) {
      return this._report([this._rejection(e, "PAYLOAD_TOO_LARGE", "the event is " + n + " bytes; at most " + (MAX_EVENT_BYTES - 1) + " are sent")]);
    }
    this._q._push([{ e, n }]);
    if (this._q._items.length - this._busy.size >= this._flushAt) this._run(false);
    this._arm(this._interval);
  }

  /** arm sets the timer that sends what waits, renews the heartbeat and adopts closed pages' events. */
  private _arm(delay: number): void {
    if (this._timer == null && (this._q._items.length || this._live)) {
      this._timer = setTimeout(() => {
        this._timer = undefined;
        this._q._beat();
        this._live = this._q._adopt();
        this._run(false).then(() => this._arm(this._next()));
      }, delay);
    }
  }

  /** next is when the timer fires again: every flushInterval (the heartbeat), sooner when a retry is due. */
  private _next(): number {
    const wait = Math.max(this._retryAt, this._holdUntil) - Date.now();
    return wait > 0 ? Math.min(wait, this._interval) : this._interval;
  }

  private _run(force: boolean): Promise<unknown> {
    return (this._chain = this._chain.then(() => this._drain(force)));
  }

  /** drain sends what waits, a batch at a time, until it is sent or a send fails. */
  private async _drain(force: boolean): Promise<void> {
    if (this._debug && !this._q._stored) this._warn("storage", "localStorage refuses writes (full, or blocked): waiting events are kept in memory only and lost if the page closes before they are sent");
    for (;;) {
      const t = Date.now();
      if (t < this._holdUntil || (!force && t < this._retryAt)) return;
      const batch = take(this._q._items, MAX_BODY_BYTES, this._headBytes, (it) => this._busy.has(it.e.messageId) || this._kbusy.has(it.e.messageId));
      if (!batch.length || !(await this._post(batch, this._busy))) break;
    }
    // All sent: an idle page keeps no timer.
    if (!this._q._items.length && !this._live && this._timer != null) {
      clearTimeout(this._timer);
      this._timer = undefined;
    }
  }

  /**
   * unload sends what waits with keepalive requests, which outlive the page,
   * within the browser's 64 KiB for them. When the page is going (pagehide),
   * the record is handed over: the next page adopts what is left, and what
   * was just sent too, in case it did not arrive.
   */
  private _unload(closing: boolean): void {
    for (;;) {
      const batch = take(this._q._items, KEEPALIVE_BYTES - this._kbytes, this._headBytes, (it) => this._kbusy.has(it.e.messageId));
      if (!batch.length) break;
      const n = size(batch, this._headBytes);
      this._kbytes += n;
      this._post(batch, this._kbusy, true).then(() => (this._kbytes -= n));
    }
    if (closing) this._q._close();
  }

  /**
   * post sends one batch. It resolves true when the batch is done with
   * (stored, or refused for good), false when it will be retried.
   */
  private async _post(batch: Item[], busy: Set<string>, keepalive = false): Promise<boolean> {
    const ids = new Set(batch.map((it) => it.e.messageId));
    ids.forEach((id) => busy.add(id));
    let res: Response | undefined;
    let data: any;
    try {
      res = await fetch(this._url, {
        method: "POST",
        // text/plain is a CORS-safelisted type: no preflight, and keepalive works everywhere.
        headers: { "Content-Type": "text/plain" },
        body: body(this._pk, batch, now()),
        keepalive,
        credentials: "omit",
      });
      data = await res.json();
    } catch {
      // no answer, or a body that is not JSON
    }
    ids.forEach((id) => busy.delete(id));
    let st = res ? res.status : 0;
    if (st < 300 && !(data && typeof data.accepted == "number")) {
      // A 2xx that is not Sendora's answer (an endpoint that serves a web
      // page for any path), or one cut off while being read: keep the events.
      if (st) this._warn("endpoint", "the endpoint answered HTTP " + st + " without Sendora's JSON: check the endpoint option (" + this._url + "); events are kept and retried");
      st = 0;
    }
    if (!st || st == 408 || st == 429 || st >= 500) {
      // Not stored: the network failed or was too slow to send the body, the server is overloaded or asked to wait.
      // Retry later, same messageIds.
      const ra = retryAfter(res && res.headers.get("Retry-After"));
      const t = Date.now();
      this._retryAt = t + backoff(++this._attempt, ra);
      if (ra) this._holdUntil = t + ra;
      this._timer == null || clearTimeout(this._timer);
      this._timer = undefined;
      this._arm(this._next());
      return false;
    }
    this._attempt = 0;
    const rejected: Rejection[] = [];
    const gone = this._q._remove(ids);
    if (st < 300) {
      for (const r of (data && data.rejected) || []) {
        const it = batch[r.index];
        if (it && gone.has(it.e.messageId)) rejected.push(this._rejection(it.e, r.code, r.message, r.reason, r.field));
      }
    } else {
      // Refused as a whole (bad key, origin not allowed, …): retrying cannot help.
      const err = (data && data.error) || {};
      for (const it of batch) {
        if (gone.has(it.e.messageId)) rejected.push(this._rejection(it.e, err.code || "HTTP_" + st, err.message || "HTTP " + st, err.reason, err.field));
      }
    }
    for (const c of this._collectors) {
      c.accepted += gone.size - rejected.length;
      c.rejected.push(...rejected);
    }
    this._report(rejected);
    return true;
  }

  private _rejection(e: Item["e"], code: string, message: string, reason?: string, field?: string): Rejection {
    const { identityToken, ...event } = e;
    return { event: event as unknown as SendoraEvent, code, reason, field, message };
  }

  /** warn writes a console warning once per key. */
  private _warn(key: string, text: string): void {
    if (!this._warned.has(key)) {
      this._warned.add(key);
      console.warn("Sendora: " + text);
    }
  }

  /** report hands rejections to onRejected and warns once per reason (always for those this SDK made). */
  private _report(rs: Rejection[]): void {
    if (!rs.length) return;
    for (const r of rs) {
      const what = r.reason || r.code;
      const local = r.code == "PAYLOAD_TOO_LARGE" || r.code == "QUEUE_FULL";
      if (this._debug || local) {
        this._warn(what, "event refused, " + r.code + (r.reason ? " " + r.reason : "") + ": " + r.message +
          ". Fix: " + (FIXES[what] || FIXES[r.code] || "see the rejected events") + ". Each refused event reaches onRejected.");
      }
    }
    try {
      if (this._onRejected) this._onRejected(rs);
    } catch (err) {
      console.error(err);
    }
  }
}
