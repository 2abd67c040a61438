// When to retry after a failed send.

/** The first retry waits about this long; each further failure doubles it. */
export const BASE_DELAY = 1000;
/** Backoff never waits longer than this... */
export const MAX_DELAY = 60_000;
/** ...and a Retry-After is honoured up to this. */
export const MAX_RETRY_AFTER = 3_600_000;

/**
 * backoff is how long to wait before attempt number `attempt` + 1, after
 * `attempt` failures in a row: exponential with "equal jitter" (a random
 * point in the upper half of the window, so clients that failed together
 * spread out), and never sooner than the server's Retry-After, plus up to a
 * second so they do not all come back at the same instant.
 */
export function backoff(attempt: number, retryAfter = 0, random = Math.random()): number {
  const exp = Math.min(MAX_DELAY, BASE_DELAY * 2 ** Math.min(Math.max(attempt, 1) - 1, 20));
  const ra = Math.min(retryAfter, MAX_RETRY_AFTER);
  return Math.round(Math.max(exp / 2 + (random * exp) / 2, ra > 0 ? ra + random * 1000 : 0));
}

/** retryAfter reads a Retry-After header (seconds, or an HTTP date) as milliseconds from now. */
export function retryAfter(h: string | null | undefined, now = Date.now()): number {
  if (!h) return 0;
  const ms = /^\s*\d+\s*$/.test(h) ? +h * 1000 : Date.parse(h) - now;
  return ms > 0 ? Math.min(ms, MAX_RETRY_AFTER) : 0;
}
