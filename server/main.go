// Command server runs fieldsync: `go run ./server` starts it on the
// embedded store with no set-up; see README.md for the configuration.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"os/user"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"fieldsync/server/api"
	"fieldsync/server/app"
)

// version is stamped at build: go build -ldflags "-X main.version=1.4.0".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
}

// run is main with its dependencies passed in (environ as os.Environ);
// it returns the exit code.
func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fieldsync", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { usage(stderr, fs) }
	demo := fs.Bool("demo", false, "seed a small demo company once (same as FIELDSYNC_DEMO=1)")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *showVersion {
		fmt.Fprintln(stdout, "fieldsync", versionString())
		return 0
	}
	if fs.Arg(0) == "openapi" { // needs no configuration and opens no store
		if fs.NArg() != 1 {
			fs.Usage()
			return 2
		}
		return printOpenAPI(stdout, stderr)
	}
	cfg, err := app.LoadConfig(lookupIn(environ))
	if err == nil {
		err = app.CheckEnviron(environ)
	}
	if err != nil {
		fmt.Fprintf(stderr, "fieldsync: invalid configuration:\n%v\n", err)
		return 2
	}
	cmd, cmdArgs := fs.Arg(0), fs.Args()[min(1, fs.NArg()):]
	if cmd != "" {
		for _, w := range cfg.Warnings {
			fmt.Fprintln(stderr, "fieldsync: warning:", w)
		}
	}
	switch cmd {
	case "":
	case "backup":
		if len(cmdArgs) != 1 {
			fs.Usage()
			return 2
		}
		return backup(ctx, cfg, cmdArgs[0], stderr)
	case "healthcheck":
		return healthcheck(ctx, cfg, stderr)
	case "reset-admin-password":
		return resetAdminPassword(ctx, cfg, cmdArgs, stderr)
	default:
		fs.Usage()
		return 2
	}
	cfg.Demo = cfg.Demo || *demo
	log := app.NewLogger(cfg, stderr)
	log.Info("fieldsync", "version", versionString())

	srv, err := app.Start(ctx, cfg, log, time.Now)
	if err != nil {
		log.Error("start failed", "err", err)
		return 1
	}
	log.Info("fieldsync listening", "addr", srv.Addr(), "embeddedStore", srv.Store.Embedded())
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err := <-srv.Err():
		log.Error("http server stopped", "err", err)
	}
	if err := srv.Shutdown(cfg.ShutdownTimeout); err != nil {
		log.Error("shutdown", "err", err)
		return 1
	}
	log.Info("stopped cleanly")
	return 0
}

func usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, `usage: fieldsync [-demo]                 serve
       fieldsync backup FILE             copy the embedded store, while it serves, to FILE
       fieldsync reset-admin-password [-login LOGIN] [-stdin]
                                         set a new password on an admin account (generated and
                                         printed, or read from stdin); audited
       fieldsync openapi                 print the OpenAPI document (JSON) and exit
       fieldsync healthcheck             GET /readyz on the configured address: exit 0 when ready
       fieldsync -version                print the version

flags:
`)
	fs.PrintDefaults()
	fmt.Fprintf(w, "\nsettings, from the environment (before this release they had no %s prefix;\nthe old names are still read, with a warning):\n", app.EnvPrefix)
	for _, s := range app.Settings() {
		def := s.Default
		if def == "" {
			def = "unset"
		}
		fmt.Fprintf(w, "  %s (default %s)\n    \t%s\n", s.Name, def, s.Usage)
	}
}

// versionString is the stamped version, with the commit it was built
// from when the build recorded it.
func versionString() string {
	v := version
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	var rev, at, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = ", " + s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+modified"
			}
		}
	}
	if rev != "" {
		v += fmt.Sprintf(" (commit %.12s%s%s)", rev, dirty, at)
	}
	return v + " " + bi.GoVersion
}

// lookupIn is getenv over environ; the last of repeated names wins, as
// in os.Getenv.
func lookupIn(environ []string) func(string) string {
	m := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return func(k string) string { return m[k] }
}

// backup copies the embedded store under cfg.DataDir to path while a
// server may be using it (SQLite lets a second process read a consistent
// snapshot), and says what else a restore needs: the data key.
func backup(ctx context.Context, cfg app.Config, path string, stderr io.Writer) int {
	if cfg.MongoURI != "" {
		fmt.Fprintln(stderr, "fieldsync backup: FIELDSYNC_MONGODB_URI is set; back a MongoDB deployment up with its own tools (mongodump, snapshots)")
		return 2
	}
	if err := app.Backup(ctx, cfg, path); err != nil {
		fmt.Fprintln(stderr, "fieldsync backup:", err)
		return 1
	}
	fmt.Fprintf(stderr, "fieldsync backup: wrote %s\n"+
		"  Customers' phones, addresses and positions in it are sealed with the data key: keep a copy of %s\n"+
		"  (or of FIELDSYNC_DATA_KEY) apart from the backup; without it they cannot be read.\n"+
		"  To restore: stop the server, put the file in an empty data directory as fieldsync.db, with the data key, and start.\n",
		path, cfg.DataKeyFileOrDefault())
	return 0
}

// healthcheck asks the server configured by the environment whether it is
// ready, for a container's HEALTHCHECK (the image has no curl): exit 0
// when /readyz answers 200, else 1.
func healthcheck(ctx context.Context, cfg app.Config, stderr io.Writer) int {
	host := cfg.BindAddr
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1" // every interface includes loopback
		if ip.To4() == nil {
			host = "::1"
		}
	}
	if cfg.Port == 0 {
		fmt.Fprintln(stderr, "fieldsync healthcheck: FIELDSYNC_PORT is 0 (a free port picked at start): there is no known address to ask")
		return 1
	}
	url := "http://" + net.JoinHostPort(host, strconv.Itoa(cfg.Port)) + "/readyz"
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		fmt.Fprintln(stderr, "fieldsync healthcheck:", err)
		return 1
	}
	// Straight to the server, never through a proxy from the environment.
	client := &http.Client{Transport: &http.Transport{Proxy: nil}}
	resp, err := client.Do(req)
	if err != nil {
		fmt.Fprintln(stderr, "fieldsync healthcheck:", err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "fieldsync healthcheck: %s answered %s\n", url, resp.Status)
		return 1
	}
	return 0
}

// resetAdminPassword sets a new password on an admin account from the
// command line, on the configured store.
func resetAdminPassword(ctx context.Context, cfg app.Config, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("fieldsync reset-admin-password", flag.ContinueOnError)
	fs.SetOutput(stderr)
	login := fs.String("login", "", "the admin account (default FIELDSYNC_ADMIN_LOGIN, else admin)")
	fromStdin := fs.Bool("stdin", false, "read the new password from the first line of stdin instead of generating one")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return 2
	}
	r := app.Reset{Login: *login, By: operator()}
	if *fromStdin {
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			fmt.Fprintln(stderr, "fieldsync reset-admin-password: read stdin:", err)
			return 1
		}
		if r.Password = strings.TrimRight(line, "\r\n"); r.Password == "" {
			fmt.Fprintln(stderr, "fieldsync reset-admin-password: -stdin: no password on stdin")
			return 2
		}
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.StoreStartTimeout)
	defer cancel()
	name, password, err := app.ResetAdminPassword(ctx, cfg, r, time.Now)
	if err != nil {
		fmt.Fprintln(stderr, "fieldsync reset-admin-password:", err)
		return 1
	}
	fmt.Fprintf(stderr, "fieldsync reset-admin-password: set a new password on %s, enabled the account and signed it out everywhere (audited)\n", name)
	if !*fromStdin {
		fmt.Fprintln(os.Stdout, password)
	}
	return 0
}

// operator names who runs the command, for the audit trail.
func operator() string {
	who := "uid " + strconv.Itoa(os.Getuid())
	if u, err := user.Current(); err == nil {
		who = u.Username
	}
	host, _ := os.Hostname()
	return who + " on " + host
}

// printOpenAPI writes the API's OpenAPI document to stdout, as GET
// /openapi.json serves it, for code generators and linters in CI.
func printOpenAPI(stdout, stderr io.Writer) int {
	b, err := api.OpenAPIJSON()
	if err == nil {
		_, err = stdout.Write(append(b, '\n'))
	}
	if err != nil {
		fmt.Fprintln(stderr, "fieldsync openapi:", err)
		return 1
	}
	return 0
}
