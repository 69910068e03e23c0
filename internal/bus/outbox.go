package bus

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/internal/sqlutil"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrate applies the bus's migrations (component "bus").
func migrate(ctx context.Context, db *sqlutil.DB) error {
	if err := sqlutil.Migrate(ctx, db, "bus", migrations); err != nil {
		return fmt.Errorf("bus: %w", err)
	}
	return nil
}

// relayBatch is how many outbox rows a relay handles per round.
const relayBatch = 200

// core is what both buses share: the outbox, the groups, the lifetime.
type core struct {
	db   *sqlutil.DB
	opts Options
	log  logrus.FieldLogger
	m    *metrics
	reg  *registry

	root   context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // background goroutines other than groups
	closed atomic.Bool

	relayKick chan struct{} // wakes the relay after a Publish outside a transaction
}

func newCore(db *sqlutil.DB, opts Options, log logrus.FieldLogger, m *metrics, kind string) *core {
	root, cancel := context.WithCancel(context.Background())
	return &core{
		db: db, opts: opts.withDefaults(), log: orDefault(log).WithField("bus", kind), m: m,
		root: root, cancel: cancel, relayKick: make(chan struct{}, 1),
	}
}

// publish validates a message and inserts it into the outbox, on the
// transaction ctx carries if any; outside a transaction it wakes the relay.
func (c *core) publish(ctx context.Context, topic, key string, body []byte, headers map[string]string) error {
	if c.closed.Load() {
		return ErrClosed
	}
	if err := validateTopic(topic); err != nil {
		return err
	}
	if err := validateHeaders(headers); err != nil {
		return err
	}
	var hdr sql.NullString
	if len(headers) > 0 {
		b, err := json.Marshal(headers)
		if err != nil {
			return fmt.Errorf("bus: encoding headers: %w", err)
		}
		hdr = sql.NullString{String: string(b), Valid: true}
	}
	if body == nil {
		body = []byte{}
	}
	id := newID()
	part := partitionOf(key, c.opts.Partitions)
	if _, err := c.db.Exec(ctx, `INSERT INTO bus_outbox (msg_id, topic, msg_key, part, body, headers, published_ts)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		id, topic, key, part, body, hdr, time.Now().UnixMicro()); err != nil {
		return fmt.Errorf("bus: writing %s message to the outbox: %w", topic, err)
	}
	// Wake the relay as soon as the row is visible: now, or when the
	// publisher's transaction commits.
	c.db.AfterCommit(ctx, func() { kick(c.relayKick) })
	return nil
}

// row is a stored message: an outbox row (seq) or a log row (pos).
type row struct {
	seq       int64
	id        string
	topic     string
	key       string
	part      int
	body      []byte
	headers   map[string]string
	published time.Time
}

// rowColumns are the columns scanRow reads, after seq or pos.
const rowColumns = `msg_id, topic, msg_key, part, body, headers, published_ts`

func scanRow(s sqlutil.Scanner) (row, error) {
	var r row
	var hdr sql.NullString
	var ts int64
	if err := s.Scan(&r.seq, &r.id, &r.topic, &r.key, &r.part, &r.body, &hdr, &ts); err != nil {
		return r, err
	}
	if hdr.Valid && hdr.String != "" {
		if err := json.Unmarshal([]byte(hdr.String), &r.headers); err != nil {
			return r, fmt.Errorf("bus: decoding headers of message %s: %w", r.id, err)
		}
	}
	r.published = time.UnixMicro(ts)
	return r, nil
}

func (r row) message() Message {
	return Message{ID: r.id, Topic: r.topic, Key: r.key, Body: r.body, Headers: r.headers, Published: r.published}
}

// fields are the log fields of a message.
func (r row) fields(group string) logrus.Fields {
	return logrus.Fields{"topic": r.topic, "group": group, "partition": r.part, "msg_id": r.id}
}
