package internal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/myelin-im/myelin/roomserver/storage"
)

// appliedRedaction is a redaction applied to its target: the target and
// its redacted JSON.
type appliedRedaction struct {
	target       *storage.Event
	redactedJSON []byte
}

// applyInboundRedaction applies an accepted m.room.redaction from another
// server to its target, in the caller's transaction. Spec (room versions 3
// and later, "Handling redactions"): redactions are accepted whatever their
// target, but servers apply one only once they have both events, and only
// "where the sender's domains match, or the sender of the redaction has
// the appropriate permissions per the power levels". It returns nil when
// there is nothing to apply here (not a redaction, a target this server
// does not have, of another room, already redacted, or not permitted).
// The caller holds r.mu, so r's state is the state before pdu.
func (rs *Roomserver) applyInboundRedaction(
	ctx context.Context, r *room, pdu gomatrixserverlib.PDU,
) (*appliedRedaction, error) {
	targetID := redactsOf(pdu)
	if targetID == "" {
		return nil, nil
	}
	target, err := rs.store.EventByID(ctx, targetID)
	if errors.Is(err, storage.ErrNotFound) {
		// NOTSPEC: a target that arrives after its redaction is not
		// redacted then (the redaction stays in the timeline for clients).
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if target.RoomNID != r.nid || target.RedactedBy != "" || target.Rejected {
		return nil, nil
	}
	if !sameDomain(string(pdu.SenderID()), target.Sender) {
		level, pl, err := r.userLevel(string(pdu.SenderID()))
		if err != nil || level < pl.Redact {
			return nil, nil //nolint:nilerr // unreadable power levels: not permitted
		}
	}
	js, err := r.version.RedactEventJSON(target.JSON)
	if err != nil {
		return nil, fmt.Errorf("redacting %s: %w", target.ID, err)
	}
	if err := rs.store.SetRedacted(ctx, target.ID, pdu.EventID(), js, rs.now().UnixMilli()); err != nil {
		return nil, err
	}
	return &appliedRedaction{target: target, redactedJSON: js}, nil
}

// redactsOf is the event a redaction names: at the top level before room
// version 11, in content.redacts from it on (gomatrixserverlib's Redacts
// reads only the top level); "" for other events.
func redactsOf(pdu gomatrixserverlib.PDU) string {
	if pdu.Type() != spec.MRoomRedaction {
		return ""
	}
	if id := pdu.Redacts(); id != "" {
		return id
	}
	var c struct {
		Redacts string `json:"redacts"`
	}
	_ = json.Unmarshal(pdu.Content(), &c)
	return c.Redacts
}

// sameDomain reports whether two user IDs have the same server name.
func sameDomain(a, b string) bool {
	ua, err := spec.NewUserID(a, true)
	if err != nil {
		return false
	}
	ub, err := spec.NewUserID(b, true)
	return err == nil && ua.Domain() == ub.Domain()
}

// followRedaction keeps r's memory of the current state in step with a
// redacted state event. The caller holds r.mu.
func (r *room) followRedaction(red *appliedRedaction) {
	t := red.target
	if t.StateKey == nil {
		return
	}
	k := storage.StateKey{Type: t.Type, StateKey: *t.StateKey}
	cur, ok := r.state[k]
	if !ok || cur.pdu.EventID() != t.ID {
		return
	}
	if pdu, err := r.version.NewEventFromTrustedJSONWithEventID(t.ID, red.redactedJSON, true); err == nil {
		r.setState(k, stateEvent{nid: cur.nid, pdu: pdu})
	} else {
		r.stale = true // memory and database disagree: read the room again
	}
}
