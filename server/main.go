// Command server runs fieldsync: `go run ./server` starts it on the
// embedded store with no set-up; see README.md for the configuration.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"fieldsync/server/api"
	"fieldsync/server/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run is main with its dependencies passed in; it returns the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fieldsync", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: fieldsync [-demo]        serve (configuration: environment, see README.md)")
		fmt.Fprintln(stderr, "       fieldsync backup FILE    copy the embedded store, while it serves, to FILE")
		fmt.Fprintln(stderr, "       fieldsync openapi        print the OpenAPI document (JSON) and exit")
		fs.PrintDefaults()
	}
	demo := fs.Bool("demo", false, "seed a small demo company once (same as DEMO=1)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.Arg(0) == "openapi" { // needs no configuration and opens no store
		if fs.NArg() != 1 {
			fs.Usage()
			return 2
		}
		return printOpenAPI(stdout, stderr)
	}
	cfg, err := app.LoadConfig(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "fieldsync: invalid configuration:\n%v\n", err)
		return 2
	}
	if fs.Arg(0) == "backup" {
		if fs.NArg() != 2 {
			fs.Usage()
			return 2
		}
		return backup(ctx, cfg, fs.Arg(1), stderr)
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	cfg.Demo = cfg.Demo || *demo
	log := app.NewLogger(cfg, stderr)

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

// backup copies the embedded store under cfg.DataDir to path while a
// server may be using it (SQLite lets a second process read a consistent
// snapshot), and says what else a restore needs: the data key.
func backup(ctx context.Context, cfg app.Config, path string, stderr io.Writer) int {
	if cfg.MongoURI != "" {
		fmt.Fprintln(stderr, "fieldsync backup: MONGODB_URI is set; back a MongoDB deployment up with its own tools (mongodump, snapshots)")
		return 2
	}
	if err := app.Backup(ctx, cfg, path); err != nil {
		fmt.Fprintln(stderr, "fieldsync backup:", err)
		return 1
	}
	fmt.Fprintf(stderr, "fieldsync backup: wrote %s\n"+
		"  Customers' phones, addresses and positions in it are sealed with the data key: keep a copy of %s\n"+
		"  (or of DATA_KEY) apart from the backup; without it they cannot be read.\n"+
		"  To restore: stop the server, put the file in an empty DATA_DIR as fieldsync.db, with the data key, and start.\n",
		path, cfg.DataKeyFileOrDefault())
	return 0
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
