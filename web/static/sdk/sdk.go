// Package sdk serves the browser SDK, built from sdk/web into v1/ and
// committed, so the binary carries it and customers need no build step:
// /sdk/v1/sendora.js (script tag), /sdk/v1/sendora.mjs (ES module) and
// /sdk/v1/sendora.d.ts.
//
// Customers' sites load these from other origins, so every answer allows
// any origin (CORS *, needed for Subresource Integrity and for modules).
// The plain URLs are cached briefly, so a server upgrade reaches sites
// within minutes; the content-hashed URLs (/sdk/v1/sendora.<hash>.js),
// which the Install panel pins with an integrity hash, never change and
// are cached for a year.
package sdk

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/sha512"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

//go:embed v1/sendora.js v1/sendora.mjs v1/sendora.d.ts
var files embed.FS

// Prefix is where the files are served.
const Prefix = "/sdk/v1/"

// Cache lifetimes of the plain and the content-hashed URLs.
const (
	PlainMaxAge        = 5 * time.Minute
	PlainCacheControl  = "public, max-age=300" // PlainMaxAge
	HashedCacheControl = "public, max-age=31536000, immutable"
)

// Asset is one file of the build as pages name it.
type Asset struct {
	// Path is its content-hashed URL path, "/sdk/v1/sendora.3f2a1b0c9d8e.js".
	Path string
	// Integrity is its Subresource Integrity value, "sha384-…".
	Integrity string
}

type file struct {
	body, gz     []byte
	contentType  string
	etag, gzEtag string
	cache        string
}

type table struct {
	byName map[string]Asset // "sendora.js" → its hashed path and integrity
	byPath map[string]*file // "sendora.js" and "sendora.3f2a1b0c9d8e.js" → the file
}

var contentTypes = map[string]string{
	".js":  "text/javascript; charset=utf-8",
	".mjs": "text/javascript; charset=utf-8",
	".ts":  "application/typescript; charset=utf-8",
}

// assets hashes and compresses the embedded files once, on first use.
var assets = sync.OnceValue(func() table {
	t := table{byName: map[string]Asset{}, byPath: map[string]*file{}}
	entries, err := files.ReadDir("v1")
	if err != nil {
		panic(err) // unreachable: the directory is embedded
	}
	for _, e := range entries {
		name := e.Name()
		body, err := files.ReadFile("v1/" + name)
		if err != nil {
			panic(err)
		}
		sum := sha256.Sum256(body)
		hash := hex.EncodeToString(sum[:6])
		var gz bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		zw.Write(body)
		zw.Close()
		// "sendora.d.ts" → "sendora" and ".d.ts"
		base, ext := name, path.Ext(name)
		if i := strings.IndexByte(name, '.'); i >= 0 {
			base, ext = name[:i], name[i:]
		}
		hashed := base + "." + hash + ext
		sri := sha512.Sum384(body)
		t.byName[name] = Asset{Path: Prefix + hashed, Integrity: "sha384-" + base64.StdEncoding.EncodeToString(sri[:])}
		ct := contentTypes[path.Ext(name)]
		plain := &file{body: body, gz: gz.Bytes(), contentType: ct, etag: `"` + hash + `"`, gzEtag: `"` + hash + `-gz"`, cache: PlainCacheControl}
		pinned := *plain
		pinned.cache = HashedCacheControl
		t.byPath[name] = plain
		t.byPath[hashed] = &pinned
	}
	return t
})

// File returns the content-hashed path and integrity of a file of the
// build ("sendora.js"). It panics on a name that is not embedded: that is
// a programming error a test catches.
func File(name string) Asset {
	a, ok := assets().byName[name]
	if !ok {
		panic("sdk: no embedded file " + name)
	}
	return a
}

// Handler serves the files under Prefix, by plain and by hashed name, to
// any origin, gzipped for clients that accept it, answering conditional
// requests (ETag) with 304. It serves no byte ranges: the files are small.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Cross-Origin-Resource-Policy", "cross-origin")
		f, ok := assets().byPath[strings.TrimPrefix(r.URL.Path, Prefix)]
		if !ok {
			h.Set("Cache-Control", "no-store")
			http.Error(w, "404 not found: the SDK is at "+Prefix+"sendora.js and "+Prefix+"sendora.mjs", http.StatusNotFound)
			return
		}
		h.Set("Content-Type", f.contentType)
		h.Set("Cache-Control", f.cache)
		h.Set("Vary", "Accept-Encoding")
		body, etag := f.body, f.etag
		if acceptsGzip(r.Header.Get("Accept-Encoding")) {
			body, etag = f.gz, f.gzEtag
			h.Set("Content-Encoding", "gzip")
		}
		h.Set("ETag", etag)
		if matches(r.Header.Get("If-None-Match"), etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		h.Set("Content-Length", strconv.Itoa(len(body)))
		if r.Method != http.MethodHead {
			w.Write(body)
		}
	})
}

// matches reports whether an If-None-Match header names etag (or is "*").
// The comparison is weak, as RFC 9110 says for If-None-Match.
func matches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

// acceptsGzip reports whether an Accept-Encoding header allows gzip (and
// does not refuse it with q=0).
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		q := strings.ReplaceAll(strings.ToLower(params), " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}
