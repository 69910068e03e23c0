package bus

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/internal/sqlutil"
)

// Rabbit is the bus on RabbitMQ, for several Myelin processes.
//
// Publish writes to the same outbox table as Durable, so publishing inside a
// database transaction is just as safe. A relay goroutine sends outbox rows,
// oldest first, to the topic's exchange with routing key = partition, as
// persistent messages, and deletes a row only after the broker confirmed it;
// when several processes share the database, a lease in bus_leases lets one
// of them relay at a time. A message relayed twice (after a crash between the
// confirm and the delete) keeps its ID.
//
// Each (topic, group) consumes its Options.Partitions queues on one channel
// with manual acknowledgements and a prefetch of one per queue, so a
// partition's messages are handled one at a time and in order. A handler
// error makes the consumer wait (exponential backoff) and then reject the
// message with requeue: RabbitMQ puts it back at the head of its queue and
// redelivers it before anything after it. The queues are declared with
// x-single-active-consumer, so with several processes one consumes each
// partition and the others stand by, taking over when it goes away.
//
// The connection is re-established with exponential backoff when it drops;
// the relay and the consumers then re-declare their topology and resume.
type Rabbit struct {
	*core
	conns *connManager
	owner string // this bus's relay lease owner ID

	topoMu   sync.Mutex
	declared map[string]bool // exchanges and queues this bus declared ("e:" / "q:" + name), for tests
}

// NewRabbit migrates db (component "bus"), connects to the RabbitMQ broker at
// url and starts the relay. It fails when the broker cannot be reached now;
// later drops are recovered. log and reg may be nil.
func NewRabbit(
	ctx context.Context, url string, db *sqlutil.DB, opts Options, log logrus.FieldLogger, reg prometheus.Registerer,
) (*Rabbit, error) {
	if db == nil {
		return nil, errors.New("bus: the RabbitMQ bus needs a database for its outbox")
	}
	m, err := newMetrics(reg, "rabbit", false)
	if err != nil {
		return nil, err
	}
	if err := migrate(ctx, db); err != nil {
		return nil, err
	}
	r := &Rabbit{core: newCore(db, opts, log, m, "rabbit"), owner: newID(), declared: map[string]bool{}}
	r.reg = newRegistry(r.root, r.opts.Partitions, r.startGroup)
	r.conns = &connManager{url: url, log: r.log, opts: r.opts, ready: make(chan struct{})}
	if err := r.conns.connect(); err != nil {
		r.cancel()
		return nil, err
	}
	connCtx, connCancel := context.WithCancel(context.Background())
	r.conns.stop = connCancel
	r.conns.stopped = make(chan struct{})
	go r.conns.run(connCtx)
	r.wg.Add(1)
	go r.relayLoop()
	return r, nil
}

// Publish implements Bus.
func (r *Rabbit) Publish(ctx context.Context, topic, key string, body []byte, headers map[string]string) error {
	return r.publish(ctx, topic, key, body, headers)
}

// Subscribe implements Bus. It declares the topic's exchange and the group's
// queues before it returns (waiting for a connection until ctx ends), so
// every message relayed afterwards reaches the group.
func (r *Rabbit) Subscribe(ctx context.Context, topic, group string, h Handler) (Subscription, error) {
	return r.subscribe(ctx, topic, group, oneByOne(h))
}

// SubscribeBatch implements Bus. Batches hold one message.
func (r *Rabbit) SubscribeBatch(ctx context.Context, topic, group string, h BatchHandler) (Subscription, error) {
	return r.subscribe(ctx, topic, group, allOrNothing(h))
}

func (r *Rabbit) subscribe(ctx context.Context, topic, group string, h batchFn) (Subscription, error) {
	if err := checkSubscribe(r.closed.Load(), topic, group, h); err != nil {
		return nil, err
	}
	ch, err := r.conns.channel(ctx)
	if err != nil {
		return nil, fmt.Errorf("bus: subscribing %s to %s: %w", group, topic, err)
	}
	err = r.declareGroup(ch, topic, group)
	_ = ch.Close()
	if err != nil {
		return nil, fmt.Errorf("bus: subscribing %s to %s: %w", group, topic, err)
	}
	s, err := r.reg.subscribe(ctx, groupKey{topic, group}, h)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Close implements Bus. Messages not yet relayed stay in the outbox;
// messages being handled are acknowledged if their handler succeeds, else
// RabbitMQ redelivers them.
func (r *Rabbit) Close() error {
	if r.closed.Swap(true) {
		return nil
	}
	r.cancel()
	r.reg.close()
	r.wg.Wait()
	r.conns.stop()
	<-r.conns.stopped
	return nil
}

// exchangeName and queueName name the topology of a topic and group.
func exchangeName(topic string) string { return "myelin." + topic }

func queueName(topic, group string, part int) string {
	return "myelin." + topic + "." + group + "." + strconv.Itoa(part)
}

func (r *Rabbit) noteDeclared(kind, name string) {
	r.topoMu.Lock()
	r.declared[kind+name] = true
	r.topoMu.Unlock()
}

func (r *Rabbit) declareExchange(ch *amqp.Channel, topic string) error {
	name := exchangeName(topic)
	if err := ch.ExchangeDeclare(name, amqp.ExchangeDirect, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declaring exchange %s: %w", name, err)
	}
	r.noteDeclared("e:", name)
	return nil
}

// declareGroup declares topic's exchange and group's queues and bindings.
func (r *Rabbit) declareGroup(ch *amqp.Channel, topic, group string) error {
	if err := r.declareExchange(ch, topic); err != nil {
		return err
	}
	for p := 0; p < r.opts.Partitions; p++ {
		q := queueName(topic, group, p)
		if _, err := ch.QueueDeclare(q, true, false, false, false, amqp.Table{"x-single-active-consumer": true}); err != nil {
			return fmt.Errorf("declaring queue %s: %w", q, err)
		}
		r.noteDeclared("q:", q)
		if err := ch.QueueBind(q, strconv.Itoa(p), exchangeName(topic), false, nil); err != nil {
			return fmt.Errorf("binding queue %s: %w", q, err)
		}
	}
	return nil
}

// connManager keeps one AMQP connection open, redialling with backoff when it
// drops.
type connManager struct {
	url  string
	log  logrus.FieldLogger
	opts Options

	stop    context.CancelFunc
	stopped chan struct{}

	mu    sync.Mutex
	conn  *amqp.Connection // nil while disconnected
	raw   net.Conn         // conn's transport, for tests
	ready chan struct{}    // closed while conn is usable
}

// connect dials once and installs the connection.
func (m *connManager) connect() error {
	var raw net.Conn
	dial := amqp.DefaultDial(30 * time.Second)
	conn, err := amqp.DialConfig(m.url, amqp.Config{
		Heartbeat:  10 * time.Second,
		Properties: amqp.Table{"connection_name": "myelin-bus"},
		Dial: func(network, addr string) (net.Conn, error) {
			c, err := dial(network, addr)
			raw = c
			return c, err
		},
	})
	if err != nil {
		return fmt.Errorf("bus: connecting to RabbitMQ at %s: %w", sqlutil.Redact(m.url), err)
	}
	m.mu.Lock()
	m.conn, m.raw = conn, raw
	close(m.ready)
	m.mu.Unlock()
	return nil
}

// run watches the connection and redials when it drops, until ctx ends; then
// it closes the connection.
func (m *connManager) run(ctx context.Context) {
	defer close(m.stopped)
	for {
		m.mu.Lock()
		conn := m.conn
		m.mu.Unlock()
		if conn != nil {
			closed := conn.NotifyClose(make(chan *amqp.Error, 1))
			select {
			case <-ctx.Done():
				_ = conn.Close()
				return
			case err := <-closed:
				m.mu.Lock()
				m.conn, m.raw = nil, nil
				m.ready = make(chan struct{})
				m.mu.Unlock()
				m.log.WithField("error", err).Warn("bus: RabbitMQ connection lost; reconnecting")
			}
		}
		for attempt := 0; ; attempt++ {
			if !sleepCtx(ctx, backoff(m.opts.RetryMin, m.opts.RetryMax, attempt)) {
				return
			}
			err := m.connect()
			if err == nil {
				m.log.Info("bus: RabbitMQ connection re-established")
				break
			}
			m.log.WithError(err).Warn("bus: reconnecting to RabbitMQ failed")
		}
	}
}

// channel opens a channel on the current connection, waiting for one until
// ctx ends.
func (m *connManager) channel(ctx context.Context) (*amqp.Channel, error) {
	for {
		m.mu.Lock()
		conn, ready := m.conn, m.ready
		m.mu.Unlock()
		if conn != nil {
			ch, err := conn.Channel()
			if err == nil {
				return ch, nil
			}
			if !conn.IsClosed() {
				return nil, fmt.Errorf("opening a channel: %w", err)
			}
			// The connection just dropped; wait for the next one.
			if !sleepCtx(ctx, m.opts.RetryMin) {
				return nil, fmt.Errorf("waiting for a RabbitMQ connection: %w", ctx.Err())
			}
			continue
		}
		select {
		case <-ready:
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for a RabbitMQ connection: %w", ctx.Err())
		}
	}
}

// breakConnection closes the current connection's transport, as a network
// failure would. Tests use it.
func (m *connManager) breakConnection() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.raw == nil {
		return false
	}
	_ = m.raw.Close()
	return true
}
