package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Telemetry is the observer of every package: metrics always, traces
// when an OTLP endpoint is configured.
type Telemetry struct {
	*Metrics
	tp     *sdktrace.TracerProvider // nil: tracing off
	tracer trace.Tracer
	prop   propagation.TextMapPropagator
}

// Options say where traces go.
type Options struct {
	// TraceEndpoint is the OTLP/HTTP URL traces are posted to (…/v1/traces);
	// empty: no tracing. The exporter's other standard variables
	// (OTEL_EXPORTER_OTLP_HEADERS, …) are read by the exporter itself.
	TraceEndpoint string
	Instance      string // service.instance.id
	Version       string // service.version
}

// New makes the metrics and, when asked, the tracer; ctx bounds nothing
// but the set-up (the exporter connects lazily).
func New(ctx context.Context, opts Options) (*Telemetry, error) {
	t := &Telemetry{Metrics: NewMetrics(), tracer: noop.NewTracerProvider().Tracer(""), prop: propagation.TraceContext{}}
	if opts.TraceEndpoint == "" {
		return t, nil
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(opts.TraceEndpoint))
	if err != nil {
		return nil, fmt.Errorf("traces: %w", err)
	}
	attrs := []attribute.KeyValue{semconv.ServiceName("fieldsync")}
	if opts.Instance != "" {
		attrs = append(attrs, semconv.ServiceInstanceID(opts.Instance))
	}
	if opts.Version != "" {
		attrs = append(attrs, semconv.ServiceVersion(opts.Version))
	}
	// The SDK's defaults, then ours, then OTEL_SERVICE_NAME and
	// OTEL_RESOURCE_ATTRIBUTES over both.
	res := resource.Default()
	for _, r := range []*resource.Resource{resource.NewWithAttributes(semconv.SchemaURL, attrs...), resource.Environment()} {
		var err error
		if res, err = resource.Merge(res, r); err != nil && !errors.Is(err, resource.ErrSchemaURLConflict) {
			return nil, fmt.Errorf("traces: %w", err)
		}
	}
	// Sampling follows the caller's traceparent, else keeps every trace
	// (OTEL_TRACES_SAMPLER overrides, read by the SDK).
	t.tp = sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	t.tracer = t.tp.Tracer("fieldsync")
	return t, nil
}

// Tracing reports whether spans are exported.
func (t *Telemetry) Tracing() bool { return t.tp != nil }

// Shutdown exports the spans still buffered.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	if t.tp == nil {
		return nil
	}
	return t.tp.Shutdown(ctx)
}

type headerCarrier func(string) string

func (h headerCarrier) Get(key string) string { return h(key) }
func (h headerCarrier) Set(string, string)    {}
func (h headerCarrier) Keys() []string        { return nil }

// Request starts watching an HTTP request: a server span that continues
// the client's traceparent, carrying the request id. The function it
// returns ends it with the route pattern matched, the status and the
// error code ("" for none), and counts it.
func (t *Telemetry) Request(ctx context.Context, header func(string) string, method, requestID string) (context.Context, func(route string, status int, code string)) {
	start := time.Now()
	var span trace.Span
	if t.tp != nil {
		ctx = t.prop.Extract(ctx, headerCarrier(header))
		ctx, span = t.tracer.Start(ctx, method, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(semconv.HTTPRequestMethodKey.String(method), attribute.String("fieldsync.request_id", requestID)))
	}
	return ctx, func(route string, status int, code string) {
		t.Metrics.Request(method, route, status, time.Since(start))
		if span == nil {
			return
		}
		span.SetName(method + " " + route)
		span.SetAttributes(semconv.HTTPRoute(route), semconv.HTTPResponseStatusCode(status))
		if code != "" {
			span.SetAttributes(attribute.String("fieldsync.error_code", code))
		}
		if status >= 500 {
			span.SetStatus(codes.Error, code)
		}
		span.End()
	}
}

// Command implements store.Observer: the call's latency, and a client
// span when it is part of a traced request (the background workers'
// polling makes no traces of its own).
func (t *Telemetry) Command(ctx context.Context, op, coll string) (context.Context, func(error)) {
	start := time.Now()
	var span trace.Span
	if t.tp != nil && trace.SpanContextFromContext(ctx).IsValid() {
		ctx, span = t.tracer.Start(ctx, "store "+op+" "+coll, trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(semconv.DBOperationName(op), semconv.DBCollectionName(coll)))
	}
	return ctx, func(err error) {
		t.storeCommand(op, coll, time.Since(start))
		if span == nil {
			return
		}
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}
}

// LogHandler adds the trace and span ids of the record's context to each
// line logged with one (slog's …Context functions) under a traced request.
func LogHandler(h slog.Handler) slog.Handler { return traceHandler{h} }

type traceHandler struct{ slog.Handler }

func (h traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r = r.Clone()
		r.AddAttrs(slog.String("traceId", sc.TraceID().String()), slog.String("spanId", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

func (h traceHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return traceHandler{h.Handler.WithAttrs(as)}
}
func (h traceHandler) WithGroup(name string) slog.Handler {
	return traceHandler{h.Handler.WithGroup(name)}
}
