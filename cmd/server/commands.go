package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"text/tabwriter"
	"time"

	"github.com/sendora/sendora/internal/identity"
)

func cmdVersion(_ context.Context, e env, _ []string) error {
	fmt.Fprintf(e.stdout, "sendora %s\n", version)
	return nil
}

func cmdProjectList(ctx context.Context, e env, args []string) error {
	f := newFlags(e, "project list", "project list [--json] [--data DIR]")
	f.dataFlag()
	asJSON := f.bool("json", false, "print JSON instead of a table")
	args, err := f.parse(args)
	if err != nil {
		return err
	}
	if err := wantArgs("project list", args, 0, ""); err != nil {
		return err
	}
	d, err := f.openData(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	ps, err := d.Store.Projects(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		type row struct {
			ID        int64     `json:"id"`
			Name      string    `json:"name"`
			PublicKey string    `json:"publicKey"`
			Strict    bool      `json:"strict"`
			CreatedAt time.Time `json:"createdAt"`
		}
		out := make([]row, 0, len(ps))
		for _, p := range ps {
			out = append(out, row{p.ID, p.Name, p.PublicKey, p.Strict, p.CreatedAt})
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tID\tPUBLIC KEY\tSTRICT")
	for _, p := range ps {
		strict := "off"
		if p.Strict {
			strict = "on"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", p.Name, p.ID, p.PublicKey, strict)
	}
	return tw.Flush()
}

func cmdProjectCreate(ctx context.Context, e env, args []string) error {
	f := newFlags(e, "project create", "project create NAME [--data DIR]")
	f.dataFlag()
	args, err := f.parse(args)
	if err != nil {
		return err
	}
	if err := wantArgs("project create", args, 1, "one project NAME"); err != nil {
		return err
	}
	d, err := f.openData(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	p, err := d.Store.CreateProject(ctx, args[0], time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, p.PublicKey)
	return nil
}

func cmdProjectOrigins(ctx context.Context, e env, args []string) error {
	f := newFlags(e, "project origins", "project origins NAME [ORIGIN...] [--clear] [--data DIR]")
	f.dataFlag()
	clearAll := f.bool("clear", false, "accept events from any origin again")
	args, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(args) == 0 {
		return usagef("project origins: want a project NAME")
	}
	name, origins := args[0], args[1:]
	if *clearAll && len(origins) > 0 {
		return usagef("project origins: --clear takes no origins")
	}
	for i, o := range origins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return usagef("project origins: %q is not an origin like https://shop.example.com", o)
		}
		origins[i] = u.Scheme + "://" + u.Host
	}
	d, err := f.openData(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	p, err := d.Project(ctx, name)
	if err != nil {
		return err
	}
	if len(origins) > 0 || *clearAll {
		if err := d.Store.SetAllowedOrigins(ctx, p.ID, origins); err != nil {
			return err
		}
		p.AllowedOrigins = origins
		fmt.Fprintf(e.stderr, "project %s: running servers apply it within a second.\n", p.Name)
	}
	if len(p.AllowedOrigins) == 0 {
		fmt.Fprintln(e.stdout, "any origin")
		return nil
	}
	for _, o := range p.AllowedOrigins {
		fmt.Fprintln(e.stdout, o)
	}
	return nil
}

func cmdIdentityRotate(ctx context.Context, e env, args []string) error {
	f := newFlags(e, "identity rotate", "identity rotate [--project NAME] [--overlap 1h] [--data DIR]\n\n"+
		"The replaced secret keeps verifying for --overlap (default 1h, as in the dashboard), so\n"+
		"backends can be redeployed without a gap; 0 stops it at once (choose it if the secret leaked).\n"+
		"`sendora identity end-overlap` ends an overlap early.")
	f.dataFlag()
	project := f.fs.String("project", "", "project name (default: the first project, \"default\")")
	overlap := f.fs.Duration("overlap", identity.DefaultOverlap, "how long the replaced secret keeps verifying: 0 (none), 1h or 24h (at most 24h)")
	args, err := f.parse(args)
	if err != nil {
		return err
	}
	if err := wantArgs("identity rotate", args, 0, ""); err != nil {
		return err
	}
	if *overlap < 0 || *overlap > identity.MaxOverlap {
		return usagef("identity rotate: --overlap %s: %v", *overlap, identity.ErrBadOverlap)
	}
	d, err := f.openData(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	p, err := d.Project(ctx, *project)
	if err != nil {
		return err
	}
	m := identity.NewManager(d.Store, d.Sealer, nil)
	rot, err := m.Rotate(ctx, p.ID, *overlap, identity.Actor{Name: "cli"})
	if err != nil {
		return err
	}
	// The secret alone on stdout, so `sendora identity rotate > file` or
	// $(…) captures exactly it; the rest goes to stderr.
	if _, err := fmt.Fprintln(e.stdout, rot.Secret.Reveal()); err != nil {
		// The rotation is committed but nobody holds the new secret: say so
		// and fail, rather than exit 0 with the secret lost.
		return fmt.Errorf("identity rotate: project %s: secret version %d (fingerprint %s) is current but could not be printed (%v); rotate again to get one you can use",
			p.Name, rot.Version, rot.Secret.Fingerprint(), err)
	}
	fmt.Fprintf(e.stderr, "project %s: identity secret version %d (fingerprint %s) is now current", p.Name, rot.Version, rot.Secret.Fingerprint())
	if *overlap > 0 && rot.Version > 1 {
		fmt.Fprintf(e.stderr, "; the previous one verifies for %s more", *overlap)
	}
	fmt.Fprintf(e.stderr, ".\nRunning servers apply it within a second. This is the only time it is shown.\n")
	return nil
}

func cmdIdentityStrict(ctx context.Context, e env, args []string) error {
	f := newFlags(e, "identity strict", "identity strict on|off [--project NAME] [--data DIR]")
	f.dataFlag()
	project := f.fs.String("project", "", "project name (default: \"default\")")
	args, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(args) != 1 || (args[0] != "on" && args[0] != "off") {
		return usagef("identity strict: want on or off")
	}
	d, err := f.openData(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	p, err := d.Project(ctx, *project)
	if err != nil {
		return err
	}
	on := args[0] == "on"
	if err := identity.NewManager(d.Store, d.Sealer, nil).SetStrict(ctx, p.ID, on, identity.Actor{Name: "cli"}); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "project %s: strict identity %s. Running servers apply it within a second.\n", p.Name, args[0])
	return nil
}
