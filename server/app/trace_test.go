package app

import (
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"fieldsync/schemas"
)

// collector is an in-process OTLP/HTTP receiver of traces.
type collector struct {
	mu    sync.Mutex
	spans []*tracepb.Span
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "want protobuf on /v1/traces", http.StatusBadRequest)
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	b, _ := io.ReadAll(body)
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			c.spans = append(c.spans, ss.Spans...)
		}
	}
	c.mu.Unlock()
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out)
}

func attr(s *tracepb.Span, key string) string {
	for _, a := range s.Attributes {
		if a.Key == key {
			return a.Value.GetStringValue()
		}
	}
	return ""
}

// TestTracesExportedToOTLP: with OTEL_EXPORTER_OTLP_ENDPOINT set, a request
// that carries a traceparent is a server span in the caller's trace, child
// of the caller's span, with the request id on it; its store calls are
// spans under it; and its log line carries the trace id.
func TestTracesExportedToOTLP(t *testing.T) {
	col := &collector{}
	ts := httptest.NewServer(col)
	defer ts.Close()
	logs := &syncBuffer{}
	cfg := testConfig(t, t.TempDir(), map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": ts.URL, "ADMIN_LOGIN": "admin", "ADMIN_PASSWORD": "admin password"})
	if cfg.TraceEndpoint != ts.URL+"/v1/traces" {
		t.Fatalf("trace endpoint %q", cfg.TraceEndpoint)
	}
	srv, err := Start(t.Context(), cfg, NewLogger(cfg, logs), fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + srv.Addr()
	_, out := call(t, "POST", base+"/v1/auth/login", "", map[string]any{"login": "admin", "password": "admin password", "deviceId": "office-pc"})
	tok, _ := out["accessToken"].(string)
	if tok == "" {
		t.Fatalf("login: %v", out)
	}

	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	req, _ := http.NewRequest("GET", base+"/v1/users/"+schemas.NewID(), nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("traceparent", "00-"+traceID+"-"+parentID+"-01")
	req.Header.Set("X-Request-ID", "trace-test-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("GET unknown user: %d", resp.StatusCode)
	}
	if err := srv.Shutdown(10 * time.Second); err != nil { // flushes the spans
		t.Fatal(err)
	}

	col.mu.Lock()
	defer col.mu.Unlock()
	var server *tracepb.Span
	for _, s := range col.spans {
		if hex.EncodeToString(s.TraceId) == traceID && s.Kind == tracepb.Span_SPAN_KIND_SERVER {
			server = s
		}
	}
	if server == nil {
		t.Fatalf("no server span in trace %s among %d spans", traceID, len(col.spans))
	}
	if got := hex.EncodeToString(server.ParentSpanId); got != parentID {
		t.Errorf("server span's parent %s, want the caller's %s", got, parentID)
	}
	if server.Name != "GET /v1/users/:id" || attr(server, "fieldsync.request_id") != "trace-test-1" || attr(server, "fieldsync.error_code") != schemas.ENOTFOUND {
		t.Errorf("server span %q, request id %q, code %q", server.Name, attr(server, "fieldsync.request_id"), attr(server, "fieldsync.error_code"))
	}
	stores := 0
	for _, s := range col.spans {
		if bytes.Equal(s.TraceId, server.TraceId) && bytes.Equal(s.ParentSpanId, server.SpanId) && strings.HasPrefix(s.Name, "store ") {
			stores++
		}
	}
	if stores == 0 {
		t.Error("no store span under the request's span")
	}
	var line string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "requestId=trace-test-1") {
			line = l
		}
	}
	if !strings.Contains(line, "traceId="+traceID) || !strings.Contains(line, "code=not_found") {
		t.Errorf("access line without the trace id or the error code: %s", line)
	}
}
