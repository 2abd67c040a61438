package settings

import (
	"crypto/tls"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/sendora/sendora/internal/clientip"
)

// The endpoint written into the Install panel's snippets is --public-url,
// else the page's own origin; a Host header that could break out of the
// snippet is never copied into it.
func TestInstallEndpoint(t *testing.T) {
	ips, _ := clientip.New(nil)
	h := &Handler{ips: ips}
	for host, want := range map[string]string{
		"sendora.example.com":      "http://sendora.example.com",
		"127.0.0.1:8080":           "http://127.0.0.1:8080",
		"[::1]:8080":               "http://[::1]:8080",
		`evil.example"><script>`:   "http://sendora.example.com",
		"evil.example/path?x":      "http://sendora.example.com",
		"":                         "http://sendora.example.com",
		"a.example:8080:9":         "http://sendora.example.com",
		"user@evil.example":        "http://sendora.example.com",
		"evil.example:80 onload=x": "http://sendora.example.com",
	} {
		r := httptest.NewRequest("GET", "/settings/identity", nil)
		r.Host = host
		if got, guessed := h.endpoint(r); got != want || !guessed {
			t.Errorf("Host %q: endpoint %q (guessed %v), want %q", host, got, guessed, want)
		}
	}
	r := httptest.NewRequest("GET", "/settings/identity", nil)
	r.Host = "sendora.example.com"
	r.TLS = &tls.ConnectionState{}
	if got, _ := h.endpoint(r); got != "https://sendora.example.com" {
		t.Errorf("over TLS: %q", got)
	}
	h.publicURL = "https://events.example.com"
	if got, guessed := h.endpoint(r); got != "https://events.example.com" || guessed {
		t.Errorf("with --public-url: %q (guessed %v)", got, guessed)
	}
}

// FuzzInstallEndpoint: whatever the Host header, the endpoint written
// into the snippets is a plain origin that cannot break out of an HTML
// attribute or a JavaScript string.
func FuzzInstallEndpoint(f *testing.F) {
	for _, s := range []string{"sendora.example.com", "[::1]:8080", `a"b`, "x\u2028y", "a b", "ü.example", "host:99999"} {
		f.Add(s)
	}
	ips, _ := clientip.New(nil)
	h := &Handler{ips: ips}
	f.Fuzz(func(t *testing.T, host string) {
		r := httptest.NewRequest("GET", "/settings/identity", nil)
		r.Host = host
		got, _ := h.endpoint(r)
		u, err := url.Parse(got)
		if err != nil || u.Scheme != "http" || u.Path != "" || u.RawQuery != "" || u.User != nil || u.Fragment != "" {
			t.Fatalf("Host %q gave endpoint %q", host, got)
		}
		if strings.ContainsAny(got, "\"'<>\\ `\t\r\n\u2028\u2029") {
			t.Fatalf("Host %q gave endpoint %q with a character that breaks out", host, got)
		}
		if b, _ := json.Marshal(got); string(b) != `"`+got+`"` {
			t.Fatalf("endpoint %q needs escaping in JavaScript", got)
		}
	})
}
