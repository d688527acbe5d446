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

	"fieldsync/server/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stderr))
}

// run is main with its dependencies passed in; it returns the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) int {
	fs := flag.NewFlagSet("fieldsync", flag.ContinueOnError)
	fs.SetOutput(stderr)
	demo := fs.Bool("demo", false, "seed a small demo company once (same as DEMO=1)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := app.LoadConfig(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "fieldsync: invalid configuration:\n%v\n", err)
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
