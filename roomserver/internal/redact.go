package internal

import (
	"context"
	"errors"

	"github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/roomserver/storage"
)

// Redact implements api.Roomserver (spec: "Redactions"). A user may redact
// their own events, and any event with the room's redact power level; the
// redacted event keeps only what the room version's redaction algorithm
// keeps, in the same transaction that stores the redaction. An event this
// server does not have (another server's, not received) may be redacted by
// a user with the redact level: the redaction is sent all the same, for
// the servers that have it (spec: room versions 3 and later check a
// redaction's target when it is applied, not when it is sent). A user
// without that level gets "not found": whether the event is their own
// cannot be told.
func (rs *Roomserver) Redact(ctx context.Context, req api.RedactRequest) (string, error) {
	key := ""
	if req.TxnID != "" {
		key = txnKey("redact", req.RoomID, req.EventID, req.TxnID)
		id, err := rs.store.TxnEvent(ctx, req.Sender, req.DeviceID, key)
		if err == nil {
			return id, nil
		}
		if !errors.Is(err, storage.ErrNotFound) {
			return "", err
		}
	}
	r, err := rs.loadRoom(ctx, req.RoomID)
	if err != nil {
		return "", err
	}
	target, err := rs.store.EventByID(ctx, req.EventID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		target = nil
	case err != nil:
		return "", err
	case target.RoomNID != r.nid:
		return "", api.ErrEventNotFound
	}
	content := map[string]any{"redacts": req.EventID}
	if req.Reason != "" {
		content["reason"] = req.Reason
	}
	ne := newEvent{
		sender:   req.Sender,
		evType:   "m.room.redaction",
		content:  content,
		txnID:    req.TxnID,
		txnKey:   key,
		deviceID: req.DeviceID,
		// nil for an event this server does not have: nothing to redact here
		redactTarget: target,
	}
	if !redactsInContent(string(r.version.Version())) {
		ne.redacts = req.EventID
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if target == nil || target.Sender != req.Sender {
		level, pl, err := r.userLevel(req.Sender)
		if err != nil {
			return "", err
		}
		if level < pl.Redact && target == nil {
			return "", api.ErrEventNotFound
		}
		if level < pl.Redact {
			return "", api.Forbidden("redacting other users' events needs power level %d; you have %d", pl.Redact, level)
		}
	}
	return rs.sendLocked(ctx, r, ne)
}

// redactsInContent reports whether a room version carries a redaction's
// target in content.redacts (room version 11 and later) rather than at the
// top level.
func redactsInContent(version string) bool {
	switch version {
	case "1", "2", "3", "4", "5", "6", "7", "8", "9", "10":
		return false
	}
	return true
}
