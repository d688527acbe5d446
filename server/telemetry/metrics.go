// Package telemetry is what fieldsync tells operators while it runs:
// Prometheus metrics on a registry of its own, OpenTelemetry traces when an
// OTLP endpoint is configured, and the trace id on log lines. The other
// packages declare small observer interfaces; this package implements them
// all, so none of them imports a metrics or tracing library.
package telemetry

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	fsync "fieldsync/sync"
)

// Metrics are fieldsync's Prometheus metrics. Counters count what this
// instance did, so totals over several instances are their sum (as
// Prometheus' sum() gives); the outbox gauges read the shared store, so
// every instance reports the same value: take their max.
type Metrics struct {
	reg *prometheus.Registry

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec

	syncOps       *prometheus.CounterVec
	syncBatch     prometheus.Histogram
	syncPush      prometheus.Histogram
	syncPull      prometheus.Histogram
	syncResyncs   *prometheus.CounterVec
	syncGaps      prometheus.Counter
	notifications *prometheus.CounterVec
	sendErrors    *prometheus.CounterVec
	tokensRemoved *prometheus.CounterVec
	outboxDue     prometheus.Gauge
	outboxAge     prometheus.Gauge
	storeDuration *prometheus.HistogramVec
	alerts        *prometheus.CounterVec
	breaches      *prometheus.CounterVec
}

// NewMetrics registers every metric on a new registry (never the global
// one, so two servers in one test process count apart).
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	m := &Metrics{reg: reg}
	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fieldsync_http_requests_total",
		Help: "HTTP requests answered, by method, route pattern and status."}, []string{"method", "route", "status"})
	m.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "fieldsync_http_request_duration_seconds",
		Help: "Time to answer an HTTP request, by method and route pattern.", Buckets: prometheus.DefBuckets}, []string{"method", "route"})
	m.syncOps = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fieldsync_sync_operations_total",
		Help: "Operations pushed by phones, by result status (applied, conflict, duplicate, rejected, skipped) and code."}, []string{"status", "code"})
	m.syncBatch = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "fieldsync_sync_push_batch_size",
		Help: "Operations per sync push.", Buckets: []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000}})
	m.syncPush = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "fieldsync_sync_push_duration_seconds",
		Help: "Time to apply a sync push.", Buckets: prometheus.DefBuckets})
	m.syncPull = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "fieldsync_sync_pull_duration_seconds",
		Help: "Time to answer a sync pull.", Buckets: prometheus.DefBuckets})
	m.syncResyncs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fieldsync_sync_resyncs_total",
		Help: "Pulls answered with a full snapshot, by reason."}, []string{"reason"})
	m.syncGaps = prometheus.NewCounter(prometheus.CounterOpts{Name: "fieldsync_sync_gaps_total",
		Help: "Pushes that stopped at a gap in the device's sequence."})
	m.notifications = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fieldsync_push_notifications_total",
		Help: "Notifications through a delivery pass, by channel, kind and outcome (sent, failed, dropped; retried once per pass)."}, []string{"channel", "kind", "outcome"})
	m.sendErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fieldsync_push_send_errors_total",
		Help: "Messages the push channel refused, by channel and its error code."}, []string{"channel", "code"})
	m.tokensRemoved = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fieldsync_push_tokens_removed_total",
		Help: "Dead device tokens forgotten, once per token."}, []string{"channel"})
	m.outboxDue = prometheus.NewGauge(prometheus.GaugeOpts{Name: "fieldsync_push_outbox_due",
		Help: "Notifications due now and not under a lease (read from the shared store, capped at 10000; take max over instances)."})
	m.outboxAge = prometheus.NewGauge(prometheus.GaugeOpts{Name: "fieldsync_push_outbox_oldest_due_age_seconds",
		Help: "How long the longest due notification has waited (0 when none is due; take max over instances)."})
	m.storeDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "fieldsync_store_command_duration_seconds",
		Help:    "Time of a store engine call, by operation and collection.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}}, []string{"op", "collection"})
	m.alerts = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fieldsync_alerts_raised_total",
		Help: "Alert causes newly recorded, by alert kind (a coalesced alert counts each cause)."}, []string{"kind"})
	m.breaches = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fieldsync_complaint_sla_breaches_total",
		Help: "Complaints marked as having missed their response SLA, by category."}, []string{"category"})
	for _, c := range []prometheus.Collector{m.httpRequests, m.httpDuration, m.syncOps, m.syncBatch, m.syncPush, m.syncPull,
		m.syncResyncs, m.syncGaps, m.notifications, m.sendErrors, m.tokensRemoved, m.outboxDue, m.outboxAge, m.storeDuration,
		m.alerts, m.breaches, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		f(c)
	}
	return m
}

// Registry is the registry the metrics are on, for tests and the handler.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Request counts an answered request. route is the pattern it matched.
func (m *Metrics) Request(method, route string, status int, d time.Duration) {
	m.httpRequests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.httpDuration.WithLabelValues(method, route).Observe(d.Seconds())
}

// SyncPushed counts a push that was applied (its envelope accepted).
func (m *Metrics) SyncPushed(ops int, resp *fsync.PushResponse, d time.Duration) {
	m.syncBatch.Observe(float64(ops))
	m.syncPush.Observe(d.Seconds())
	for _, r := range resp.Results {
		m.syncOps.WithLabelValues(r.Status, r.Code).Inc()
	}
	if resp.Gap != nil {
		m.syncGaps.Inc()
	}
}

// SyncPulled counts a pull that was answered.
func (m *Metrics) SyncPulled(resp *fsync.PullResponse, d time.Duration) {
	m.syncPull.Observe(d.Seconds())
	if resp.Resync {
		m.syncResyncs.WithLabelValues(resp.ResyncReason).Inc()
	}
}

// Delivered implements push.Observer.
func (m *Metrics) Delivered(channel, kind, outcome string) {
	m.notifications.WithLabelValues(channel, kind, outcome).Inc()
}

// SendFailed implements push.Observer.
func (m *Metrics) SendFailed(channel, code string) { m.sendErrors.WithLabelValues(channel, code).Inc() }

// TokenRemoved implements push.Observer.
func (m *Metrics) TokenRemoved(channel string) { m.tokensRemoved.WithLabelValues(channel).Inc() }

// AlertRaised implements store.Observer's half on alerts.
func (m *Metrics) AlertRaised(kind string) { m.alerts.WithLabelValues(kind).Inc() }

// ComplaintBreached implements office.Observer.
func (m *Metrics) ComplaintBreached(category string) { m.breaches.WithLabelValues(category).Inc() }

func (m *Metrics) storeCommand(op, coll string, d time.Duration) {
	m.storeDuration.WithLabelValues(op, coll).Observe(d.Seconds())
}

// OutboxBacklog reads the outbox's depth (due now, up to max) and when its
// longest due notification fell due; store.Push's Backlog.
type OutboxBacklog func(ctx context.Context, max int) (int, time.Time, error)

// outboxCap bounds what one reading of the outbox scans.
const outboxCap = 10000

// ReadOutbox sets the outbox gauges from the store once; now is the
// program's clock, on which the notifications' due times are stamped.
func (m *Metrics) ReadOutbox(ctx context.Context, backlog OutboxBacklog, now func() time.Time) error {
	n, oldest, err := backlog(ctx, outboxCap)
	if err != nil {
		return err
	}
	m.outboxDue.Set(float64(n))
	age := 0.0
	if !oldest.IsZero() {
		age = max(now().Sub(oldest).Seconds(), 0)
	}
	m.outboxAge.Set(age)
	return nil
}
