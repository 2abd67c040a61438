package settings

import (
	"crypto/tls"
	"net/http/httptest"
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
