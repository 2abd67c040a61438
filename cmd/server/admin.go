package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/sendora/sendora/internal/auth"
	"github.com/sendora/sendora/internal/store"
)

// adminPasswordEnv holds the new admin's password for scripts; without it
// the command prompts on the terminal. There is no default password.
const adminPasswordEnv = "SENDORA_ADMIN_PASSWORD"

func cmdAdminCreate(ctx context.Context, e env, args []string) error {
	f := newFlags(e, "admin create", "admin create --email E [--data DIR]   (password from "+adminPasswordEnv+" or a prompt)")
	f.dataFlag()
	email := f.fs.String("email", "", "the new admin's email, used to sign in")
	args, err := f.parse(args)
	if err != nil {
		return err
	}
	if err := wantArgs("admin create", args, 0, ""); err != nil {
		return err
	}
	if *email == "" {
		return usagef("admin create: --email is required")
	}
	addr, err := auth.NormalizeEmail(*email)
	if err != nil {
		return usagef("admin create: --email: %v", err)
	}
	pw, err := adminPassword(e, "admin create", addr)
	if err != nil {
		return err
	}
	d, err := f.openData(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	a, err := auth.CreateAdmin(ctx, d.Store, auth.NewHasher(auth.DefaultParams, 1), addr, pw, "cli", time.Now())
	if err != nil {
		return fmt.Errorf("admin create: %w", err)
	}
	fmt.Fprintf(e.stderr, "admin %s created; sign in on the dashboard at /login.\n", a.Email)
	return nil
}

// adminPassword returns the password SENDORA_ADMIN_PASSWORD holds, else
// asks for it on the terminal, and checks it against the rules.
func adminPassword(e env, cmd, email string) (string, error) {
	pw := e.getenv(adminPasswordEnv)
	if pw == "" {
		var err error
		if pw, err = promptPassword(e, cmd, email); err != nil {
			return "", err
		}
	}
	if err := auth.CheckPasswordRules(pw); err != nil {
		return "", fmt.Errorf("%s: %w", cmd, err)
	}
	return pw, nil
}

// promptPassword reads the password twice from the terminal without echo.
func promptPassword(e env, cmd, email string) (string, error) {
	in, ok := e.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(in.Fd())) {
		return "", errors.New(cmd + ": no password: set " + adminPasswordEnv + " or run the command in a terminal")
	}
	fmt.Fprintf(e.stderr, "Password for %s (at least %d characters): ", email, auth.MinPasswordLen)
	first, err := term.ReadPassword(int(in.Fd()))
	fmt.Fprintln(e.stderr)
	if err != nil {
		return "", fmt.Errorf("%s: read password: %w", cmd, err)
	}
	fmt.Fprint(e.stderr, "Repeat it: ")
	second, err := term.ReadPassword(int(in.Fd()))
	fmt.Fprintln(e.stderr)
	if err != nil {
		return "", fmt.Errorf("%s: read password: %w", cmd, err)
	}
	if string(first) != string(second) {
		return "", errors.New(cmd + ": " + auth.ErrPasswordMismatch.Error())
	}
	return string(first), nil
}

// emailFlag parses the command's --email, which it requires.
func emailFlag(cmd, raw string) (string, error) {
	if raw == "" {
		return "", usagef("%s: --email is required", cmd)
	}
	addr, err := auth.NormalizeEmail(raw)
	if err != nil {
		return "", usagef("%s: --email: %v", cmd, err)
	}
	return addr, nil
}

func cmdAdminList(ctx context.Context, e env, args []string) error {
	f := newFlags(e, "admin list", "admin list [--json] [--data DIR]")
	f.dataFlag()
	asJSON := f.bool("json", false, "print JSON instead of a table")
	args, err := f.parse(args)
	if err != nil {
		return err
	}
	if err := wantArgs("admin list", args, 0, ""); err != nil {
		return err
	}
	d, err := f.openData(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	admins, err := d.Store.ListAdmins(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		type row struct {
			Email       string     `json:"email"`
			CreatedAt   time.Time  `json:"createdAt"`
			LastLoginAt *time.Time `json:"lastLoginAt"` // null: never signed in
		}
		out := make([]row, 0, len(admins))
		for _, a := range admins {
			r := row{Email: a.Email, CreatedAt: a.CreatedAt}
			if !a.LastLoginAt.IsZero() {
				r.LastLoginAt = &a.LastLoginAt
			}
			out = append(out, r)
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "EMAIL\tCREATED\tLAST SIGN-IN")
	for _, a := range admins {
		last := "never"
		if !a.LastLoginAt.IsZero() {
			last = a.LastLoginAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", a.Email, a.CreatedAt.UTC().Format(time.RFC3339), last)
	}
	return tw.Flush()
}

func cmdAdminRemove(ctx context.Context, e env, args []string) error {
	f := newFlags(e, "admin remove", "admin remove --email E [--data DIR]   (never the last admin; its sessions end at once)")
	f.dataFlag()
	email := f.fs.String("email", "", "the admin to remove")
	args, err := f.parse(args)
	if err != nil {
		return err
	}
	if err := wantArgs("admin remove", args, 0, ""); err != nil {
		return err
	}
	addr, err := emailFlag("admin remove", *email)
	if err != nil {
		return err
	}
	d, err := f.openData(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	n, err := auth.RemoveAdmin(ctx, d.Store, addr, cliAudit())
	if err != nil {
		return fmt.Errorf("admin remove: %w", err)
	}
	fmt.Fprintf(e.stderr, "admin %s removed; %d session(s) signed out.\n", addr, n)
	return nil
}

func cmdAdminResetPassword(ctx context.Context, e env, args []string) error {
	f := newFlags(e, "admin reset-password", "admin reset-password --email E [--data DIR]   (password from "+adminPasswordEnv+" or a prompt; every session of the admin ends)")
	f.dataFlag()
	email := f.fs.String("email", "", "the admin whose password to set")
	args, err := f.parse(args)
	if err != nil {
		return err
	}
	if err := wantArgs("admin reset-password", args, 0, ""); err != nil {
		return err
	}
	addr, err := emailFlag("admin reset-password", *email)
	if err != nil {
		return err
	}
	d, err := f.openData(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	// Ask for the password only for an admin that exists.
	if _, err := d.Store.AdminByEmail(ctx, addr); errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("admin reset-password: no admin has the email %s", addr)
	} else if err != nil {
		return err
	}
	pw, err := adminPassword(e, "admin reset-password", addr)
	if err != nil {
		return err
	}
	n, err := auth.ResetPassword(ctx, d.Store, auth.NewHasher(auth.DefaultParams, 1), addr, pw, cliAudit())
	if err != nil {
		return fmt.Errorf("admin reset-password: %w", err)
	}
	fmt.Fprintf(e.stderr, "password of %s set; %d session(s) signed out, and the account's sign-in lockout cleared. Sign in on the dashboard at /login.\n", addr, n)
	return nil
}
