package internal

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/roomserver/storage"
)

// noteDirectInvite records pdu when it invites someone as a direct chat
// (spec: m.room.member, "is_direct"), so friends and friend requests are
// read in one query (see storage.TwoPersonRooms). outside is the invitee's
// membership for a room this server is not in ("" otherwise).
func (rs *Roomserver) noteDirectInvite(ctx context.Context, pdu gomatrixserverlib.PDU, outside string) error {
	if pdu.Type() != spec.MRoomMember || pdu.StateKey() == nil {
		return nil
	}
	d := storage.DirectInvite{
		RoomID: pdu.RoomID().String(), UserID: *pdu.StateKey(), Sender: string(pdu.SenderID()), EventID: pdu.EventID(),
		TS: int64(pdu.OriginServerTS()), Outside: outside,
	}
	return rs.noteDirectContent(ctx, d, pdu.Content())
}

// noteDirectStored is noteDirectInvite for a stored member event.
func (rs *Roomserver) noteDirectStored(ctx context.Context, roomID string, ev *storage.Event) error {
	if ev.StateKey == nil {
		return nil
	}
	var body struct {
		Content json.RawMessage `json:"content"`
	}
	if json.Unmarshal(ev.JSON, &body) != nil {
		return nil
	}
	d := storage.DirectInvite{RoomID: roomID, UserID: *ev.StateKey, Sender: ev.Sender, EventID: ev.ID, TS: ev.OriginServerTS}
	return rs.noteDirectContent(ctx, d, body.Content)
}

func (rs *Roomserver) noteDirectContent(ctx context.Context, d storage.DirectInvite, content []byte) error {
	var c struct {
		Membership string `json:"membership"`
		IsDirect   bool   `json:"is_direct"`
		Reason     string `json:"reason"`
	}
	if json.Unmarshal(content, &c) != nil || c.Membership != spec.Invite || !c.IsDirect {
		return nil
	}
	d.Reason = c.Reason
	if err := rs.store.NoteDirectInvite(ctx, d); err != nil {
		return fmt.Errorf("noting direct invite %s: %w", d.EventID, err)
	}
	return nil
}

// DirectRooms implements api.Friends.
func (rs *Roomserver) DirectRooms(ctx context.Context, userID string) ([]api.TwoPersonRoom, error) {
	rows, err := rs.store.TwoPersonRooms(ctx, userID, string(rs.opts.ServerName))
	if err != nil {
		return nil, err
	}
	out := make([]api.TwoPersonRoom, len(rows))
	for i, r := range rows {
		out[i] = api.TwoPersonRoom{
			RoomID: r.RoomID, Other: r.Other, MyJoinTS: r.MyJoinTS, OtherJoinTS: r.OtherJoinTS, DirectInvite: r.Direct,
		}
		if rs.isLocalUser(r.Other) {
			continue // the caller reads local users' profiles
		}
		var ev struct {
			Content struct {
				DisplayName string `json:"displayname"`
				AvatarURL   string `json:"avatar_url"`
			} `json:"content"`
		}
		if json.Unmarshal(r.OtherJoin, &ev) == nil {
			out[i].OtherDisplayName, out[i].OtherAvatarURL = ev.Content.DisplayName, ev.Content.AvatarURL
		}
	}
	return out, nil
}

// DirectInvites implements api.Friends.
func (rs *Roomserver) DirectInvites(ctx context.Context, userID string) (incoming, outgoing []api.DirectInvite, err error) {
	in, err := rs.store.IncomingDirectInvites(ctx, userID)
	if err != nil {
		return nil, nil, err
	}
	out, err := rs.store.OutgoingDirectInvites(ctx, userID)
	if err != nil {
		return nil, nil, err
	}
	return directInvites(in), directInvites(out), nil
}

func directInvites(rows []storage.DirectInvite) []api.DirectInvite {
	out := make([]api.DirectInvite, len(rows))
	for i, d := range rows {
		out[i] = api.DirectInvite{RoomID: d.RoomID, Invitee: d.UserID, Sender: d.Sender, EventID: d.EventID, TS: d.TS, Reason: d.Reason}
	}
	return out
}
