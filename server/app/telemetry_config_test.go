package app

import (
	"strings"
	"testing"
)

func TestTelemetryConfig(t *testing.T) {
	for _, c := range []struct {
		env      map[string]string
		metrics  string
		endpoint string
		err      string
	}{
		{env: nil},
		{env: map[string]string{"FIELDSYNC_METRICS_ADDR": "127.0.0.1:9090"}, metrics: "127.0.0.1:9090"},
		{env: map[string]string{"FIELDSYNC_METRICS_ADDR": "9090"}, err: "METRICS_ADDR"},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"}, endpoint: "http://collector:4318/v1/traces"},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://b/traces"}, endpoint: "https://b/traces"},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "OTEL_SDK_DISABLED": "true"}},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "OTEL_TRACES_EXPORTER": "none"}},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4317"}, err: "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, err: "only http/protobuf"},
	} {
		cfg, err := LoadConfig(env(c.env))
		switch {
		case c.err != "":
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%v: error %v, want one naming %s", c.env, err, c.err)
			}
		case err != nil:
			t.Errorf("%v: %v", c.env, err)
		case cfg.MetricsAddr != c.metrics || cfg.TraceEndpoint != c.endpoint:
			t.Errorf("%v: metrics %q, traces %q; want %q, %q", c.env, cfg.MetricsAddr, cfg.TraceEndpoint, c.metrics, c.endpoint)
		}
	}
}
