package internal

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/myelin-im/myelin/roomserver/api"
)

// retentionEventType is the state event of a room's retention policy
// (MSC1763; not in the spec yet).
const retentionEventType = "m.room.retention"

// retentionContent is an m.room.retention event's content: lifetimes in
// milliseconds, each optional.
type retentionContent struct {
	MaxLifetime *int64 `json:"max_lifetime"`
	MinLifetime *int64 `json:"min_lifetime"`
}

// maxLifetime is how long the room's messages are kept (0: for ever): the
// room's policy, or the server's default for what it leaves out, then
// clamped to the allowed bounds, and never below the policy's
// min_lifetime. A policy that cannot be read counts as absent.
func (rs *Roomserver) maxLifetime(ctx context.Context, roomID string) (time.Duration, error) {
	cfg := rs.opts.Retention
	maxLife, minLife := time.Duration(cfg.DefaultPolicy.MaxLifetime), time.Duration(cfg.DefaultPolicy.MinLifetime)
	ev, err := rs.StateEvent(ctx, roomID, retentionEventType, "")
	switch {
	case errors.Is(err, api.ErrEventNotFound):
	case err != nil:
		return 0, err
	default:
		var pdu struct {
			Content retentionContent `json:"content"`
		}
		if json.Unmarshal(ev.PDU, &pdu) == nil {
			if v := pdu.Content.MaxLifetime; v != nil && *v > 0 {
				maxLife = time.Duration(*v) * time.Millisecond
			}
			if v := pdu.Content.MinLifetime; v != nil && *v > 0 {
				minLife = time.Duration(*v) * time.Millisecond
			}
		}
	}
	return clampLifetime(maxLife, minLife, time.Duration(cfg.AllowedLifetimeMin), time.Duration(cfg.AllowedLifetimeMax)), nil
}

// clampLifetime applies the server's bounds (0: none) to a max_lifetime
// (0: none, left alone) and keeps it at least minLife.
func clampLifetime(maxLife, minLife, allowedMin, allowedMax time.Duration) time.Duration {
	if maxLife <= 0 {
		return 0
	}
	if allowedMin > 0 && maxLife < allowedMin {
		maxLife = allowedMin
	}
	if allowedMax > 0 && maxLife > allowedMax {
		maxLife = allowedMax
	}
	return max(maxLife, minLife)
}
