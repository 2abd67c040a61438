/*! Sendora web SDK 1.0.0: types of sendora.mjs (default export) and window.Sendora (sendora.js) */
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
export declare const MAX_QUEUE_EVENTS = 1000;
/** ...and this many bytes, so a long outage cannot fill the site's localStorage. */
export declare const MAX_QUEUE_BYTES: number;
/** Sendora's browser SDK. */
export default class Sendora {
    /** The id of this browser, kept in localStorage until `reset()`. */
    anonymousId: string;
    /** The identified user, kept in localStorage until `reset()`. */
    userId?: string;
    constructor(options: SendoraOptions);
    /**
     * identify says who the user is. The token (made by your backend) is sent
     * with this and every later event until `reset()`, so strict identity
     * accepts them.
     */
    identify(userId: string, traits?: Properties, options?: IdentifyOptions): void;
    /** track records that the user did something. */
    track(event: string, properties?: Properties): void;
    /** page records a page view (the current page's url, path, search, referrer and title, and properties). */
    page(name?: string, properties?: Properties): void;
    /**
     * flush sends every waiting event now and resolves with what became of
     * them. It never rejects: events that could not be sent stay queued
     * (counted in `queued`) and are retried.
     */
    flush(): Promise<FlushResult>;
    /**
     * reset forgets the user, their token and the anonymousId (call it at
     * logout). Events already made keep theirs and are still sent.
     */
    reset(): void;
}
