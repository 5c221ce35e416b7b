// Package metrics holds keycard's Prometheus registry and instruments:
// requests by operation and code with latency histograms, logins by method
// and result,
// refresh token reuse, revocations and the revocation sync's age, rate
// limiting, the password-hash queue, the audit queue, database pools, the
// build and the Go runtime. Metrics implements
// auth.Observer (events as they happen); WatchService adds the gauges read
// from the service at scrape time. It imports auth only for its types and
// nothing else of keycard.
package metrics

import (
	"database/sql"
	"math"
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

// BuildInfo is what the binary knows about its build.
type BuildInfo struct {
	Version, Commit, GoVersion string
}

// New registers keycard's metrics; pools are the database connection pools
// by name, build the labels of keycard_build_info. The service's gauges
// come with WatchService, once the service (which counts into these
// metrics) exists.
func New(pools map[string]*sql.DB, build BuildInfo) *Metrics {
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
			Help: "Login attempts by method (password, passkey) and result: success, failure, rate_limited, overloaded (hash queue could not serve it in time), sign_count_regressed (a passkey's counter did not grow).",
		}, []string{"method", "result"}),
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
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "keycard_build_info",
		Help: "Always 1; the labels say which build is running.",
		ConstLabels: prometheus.Labels{
			"version":   orUnknown(build.Version),
			"commit":    orUnknown(build.Commit),
			"goversion": orUnknown(build.GoVersion),
		},
	})
	buildInfo.Set(1)
	r.MustRegister(m.requests, m.duration, m.logins, m.reuse, m.revocations, m.rateLimited, buildInfo,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	for name, pool := range pools {
		r.MustRegister(collectors.NewDBStatsCollector(pool, name))
	}
	return m
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// WatchService registers the gauges and counters read from stats at
// scrape time (auth.Service.Stats), and maxStaleness, the revocation sync
// age at which token checks fail closed, so that an alert can fire on the
// age approaching it before requests start failing. Call it once.
func (m *Metrics) WatchService(stats func() auth.Stats, maxStaleness time.Duration) {
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
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "keycard_revocation_sync_age_seconds",
			Help: "Seconds since the last successful revocation sync began (+Inf before the first); at keycard_revocation_max_staleness_seconds, requests with tokens answer UNAVAILABLE.",
		}, func() float64 {
			age := stats().RevocationSyncAge
			if age < 0 {
				return math.Inf(1)
			}
			return age.Seconds()
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "keycard_revocation_max_staleness_seconds",
			Help: "KEYCARD_REVOCATION_MAX_STALENESS: the revocation sync age at which token checks fail closed.",
		}, func() float64 { return maxStaleness.Seconds() }),
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
func (m *Metrics) Login(result string) { m.logins.WithLabelValues("password", result).Inc() }

// PasskeyLogin implements auth.Observer.
func (m *Metrics) PasskeyLogin(result string) { m.logins.WithLabelValues("passkey", result).Inc() }

// RefreshReuse implements auth.Observer.
func (m *Metrics) RefreshReuse() { m.reuse.Inc() }

// Revoked implements auth.Observer.
func (m *Metrics) Revoked(kind auth.RevocationKind, n int) {
	m.revocations.WithLabelValues(string(kind)).Add(float64(n))
}

// RateLimited implements auth.Observer.
func (m *Metrics) RateLimited(op auth.Operation) { m.rateLimited.WithLabelValues(string(op)).Inc() }
