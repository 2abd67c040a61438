package settings

import (
	"encoding/json"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/sendora/sendora/internal/webui"
	"github.com/sendora/sendora/web/static/sdk"
	"github.com/sendora/sendora/web/templates/pages"
)

// hostName is a DNS name or IPv4 address as a Host header writes it.
var hostName = regexp.MustCompile(`^[A-Za-z0-9.\-]+$`)

// hostOK reports whether a Host header may be written into a snippet: a
// name or address and an optional port, nothing that could break out of
// an attribute or a string, and a URL that parses back to the same host.
func hostOK(host string) bool {
	name, port := host, ""
	if h, p, err := net.SplitHostPort(host); err == nil {
		name, port = h, p
	} else if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		name = host[1 : len(host)-1]
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
			return false
		}
	}
	if strings.HasPrefix(host, "[") {
		a, err := netip.ParseAddr(name)
		if err != nil || !a.Is6() || a.Zone() != "" {
			return false
		}
	} else if !hostName.MatchString(name) {
		return false
	}
	u, err := url.Parse("http://" + host)
	return err == nil && u.Host == host && u.Path == ""
}

// endpoint is the URL sites send events to: --public-url when set, else
// the origin this page was reached at (what the admin's browser used).
func (h *Handler) endpoint(r *http.Request) (url string, guessed bool) {
	if h.publicURL != "" {
		return h.publicURL, false
	}
	scheme := "http"
	if h.ips.Secure(r) {
		scheme = "https"
	}
	host := r.Host
	if !hostOK(host) {
		host = "sendora.example.com"
	}
	return scheme + "://" + host, true
}

// jsString is s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// installPanel shows how to add the browser SDK to a site: the script tag
// pinned to this build with its Subresource Integrity hash, the ES module,
// and how the backend signs the user's id and hands the token to the page.
func (h *Handler) installPanel(r *http.Request, publicKey string) pages.InstallPanel {
	ep, guessed := h.endpoint(r)
	js := sdk.File("sendora.js")
	options := "{ publicKey: " + jsString(publicKey) + ", endpoint: " + jsString(ep) + " }"
	return pages.InstallPanel{
		Endpoint:        ep,
		EndpointGuessed: guessed,
		ScriptURL:       ep + js.Path,
		Integrity:       js.Integrity,
		PlainURL:        ep + sdk.Prefix + "sendora.js",
		PlainCache:      webui.Duration(sdk.PlainMaxAge),
		ScriptTag: `<script src="` + ep + js.Path + `"
        integrity="` + js.Integrity + `" crossorigin="anonymous"></script>
<script>
  window.sendora = new Sendora(` + options + `);
</script>`,
		Module: `import Sendora from "` + ep + sdk.Prefix + `sendora.mjs";
const sendora = new Sendora(` + options + `);`,
		Identify: `<script>
  // Rendered by your backend for the signed-in user, before other calls.
  // The token is signIdentity(user.id), made with the secret it keeps.
  sendora.identify("u_123", { plan: "startup" }, { identityToken: "hmac_v1:…" });
</script>`,
		Events: `sendora.page();
sendora.track("Report Exported", { format: "csv" });`,
		Reset:    `sendora.reset(); // at logout: forgets the user, their token and the anonymousId`,
		Snippets: installSnippets(),
	}
}

// installSnippets are the signing snippets with ids of their own, so they
// can sit on the Identity page beside the panel's other code.
func installSnippets() []pages.Snippet {
	s := snippets()
	for i := range s {
		s[i].ID = "install-" + s[i].ID
	}
	return s
}
