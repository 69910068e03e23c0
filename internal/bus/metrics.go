package bus

import (
	"fmt"
	"time"

	"github.com/myelin-im/myelin/internal/promutil"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the collectors of one bus. Every metric carries the constant
// label bus="durable" or bus="rabbit".
type metrics struct {
	published *prometheus.CounterVec   // topic
	delivered *prometheus.CounterVec   // topic, group, result
	lag       *prometheus.HistogramVec // topic, group
	pending   *prometheus.GaugeVec     // topic, group; Durable only
}

// newMetrics creates the collectors of a bus of kind ("durable" or "rabbit")
// and registers them on reg unless it is nil. Buses of the same kind on one
// registry share the collectors already registered, so two buses do not fail
// or panic; it fails only when reg holds incompatible collectors of the same
// names.
func newMetrics(reg prometheus.Registerer, kind string, withPending bool) (*metrics, error) {
	if reg != nil {
		reg = prometheus.WrapRegistererWith(prometheus.Labels{"bus": kind}, reg)
	}
	var m metrics
	var err error
	if m.published, err = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "myelin_bus_published_total",
		Help: "Messages published: committed to the durable log, or confirmed by the broker.",
	}, []string{"topic"})); err != nil {
		return nil, err
	}
	if m.delivered, err = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "myelin_bus_delivered_total",
		Help: "Handler calls by result: ack (acknowledged) or retry (failed, to be redelivered).",
	}, []string{"topic", "group", "result"})); err != nil {
		return nil, err
	}
	if m.lag, err = register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "myelin_bus_lag_seconds",
		Help:    "Time from publishing a message to its acknowledgement by a group.",
		Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 1800},
	}, []string{"topic", "group"})); err != nil {
		return nil, err
	}
	if withPending {
		if m.pending, err = register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "myelin_bus_pending",
			Help: "Messages published but not yet acknowledged by a group.",
		}, []string{"topic", "group"})); err != nil {
			return nil, err
		}
	}
	return &m, nil
}

// register registers c on reg through the shared helper, naming the bus in
// errors.
func register[T prometheus.Collector](reg prometheus.Registerer, c T) (T, error) {
	c, err := promutil.Register(reg, c)
	if err != nil {
		return c, fmt.Errorf("bus: registering metrics: %w", err)
	}
	return c, nil
}

func (m *metrics) acked(topic, group string, published time.Time) {
	m.delivered.WithLabelValues(topic, group, "ack").Inc()
	lag := time.Since(published).Seconds()
	if lag < 0 {
		lag = 0
	}
	m.lag.WithLabelValues(topic, group).Observe(lag)
}

func (m *metrics) retried(topic, group string) {
	m.delivered.WithLabelValues(topic, group, "retry").Inc()
}
