package pusher

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/myelin-im/myelin/internal/promutil"
)

// metrics are the worker's collectors; no label names a user or gateway.
type metrics struct {
	pushes *prometheus.CounterVec // outcome
	queues prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	var m metrics
	var err error
	if m.pushes, err = promutil.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "myelin_userapi_pushes_total",
		Help: "Push gateway requests by outcome: sent, failed (an attempt), rejected (the pushkey, " +
			"whose pusher is deleted), gave_up (after every retry), overflow (dropped from a full queue).",
	}, []string{"outcome"})); err != nil {
		return nil, err
	}
	if m.queues, err = promutil.Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "myelin_userapi_pusher_queues",
		Help: "Pushers with notifications waiting (each has a sending goroutine).",
	})); err != nil {
		return nil, err
	}
	return &m, nil
}
