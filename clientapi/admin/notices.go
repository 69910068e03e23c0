package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/myelin-im/myelin/clientapi/admin/storage"
	"github.com/myelin-im/myelin/internal/httputil"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// ServerNoticeTag tags a notices room for its user (Synapse's tag, which
// clients know).
const ServerNoticeTag = "m.server_notice"

// noticesPowerLevel is every user's power in a notices room but the
// server-notices user's, below events_default so its user cannot send
// (Synapse's rooms do the same).
const noticesPowerLevel = -10

// setupNotices registers Synapse's server-notices API.
func (a *Admin) setupNotices(p prefixed) {
	p.Handle("/v1/send_server_notice", a.admin(a.sendServerNotice)).Methods(http.MethodPost)
	p.Handle("/v1/send_server_notice/{txnId}", a.admin(a.sendServerNotice)).Methods(http.MethodPut)
}

type serverNoticeRequest struct {
	UserID   string          `json:"user_id"`
	Content  json.RawMessage `json:"content"`
	Type     string          `json:"type"`
	StateKey *string         `json:"state_key"`
}

// POST /_synapse/admin/v1/send_server_notice and PUT .../{txnId}: sends
// content to a local user in their notices room, made (and the user
// invited) the first time; a retransmitted transaction answers its first
// event ID.
func (a *Admin) sendServerNotice(w http.ResponseWriter, r *http.Request, c *Caller) error {
	if !a.d.ServerNotices.Enabled() {
		return httputil.BadRequestUnknown("Server notices are not enabled on this server")
	}
	var req serverNoticeRequest
	if err := httputil.ReadJSON(r, &req); err != nil {
		return err
	}
	lp, err := a.noticeTarget(r.Context(), req)
	if err != nil {
		return err
	}
	txn := storage.NoticeTxn{AdminUserID: c.Device.UserID, DeviceID: string(c.Device.ID), TxnID: httputil.Vars(r)["txnId"]}
	a.noticesMu.Lock()
	defer a.noticesMu.Unlock()
	if txn.TxnID != "" {
		ev, err := a.audit.NoticeTxnEvent(r.Context(), txn)
		if err != nil {
			return err
		}
		if ev != "" {
			httputil.WriteJSON(w, http.StatusOK, map[string]string{"event_id": ev})
			return nil
		}
	}
	eventID, err := a.sendNotice(r.Context(), lp, req)
	if err != nil {
		return err
	}
	if txn.TxnID != "" {
		if err := a.audit.SetNoticeTxnEvent(r.Context(), txn, eventID); err != nil {
			return err
		}
	}
	c.Note("event " + eventID)
	httputil.WriteJSON(w, http.StatusOK, map[string]string{"event_id": eventID})
	return nil
}

// noticeTarget checks a notice request and returns its user's localpart:
// Synapse's answers, 400 for a missing field or a remote user, 404 for a
// local user that does not exist.
func (a *Admin) noticeTarget(ctx context.Context, req serverNoticeRequest) (userapi.Localpart, error) {
	if req.UserID == "" {
		return "", httputil.MissingParam("Missing params: user_id")
	}
	if len(req.Content) == 0 || string(req.Content) == "null" {
		return "", httputil.MissingParam("Missing params: content")
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(req.Content, &obj); err != nil {
		return "", httputil.BadJSON("content must be a JSON object")
	}
	lp, ok := a.isLocal(req.UserID)
	if !ok {
		return "", httputil.BadRequestUnknown("Server notices can only be sent to local users")
	}
	if _, err := a.d.Users.Account(ctx, lp); errors.Is(err, userapi.ErrNoSuchAccount) {
		return "", httputil.NotFound("User not found")
	} else if err != nil {
		return "", err
	}
	return lp, nil
}

// sendNotice sends the notice in the user's notices room.
func (a *Admin) sendNotice(ctx context.Context, lp userapi.Localpart, req serverNoticeRequest) (string, error) {
	system, err := a.noticesUser(ctx)
	if err != nil {
		return "", err
	}
	roomID, err := a.noticesRoom(ctx, system, lp)
	if err != nil {
		return "", err
	}
	typ := req.Type
	if typ == "" {
		typ = "m.room.message"
	}
	eventID, err := a.d.Rooms.SendEvent(ctx, roomapi.SendEventRequest{
		RoomID: roomID, Sender: system, Type: typ, StateKey: req.StateKey, Content: req.Content,
	})
	if err != nil {
		return "", fmt.Errorf("sending a server notice: %w", err)
	}
	return eventID, nil
}

// noticesUser returns the server-notices user's ID, making its account
// (with no password: nobody logs in as it) and profile the first time.
// The caller holds noticesMu.
func (a *Admin) noticesUser(ctx context.Context) (string, error) {
	cfg := a.d.ServerNotices
	userID := cfg.UserID(a.d.ServerName)
	if a.noticesUserReady {
		return userID, nil
	}
	lp := userapi.Localpart(cfg.SystemMXIDLocalpart)
	if _, err := a.d.Users.Account(ctx, lp); errors.Is(err, userapi.ErrNoSuchAccount) {
		if _, err := a.d.Users.CreateAccount(ctx, userapi.CreateAccountRequest{
			Localpart: lp, DisplayName: cfg.SystemMXIDDisplayName,
		}); err != nil {
			return "", fmt.Errorf("creating the server-notices user: %w", err)
		}
	} else if err != nil {
		return "", err
	}
	if cfg.SystemMXIDAvatarURL != "" {
		v, _ := json.Marshal(cfg.SystemMXIDAvatarURL)
		if err := a.d.Users.SetProfileField(ctx, lp, "avatar_url", v); err != nil {
			return "", fmt.Errorf("setting the server-notices user's avatar: %w", err)
		}
	}
	a.noticesUserReady = true
	return userID, nil
}

// noticesRoom returns the user's notices room, making it the first time
// (tagged for the user, the user invited) and inviting the user again if
// they left it.
func (a *Admin) noticesRoom(ctx context.Context, system string, lp userapi.Localpart) (string, error) {
	userID := "@" + string(lp) + ":" + a.d.ServerName
	roomID, err := a.audit.NoticeRoom(ctx, userID)
	if err != nil {
		return "", err
	}
	if roomID == "" {
		return a.newNoticesRoom(ctx, system, lp)
	}
	m, err := a.d.Rooms.Membership(ctx, roomID, userID)
	if err != nil {
		return "", err
	}
	if m == "join" || m == "invite" {
		return roomID, nil
	}
	if _, err := a.d.Rooms.PerformMembership(ctx, roomapi.MembershipRequest{
		RoomID: roomID, Sender: system, Target: userID, Membership: "invite",
	}); err != nil {
		return "", fmt.Errorf("inviting %s to their notices room again: %w", userID, err)
	}
	return roomID, nil
}

func (a *Admin) newNoticesRoom(ctx context.Context, system string, lp userapi.Localpart) (string, error) {
	cfg := a.d.ServerNotices
	userID := "@" + string(lp) + ":" + a.d.ServerName
	pl, _ := json.Marshal(map[string]any{"users_default": noticesPowerLevel})
	name := cfg.RoomName
	roomID, err := a.d.Rooms.CreateRoom(ctx, roomapi.CreateRoomRequest{
		Creator: system, Preset: "private_chat", Name: &name, Invite: []string{userID},
		PowerLevelContentOverride: pl, CreatorDisplayName: cfg.SystemMXIDDisplayName,
		CreatorAvatarURL: cfg.SystemMXIDAvatarURL,
	})
	if err != nil {
		return "", fmt.Errorf("creating the notices room of %s: %w", userID, err)
	}
	if err := a.audit.SetNoticeRoom(ctx, userID, roomID); err != nil {
		return "", err
	}
	if err := a.d.Users.SetRoomTag(ctx, lp, roomID, ServerNoticeTag, json.RawMessage(`{}`)); err != nil {
		return "", fmt.Errorf("tagging the notices room of %s: %w", userID, err)
	}
	return roomID, nil
}
