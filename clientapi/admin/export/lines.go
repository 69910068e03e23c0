package export

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"sort"

	roomapi "github.com/myelin-im/myelin/roomserver/api"
)

// EventLine is one line of events.jsonl: an event as the server stores it
// (its redacted form when redacted), in DAG order.
type EventLine struct {
	Order          int64           `json:"order"`
	EventID        string          `json:"event_id"`
	Type           string          `json:"type"`
	StateKey       *string         `json:"state_key,omitempty"`
	Sender         string          `json:"sender"`
	OriginServerTS int64           `json:"origin_server_ts"`
	Depth          int64           `json:"depth"`
	Outlier        bool            `json:"outlier,omitempty"`
	Rejected       bool            `json:"rejected,omitempty"`
	RedactedBy     string          `json:"redacted_by,omitempty"`
	Event          json.RawMessage `json:"event"`
}

// RedactionLine is one line of redactions.jsonl: a redacted event, by
// whom, and its original JSON when still kept (null past retention).
type RedactionLine struct {
	EventID    string          `json:"event_id"`
	RedactedBy string          `json:"redacted_by"`
	RedactedTS int64           `json:"redacted_ts,omitempty"`
	Original   json.RawMessage `json:"original"`
}

// MembershipLine is one line of membership.jsonl: a change of a user's
// membership, in DAG order. Action names it: join, leave, kick, invite,
// revoke_invite, reject_invite, knock, reject_knock, ban, unban, or
// profile (a join that changed only the name or avatar).
type MembershipLine struct {
	Order          int64  `json:"order"`
	EventID        string `json:"event_id"`
	OriginServerTS int64  `json:"origin_server_ts"`
	UserID         string `json:"user_id"`
	Sender         string `json:"sender"`
	Membership     string `json:"membership"`
	Previous       string `json:"previous,omitempty"`
	Action         string `json:"action"`
	DisplayName    string `json:"displayname,omitempty"`
	Reason         string `json:"reason,omitempty"`
}

// jsonLines writes one JSON value a line, buffered.
type jsonLines struct {
	f   io.WriteCloser
	buf *bufio.Writer
	enc *json.Encoder
}

func (s *Sink) createLines(name string) (*jsonLines, error) {
	f, err := s.Create(name)
	if err != nil {
		return nil, err
	}
	buf := bufio.NewWriterSize(f, 64<<10)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	return &jsonLines{f: f, buf: buf, enc: enc}, nil
}

func (l *jsonLines) write(v any) error { return l.enc.Encode(v) }

func (l *jsonLines) Close() error {
	if err := l.buf.Flush(); err != nil {
		_ = l.f.Close()
		return err
	}
	return l.f.Close()
}

// writeLines writes events.jsonl, redactions.jsonl and membership.jsonl
// in one pass.
func (x *roomExport) writeLines(ctx context.Context) (err error) {
	var events, redactions, members *jsonLines
	defer func() { err = closeAll(err, events, redactions, members) }()
	if events, err = x.sink.createLines(EventsFile); err != nil {
		return err
	}
	if redactions, err = x.sink.createLines(RedactionsFile); err != nil {
		return err
	}
	if members, err = x.sink.createLines(MembershipFile); err != nil {
		return err
	}
	current := map[string]string{} // user -> membership so far
	var order int64
	return x.each(ctx, func(e *roomapi.ExportEvent) error {
		order++
		if err := events.write(EventLine{Order: order, EventID: e.ID, Type: e.Type, StateKey: e.StateKey, Sender: e.Sender,
			OriginServerTS: e.OriginServerTS, Depth: e.Depth, Outlier: e.Outlier, Rejected: e.Rejected,
			RedactedBy: e.RedactedBy, Event: e.PDU}); err != nil {
			return err
		}
		if e.RedactedBy != "" {
			x.sum.Redacted++
			if e.Original != nil {
				x.sum.RedactedOriginals++
			}
			if err := redactions.write(RedactionLine{EventID: e.ID, RedactedBy: e.RedactedBy, RedactedTS: e.RedactedTS,
				Original: orNull(e.Original)}); err != nil {
				return err
			}
		}
		if e.Type != "m.room.member" || e.StateKey == nil || e.Rejected {
			return nil
		}
		x.sum.MembershipChanges++
		return members.write(membershipLine(order, e, parseContent(e), current))
	})
}

func membershipLine(order int64, e *roomapi.ExportEvent, c *content, current map[string]string) MembershipLine {
	user := *e.StateKey
	prev := current[user]
	current[user] = c.Membership
	return MembershipLine{Order: order, EventID: e.ID, OriginServerTS: e.OriginServerTS, UserID: user, Sender: e.Sender,
		Membership: c.Membership, Previous: prev, Action: membershipAction(prev, c.Membership, e.Sender != user),
		DisplayName: c.DisplayName, Reason: c.Reason}
}

// membershipAction names a membership change (spec: m.room.member, the
// transitions of membership).
func membershipAction(prev, now string, byOther bool) string {
	if now == "join" && prev == "join" {
		return "profile"
	}
	if now != "leave" {
		if now == "" {
			return "unknown"
		}
		return now
	}
	switch {
	case prev == "ban":
		return "unban"
	case prev == "invite" && byOther:
		return "revoke_invite"
	case prev == "invite":
		return "reject_invite"
	case prev == "knock" && byOther:
		return "reject_knock"
	case byOther:
		return "kick"
	}
	return "leave"
}

func orNull(js json.RawMessage) json.RawMessage {
	if js == nil {
		return json.RawMessage("null")
	}
	return js
}

// StateLine is one event of state.json: the room's current state.
type StateLine struct {
	EventID  string          `json:"event_id"`
	Type     string          `json:"type"`
	StateKey string          `json:"state_key"`
	Event    json.RawMessage `json:"event"`
}

// writeState writes state.json, the room's current state.
func (x *roomExport) writeState(ctx context.Context) error {
	evs, err := x.o.Rooms.CurrentState(ctx, x.info.RoomID)
	if err != nil {
		return err
	}
	out := make([]StateLine, 0, len(evs))
	for _, e := range evs {
		ce, err := e.Client()
		if err != nil {
			return err
		}
		sk := ""
		if ce.StateKey != nil {
			sk = *ce.StateKey
		}
		out = append(out, StateLine{EventID: e.ID, Type: ce.Type, StateKey: sk, Event: e.PDU})
		if ce.Type == "m.room.name" && sk == "" {
			var c content
			_ = json.Unmarshal(ce.Content, &c)
			x.roomName = c.Name
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Type != out[j].Type {
			return out[i].Type < out[j].Type
		}
		return out[i].StateKey < out[j].StateKey
	})
	x.sum.StateEvents = int64(len(out))
	return x.sink.WriteJSON(StateFile, out)
}
