package internal

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/matrix-org/gomatrixserverlib/spec"
	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/internal/coded"
	"github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/roomserver/storage"
)

// Defaults of a delete's new room (Synapse's).
const (
	defaultNewRoomName = "Content Violation Notification"
	defaultNewRoomMsg  = "Sharing illegal content on this server is not permitted and rooms in violation will be blocked."
)

var (
	// errUnknownRoomDelete: deleting a room this server does not know,
	// without blocking it (Synapse: a bad request).
	errUnknownRoomDelete = coded.New("unknown room", http.StatusBadRequest, "M_UNKNOWN")
	// errStillJoined: a purge without force_purge while local users are
	// still in the room (their leave failed).
	errStillJoined = coded.New("local users are still joined to the room; use force_purge", http.StatusBadRequest,
		"M_UNKNOWN")
)

// unfinished are the statuses of a delete that has not ended.
var unfinished = []string{api.DeleteScheduled, api.DeleteActive}

// DeleteRoom implements api.AdminRooms.
func (rs *Roomserver) DeleteRoom(ctx context.Context, req api.RoomDeleteRequest) (api.RoomDelete, error) {
	id, err := rs.recordDelete(ctx, req, true)
	if err != nil {
		return api.RoomDelete{}, err
	}
	runErr := rs.runDelete(context.WithoutCancel(ctx), id)
	d, err := rs.RoomDeleteByID(ctx, id)
	if err != nil {
		return d, err
	}
	return d, runErr
}

// StartRoomDelete implements api.AdminRooms.
func (rs *Roomserver) StartRoomDelete(ctx context.Context, req api.RoomDeleteRequest) (string, error) {
	id, err := rs.recordDelete(ctx, req, false)
	if err != nil {
		return "", err
	}
	go rs.runDeleteLogged(id)
	return id, nil
}

// ResumeRoomDeletes runs again, in the background, the deletes a crash
// interrupted (roomserver.New calls it).
func (rs *Roomserver) ResumeRoomDeletes(ctx context.Context) error {
	rows, err := rs.store.RoomDeletes(ctx, "", unfinished)
	if err != nil {
		return err
	}
	for _, row := range rows {
		go rs.runDeleteLogged(row.DeleteID)
	}
	return nil
}

func (rs *Roomserver) runDeleteLogged(id string) {
	if err := rs.runDelete(context.Background(), id); err != nil {
		rs.log.WithError(err).WithField("delete_id", id).Warn("room delete failed")
	}
}

// recordDelete checks a delete can start and records it as scheduled.
// Only a v1 delete (blockUnknown) may block a room this server does not
// know (Synapse's rule).
func (rs *Roomserver) recordDelete(ctx context.Context, req api.RoomDeleteRequest, blockUnknown bool) (string, error) {
	if err := rs.refuseHeld(ctx, req); err != nil {
		return "", err
	}
	if _, err := rs.store.Room(ctx, req.RoomID); errors.Is(err, storage.ErrNotFound) {
		if !req.Block || !blockUnknown {
			return "", errUnknownRoomDelete
		}
	} else if err != nil {
		return "", err
	}
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	js, err := json.Marshal(req)
	if err != nil {
		return "", err
	}
	res, err := json.Marshal(emptyResult())
	if err != nil {
		return "", err
	}
	id := base64.RawURLEncoding.EncodeToString(b[:])
	ok, err := rs.store.InsertRoomDelete(ctx, storage.RoomDeleteRow{DeleteID: id, RoomID: req.RoomID, Request: string(js),
		Status: api.DeleteScheduled, Result: string(res), CreatedTS: rs.now().UnixMilli()}, unfinished)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", api.ErrDeleteRunning
	}
	return id, nil
}

// refuseHeld refuses a delete that would purge a room under legal hold
// (api.ErrLegalHold, 409): nothing in a held room may be purged.
func (rs *Roomserver) refuseHeld(ctx context.Context, req api.RoomDeleteRequest) error {
	if !req.Purge {
		return nil
	}
	hold, err := rs.LegalHold(ctx, req.RoomID)
	if err != nil {
		return err
	}
	if hold != nil {
		return api.ErrLegalHold
	}
	return nil
}

func emptyResult() api.ShutdownResult {
	return api.ShutdownResult{KickedUsers: []string{}, FailedToKickUsers: []string{}, LocalAliases: []string{}}
}

// RoomDeleteByID implements api.AdminRooms.
func (rs *Roomserver) RoomDeleteByID(ctx context.Context, deleteID string) (api.RoomDelete, error) {
	row, err := rs.store.RoomDelete(ctx, deleteID)
	if errors.Is(err, storage.ErrNotFound) {
		return api.RoomDelete{}, api.ErrDeleteNotFound
	}
	if err != nil {
		return api.RoomDelete{}, err
	}
	return roomDelete(row)
}

// RoomDeletesOf implements api.AdminRooms.
func (rs *Roomserver) RoomDeletesOf(ctx context.Context, roomID string) ([]api.RoomDelete, error) {
	rows, err := rs.store.RoomDeletes(ctx, roomID, nil)
	if err != nil {
		return nil, err
	}
	out := make([]api.RoomDelete, 0, len(rows))
	for _, row := range rows {
		d, err := roomDelete(row)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

func roomDelete(row storage.RoomDeleteRow) (api.RoomDelete, error) {
	d := api.RoomDelete{DeleteID: row.DeleteID, RoomID: row.RoomID, Status: row.Status, Error: row.Error, Result: emptyResult()}
	if err := json.Unmarshal([]byte(row.Result), &d.Result); err != nil {
		return d, fmt.Errorf("room delete %s: corrupt result: %w", row.DeleteID, err)
	}
	return d, nil
}

// deleteRun is one run of a delete: its request and what it did so far.
type deleteRun struct {
	id  string
	req api.RoomDeleteRequest
	res api.ShutdownResult
}

// runDelete runs a recorded delete to its end. Each step may have run
// before (a crash, a retry): it then finds its work done and moves on.
func (rs *Roomserver) runDelete(ctx context.Context, id string) error {
	row, err := rs.store.RoomDelete(ctx, id)
	if err != nil {
		return err
	}
	d, err := roomDelete(row)
	if err != nil {
		return err
	}
	run := &deleteRun{id: id, res: d.Result}
	if err := json.Unmarshal([]byte(row.Request), &run.req); err != nil {
		return fmt.Errorf("room delete %s: corrupt request: %w", id, err)
	}
	if err := rs.saveDelete(ctx, run, api.DeleteActive, ""); err != nil {
		return err
	}
	if err := rs.deleteSteps(ctx, run); err != nil {
		if serr := rs.saveDelete(ctx, run, api.DeleteFailed, err.Error()); serr != nil {
			return errors.Join(err, serr)
		}
		return err
	}
	rs.log.WithFields(logrus.Fields{"room_id": run.req.RoomID, "delete_id": id, "kicked": len(run.res.KickedUsers),
		"purge": run.req.Purge}).Info("room deleted")
	return rs.saveDelete(ctx, run, api.DeleteComplete, "")
}

func (rs *Roomserver) saveDelete(ctx context.Context, run *deleteRun, status, errText string) error {
	js, err := json.Marshal(run.res)
	if err != nil {
		return err
	}
	return rs.store.UpdateRoomDelete(ctx, run.id, status, errText, string(js), rs.now().UnixMilli())
}

// deleteSteps blocks the room, removes its local users (into a new room
// when asked), its aliases and its directory entry, then purges it.
func (rs *Roomserver) deleteSteps(ctx context.Context, run *deleteRun) error {
	req := run.req
	if req.Block {
		if err := rs.store.SetBlocked(ctx, req.RoomID, req.Requester, true, rs.now().UnixMilli()); err != nil {
			return err
		}
	}
	r, err := rs.loadRoom(ctx, req.RoomID)
	if errors.Is(err, api.ErrRoomNotFound) {
		// Unknown, or purged by an earlier run: only leftovers to remove.
		if req.Purge {
			_, err = rs.store.PurgeRoom(ctx, req.RoomID)
		}
		return err
	}
	if err != nil {
		return err
	}
	if err := rs.newRoomFor(ctx, run); err != nil {
		return err
	}
	if err := rs.removeLocalUsers(ctx, run, r); err != nil {
		return err
	}
	if err := rs.removeAliases(ctx, run); err != nil {
		return err
	}
	if !req.Purge {
		return nil
	}
	if !req.ForcePurge && rs.hasLocalMemberNow(r) {
		return errStillJoined
	}
	if err := rs.refuseHeld(ctx, req); err != nil {
		return err // a hold placed after the delete started
	}
	return rs.purgeRoom(ctx, r)
}

// newRoomFor creates the room the removed users are moved to, once.
func (rs *Roomserver) newRoomFor(ctx context.Context, run *deleteRun) error {
	req := run.req
	if req.NewRoomUserID == "" || run.res.NewRoomID != nil {
		return nil
	}
	name, msg := req.RoomName, req.Message
	if name == "" {
		name = defaultNewRoomName
	}
	if msg == "" {
		msg = defaultNewRoomMsg
	}
	roomID, err := rs.CreateRoom(ctx, api.CreateRoomRequest{Creator: req.NewRoomUserID, Preset: PresetPublicChat,
		Name: &name, PowerLevelContentOverride: json.RawMessage(`{"users_default":-10}`)})
	if err != nil {
		return fmt.Errorf("creating the new room: %w", err)
	}
	run.res.NewRoomID = &roomID
	if err := rs.saveDelete(ctx, run, api.DeleteActive, ""); err != nil {
		return err
	}
	content, err := json.Marshal(map[string]string{"msgtype": "m.text", "body": msg})
	if err != nil {
		return err
	}
	_, err = rs.SendEvent(ctx, api.SendEventRequest{RoomID: roomID, Sender: req.NewRoomUserID, Type: "m.room.message",
		Content: content})
	return err
}

// removeLocalUsers makes every local user in the room (joined, invited,
// knocking) leave it, and join the new room if there is one. Users of
// other servers stay: this server only forgets the room (see
// docs/decisions.md).
func (rs *Roomserver) removeLocalUsers(ctx context.Context, run *deleteRun, r *room) error {
	rows, err := rs.store.MemberRows(ctx, r.nid)
	if err != nil {
		return err
	}
	for _, m := range rows {
		if !rs.isLocalUser(m.UserID) || (m.Membership != spec.Join && m.Membership != spec.Invite && m.Membership != spec.Knock) {
			continue
		}
		joined := m.Membership == spec.Join
		_, err := rs.PerformMembership(ctx, api.MembershipRequest{RoomID: r.id, Sender: m.UserID, Target: m.UserID,
			Membership: spec.Leave})
		if err == nil && joined && run.res.NewRoomID != nil {
			_, err = rs.PerformMembership(ctx, api.MembershipRequest{RoomID: *run.res.NewRoomID, Sender: m.UserID,
				Target: m.UserID, Membership: spec.Join})
		}
		if err != nil {
			rs.log.WithError(err).WithFields(logrus.Fields{"room_id": r.id, "user_id": m.UserID}).Warn("room delete: user not removed")
			run.res.FailedToKickUsers = appendNew(run.res.FailedToKickUsers, m.UserID)
		} else if joined {
			run.res.KickedUsers = appendNew(run.res.KickedUsers, m.UserID)
		}
	}
	return rs.saveDelete(ctx, run, api.DeleteActive, "")
}

// removeAliases removes the room's local aliases (moving them to the new
// room if there is one) and takes it out of the published directory.
func (rs *Roomserver) removeAliases(ctx context.Context, run *deleteRun) error {
	roomID := run.req.RoomID
	aliases, err := rs.store.AliasesOfRoom(ctx, roomID)
	if err != nil {
		return err
	}
	for _, a := range aliases {
		if err := rs.store.DeleteAlias(ctx, a); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		if run.res.NewRoomID != nil {
			err := rs.store.InsertAlias(ctx, a, *run.res.NewRoomID, run.req.NewRoomUserID, rs.now().UnixMilli())
			if err != nil && !errors.Is(err, storage.ErrAliasExists) {
				return err
			}
		}
		run.res.LocalAliases = appendNew(run.res.LocalAliases, a)
	}
	if err := rs.store.SetPublished(ctx, roomID, false, rs.now().UnixMilli()); err != nil {
		return err
	}
	return rs.saveDelete(ctx, run, api.DeleteActive, "")
}

func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// purgeRoom removes the room from storage and memory, and tells the other
// components (OutputTypePurgeRoom) in the same transaction, so that a
// crash loses neither. Writes of the room waiting for r.mu find it purged.
func (rs *Roomserver) purgeRoom(ctx context.Context, r *room) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := rs.settle(ctx, r); err != nil {
		return err
	}
	err := rs.store.WithTx(ctx, func(ctx context.Context) error {
		found, err := rs.store.PurgeRoom(ctx, r.id)
		if err != nil || !found {
			return err
		}
		out, err := json.Marshal(api.OutputEvent{Type: api.OutputTypePurgeRoom, RoomID: r.id,
			RoomVersion: string(r.version.Version())})
		if err != nil {
			return err
		}
		return rs.bus.Publish(ctx, api.OutputTopic, r.id, out, nil)
	})
	if err != nil {
		return fmt.Errorf("purging room %s: %w", r.id, err)
	}
	r.purged = true
	rs.rooms.drop(r.id)
	return nil
}
