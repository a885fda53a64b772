package server

import (
	"context"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/clustropg/clustro/request"
	"github.com/clustropg/clustro/store"
)

// Metrics are ClustroPG's Prometheus metrics.
type Metrics struct {
	httpRequests *prometheus.CounterVec
	jobs         *prometheus.CounterVec
	jobDuration  *prometheus.HistogramVec
	terraform    *prometheus.HistogramVec
	readiness    prometheus.Histogram
	githubRate   prometheus.Gauge
	health       *prometheus.CounterVec
	drift        *prometheus.CounterVec
}

// StatsSource is what the metrics read from the store at scrape time.
type StatsSource interface {
	Stats(ctx context.Context) (store.QueueStats, error)
	CountRequests(ctx context.Context) (map[request.State]int, error)
	CountWatches(ctx context.Context) (store.WatchCounts, error)
}

// NewMetrics registers the metrics on reg; the queue and request gauges
// are read from src at each scrape.
func NewMetrics(reg *prometheus.Registry, src StatsSource) *Metrics {
	m := &Metrics{
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clustro_http_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clustro_jobs_total", Help: "Job attempts by kind and outcome (done, retry, failed, released, lease_lost).",
		}, []string{"kind", "outcome"}),
		jobDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "clustro_job_duration_seconds", Help: "Job attempt durations by kind.",
			Buckets: prometheus.ExponentialBuckets(0.01, 4, 10),
		}, []string{"kind"}),
		terraform: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "clustro_terraform_duration_seconds", Help: "terraform plan, apply and destroy durations.",
			Buckets: prometheus.ExponentialBuckets(0.5, 2, 12),
		}, []string{"command"}),
		readiness: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "clustro_readiness_duration_seconds", Help: "Time from apply to a ready CloudNativePG cluster.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 12),
		}),
		githubRate: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "clustro_github_rate_limit_remaining", Help: "Calls left in GitHub's REST API rate limit, as its last answer said (X-RateLimit-Remaining).",
		}),
		health: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clustro_health_transitions_total", Help: "Health transitions of ready databases told in their threads, by kind (unhealthy, recovered, failover, gone).",
		}, []string{"kind"}),
		drift: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clustro_drift_checks_total", Help: "Drift checks of live workspaces by outcome (clean, drifted, error, skipped).",
		}, []string{"outcome"}),
	}
	reg.MustRegister(m.httpRequests, m.jobs, m.jobDuration, m.terraform, m.readiness, m.githubRate, m.health, m.drift,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}),
		&storeCollector{src: src})
	return m
}

// JobFinished records a job attempt (it makes Metrics an engine.Observer).
func (m *Metrics) JobFinished(kind, outcome string, took time.Duration) {
	m.jobs.WithLabelValues(kind, outcome).Inc()
	m.jobDuration.WithLabelValues(kind).Observe(took.Seconds())
}

// ObserveTerraform records the duration of a terraform command.
func (m *Metrics) ObserveTerraform(command string, took time.Duration) {
	m.terraform.WithLabelValues(command).Observe(took.Seconds())
}

// ObserveReadiness records how long a cluster took to become ready.
func (m *Metrics) ObserveReadiness(took time.Duration) { m.readiness.Observe(took.Seconds()) }

// ObserveGitHubRate records the calls left in GitHub's rate limit (it
// fits gitops.Options.OnRate as func(r gitops.Rate) { m.ObserveGitHubRate(r.Remaining) }).
func (m *Metrics) ObserveGitHubRate(remaining int) { m.githubRate.Set(float64(remaining)) }

// HealthTransition counts a health transition the watch told (it makes
// Metrics a pipeline.HealthObserver).
func (m *Metrics) HealthTransition(kind string) { m.health.WithLabelValues(kind).Inc() }

// DriftChecked counts a drift check's outcome (it makes Metrics a
// pipeline.DriftObserver).
func (m *Metrics) DriftChecked(outcome string) { m.drift.WithLabelValues(outcome).Inc() }

func (m *Metrics) observeHTTP(route string, code int, _ time.Duration) {
	m.httpRequests.WithLabelValues(route, strconv.Itoa(code)).Inc()
}

// storeCollector reads gauges from the store at scrape time, so that every
// replica reports the shared truth.
type storeCollector struct{ src StatsSource }

var (
	requestsDesc   = prometheus.NewDesc("clustro_requests", "Requests by lifecycle state.", []string{"state"}, nil)
	queueDepthDesc = prometheus.NewDesc("clustro_queue_jobs", "Jobs in the queue by kind and state.", []string{"kind", "state"}, nil)
	queueAgeDesc   = prometheus.NewDesc("clustro_queue_oldest_due_seconds", "How long the oldest due job has waited.", nil, nil)
	watchedDesc    = prometheus.NewDesc("clustro_databases_watched", "Ready databases whose health or drift is recorded.", nil, nil)
	unhealthyDesc  = prometheus.NewDesc("clustro_databases_unhealthy", "Ready databases whose cluster is unhealthy or gone, as last seen.", nil, nil)
	driftedDesc    = prometheus.NewDesc("clustro_workspaces_drifted", "Live workspaces whose last drift check found a difference with the reviewed code.", nil, nil)
)

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- requestsDesc
	ch <- queueDepthDesc
	ch <- queueAgeDesc
	ch <- watchedDesc
	ch <- unhealthyDesc
	ch <- driftedDesc
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if counts, err := c.src.CountRequests(ctx); err == nil {
		for _, s := range request.States() {
			ch <- prometheus.MustNewConstMetric(requestsDesc, prometheus.GaugeValue, float64(counts[s]), string(s))
		}
	}
	if st, err := c.src.Stats(ctx); err == nil {
		for _, d := range st.Depth {
			ch <- prometheus.MustNewConstMetric(queueDepthDesc, prometheus.GaugeValue, float64(d.Jobs), d.Kind, string(d.State))
		}
		ch <- prometheus.MustNewConstMetric(queueAgeDesc, prometheus.GaugeValue, st.OldestDue.Seconds())
	}
	if w, err := c.src.CountWatches(ctx); err == nil {
		ch <- prometheus.MustNewConstMetric(watchedDesc, prometheus.GaugeValue, float64(w.Watched))
		ch <- prometheus.MustNewConstMetric(unhealthyDesc, prometheus.GaugeValue, float64(w.Unhealthy))
		ch <- prometheus.MustNewConstMetric(driftedDesc, prometheus.GaugeValue, float64(w.Drifted))
	}
}
