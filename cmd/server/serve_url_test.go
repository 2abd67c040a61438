package main

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
)

func TestLocalURL(t *testing.T) {
	for _, tt := range []struct {
		addr   *net.TCPAddr
		want   string
		beyond bool
	}{
		{&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}, "http://127.0.0.1:8080", false},
		{&net.TCPAddr{IP: net.IPv6loopback, Port: 8080}, "http://[::1]:8080", false},
		{&net.TCPAddr{IP: net.IPv4zero, Port: 8080}, "http://localhost:8080", true},
		{&net.TCPAddr{IP: net.IPv6unspecified, Port: 8080}, "http://localhost:8080", true},
		{&net.TCPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 80}, "http://192.0.2.7:80", true},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8::7"), Port: 8080}, "http://[2001:db8::7]:8080", true},
	} {
		got, beyond := localURL(tt.addr)
		if got != tt.want || beyond != tt.beyond {
			t.Errorf("localURL(%s) = %q, %v; want %q, %v", tt.addr, got, beyond, tt.want, tt.beyond)
		}
	}
}

// TestServeOnAllInterfacesLogsUsableLinks: a server bound to every
// interface (":PORT") logs a setup link a browser opens, not
// http://[::]:PORT, and says to set --public-url; with --public-url the
// links use it and nothing is said.
func TestServeOnAllInterfacesLogsUsableLinks(t *testing.T) {
	s := startServer(t, nil, "--data", filepath.Join(t.TempDir(), "data"), "--addr", "0.0.0.0:0")
	logs := s.logs.String()
	link := setupLinkFromLogs(t, logs)
	_, port, _ := net.SplitHostPort(listenAddr(logs))
	if !strings.HasPrefix(link, "http://localhost:"+port+"/setup?token=") {
		t.Errorf("setup link = %q, want http://localhost:%s/setup?token=…", link, port)
	}
	if !strings.Contains(logs, "--public-url is not set") {
		t.Errorf("no hint to set --public-url:\n%s", logs)
	}
	if code, _ := get(t, strings.Replace(link, "localhost", "127.0.0.1", 1)); code != 200 {
		t.Errorf("the logged setup link answers %d", code)
	}

	s = startServer(t, nil, "--data", filepath.Join(t.TempDir(), "data"), "--addr", "0.0.0.0:0", "--public-url", "https://sendora.example.com/")
	logs = s.logs.String()
	if link := setupLinkFromLogs(t, logs); !strings.HasPrefix(link, "https://sendora.example.com/setup?token=") {
		t.Errorf("setup link with --public-url = %q", link)
	}
	if strings.Contains(logs, "--public-url is not set") {
		t.Errorf("the --public-url hint was logged although it is set")
	}
}

// TestInvokedAs: the log suggests commands as the binary was started.
func TestInvokedAs(t *testing.T) {
	for argv0, want := range map[string]string{
		"bin/sendora": "bin/sendora", "/usr/local/bin/sendora": "/usr/local/bin/sendora", "sendora": "sendora",
		"/tmp/go-build123/b001/exe/server": "sendora", "/tmp/server.test": "sendora",
	} {
		if got := invokedAs(argv0); got != want {
			t.Errorf("invokedAs(%q) = %q, want %q", argv0, got, want)
		}
	}
}
