package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/sendora/sendora/internal/datadir"
)

// env is what a command may touch of the process, so tests run commands
// in-process with their own environment and streams.
type env struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// usageError is a mistake in the command line; it exits 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// errHelp ends a command that printed its help; it exits 0.
var errHelp = errors.New("help shown")

// command is one CLI command.
type command struct {
	name    string // "project list"
	args    string // " NAME" for usage lines
	summary string
	run     func(ctx context.Context, e env, args []string) error
}

func commands() []command {
	return []command{
		{"serve", "", "run the server (the default command)", cmdServe},
		{"admin create", " --email E", "create a dashboard admin (password from SENDORA_ADMIN_PASSWORD or a prompt)", cmdAdminCreate},
		{"admin list", "", "list the dashboard admins: email, created, last sign-in", cmdAdminList},
		{"admin remove", " --email E", "remove an admin (never the last one); its sessions end at once", cmdAdminRemove},
		{"admin reset-password", " --email E", "set an admin's password (from SENDORA_ADMIN_PASSWORD or a prompt); every session of that admin ends", cmdAdminResetPassword},
		{"project list", "", "list projects: names, ids and public keys", cmdProjectList},
		{"project create", " NAME", "create a project and print its public key", cmdProjectCreate},
		{"project origins", " NAME [ORIGIN...]", "show, set or (with --clear) remove the origins a project accepts browser events from", cmdProjectOrigins},
		{"project rename", " OLD NEW", "rename a project; its keys and data stay", cmdProjectRename},
		{"project delete", " NAME --yes", "delete a project and all its data (refused without --yes, and for the last project)", cmdProjectDelete},
		{"project key rotate", "", "print a new public key; the old one keeps working for --keep, 24h by default", cmdProjectKeyRotate},
		{"project key revoke", " [KEY]", "stop the public key a rotation replaced, now", cmdProjectKeyRevoke},
		{"identity rotate", "", "rotate the identity secret and print the new one, once; the old one verifies for --overlap, 1h by default", cmdIdentityRotate},
		{"identity end-overlap", "", "stop the previous secret verifying now, before its overlap runs out", cmdIdentityEndOverlap},
		{"identity strict", " on|off", "turn strict identity on or off", cmdIdentityStrict},
		{"identity schemes", " [SCHEMES]", "show or set the accepted token schemes (hmac_v1,jwt, jwt or hmac_v1) and --max-lifetime of JWTs", cmdIdentitySchemes},
		{"events export", "", "write stored events as NDJSON to stdout", cmdEventsExport},
		{"backup", " FILE", "write a consistent copy of the database to FILE while the server runs", cmdBackup},
		{"sign", " --user ID [--jwt]", "print the identity token for a userId, hmac_v1 or with --jwt a JWT (secret from SENDORA_IDENTITY_SECRET)", cmdSign},
		{"version", "", "print the version", cmdVersion},
	}
}

// run is the whole program: it parses args, runs one command and returns
// its error. main only wires the process to it.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	e := env{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		return cmdServe(ctx, e, nil)
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		printUsage(stdout)
		return nil
	case "-v", "-version", "--version":
		return cmdVersion(ctx, e, nil)
	}
	if strings.HasPrefix(args[0], "-") { // flags with no command: serve's
		return cmdServe(ctx, e, args)
	}
	cmds := commands()
	// Longest match first, so "project list" wins over a "project" group.
	for _, c := range cmds {
		words := strings.Fields(c.name)
		if len(args) >= len(words) && strings.Join(args[:len(words)], " ") == c.name {
			return c.run(ctx, e, args[len(words):])
		}
	}
	// The longest group the words name: "project key" before "project".
	for n := min(len(args), 2); n >= 1; n-- {
		prefix := strings.Join(args[:n], " ")
		var group []string
		for _, c := range cmds {
			if strings.HasPrefix(c.name, prefix+" ") {
				group = append(group, strings.TrimPrefix(c.name, prefix+" "))
			}
		}
		if len(group) == 0 {
			continue
		}
		if len(args) == n || args[n] == "-h" || args[n] == "--help" || args[n] == "help" {
			if len(args) > n {
				printUsage(stdout)
				return nil
			}
			return usagef("%s: missing subcommand (one of: %s)", prefix, strings.Join(group, ", "))
		}
		return usagef("%s: unknown subcommand %q (one of: %s)", prefix, args[n], strings.Join(group, ", "))
	}
	return usagef("unknown command %q (see: sendora --help)", args[0])
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "Sendora Identity: event ingestion with strict identity verification.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: sendora [command] [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	cmds := commands()
	width := 0
	for _, c := range cmds {
		width = max(width, len(c.name+c.args))
	}
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-*s  %s\n", width, c.name+c.args, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'sendora COMMAND --help' for a command's flags. Every serve flag, and")
	fmt.Fprintln(w, "--data, has an environment twin, e.g. --data and SENDORA_DATA.")
	fmt.Fprintln(w, "Exit status: 0 on success, 1 on failure, 2 for a mistake in the command line.")
}

// flags is a command's flag set whose values may come from SENDORA_* env
// twins. An env value is parsed exactly as the flag's own value is (by the
// flag's Set), so SENDORA_RATE_LIMIT_KEY=1x is refused as --rate-limit-key 1x
// is; a flag given on the command line wins over its twin.
type flags struct {
	fs    *flag.FlagSet
	e     env
	twins []string // flags with an env twin, in definition order
	usage string

	dataDir, databaseURL *string // set by dataFlag
}

func newFlags(e env, name, usage string) *flags {
	f := &flags{fs: flag.NewFlagSet(name, flag.ContinueOnError), e: e, usage: usage}
	f.fs.SetOutput(io.Discard)
	return f
}

func envName(flagName string) string {
	return "SENDORA_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func (f *flags) describe(name, usage string) string {
	f.twins = append(f.twins, name)
	return usage + " (env " + envName(name) + ")"
}

func (f *flags) string(name, def, usage string) *string {
	return f.fs.String(name, def, f.describe(name, usage))
}

func (f *flags) bool(name string, def bool, usage string) *bool {
	return f.fs.Bool(name, def, usage)
}

func (f *flags) duration(name string, def time.Duration, usage string) *time.Duration {
	return f.fs.Duration(name, def, f.describe(name, usage))
}

func (f *flags) int(name string, def int, usage string) *int {
	return f.fs.Int(name, def, f.describe(name, usage))
}

// applyEnv sets each flag that has an env twin from it, through the flag's
// own parser.
func (f *flags) applyEnv() error {
	for _, name := range f.twins {
		v := f.e.getenv(envName(name))
		if v == "" {
			continue
		}
		if err := f.fs.Set(name, v); err != nil {
			return usagef("%s=%q: invalid value for --%s: %v%s", envName(name), v, name, err, valueHint(f.fs.Lookup(name)))
		}
	}
	return nil
}

// valueHint says what a flag takes, for errors.
func valueHint(fl *flag.Flag) string {
	switch fl.Value.(flag.Getter).Get().(type) {
	case int:
		return " (want a whole number, e.g. 50000)"
	case time.Duration:
		return " (want a duration, e.g. 60s, 1h)"
	}
	return ""
}

// dataFlag adds --data and --database-url, which every command takes, and
// returns --data's value; openData opens what they name.
func (f *flags) dataFlag() *string {
	f.dataDir = f.string("data", "./data", "data directory: the SQLite database and master.key (only master.key with --database-url)")
	f.databaseURL = f.string("database-url", "", "a PostgreSQL database (postgres://user:password@host:5432/dbname) shared by several instances, instead of SQLite in --data")
	return f.dataDir
}

// openData opens the existing data directory and database the command's
// --data and --database-url name.
func (f *flags) openData(ctx context.Context) (*datadir.DataDir, error) {
	return datadir.Open(ctx, datadir.Options{Dir: *f.dataDir, DatabaseURL: *f.databaseURL, MasterKey: f.e.getenv(datadir.MasterKeyEnv)})
}

// parse parses args, prints help on -h, and turns flag errors into one-line
// usage errors. Positional arguments may come before or after flags.
func (f *flags) parse(args []string) ([]string, error) {
	envErr := f.applyEnv() // reported after the arguments, so --help still works
	var positional []string
	for {
		err := f.fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			f.printHelp()
			return nil, errHelp
		}
		if err != nil {
			return nil, usagef("%s: %v", f.fs.Name(), err)
		}
		args = f.fs.Args()
		if len(args) == 0 {
			break
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
	if envErr != nil {
		return nil, envErr
	}
	return positional, nil
}

func (f *flags) printHelp() {
	w := f.e.stdout
	fmt.Fprintf(w, "Usage: sendora %s\n\n", f.usage)
	var lines []string
	f.fs.VisitAll(func(fl *flag.Flag) {
		def := ""
		if fl.DefValue != "" && fl.DefValue != "false" && fl.DefValue != "0" && fl.DefValue != "0s" {
			def = fmt.Sprintf(" (default %q)", fl.DefValue)
		}
		lines = append(lines, fmt.Sprintf("  --%-18s %s%s", fl.Name, fl.Usage, def))
	})
	sort.Strings(lines)
	if len(lines) > 0 {
		fmt.Fprintln(w, "Flags:")
		for _, l := range lines {
			fmt.Fprintln(w, l)
		}
	}
}

// wantArgs checks the number of positional arguments.
func wantArgs(cmd string, args []string, n int, what string) error {
	if len(args) != n {
		if n == 0 {
			return usagef("%s: unexpected argument %q", cmd, args[0])
		}
		return usagef("%s: want %s", cmd, what)
	}
	return nil
}

// isTerminal reports whether w is a terminal, for progress lines.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
