package settings_test

import (
	"crypto/sha512"
	"encoding/base64"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/sendora/sendora/internal/server/dashtest"
	"github.com/sendora/sendora/web/static/sdk"
)

// The Install panel's script tag loads this server's pinned SDK build with
// the right integrity hash, and names the project's key and the endpoint.
func TestInstallPanel(t *testing.T) {
	for _, tls := range []bool{false, true} {
		e := dashtest.New(t, dashtest.Options{TLS: tls})
		e.CreateAdmin(admin)
		c := e.NewClient()
		c.Login(admin, dashtest.Password)
		d := identityPage(t, c, "")

		tag := dashtest.RawText(d.ByID("install-script"))
		m := regexp.MustCompile(`<script src="([^"]+)"\s+integrity="([^"]+)" crossorigin="anonymous"></script>`).FindStringSubmatch(tag)
		if m == nil {
			t.Fatalf("install script tag:\n%s", tag)
		}
		src, integrity := m[1], m[2]
		if want := e.URL + sdk.File("sendora.js").Path; src != want {
			t.Errorf("src = %q, want %q", src, want)
		}
		if !strings.HasPrefix(src, map[bool]string{false: "http://", true: "https://"}[tls]) {
			t.Errorf("src %q has the wrong scheme for TLS=%v", src, tls)
		}
		// The browser's check, done here: the served bytes hash to integrity.
		resp, err := c.HTTP.Get(src)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		sum := sha512.Sum384(body)
		if resp.StatusCode != http.StatusOK || integrity != "sha384-"+base64.StdEncoding.EncodeToString(sum[:]) {
			t.Errorf("GET %s = %d; integrity %q does not match the served %d bytes", src, resp.StatusCode, integrity, len(body))
		}
		for _, want := range []string{`publicKey: "` + e.Project.PublicKey + `"`, `endpoint: "` + e.URL + `"`} {
			if !strings.Contains(tag, want) {
				t.Errorf("script tags lack %q:\n%s", want, tag)
			}
		}
		if mod := dashtest.RawText(d.ByID("install-module")); !strings.Contains(mod, `import Sendora from "`+e.URL+`/sdk/v1/sendora.mjs";`) {
			t.Errorf("module snippet:\n%s", mod)
		}
		if id := dashtest.RawText(d.ByID("install-identify")); !strings.Contains(id, "sendora.identify(") || !strings.Contains(id, "identityToken") {
			t.Errorf("identify snippet:\n%s", id)
		}
		if node := dashtest.RawText(d.ByID("install-snippet-node")); !strings.Contains(node, `createHmac("sha256", process.env.SENDORA_IDENTITY_SECRET!)`) {
			t.Errorf("node signing snippet:\n%s", node)
		}
		for _, id := range []string{"install-snippet-go", "install-snippet-python"} {
			if d.ByID(id) == nil {
				t.Errorf("no #%s", id)
			}
		}
		if ev := dashtest.RawText(d.ByID("install-events")); !strings.Contains(ev, "sendora.page();") || !strings.Contains(ev, "sendora.track(") {
			t.Errorf("events snippet:\n%s", ev)
		}
		panel := text(d, "install")
		for _, want := range []string{"--public-url", "/sdk/v1/sendora.js without integrity", "5 min", "sendora.reset()"} {
			if !strings.Contains(panel, want) {
				t.Errorf("Install panel lacks %q:\n%s", want, panel)
			}
		}
	}
}
