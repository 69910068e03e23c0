// Package pusher is the pusher worker: it hears of notifications from the
// sync component and sends them to the push gateways of the notified
// users' http pushers (spec: "Push Notifications" and the Push Gateway
// API). Each pusher has its own in-memory queue, retried with exponential
// backoff, so a dead gateway holds up only its own pushers and never the
// bus, message sending or other users.
package pusher

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/internal/bus"
	syncapi "github.com/myelin-im/myelin/syncapi/api"
	"github.com/myelin-im/myelin/userapi/api"
)

// Group is the pusher worker's consumer group on the notification topic.
const Group = "userapi-pushers"

// Store is what the worker reads and changes of the pushers.
type Store interface {
	PushersOf(ctx context.Context, localparts []api.Localpart) ([]api.Pusher, error)
	DeletePusher(ctx context.Context, localpart api.Localpart, appID, pushKey string) (bool, error)
}

// Options configure the worker. Zero values take the defaults.
type Options struct {
	ServerName string
	// Client sends the notify requests (default: timeouts of RequestTimeout,
	// no redirects).
	Client *http.Client
	// RetryMin and RetryMax bound the exponential backoff between attempts
	// at one notification (defaults 2s and 5m); Attempts is how many are
	// made before it is dropped (default 12, about 25 minutes).
	RetryMin, RetryMax time.Duration
	Attempts           int
	// QueueLen bounds the notifications waiting for one pusher (default
	// 100); beyond it the oldest is dropped.
	QueueLen int
	// MaxSending bounds the requests in flight at once (default 64).
	MaxSending int
	Log        logrus.FieldLogger
	Registerer prometheus.Registerer
}

// Defaults of Options.
const (
	DefaultRetryMin       = 2 * time.Second
	DefaultRetryMax       = 5 * time.Minute
	DefaultAttempts       = 12
	DefaultQueueLen       = 100
	DefaultMaxSending     = 64
	DefaultRequestTimeout = 20 * time.Second
)

func (o Options) withDefaults() Options {
	if o.Client == nil {
		o.Client = newClient()
	}
	if o.RetryMin <= 0 {
		o.RetryMin = DefaultRetryMin
	}
	if o.RetryMax < o.RetryMin {
		o.RetryMax = max(DefaultRetryMax, o.RetryMin)
	}
	if o.Attempts <= 0 {
		o.Attempts = DefaultAttempts
	}
	if o.QueueLen <= 0 {
		o.QueueLen = DefaultQueueLen
	}
	if o.MaxSending <= 0 {
		o.MaxSending = DefaultMaxSending
	}
	if o.Log == nil {
		o.Log = logrus.StandardLogger()
	}
	return o
}

// newClient is an HTTP client with timeouts on every step, that does not
// follow redirects (a gateway's URL is its notify endpoint).
func newClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = 10 * time.Second
	tr.ResponseHeaderTimeout = DefaultRequestTimeout
	tr.MaxIdleConnsPerHost = 8
	return &http.Client{
		Transport:     tr,
		Timeout:       DefaultRequestTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Worker is the pusher worker.
type Worker struct {
	opts    Options
	store   Store
	log     logrus.FieldLogger
	m       *metrics
	sending chan struct{} // a semaphore of MaxSending

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	sub    bus.Subscription

	mu     sync.Mutex
	queues map[pusherKey]*queue

	// counter, once set, gives the users' unread counts for the requests.
	counter atomic.Pointer[UnreadCounter]
}

// UnreadCounter counts a user's unread notifications across all their
// rooms (the push gateway's counts.unread): the sync component, which
// keeps the counts.
type UnreadCounter interface {
	UnreadTotal(ctx context.Context, userID string) (int, error)
}

// SetUnreadCounter has the requests carry counts.unread, read from c when
// each is sent (so a retried push carries the count of its delivery).
// Without one (the sync component in another process), the count is left
// out.
func (w *Worker) SetUnreadCounter(c UnreadCounter) { w.counter.Store(&c) }

// New returns a worker over store; Start subscribes it.
func New(opts Options, store Store) (*Worker, error) {
	opts = opts.withDefaults()
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("pusher: registering metrics: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Worker{
		opts: opts, store: store, log: opts.Log, m: m, sending: make(chan struct{}, opts.MaxSending),
		ctx: ctx, cancel: cancel, queues: map[pusherKey]*queue{},
	}, nil
}

// Start subscribes the worker to the notification topic.
func (w *Worker) Start(ctx context.Context, b bus.Bus) error {
	sub, err := b.Subscribe(ctx, syncapi.NotificationTopic, Group, w.onNotification)
	if err != nil {
		return fmt.Errorf("pusher: subscribing: %w", err)
	}
	w.sub = sub
	return nil
}

// Close stops the subscription and the queues, dropping what they hold.
func (w *Worker) Close() error {
	var err error
	if w.sub != nil {
		err = w.sub.Close()
	}
	w.cancel()
	w.wg.Wait()
	return err
}

// onNotification queues a notification for every http pusher of the users
// it notifies. It only reads the pushers and queues: the sending happens
// in the pushers' own goroutines, so the bus partition moves on at once.
func (w *Worker) onNotification(ctx context.Context, msg *bus.Message) error {
	var n syncapi.Notification
	if err := json.Unmarshal(msg.Body, &n); err != nil {
		w.log.WithError(err).Warn("pusher: an unreadable notification; skipping it")
		return nil
	}
	users := map[api.Localpart]syncapi.NotifiedUser{}
	var localparts []api.Localpart
	for _, u := range n.Users {
		local, ok := api.LocalpartOf(u.UserID, w.opts.ServerName)
		if !ok {
			continue
		}
		users[local] = u
		localparts = append(localparts, local)
	}
	if len(localparts) == 0 {
		return nil
	}
	pushers, err := w.store.PushersOf(ctx, localparts)
	if err != nil {
		return fmt.Errorf("pusher: reading pushers: %w", err)
	}
	for _, p := range pushers {
		if p.Kind == "http" {
			w.enqueue(p, push{n: &n, user: users[p.Localpart]})
		}
	}
	return nil
}
