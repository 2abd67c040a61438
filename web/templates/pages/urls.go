package pages

import "net/url"

// urlQuery escapes s for a URL's query string.
func urlQuery(s string) string { return url.QueryEscape(s) }
