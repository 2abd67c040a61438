// Package clientip finds a request's client address, trusting
// X-Forwarded-For and X-Forwarded-Proto only from configured proxies.
package clientip

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Resolver knows which peers are trusted proxies.
type Resolver struct {
	trusted []netip.Prefix
}

// New parses a list of trusted proxy networks ("10.0.0.0/8", "127.0.0.1").
// With none, forwarded headers are ignored and the peer address is the client.
func New(proxies []string) (*Resolver, error) {
	r := &Resolver{}
	for _, p := range proxies {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if !strings.Contains(p, "/") {
			a, err := netip.ParseAddr(p)
			if err != nil {
				return nil, fmt.Errorf("trusted proxy %q: %w", p, err)
			}
			r.trusted = append(r.trusted, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		pfx, err := netip.ParsePrefix(p)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: %w", p, err)
		}
		r.trusted = append(r.trusted, pfx.Masked())
	}
	return r, nil
}

func (r *Resolver) isTrusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func peer(req *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(req.RemoteAddr)
	if err != nil {
		host = req.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

// IP returns the client's address: the peer, or, when the peer is a trusted
// proxy, the right-most X-Forwarded-For entry that is not itself trusted.
func (r *Resolver) IP(req *http.Request) string {
	a := peer(req)
	if len(r.trusted) == 0 || !r.isTrusted(a) {
		return addrString(a, req.RemoteAddr)
	}
	hops := req.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			h, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				return addrString(a, req.RemoteAddr)
			}
			h = h.Unmap()
			if !r.isTrusted(h) {
				return h.String()
			}
			a = h
		}
	}
	return addrString(a, req.RemoteAddr)
}

func addrString(a netip.Addr, fallback string) string {
	if a.IsValid() {
		return a.String()
	}
	return fallback
}

// Secure reports whether the client reached us over TLS: directly, or
// through a trusted proxy that says so in X-Forwarded-Proto.
func (r *Resolver) Secure(req *http.Request) bool {
	if req.TLS != nil {
		return true
	}
	return len(r.trusted) > 0 && r.isTrusted(peer(req)) &&
		strings.EqualFold(strings.TrimSpace(req.Header.Get("X-Forwarded-Proto")), "https")
}

// Key groups client addresses the way limits count them: an IPv4 address
// alone, an IPv6 address by its /64, which one host or household usually
// holds whole (so stepping through it buys no fresh budget). A string that
// is not an address is its own key.
func Key(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
