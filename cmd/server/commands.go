package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sendora/sendora/internal/identity"
	"github.com/sendora/sendora/internal/store"
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
	for i := range ps {
		ps[i] = ps[i].WithoutExpiredKey(time.Now())
	}
	if *asJSON {
		type row struct {
			ID        int64     `json:"id"`
			Name      string    `json:"name"`
			PublicKey string    `json:"publicKey"`
			Strict    bool      `json:"strict"`
			CreatedAt time.Time `json:"createdAt"`
			// During a key rotation: the replaced key, which still works
			// until previousKeyUntil (absent: until revoked).
			PreviousPublicKey string     `json:"previousPublicKey,omitempty"`
			PreviousKeyUntil  *time.Time `json:"previousKeyUntil,omitempty"`
		}
		out := make([]row, 0, len(ps))
		for _, p := range ps {
			r := row{ID: p.ID, Name: p.Name, PublicKey: p.PublicKey, Strict: p.Strict, CreatedAt: p.CreatedAt, PreviousPublicKey: p.PreviousPublicKey}
			if !p.PreviousKeyUntil.IsZero() {
				r.PreviousKeyUntil = &p.PreviousKeyUntil
			}
			out = append(out, r)
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
	if err := tw.Flush(); err != nil {
		return err
	}
	// A key being replaced is not a project: it goes to stderr, so scripts
	// reading the table see one line per project.
	for _, p := range ps {
		if p.PreviousPublicKey != "" {
			fmt.Fprintf(e.stderr, "project %s: the replaced key %s still works %s\n", p.Name, p.PreviousPublicKey, keyUntilText(p.PreviousKeyUntil))
		}
	}
	return nil
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
	p, err := d.Store.CreateProjectAudited(ctx, args[0], cliAudit())
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("project create: a project named %q already exists", args[0])
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, p.PublicKey)
	return nil
}

// cliAudit is who a change made with the CLI is audited as.
func cliAudit() store.Audit { return store.Audit{At: time.Now(), Actor: "cli"} }

func keyUntilText(until time.Time) string {
	if until.IsZero() {
		return "until revoked (sendora project key revoke)"
	}
	return "until " + until.UTC().Format(time.RFC3339)
}

func cmdProjectRename(ctx context.Context, e env, args []string) error {
	f := newFlags(e, "project rename", "project rename OLD NEW [--data DIR]\n\n"+
		"The project keeps its id, public keys, secrets, settings and data; only the name changes.\n"+
		"Commands that named it with --project need the new name.")
	f.dataFlag()
	args, err := f.parse(args)
	if err != nil {
		return err
	}
	if err := wantArgs("project rename", args, 2, "the OLD and the NEW name"); err != nil {
		return err
	}
	if err := store.ValidateProjectName(args[1]); err != nil {
		return usagef("project rename: %v", err)
	}
	d, err := f.openData(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	p, err := d.Project(ctx, args[0])
	if err != nil {
		return err
	}
	_, err = d.Store.RenameProject(ctx, p.ID, args[1], cliAudit())
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("project rename: a project named %q already exists", args[1])
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "project %s is now %s; its keys and data are unchanged.\n", args[0], args[1])
	return nil
}

func cmdProjectDelete(ctx context.Context, e env, args []string) error {
	f := newFlags(e, "project delete", "project delete NAME --yes [--data DIR]\n\n"+
		"Deletes the project and all its data: events, profiles, rejections, counters and identity\n"+
		"secrets. Its public keys stop working at once (running servers within a second); the data\n"+
		"is then removed in small batches, which this command waits for. Refused without --yes, and\n"+
		"for the last project. There is no undo: take a backup first (sendora backup FILE).")
	f.dataFlag()
	yes := f.bool("yes", false, "really delete the project and its data")
	args, err := f.parse(args)
	if err != nil {
		return err
	}
	if err := wantArgs("project delete", args, 1, "one project NAME"); err != nil {
		return err
	}
	if !*yes {
		return usagef("project delete: this deletes project %s and all its events and profiles, with no undo; run it again with --yes", args[0])
	}
	d, err := f.openData(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	p, err := d.Project(ctx, args[0])
	if err != nil {
		return err
	}
	err = d.Store.DeleteProject(ctx, p.ID, p.Name, cliAudit())
	if errors.Is(err, store.ErrLastProject) {
		return fmt.Errorf("project delete: %s is the only project, and a server needs one; create another first", p.Name)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "project %s deleted: its keys no longer work. Removing its data…\n", p.Name)
	// Short pauses between batches leave a running server's writer room.
	n, err := d.Store.PurgeDeletedProjects(ctx, 2000, func(ctx context.Context) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
			return nil
		}
	})
	if err != nil {
		return fmt.Errorf("project delete: %s is deleted, but removing its data stopped (%v); a running server finishes it, or the next sendora serve does", p.Name, err)
	}
	fmt.Fprintf(e.stderr, "removed %d rows.\n", n)
	return nil
}

func cmdProjectKeyRotate(ctx context.Context, e env, args []string) error {
	f := newFlags(e, "project key rotate", "project key rotate [--project NAME] [--keep 24h|until-revoked] [--data DIR]\n\n"+
		"Prints a new public key, alone on stdout. The replaced key keeps working for --keep (default\n"+
		"24h, at most 720h, or until-revoked), so sites can switch without losing events; 0 stops it at\n"+
		"once. A key left working by an earlier rotation stops now. `sendora project key revoke` stops\n"+
		"the old key early.")
	f.dataFlag()
	project := f.fs.String("project", "", "project name (default: \"default\")")
	keepText := f.fs.String("keep", strings.TrimSuffix(strings.TrimSuffix(store.DefaultKeyKeep.String(), "0s"), "0m"), "how long the replaced key keeps working: 0 (stops at once) up to 720h, or until-revoked")
	args, err := f.parse(args)
	if err != nil {
		return err
	}
	if err := wantArgs("project key rotate", args, 0, ""); err != nil {
		return err
	}
	keep := new(time.Duration)
	if *keepText == "until-revoked" {
		*keep = store.KeepUntilRevoked
	} else if *keep, err = time.ParseDuration(*keepText); err != nil || *keep < 0 || *keep > store.MaxKeyKeep {
		return usagef("project key rotate: --keep %s: want 0 up to %s, or until-revoked", *keepText, store.MaxKeyKeep)
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
	r, err := d.Store.RotatePublicKey(ctx, p.ID, "", *keep, cliAudit())
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, r.PublicKey)
	if *keep == 0 {
		fmt.Fprintf(e.stderr, "project %s: new public key; the old one %s stopped working (running servers within a second).\n", p.Name, p.PublicKey)
	} else {
		fmt.Fprintf(e.stderr, "project %s: new public key; the old one %s works %s.\n", p.Name, p.PublicKey, keyUntilText(r.PreviousKeyUntil))
	}
	return nil
}

func cmdProjectKeyRevoke(ctx context.Context, e env, args []string) error {
	f := newFlags(e, "project key revoke", "project key revoke [KEY] [--project NAME] [--data DIR]\n\n"+
		"Stops the key a rotation replaced now, before its --keep runs out; its events are then refused\n"+
		"with INVALID_PUBLIC_KEY. With KEY, only if that is the replaced key. The current key cannot be\n"+
		"revoked: rotate first. With no replaced key working, nothing changes (exit 0).")
	f.dataFlag()
	project := f.fs.String("project", "", "project name (default: \"default\")")
	args, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(args) > 1 {
		return usagef("project key revoke: want at most one KEY")
	}
	key := ""
	if len(args) == 1 {
		key = args[0]
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
	ok, err := d.Store.RevokePublicKey(ctx, p.ID, key, cliAudit())
	if errors.Is(err, store.ErrCurrentKey) {
		return fmt.Errorf("project key revoke: %s is the current key of project %s; run sendora project key rotate first", key, p.Name)
	}
	if err != nil {
		return err
	}
	if !ok {
		fmt.Fprintf(e.stderr, "project %s: no replaced key works; only %s does. Nothing changed.\n", p.Name, p.PublicKey)
		return nil
	}
	fmt.Fprintf(e.stderr, "project %s: the replaced key %s no longer works (running servers within a second).\n", p.Name, p.PreviousPublicKey)
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
	origins, err = store.ParseOrigins(strings.Join(origins, " "))
	if err != nil {
		return usagef("project origins: %v", err)
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
		if err := d.Store.ChangeAllowedOrigins(ctx, p.ID, origins, cliAudit()); err != nil {
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
