package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// loadTelemetry checks METRICS_ADDR and reads the standard OpenTelemetry
// variables (unprefixed: every OTel SDK reads them by these names) that
// turn tracing on: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as is, else
// OTEL_EXPORTER_OTLP_ENDPOINT with /v1/traces, as the specification says.
// Only OTLP over HTTP with protobuf is built in.
func (c *Config) loadTelemetry(getenv func(string) string) []error {
	var errs []error
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			errs = append(errs, fmt.Errorf("METRICS_ADDR=%q: want host:port, such as 127.0.0.1:9090", c.MetricsAddr))
		}
	}
	env := func(k string) string { return strings.TrimSpace(getenv(k)) }
	if strings.EqualFold(env("OTEL_SDK_DISABLED"), "true") || env("OTEL_TRACES_EXPORTER") == "none" {
		return errs
	}
	if v := env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"); v != "" {
		c.TraceEndpoint = v
	} else if v := env("OTEL_EXPORTER_OTLP_ENDPOINT"); v != "" {
		c.TraceEndpoint = strings.TrimSuffix(v, "/") + "/v1/traces"
	}
	if c.TraceEndpoint != "" && !strings.HasPrefix(c.TraceEndpoint, "http://") && !strings.HasPrefix(c.TraceEndpoint, "https://") {
		errs = append(errs, fmt.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT=%q: want an http:// or https:// URL", c.TraceEndpoint))
	}
	for _, k := range []string{"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"} {
		if v := env(k); v != "" && v != "http/protobuf" {
			errs = append(errs, fmt.Errorf("%s=%q: only http/protobuf is built in", k, v))
		}
	}
	return errs
}

// serveMetrics serves /metrics on its own listener, apart from the API:
// not reachable where the API is published unless the operator says so.
func (s *Server) serveMetrics(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.Telemetry.Handler())
	s.metrics = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: time.Minute}
	s.metricsLn = ln
	go func() {
		if err := s.metrics.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("metrics server stopped", "err", err)
		}
	}()
	return nil
}

// MetricsAddr is the address /metrics is served on ("" when off).
func (s *Server) MetricsAddr() string {
	if s.metricsLn == nil {
		return ""
	}
	return s.metricsLn.Addr().String()
}

// watchOutbox keeps the outbox gauges read from the store.
func (s *Server) watchOutbox(ctx context.Context, every time.Duration, now func() time.Time) {
	for {
		rctx, cancel := context.WithTimeout(ctx, every)
		if err := s.Telemetry.ReadOutbox(rctx, s.Store.Push.Backlog, now); err != nil && ctx.Err() == nil {
			s.log.Warn("metrics: read the outbox's backlog", "err", err)
		}
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

// stopTelemetry closes the metrics listener and exports the spans still
// buffered, within ctx.
func (s *Server) stopTelemetry(ctx context.Context) error {
	var errs []error
	if s.metrics != nil {
		errs = append(errs, s.metrics.Shutdown(ctx))
	}
	if err := s.Telemetry.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("traces: %w", err))
	}
	return errors.Join(errs...)
}
