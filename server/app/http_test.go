package app

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"fieldsync/server/api"
)

// TestReadyzDrainsBeforeListenerCloses: on shutdown /readyz answers 503 at
// once, while the listener still serves requests for the drain delay, so
// a balancer takes the instance out before connections are refused.
func TestReadyzDrainsBeforeListenerCloses(t *testing.T) {
	const drain = 1500 * time.Millisecond
	cfg := testConfig(t, t.TempDir(), map[string]string{"DRAIN_DELAY": drain.String()})
	srv, err := Start(t.Context(), cfg, slog.New(slog.DiscardHandler), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + srv.Addr()
	if st, _ := call(t, "GET", base+"/readyz", "", nil); st != 200 {
		t.Fatalf("readyz before shutdown = %d", st)
	}
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(10 * time.Second) }()

	client := &http.Client{Timeout: 5 * time.Second}
	get := func(path string) (int, string, error) {
		resp, err := client.Get(base + path)
		if err != nil {
			return 0, "", err
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Retry-After"), nil
	}
	var notReady time.Duration
	for notReady == 0 {
		st, _, err := get("/readyz")
		if err != nil {
			t.Fatalf("listener closed before readyz said 503: %v", err)
		}
		if st == 503 {
			notReady = time.Since(start)
		} else if time.Since(start) > drain/2 {
			t.Fatalf("readyz still %d %s after shutdown began", st, time.Since(start))
		}
	}
	// Still serving while the balancer notices.
	if st, _, err := get("/healthz"); err != nil || st != 200 {
		t.Fatalf("healthz during the drain = %d %v", st, err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < drain {
		t.Fatalf("shutdown took %s, less than the drain delay %s", took, drain)
	}
	if _, _, err := get("/healthz"); err == nil || !errors.Is(err, syscall.ECONNREFUSED) && !strings.Contains(err.Error(), "refused") {
		t.Fatalf("after shutdown: %v, want connection refused", err)
	}
	t.Logf("readyz 503 after %s; listener closed after %s", notReady, drain)
}

// TestBindAddress: the server listens on loopback unless BIND_ADDR says
// otherwise; an address that is not one stops the start.
func TestBindAddress(t *testing.T) {
	cfg := testConfig(t, t.TempDir(), nil)
	srv, err := Start(t.Context(), cfg, slog.New(slog.DiscardHandler), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	host, _, _ := net.SplitHostPort(srv.Addr())
	srv.Shutdown(10 * time.Second)
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		t.Fatalf("default listens on %s, want loopback", srv.Addr())
	}
	cfg = testConfig(t, t.TempDir(), map[string]string{"BIND_ADDR": "0.0.0.0"})
	if srv, err = Start(t.Context(), cfg, slog.New(slog.DiscardHandler), time.Now); err != nil {
		t.Fatal(err)
	}
	host, _, _ = net.SplitHostPort(srv.Addr())
	srv.Shutdown(10 * time.Second)
	if host != "0.0.0.0" {
		t.Fatalf("BIND_ADDR=0.0.0.0 listens on %s", srv.Addr())
	}
	for _, bad := range []string{"example.com", "300.1.1.1", "127.0.0.1:80"} {
		if _, err := LoadConfig(env(map[string]string{"BIND_ADDR": bad})); err == nil || !strings.Contains(err.Error(), "BIND_ADDR") {
			t.Errorf("BIND_ADDR=%q: %v", bad, err)
		}
	}
}

// TestLimitSettings: the budgets, the drain delay and the alert window
// come from the environment, with the documented defaults.
func TestLimitSettings(t *testing.T) {
	cfg, err := LoadConfig(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Limits != api.DefaultLimits || cfg.DrainDelay != 5*time.Second || cfg.AlertWindow != 10*time.Minute || cfg.BindAddr != "127.0.0.1" || cfg.TravelBuffer != 30*time.Minute {
		t.Fatalf("defaults: %+v drain %s window %s bind %s buffer %s", cfg.Limits, cfg.DrainDelay, cfg.AlertWindow, cfg.BindAddr, cfg.TravelBuffer)
	}
	cfg, err = LoadConfig(env(map[string]string{"RATE_PUSH_PER_MINUTE": "0", "RATE_WRITE_PER_MINUTE": "120", "RATE_WRITE_BURST": "5",
		"RATE_READ_BURST": "7", "DRAIN_DELAY": "0", "ALERT_COALESCE_WINDOW": "0", "FIELDSYNC_TRAVEL_BUFFER": "45m"}))
	if err != nil {
		t.Fatal(err)
	}
	want := api.Limits{Push: api.Budget{PerMinute: 0, Burst: 10}, Write: api.Budget{PerMinute: 120, Burst: 5}, Read: api.Budget{PerMinute: 300, Burst: 7}}
	if cfg.Limits != want || cfg.DrainDelay != 0 || cfg.AlertWindow != 0 || cfg.TravelBuffer != 45*time.Minute {
		t.Fatalf("set: %+v drain %s window %s buffer %s", cfg.Limits, cfg.DrainDelay, cfg.AlertWindow, cfg.TravelBuffer)
	}
	_, err = LoadConfig(env(map[string]string{"RATE_READ_BURST": "0", "RATE_PUSH_PER_MINUTE": "-1", "DRAIN_DELAY": "1h", "FIELDSYNC_TRAVEL_BUFFER": "5h"}))
	for _, name := range []string{"RATE_READ_BURST", "RATE_PUSH_PER_MINUTE", "DRAIN_DELAY", "TRAVEL_BUFFER"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s not reported: %v", name, err)
		}
	}
}
