package queue

import (
	"fmt"

	"github.com/myelin-im/myelin/internal/promutil"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the queues' collectors. No label names a destination, so
// their number stays fixed however many servers there are.
type metrics struct {
	pending      *prometheus.GaugeVec   // kind
	sent         *prometheus.CounterVec // kind
	dropped      *prometheus.CounterVec // kind
	transactions *prometheus.CounterVec // result: sent, failed
	destinations prometheus.Gauge
	backingOff   prometheus.Gauge
}

// newMetrics creates the collectors and registers them on reg unless it is
// nil (Queues on one registry share them).
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	var m metrics
	var err error
	if m.pending, err = register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "myelin_federation_queue_pending",
		Help: "PDUs and EDUs queued for other servers, all destinations together.",
	}, []string{"kind"})); err != nil {
		return nil, err
	}
	if m.sent, err = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "myelin_federation_queue_sent_total",
		Help: "PDUs and EDUs delivered to other servers.",
	}, []string{"kind"})); err != nil {
		return nil, err
	}
	if m.dropped, err = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "myelin_federation_queue_dropped_total",
		Help: "PDUs and EDUs dropped because a destination's queue was full.",
	}, []string{"kind"})); err != nil {
		return nil, err
	}
	if m.transactions, err = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "myelin_federation_queue_transactions_total",
		Help: "Transactions sent to other servers, by result (sent, failed).",
	}, []string{"result"})); err != nil {
		return nil, err
	}
	if m.destinations, err = register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "myelin_federation_queue_destinations",
		Help: "Destinations with queued work (each has a sending goroutine).",
	})); err != nil {
		return nil, err
	}
	if m.backingOff, err = register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "myelin_federation_queue_destinations_backing_off",
		Help: "Destinations waiting to retry after a failed transaction.",
	})); err != nil {
		return nil, err
	}
	return &m, nil
}

func register[T prometheus.Collector](reg prometheus.Registerer, c T) (T, error) {
	c, err := promutil.Register(reg, c)
	if err != nil {
		return c, fmt.Errorf("federation queue: registering metrics: %w", err)
	}
	return c, nil
}
