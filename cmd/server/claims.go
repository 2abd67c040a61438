package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/sendora/sendora/internal/identity"
)

// cmdIdentitySchemes shows or sets the token schemes a project accepts and
// the maximum lifetime of its JWTs. Shown, they print as the arguments
// that would set them, so `sendora identity schemes $(sendora identity
// schemes)` changes nothing.
func cmdIdentitySchemes(ctx context.Context, e env, args []string) error {
	f := newFlags(e, "identity schemes", "identity schemes [hmac_v1,jwt|jwt|hmac_v1] [--max-lifetime 24h] [--project NAME] [--data DIR]\n\n"+
		"Without a scheme list, prints the project's setting. The default accepts hmac_v1 and jwt.\n"+
		"hmac_v1 alone is the safe choice for a project that sends no JWTs: the two schemes share the\n"+
		"secret and the MAC, so an hmac_v1 token over a userId your users choose can be a JWT's signature\n"+
		"(docs/SECURITY.md). jwt alone is safe only once no backend signs hmac_v1 tokens any more.")
	f.dataFlag()
	project := f.fs.String("project", "", "project name (default: \"default\")")
	maxLifetime := f.fs.Duration("max-lifetime", 0, "the longest a JWT may be valid ahead of the time it is checked (its exp); 0 for none. Kept as it is when not given")
	args, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(args) > 1 {
		return usagef("identity schemes: want one scheme list: hmac_v1,jwt, jwt or hmac_v1")
	}
	lifetimeSet := false
	f.fs.Visit(func(fl *flag.Flag) { lifetimeSet = lifetimeSet || fl.Name == "max-lifetime" })
	var policy identity.SchemePolicy
	if len(args) == 1 {
		if policy, err = identity.ParseSchemePolicy(args[0]); err != nil {
			return usagef("identity schemes: %q: %v", args[0], err)
		}
	} else if lifetimeSet {
		return usagef("identity schemes: --max-lifetime needs the scheme list too, e.g. identity schemes jwt --max-lifetime 24h")
	}
	if lifetimeSet {
		if err := identity.CheckMaxLifetime(*maxLifetime); err != nil {
			return usagef("identity schemes: --max-lifetime %s: %v", *maxLifetime, err)
		}
		if policy == identity.AcceptHMACOnly && *maxLifetime > 0 {
			return usagef("identity schemes: --max-lifetime bounds JWTs, which hmac_v1 alone refuses")
		}
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
	st, err := d.Store.IdentityState(ctx, p.ID)
	if err != nil {
		return err
	}
	if len(args) == 0 {
		fmt.Fprintln(e.stdout, schemesArgs(st.Schemes, st.MaxLifetime))
		fmt.Fprintf(e.stderr, "project %s: %s\n", p.Name, describeSchemes(st.Schemes, st.MaxLifetime))
		return nil
	}
	life := st.MaxLifetime
	if lifetimeSet {
		life = *maxLifetime
	}
	if policy == identity.AcceptHMACOnly {
		life = 0 // nothing to bound
	}
	m := identity.NewManager(d.Store, d.Sealer, nil)
	if err := m.SetSchemes(ctx, p.ID, policy, life, identity.Actor{Name: "cli"}); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "project %s: %s. Running servers apply it within a second.\n", p.Name, describeSchemes(policy, life))
	switch policy {
	case identity.AcceptHMACAndJWT:
		fmt.Fprintln(e.stderr, "Caution: with both schemes, an hmac_v1 token your backend makes for a userId a user chose can be a JWT's signature (docs/SECURITY.md); if you send no JWTs, accept hmac_v1 alone.")
	case identity.AcceptJWTOnly:
		fmt.Fprintln(e.stderr, "This is safe only once no backend of yours signs hmac_v1 tokens any more: their MACs can be JWT signatures (docs/SECURITY.md).")
	}
	return nil
}

// schemesArgs is a setting as the arguments of `identity schemes`.
func schemesArgs(p identity.SchemePolicy, life time.Duration) string {
	if life > 0 {
		return p.String() + " --max-lifetime " + shortDuration(life)
	}
	return p.String()
}

// describeSchemes says a setting in words.
func describeSchemes(p identity.SchemePolicy, life time.Duration) string {
	var s string
	switch p {
	case identity.AcceptJWTOnly:
		s = "accepts JWTs only (hmac_v1 tokens are refused as unsupported_scheme)"
	case identity.AcceptHMACOnly:
		return "accepts hmac_v1 tokens only (JWTs are refused as unsupported_scheme)"
	default:
		s = "accepts hmac_v1 tokens and JWTs"
	}
	if life > 0 {
		return s + "; a JWT's exp may lie at most " + shortDuration(life) + " ahead, and a JWT without exp is refused"
	}
	return s + "; no maximum JWT lifetime"
}

// shortDuration writes d as Go parses it, without zero units: 24h, 1h30m, 15m.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// cmdIdentityEndOverlap stops the previous secret verifying now. With no
// overlap running it changes nothing and says so: the previous secret
// already does not verify, which is what was asked.
func cmdIdentityEndOverlap(ctx context.Context, e env, args []string) error {
	f := newFlags(e, "identity end-overlap", "identity end-overlap [--project NAME] [--data DIR]\n\n"+
		"Stops the previous secret verifying now, before its overlap runs out: once the dashboard shows\n"+
		"it verified no event for a while, every backend signs with the new one. Events still signed\n"+
		"with it are then refused as rotated_secret (strict identity) or kept as report-only.")
	f.dataFlag()
	project := f.fs.String("project", "", "project name (default: \"default\")")
	args, err := f.parse(args)
	if err != nil {
		return err
	}
	if err := wantArgs("identity end-overlap", args, 0, ""); err != nil {
		return err
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
	ended, err := identity.NewManager(d.Store, d.Sealer, nil).EndOverlap(ctx, p.ID, identity.AnyVersion, identity.Actor{Name: "cli"})
	if errors.Is(err, identity.ErrNoOverlap) {
		fmt.Fprintf(e.stderr, "project %s: no overlap is running: only the current secret verifies. Nothing changed.\n", p.Name)
		return nil
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "project %s: secret version %d stopped verifying now; only the current secret verifies. Running servers apply it within a second.\n", p.Name, ended)
	return nil
}
