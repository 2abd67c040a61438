package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/sendora/sendora/internal/auth"
	"github.com/sendora/sendora/internal/clientip"
	"github.com/sendora/sendora/internal/datadir"
	"github.com/sendora/sendora/internal/identity"
	"github.com/sendora/sendora/internal/server"
	"github.com/sendora/sendora/internal/settings"
	"github.com/sendora/sendora/internal/webui"
)

// newDashboard wires sign-in and Settings → Identity over the data
// directory and the serve process's verifier, so a change made in the
// dashboard takes effect for this server's ingestion at once.
//
// onProjects is told of every project change made in the dashboard (deleted
// says whether one was deleted), so this server's caches drop it at once
// rather than at its next read of the change counter.
func newDashboard(ctx context.Context, log *slog.Logger, d *datadir.DataDir, ips *clientip.Resolver, verifier *identity.Verifier, publicURL string, onProjects func(deleted bool)) (*server.Dashboard, error) {
	ui := webui.New(log, auth.ViewerEmail)
	a, err := auth.New(ctx, auth.Config{Log: log, Store: d.Store, Sealer: d.Sealer, ClientIP: ips, UI: ui, PublicURL: publicURL, Command: invokedAs(os.Args[0])})
	if err != nil {
		return nil, err
	}
	st := settings.NewHandler(settings.Config{
		Log: log, Store: d.Store, Verifier: verifier, Manager: identity.NewManager(d.Store, d.Sealer, verifier),
		Auth: a, UI: ui, ClientIP: ips, PublicURL: publicURL, ProjectsChanged: onProjects,
	})
	dash := &server.Dashboard{Auth: a, Settings: st, UI: ui}
	if publicURL != "" {
		dash.TrustedOrigins = []string{publicURL}
	}
	return dash, nil
}

// invokedAs is how the log suggests running this binary: as it was started
// ("bin/sendora" from the clone, "/usr/local/bin/sendora" under systemd),
// or "sendora" when it has another name (a test binary, go run's).
func invokedAs(argv0 string) string {
	if filepath.Base(argv0) == "sendora" {
		return argv0
	}
	return "sendora"
}
