package queue

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/myelin-im/myelin/internal/sqlutil"
)

// kind tells PDUs from EDUs in the federation_queue table.
type kind int

const (
	kindPDU kind = 0
	kindEDU kind = 1
)

func (k kind) String() string {
	if k == kindEDU {
		return "edu"
	}
	return "pdu"
}

// counts holds a number per kind.
type counts [2]int

// errBatchChanged means rows of a batch were dropped between reading and
// claiming it; the batch is read again.
var errBatchChanged = errors.New("federation queue: batch changed while claiming it")

// insertRow queues one row.
func insertRow(ctx context.Context, db *sqlutil.DB, dest string, k kind, body []byte, nowMs int64) error {
	_, err := db.Exec(ctx, `INSERT INTO federation_queue (destination, kind, body, queued_ts) VALUES ($1, $2, $3, $4)`,
		dest, int(k), string(body), nowMs)
	return err
}

// trimOldest deletes up to n of the oldest rows of kind k queued for dest,
// except those of the batch being sent, and returns how many it deleted.
func trimOldest(ctx context.Context, db *sqlutil.DB, dest string, k kind, n int) (int, error) {
	res, err := db.Exec(ctx, `DELETE FROM federation_queue WHERE seq IN (
		SELECT seq FROM federation_queue WHERE destination = $1 AND kind = $2 AND txn_id IS NULL ORDER BY seq LIMIT $3)`,
		dest, int(k), n)
	if err != nil {
		return 0, err
	}
	deleted, err := res.RowsAffected()
	return int(deleted), err
}

// loadCounts returns how many rows of each kind every destination has queued.
func loadCounts(ctx context.Context, db *sqlutil.DB) (map[string]counts, error) {
	type row struct {
		dest string
		k    kind
		n    int
	}
	rows, err := sqlutil.Select(ctx, db, func(sc sqlutil.Scanner) (row, error) {
		var r row
		return r, sc.Scan(&r.dest, &r.k, &r.n)
	}, `SELECT destination, kind, COUNT(*) FROM federation_queue GROUP BY destination, kind`)
	if err != nil {
		return nil, fmt.Errorf("federation queue: loading queued work: %w", err)
	}
	out := make(map[string]counts)
	for _, r := range rows {
		if r.k != kindPDU && r.k != kindEDU {
			continue
		}
		c := out[r.dest]
		c[r.k] = r.n
		out[r.dest] = c
	}
	return out, nil
}

// batch is one transaction's worth of rows.
type batch struct {
	txnID  string // "" until claimed
	seqs   []int64
	pdus   []json.RawMessage
	edus   []json.RawMessage
	counts counts
}

type queuedRow struct {
	seq   int64
	k     kind
	body  string
	txnID sql.NullString
}

func scanRow(sc sqlutil.Scanner) (queuedRow, error) {
	var r queuedRow
	return r, sc.Scan(&r.seq, &r.k, &r.body, &r.txnID)
}

// readBatch returns the next batch of dest: the batch already being sent
// (its rows carry a transaction ID) when there is one, else the oldest
// 50 PDUs and 100 EDUs, not yet claimed. It returns nil when nothing is
// queued.
func readBatch(ctx context.Context, db *sqlutil.DB, dest string) (*batch, error) {
	rows, err := sqlutil.Select(ctx, db, scanRow, `
		SELECT seq, kind, body, txn_id FROM (SELECT seq, kind, body, txn_id FROM federation_queue
			WHERE destination = $1 AND kind = 0 ORDER BY seq LIMIT 50) AS p
		UNION ALL
		SELECT seq, kind, body, txn_id FROM (SELECT seq, kind, body, txn_id FROM federation_queue
			WHERE destination = $1 AND kind = 1 ORDER BY seq LIMIT 100) AS e`, dest)
	if err != nil {
		return nil, err
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].seq < rows[j].seq })
	for _, r := range rows {
		if r.txnID.Valid {
			// Sent before (by an earlier run of the process, perhaps):
			// resend exactly that batch.
			rows, err = sqlutil.Select(ctx, db, scanRow, `SELECT seq, kind, body, txn_id FROM federation_queue
				WHERE destination = $1 AND txn_id = $2 ORDER BY seq`, dest, r.txnID.String)
			if err != nil {
				return nil, err
			}
			b := newBatch(rows)
			b.txnID = r.txnID.String
			return b, nil
		}
	}
	if len(rows) == 0 {
		return nil, nil
	}
	return newBatch(rows), nil
}

// newBatch builds a batch from rows in seq order, keeping the spec's
// limits (rows of an earlier process hold to them too, but a bad row must
// not make a transaction every remote refuses).
func newBatch(rows []queuedRow) *batch {
	b := &batch{pdus: []json.RawMessage{}}
	for _, r := range rows {
		switch {
		case r.k == kindPDU && len(b.pdus) < maxPDUsPerTxn:
			b.pdus = append(b.pdus, json.RawMessage(r.body))
		case r.k == kindEDU && len(b.edus) < maxEDUsPerTxn:
			b.edus = append(b.edus, json.RawMessage(r.body))
		default:
			continue
		}
		b.seqs = append(b.seqs, r.seq)
		b.counts[r.k]++
	}
	return b
}

// claimBatch stores txnID on the batch's rows. It fails with
// errBatchChanged when one of them is gone or claimed already.
func claimBatch(ctx context.Context, db *sqlutil.DB, b *batch, txnID string) error {
	return db.WithGroupTx(ctx, func(ctx context.Context) error {
		res, err := db.Exec(ctx, `UPDATE federation_queue SET txn_id = $1 WHERE seq = ANY($2) AND txn_id IS NULL`,
			txnID, sqlutil.List(b.seqs))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if int(n) != len(b.seqs) {
			return errBatchChanged // rolls back this update alone
		}
		return nil
	})
}

// deleteBatch deletes a delivered batch's rows and runs done after the
// commit.
func deleteBatch(ctx context.Context, db *sqlutil.DB, b *batch, done func()) error {
	return db.WithGroupTx(ctx, func(ctx context.Context) error {
		if _, err := db.Exec(ctx, `DELETE FROM federation_queue WHERE seq = ANY($1)`, sqlutil.List(b.seqs)); err != nil {
			return err
		}
		db.AfterCommit(ctx, done)
		return nil
	})
}
