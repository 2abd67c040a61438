package sdk

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzHandler sends any path and any Accept-Encoding and If-None-Match:
// the handler never panics, always allows any origin, answers 200 with a
// file of the build (gzipped only when asked), 304 or 404.
func FuzzHandler(f *testing.F) {
	f.Add("/sdk/v1/sendora.js", "gzip", "")
	f.Add(File("sendora.mjs").Path, "br;q=1, gzip;q=0", `W/"x", *`)
	f.Add("/sdk/v1/../v1/sendora.js", "GZIP ; q=0.5", `"`)
	f.Add("/sdk/v1/sendora.000000000000.d.ts", ",,;;", ",")
	want := map[string]bool{}
	for _, name := range []string{"sendora.js", "sendora.mjs", "sendora.d.ts"} {
		b, _ := files.ReadFile("v1/" + name)
		want[string(b)] = true
	}
	h := Handler()
	f.Fuzz(func(t *testing.T, path, enc, inm string) {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.URL.Path = path
		req.Header.Set("Accept-Encoding", enc)
		req.Header.Set("If-None-Match", inm)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		resp := w.Result()
		if resp.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Fatalf("%q: no CORS", path)
		}
		switch resp.StatusCode {
		case http.StatusOK:
			body, _ := io.ReadAll(resp.Body)
			if gz := resp.Header.Get("Content-Encoding") == "gzip"; gz != acceptsGzip(enc) {
				t.Fatalf("%q with Accept-Encoding %q: Content-Encoding %q", path, enc, resp.Header.Get("Content-Encoding"))
			} else if gz {
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				body, _ = io.ReadAll(zr)
			}
			if !want[string(body)] {
				t.Fatalf("%q: 200 with %d bytes that are no file of the build", path, len(body))
			}
		case http.StatusNotModified, http.StatusNotFound:
		default:
			t.Fatalf("%q: status %d", path, resp.StatusCode)
		}
	})
}
