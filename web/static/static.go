// Package static embeds the dashboard's stylesheet, script and icon and
// serves them under content-hashed URLs with long cache lifetimes.
package static

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
)

//go:embed app.css app.js favicon.svg
var files embed.FS

// Prefix is where the files are served.
const Prefix = "/static/"

type asset struct {
	body        []byte
	contentType string
	etag        string
}

type table struct {
	byName map[string]string // "app.css" → "app.3f2a1b0c9d8e.css"
	byPath map[string]asset  // "app.3f2a1b0c9d8e.css" → the file
}

// assets hashes the embedded files once, on first use. The URLs are a pure
// function of the embedded bytes: no state to wire, nothing to configure.
var assets = sync.OnceValue(func() table {
	t := table{byName: map[string]string{}, byPath: map[string]asset{}}
	entries, err := files.ReadDir(".")
	if err != nil {
		panic(err) // unreachable: the directory is embedded
	}
	for _, e := range entries {
		body, err := files.ReadFile(e.Name())
		if err != nil {
			panic(err)
		}
		sum := sha256.Sum256(body)
		hash := hex.EncodeToString(sum[:6])
		ext := path.Ext(e.Name())
		hashed := strings.TrimSuffix(e.Name(), ext) + "." + hash + ext
		t.byName[e.Name()] = hashed
		t.byPath[hashed] = asset{body: body, contentType: mime.TypeByExtension(ext), etag: `"` + hash + `"`}
	}
	return t
})

// Path returns the content-hashed URL path of an embedded file
// ("app.css" → "/static/app.3f2a1b0c9d8e.css"). It panics on a name that
// is not embedded: that is a programming error a test catches.
func Path(name string) string {
	hashed, ok := assets().byName[name]
	if !ok {
		panic("static: no embedded file " + name)
	}
	return Prefix + hashed
}

// Handler serves the embedded files by their hashed names. A hashed URL
// never changes content, so browsers may keep it for a year without asking.
// Unknown paths go to notFound.
func Handler(notFound http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := assets().byPath[strings.TrimPrefix(r.URL.Path, Prefix)]
		if !ok {
			notFound.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.contentType)
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
		h.Set("ETag", a.etag)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
	})
}
