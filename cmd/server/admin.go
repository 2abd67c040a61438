package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/term"

	"github.com/sendora/sendora/internal/auth"
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
	pw := e.getenv(adminPasswordEnv)
	if pw == "" {
		if pw, err = promptPassword(e, addr); err != nil {
			return err
		}
	}
	if err := auth.CheckPasswordRules(pw); err != nil {
		return fmt.Errorf("admin create: %w", err)
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

// promptPassword reads the password twice from the terminal without echo.
func promptPassword(e env, email string) (string, error) {
	in, ok := e.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(in.Fd())) {
		return "", errors.New("admin create: no password: set " + adminPasswordEnv + " or run the command in a terminal")
	}
	fmt.Fprintf(e.stderr, "Password for %s (at least %d characters): ", email, auth.MinPasswordLen)
	first, err := term.ReadPassword(int(in.Fd()))
	fmt.Fprintln(e.stderr)
	if err != nil {
		return "", fmt.Errorf("admin create: read password: %w", err)
	}
	fmt.Fprint(e.stderr, "Repeat it: ")
	second, err := term.ReadPassword(int(in.Fd()))
	fmt.Fprintln(e.stderr)
	if err != nil {
		return "", fmt.Errorf("admin create: read password: %w", err)
	}
	if string(first) != string(second) {
		return "", errors.New("admin create: " + auth.ErrPasswordMismatch.Error())
	}
	return string(first), nil
}
