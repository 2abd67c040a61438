package sdk

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

func get(t *testing.T, method, path string, header ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	Handler().ServeHTTP(w, req)
	return w.Result()
}

func body(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("gzip: %v", err)
		}
		if b, err = io.ReadAll(zr); err != nil {
			t.Fatalf("gunzip: %v", err)
		}
	}
	return b
}

func TestServesTheCommittedBuild(t *testing.T) {
	for _, name := range []string{"sendora.js", "sendora.mjs", "sendora.d.ts"} {
		want, err := os.ReadFile("v1/" + name)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(want)
		hashed := File(name)
		ext := name[strings.IndexByte(name, '.'):]
		if wantPath := Prefix + "sendora." + hex.EncodeToString(sum[:6]) + ext; hashed.Path != wantPath {
			t.Errorf("File(%q).Path = %q, want %q", name, hashed.Path, wantPath)
		}
		sri := sha512.Sum384(want)
		if wantSRI := "sha384-" + base64.StdEncoding.EncodeToString(sri[:]); hashed.Integrity != wantSRI {
			t.Errorf("File(%q).Integrity = %q, want %q", name, hashed.Integrity, wantSRI)
		}
		for _, tc := range []struct {
			path, cache string
		}{
			{Prefix + name, PlainCacheControl},
			{hashed.Path, HashedCacheControl},
		} {
			for _, enc := range []string{"", "gzip, deflate, br"} {
				resp := get(t, http.MethodGet, tc.path, "Accept-Encoding", enc, "Origin", "https://shop.example")
				got := body(t, resp)
				h := resp.Header
				what := tc.path + " (Accept-Encoding " + enc + ")"
				if resp.StatusCode != http.StatusOK || !bytes.Equal(got, want) {
					t.Errorf("%s = %d, %d bytes; want 200 and the %d bytes of v1/%s", what, resp.StatusCode, len(got), len(want), name)
				}
				for k, v := range map[string]string{
					"Access-Control-Allow-Origin":  "*",
					"Cross-Origin-Resource-Policy": "cross-origin",
					"Cache-Control":                tc.cache,
					"Vary":                         "Accept-Encoding",
				} {
					if h.Get(k) != v {
						t.Errorf("%s: %s = %q, want %q", what, k, h.Get(k), v)
					}
				}
				if ct := h.Get("Content-Type"); (ext == ".d.ts") != strings.HasPrefix(ct, "application/typescript") || (ext != ".d.ts" && ct != "text/javascript; charset=utf-8") {
					t.Errorf("%s: Content-Type %q", what, ct)
				}
				if (enc != "") != (h.Get("Content-Encoding") == "gzip") {
					t.Errorf("%s: Content-Encoding %q", what, h.Get("Content-Encoding"))
				}
				etag := h.Get("ETag")
				if !strings.HasPrefix(etag, `"`+hex.EncodeToString(sum[:6])) {
					t.Errorf("%s: ETag %q does not name the content", what, etag)
				}
				// The browser revalidates the plain URL: 304, no body.
				again := get(t, http.MethodGet, tc.path, "Accept-Encoding", enc, "If-None-Match", `W/"other", `+etag)
				if b, _ := io.ReadAll(again.Body); again.StatusCode != http.StatusNotModified || len(b) != 0 || again.Header.Get("ETag") != etag {
					t.Errorf("%s revalidated = %d with %d bytes, want 304 and none", what, again.StatusCode, len(b))
				}
				if stale := get(t, http.MethodGet, tc.path, "Accept-Encoding", enc, "If-None-Match", `"000000000000"`); stale.StatusCode != http.StatusOK {
					t.Errorf("%s with another ETag = %d, want 200", what, stale.StatusCode)
				}
			}
		}
		head := get(t, http.MethodHead, Prefix+name)
		if b, _ := io.ReadAll(head.Body); head.StatusCode != 200 || len(b) != 0 || head.Header.Get("Content-Length") != strconv.Itoa(len(want)) {
			t.Errorf("HEAD %s = %d, %d bytes, Content-Length %q", name, head.StatusCode, len(b), head.Header.Get("Content-Length"))
		}
	}
}

func TestPlainMaxAge(t *testing.T) {
	if want := "public, max-age=" + strconv.Itoa(int(PlainMaxAge/time.Second)); PlainCacheControl != want {
		t.Errorf("PlainCacheControl = %q, want %q", PlainCacheControl, want)
	}
}

func TestGzippedSizeBudget(t *testing.T) {
	for _, name := range []string{"sendora.js", "sendora.mjs"} {
		resp := get(t, http.MethodGet, Prefix+name, "Accept-Encoding", "gzip")
		n, _ := io.Copy(io.Discard, resp.Body)
		t.Logf("%s: %d bytes on the wire gzipped", name, n)
		if n > 5*1024 {
			t.Errorf("%s is %d bytes gzipped, over the 5 KB budget", name, n)
		}
	}
}

func TestUnknownFiles(t *testing.T) {
	for _, p := range []string{Prefix, Prefix + "sendora.000000000000.js", Prefix + "app.js", Prefix + "../v1/sendora.js", Prefix + "sendora.js/x"} {
		resp := get(t, http.MethodGet, p)
		if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("GET %s = %d (CORS %q), want 404 to any origin", p, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
		}
	}
}

func TestFilePanicsOnAMissingName(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("File(nope.js) did not panic")
		}
	}()
	File("nope.js")
}

func TestAcceptsGzip(t *testing.T) {
	for h, want := range map[string]bool{
		"":                      false,
		"gzip":                  true,
		"GZIP":                  true,
		"gzip, deflate, br":     true,
		"br;q=1.0, gzip;q=0.8":  true,
		"gzip;q=0":              false,
		"gzip; q=0.000":         false,
		"deflate, br":           false,
		"x-gzip":                false,
		"identity, gzip ;q=0.5": true,
	} {
		if got := acceptsGzip(h); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", h, got, want)
		}
	}
}
