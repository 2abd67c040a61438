// What every event says about where it was made.

declare const __VERSION__: string;

/** The library's name and version in every event's context. */
export const LIBRARY = { name: "sdk-web", version: __VERSION__ };

/** page is the current page as Segment-style SDKs describe it. */
export function page(): { url: string; path: string; referrer: string; title: string; search: string } {
  const l = globalThis.location;
  const d = globalThis.document;
  return {
    url: l ? l.href : "",
    path: l ? l.pathname : "",
    search: l ? l.search : "",
    referrer: d ? d.referrer : "",
    title: d ? d.title : "",
  };
}

/** context is the event's context: library, page, userAgent, locale, timezone. */
export function context(): Record<string, unknown> {
  const n = globalThis.navigator;
  let timezone: string | undefined;
  try {
    timezone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch {
    // no Intl: leave it out
  }
  const { url, path, referrer, title } = page();
  return {
    library: LIBRARY,
    page: { url, path, referrer, title },
    userAgent: n ? n.userAgent : undefined,
    locale: n ? n.language : undefined,
    timezone,
  };
}

/**
 * now is the time as RFC 3339 in UTC, or undefined when the device's clock
 * is outside the years 1970 to 9999 the server accepts (it then uses its
 * own clock).
 */
export function now(): string | undefined {
  const s = new Date().toISOString();
  return s.length == 24 && s >= "1970" ? s : undefined;
}
