// Package bus is Myelin's message bus: the way the homeserver's components
// hand each other streams of messages. For example the roomserver publishes
// its output event log on the topic "roomserver.output", keyed by room ID, and
// the sync and federation components consume it.
//
// # Guarantees
//
//   - Topics are named streams; a message has a topic, an ordering key, a body
//     and optional string headers.
//   - Delivery is at least once. A message is handed to a [Handler] until the
//     handler returns nil (the acknowledgement). Consumers deduplicate with
//     [Message.ID], which is stable across redeliveries.
//   - Order holds per key: a topic is split into Options.Partitions partitions
//     by a hash of the key, each partition is delivered in order, one message at
//     a time, and a message whose handler fails is retried (with exponential
//     backoff) before any later message of its partition. Different partitions
//     are delivered in parallel.
//   - Consumer groups: every group subscribed to a topic gets every message;
//     within a group each message goes to one subscriber. Partitions are shared
//     among a group's subscribers in this process (partition p goes to
//     subscriber p mod n).
//   - Publishing is transactional: [Bus.Publish] with a context that carries a
//     transaction of the bus's *sqlutil.DB writes the message to an outbox
//     table in that transaction, so it is delivered if and only if the
//     transaction commits. A crash after the commit loses nothing: the outbox
//     is relayed when the bus next runs.
//
// Ordering between messages of one key published by concurrent transactions
// follows the order in which they become visible (commit order); messages of a
// key published one after the other (the second after the first's Publish or
// commit returned) are delivered in that order.
//
// # Implementations
//
// [Durable] keeps everything in the database: an outbox, a log of retained
// messages and each group's offset per partition. It serves consumers in this
// process only; run one Myelin process per database with it.
//
// [Rabbit] relays the outbox to RabbitMQ with publisher confirms. Each topic is
// a durable direct exchange "myelin.<topic>"; each group has Options.Partitions
// durable queues "myelin.<topic>.<group>.<p>" bound with routing key "<p>" and
// declared with x-single-active-consumer, so that when several processes
// subscribe the same group, one of them consumes a given partition at a time
// (the others stand by) and order per key holds. RabbitMQ only keeps a
// message for the queues that exist when it is relayed: a group receives the
// messages relayed after its queues were first declared (by its first
// Subscribe, ever, anywhere — the queues are durable and outlive processes),
// and nothing older. Myelin therefore subscribes every group at start-up;
// Subscribe returns only after the group's queues are declared.
//
// Every process publishing or consuming a topic must use the same
// Options.Partitions: the partition is computed when publishing, and changing
// the count breaks per-key order across the change (with RabbitMQ, messages
// routed to partitions that no longer have queues are dropped).
//
// [Open] picks an implementation from a URL taken from the configuration.
package bus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"regexp"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/internal/sqlutil"
)

// Message is one message as a handler receives it.
type Message struct {
	ID        string            // unique per message, stable across redeliveries — consumers dedupe with it
	Topic     string            // the topic it was published on
	Key       string            // ordering key, e.g. a room ID
	Body      []byte            // opaque payload
	Headers   map[string]string // may be nil
	Published time.Time         // when Publish was called
}

// Handler processes one message. Returning nil acknowledges it; an error means
// it is redelivered later (with backoff), and later messages with the same key
// wait behind it. The context is cancelled when the subscription or the bus
// closes; a handler should then return promptly (an error is fine: the message
// is redelivered after the restart). A panic in a handler counts as an error.
type Handler func(ctx context.Context, msg *Message) error

// BatchHandler processes consecutive messages of one partition, in order,
// as one unit: returning nil acknowledges them all; an error means they are
// all redelivered (the handler must be idempotent, as any handler). Durable
// hands over up to 100 messages at a time, what is waiting; Rabbit one.
// Otherwise it behaves as a Handler.
type BatchHandler func(ctx context.Context, msgs []*Message) error

// Bus publishes messages and delivers them to consumer groups.
type Bus interface {
	// Publish records a message. If ctx carries a transaction of the bus's
	// *sqlutil.DB, the message is written to the outbox inside that
	// transaction, so it is delivered iff the transaction commits. Publish
	// returns only after the message is durable (its outbox row written).
	// Header names starting with "x-myelin-" are reserved.
	Publish(ctx context.Context, topic, key string, body []byte, headers map[string]string) error
	// Subscribe starts delivering messages of topic to h as consumer group
	// group. ctx bounds the set-up only; the subscription lasts until it or
	// the bus is closed. Durable delivers a new group everything still
	// retained; RabbitMQ delivers what is relayed after the group's queues
	// were first declared (see the package documentation).
	Subscribe(ctx context.Context, topic, group string, h Handler) (Subscription, error)
	// SubscribeBatch is Subscribe with a handler of batches.
	SubscribeBatch(ctx context.Context, topic, group string, h BatchHandler) (Subscription, error)
	// Close stops relays and consumers and waits for in-flight handlers
	// (whose contexts it cancels). It must not be called from a handler.
	Close() error
}

// Subscription is one subscriber of a consumer group.
type Subscription interface {
	// Close stops delivering to this subscriber and waits for its in-flight
	// handler call; the group's other subscribers take over its partitions.
	// It must not be called from the subscription's own handler.
	Close() error
}

// Both implementations satisfy Bus.
var (
	_ Bus = (*Durable)(nil)
	_ Bus = (*Rabbit)(nil)
)

// ErrClosed is returned by Publish and Subscribe after Close.
var ErrClosed = errors.New("bus: closed")

// Options tune a bus. Zero values take the defaults.
type Options struct {
	// Partitions splits each topic by a hash of the key (default 8). It must
	// be the same in every process sharing the topic.
	Partitions int
	// RetryMin and RetryMax bound the exponential backoff between deliveries
	// of a failing message, and between reconnection attempts
	// (defaults 100ms and 30s).
	RetryMin time.Duration
	RetryMax time.Duration
	// PollInterval is how often the outbox is checked for rows this process
	// was not told about: ones committed by another process sharing the
	// database, or left by a crash (default 200ms). Publishes of this process
	// wake the relay at once, or when their transaction commits.
	PollInterval time.Duration
	// Retention is how long Durable keeps messages that every known group of
	// their topic has acknowledged (default 24h).
	Retention time.Duration
}

// Defaults of Options.
const (
	DefaultPartitions   = 8
	DefaultRetryMin     = 100 * time.Millisecond
	DefaultRetryMax     = 30 * time.Second
	DefaultPollInterval = 200 * time.Millisecond
	DefaultRetention    = 24 * time.Hour
)

func (o Options) withDefaults() Options {
	if o.Partitions <= 0 {
		o.Partitions = DefaultPartitions
	}
	if o.RetryMin <= 0 {
		o.RetryMin = DefaultRetryMin
	}
	if o.RetryMax <= 0 {
		o.RetryMax = DefaultRetryMax
	}
	if o.RetryMax < o.RetryMin {
		o.RetryMax = o.RetryMin
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.Retention <= 0 {
		o.Retention = DefaultRetention
	}
	return o
}

// Open returns the bus that url names:
//
//   - "" or "durable": a [Durable] bus on db;
//   - "amqp://…" or "amqps://…": a [Rabbit] bus on that broker, with its
//     outbox on db.
//
// reg may be nil.
func Open(ctx context.Context, url string, db *sqlutil.DB, opts Options, log logrus.FieldLogger, reg prometheus.Registerer) (Bus, error) {
	switch {
	case url == "" || url == "durable":
		return NewDurable(ctx, db, opts, log, reg)
	case strings.HasPrefix(url, "amqp://"), strings.HasPrefix(url, "amqps://"):
		return NewRabbit(ctx, url, db, opts, log, reg)
	default:
		return nil, fmt.Errorf("bus: unsupported URL %q (want \"durable\" or amqp://…)", sqlutil.Redact(url))
	}
}

var (
	topicRe = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)
	groupRe = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
)

const (
	maxNameLen      = 100
	reservedPrefix  = "x-myelin-"
	headerKey       = reservedPrefix + "key"
	headerPublished = reservedPrefix + "published"
)

// validateTopic checks a topic name: dot-separated words of letters, digits,
// '_' and '-'. Names map to RabbitMQ exchanges and queues.
func validateTopic(topic string) error {
	if len(topic) > maxNameLen || !topicRe.MatchString(topic) {
		return fmt.Errorf("bus: invalid topic %q (want dot-separated words of [A-Za-z0-9_-], at most %d bytes)", topic, maxNameLen)
	}
	return nil
}

// validateGroup checks a group name: letters, digits, '_' and '-' (no dots,
// so that queue names are unambiguous).
func validateGroup(group string) error {
	if len(group) > maxNameLen || !groupRe.MatchString(group) {
		return fmt.Errorf("bus: invalid group %q (want [A-Za-z0-9_-], at most %d bytes)", group, maxNameLen)
	}
	return nil
}

// checkSubscribe validates the arguments of a Subscribe call.
func checkSubscribe(closed bool, topic, group string, h batchFn) error {
	if closed {
		return ErrClosed
	}
	if err := validateTopic(topic); err != nil {
		return err
	}
	if err := validateGroup(group); err != nil {
		return err
	}
	if h == nil {
		return errors.New("bus: nil handler")
	}
	return nil
}

func validateHeaders(h map[string]string) error {
	for k := range h {
		if strings.HasPrefix(strings.ToLower(k), reservedPrefix) {
			return fmt.Errorf("bus: header %q uses the reserved prefix %q", k, reservedPrefix)
		}
		if k == "" {
			return errors.New("bus: empty header name")
		}
	}
	return nil
}

// partitionOf maps a key to a partition: FNV-1a of the key modulo n. It must
// never change: publishers and consumers in different processes rely on it.
func partitionOf(key string, n int) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return int(h.Sum32() % uint32(n))
}

// backoff returns the delay before retry number attempt (0-based):
// min·2^attempt, capped at max.
func backoff(min, max time.Duration, attempt int) time.Duration {
	d := min
	for i := 0; i < attempt && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	return d
}

// sleepCtx waits for d or until ctx is done; it reports whether it waited
// the whole time.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// newID returns a random message ID (128 bits, hex).
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// kick wakes whoever waits on ch without blocking: a buffered channel of size
// one holds at most one pending wake-up.
func kick(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// orDefault returns log, or the standard logger when it is nil.
func orDefault(log logrus.FieldLogger) logrus.FieldLogger {
	if log == nil {
		return logrus.StandardLogger()
	}
	return log
}
