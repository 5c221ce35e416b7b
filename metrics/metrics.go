// Package metrics holds keycard's Prometheus registry and instruments:
// requests by operation and code with latency histograms, logins by result,
// refresh token reuse, revocations, rate limiting, the password-hash queue,
// the audit queue, database pools and the Go runtime. Metrics implements
// auth.Observer (events as they happen); WatchService adds the gauges read
// from the service at scrape time. It imports auth only for its types and
// nothing else of keycard.
package metrics

import (
	"database/sql"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/keycard/keycard/auth"
)

// Metrics is keycard's registry and instruments.
type Metrics struct {
	registry    *prometheus.Registry
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	logins      *prometheus.CounterVec
	reuse       prometheus.Counter
	revocations *prometheus.CounterVec
	rateLimited *prometheus.CounterVec
}

var _ auth.Observer = (*Metrics)(nil)

// New registers keycard's metrics; pools are the database connection pools
// by name. The service's gauges come with WatchService, once the service
// (which counts into these metrics) exists.
func New(pools map[string]*sql.DB) *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		registry: r,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keycard_requests_total",
			Help: "Requests by operation (GraphQL root fields, or OAuth endpoint) and result code.",
		}, []string{"operation", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "keycard_request_duration_seconds",
			Help:    "Request latency by operation.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"operation"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keycard_logins_total",
			Help: "Login attempts by result: success, failure, rate_limited, overloaded (hash queue could not serve it in time).",
		}, []string{"result"}),
		reuse: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "keycard_refresh_token_reuse_total",
			Help: "Reuses of rotated refresh tokens detected (each revoked a session).",
		}),
		revocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keycard_revocations_total",
			Help: "Revocations made by this process, by kind: session or access_token.",
		}, []string{"kind"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keycard_rate_limited_total",
			Help: "Attempts refused by a rate limit, by operation.",
		}, []string{"operation"}),
	}
	r.MustRegister(m.requests, m.duration, m.logins, m.reuse, m.revocations, m.rateLimited,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	for name, pool := range pools {
		r.MustRegister(collectors.NewDBStatsCollector(pool, name))
	}
	return m
}

// WatchService registers the gauges and counters read from stats at
// scrape time (auth.Service.Stats). Call it once.
func (m *Metrics) WatchService(stats func() auth.Stats) {
	m.registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "keycard_password_hash_queue",
			Help: "Password hashes waiting for a CPU slot.",
		}, func() float64 { return float64(stats().PasswordQueue) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "keycard_password_hashes_total",
			Help: "argon2id evaluations (hashes and verifications).",
		}, func() float64 { return float64(stats().PasswordHashes) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "keycard_revocation_list_entries",
			Help: "Entries in the in-memory revocation list.",
		}, func() float64 { return float64(stats().RevokedEntries) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "keycard_audit_events_dropped_total",
			Help: "Background audit events that could not be written.",
		}, func() float64 { return float64(stats().AuditDropped) }),
	)
}

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// Request records one request.
func (m *Metrics) Request(operation, code string, d time.Duration) {
	m.requests.WithLabelValues(operation, code).Inc()
	m.duration.WithLabelValues(operation).Observe(d.Seconds())
}

// Login implements auth.Observer.
func (m *Metrics) Login(result string) { m.logins.WithLabelValues(result).Inc() }

// RefreshReuse implements auth.Observer.
func (m *Metrics) RefreshReuse() { m.reuse.Inc() }

// Revoked implements auth.Observer.
func (m *Metrics) Revoked(kind auth.RevocationKind, n int) {
	m.revocations.WithLabelValues(string(kind)).Add(float64(n))
}

// RateLimited implements auth.Observer.
func (m *Metrics) RateLimited(op auth.Operation) { m.rateLimited.WithLabelValues(string(op)).Inc() }
