// Package search is message search (spec: client-server API, "Server Side
// Search"; ARCHITECTURE.md §6): the one interface every search backend
// implements, the tokenisation they share, and the documents the indexer
// feeds them. The sync component's /search handler asks a Backend for the
// events that match among those the user may see, and serves them.
package search

import (
	"context"
	"errors"
)

// Keys of the events that are searched (spec: search_categories.room_events.keys).
const (
	KeyBody  = "content.body"  // m.room.message (and other events with a body)
	KeyName  = "content.name"  // m.room.name
	KeyTopic = "content.topic" // m.room.topic
)

// Doc is one searchable text: one key of one event.
type Doc struct {
	EventID string
	RoomID  string
	Sender  string
	Type    string // the event type
	Key     string // KeyBody, KeyName or KeyTopic
	Text    string // the key's value, as sent
	TS      int64  // origin_server_ts, milliseconds
	Pos     int64  // the event's stream position in the sync component
}

// RoomRange is where in a room a searcher may look: the stream positions
// (From, To], as the sync component's history visibility computes them.
type RoomRange struct {
	RoomID   string
	From, To int64
}

// Order is the order of results (spec: order_by).
type Order int

const (
	// ByRank: most relevant first, ties by most recent.
	ByRank Order = iota
	// ByRecent: most recent (highest stream position) first.
	ByRecent
)

// Query is one search. Rooms is never empty: a user who may see no room
// gets no results without a query.
type Query struct {
	// Term is the user's search_term as typed; backends tokenise it with
	// Analyze and ParseQuery (or an equivalent analyzer) so that what they index and what
	// they look for agree.
	Term  string
	Keys  []string    // the keys to search; empty: all three
	Rooms []RoomRange // the rooms to search and their visible ranges
	// Senders and NotSenders filter by sender (exact user IDs; empty: any).
	Senders, NotSenders []string
	// Types and NotTypes filter by event type (exact; empty: any).
	Types, NotTypes []string
	// FromTS and ToTS bound origin_server_ts, inclusive; 0: unbounded.
	FromTS, ToTS int64
	Order        Order
	Limit        int // at least 1
	// After continues a search from a Result's Next; "" starts it.
	After string
}

// Hit is one matching event.
type Hit struct {
	EventID string
	RoomID  string
	Pos     int64
	Rank    float64 // higher is more relevant; backends choose the scale
}

// Result is one page of a search.
type Result struct {
	Hits []Hit
	// Count is how many events match in all (spec: count), or an estimate
	// at least len(Hits) when counting all would be costly.
	Count int
	// Next continues the search after the last hit; "" when there is no more.
	// It is opaque to callers and stable: a page never repeats a hit of an
	// earlier page, even when new events match meanwhile.
	Next string
}

// Backend indexes documents and answers queries. Index and Delete are
// idempotent, so the indexer may deliver a document more than once.
type Backend interface {
	// Index adds or replaces documents (by event ID and key).
	Index(ctx context.Context, docs []Doc) error
	// Delete removes every document of the events (redactions).
	Delete(ctx context.Context, eventIDs []string) error
	// Search runs a query.
	Search(ctx context.Context, q Query) (*Result, error)
	// Close releases the backend's resources.
	Close() error
}

// ErrBadCursor is a Query.After the backend did not make (or made for a
// query with another order): the client gets 400 M_INVALID_PARAM.
var ErrBadCursor = errors.New("search: invalid next_batch")
