package routing

import (
	"encoding/json"
	"net/http"

	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/userapi/api"
)

// Server-side key backups (spec: "Server-side key backups", the
// /room_keys endpoints). The server keeps each backup's auth_data and each
// key's session_data as sent: both are the client's, encrypted or signed
// for the backup key.

func (rt *Routes) setupKeyBackup(v3 prefixed) {
	v3.Handle("/room_keys/version", rt.authed(rt.createBackup)).Methods(http.MethodPost)
	v3.Handle("/room_keys/version", rt.authed(rt.getBackup)).Methods(http.MethodGet)
	v3.Handle("/room_keys/version/{version}", rt.authed(rt.getBackup)).Methods(http.MethodGet)
	v3.Handle("/room_keys/version/{version}", rt.authed(rt.updateBackup)).Methods(http.MethodPut)
	v3.Handle("/room_keys/version/{version}", rt.authed(rt.deleteBackup)).Methods(http.MethodDelete)
	for _, p := range []string{"/room_keys/keys", "/room_keys/keys/{roomId}", "/room_keys/keys/{roomId}/{sessionId}"} {
		v3.Handle(p, rt.authed(rt.getBackupKeys)).Methods(http.MethodGet)
		v3.Handle(p, rt.authed(rt.putBackupKeys)).Methods(http.MethodPut)
		v3.Handle(p, rt.authed(rt.deleteBackupKeys)).Methods(http.MethodDelete)
	}
}

// backupVersionRequest is the body of POST /room_keys/version and PUT
// /room_keys/version/{version}.
type backupVersionRequest struct {
	Algorithm *string         `json:"algorithm"`
	AuthData  json.RawMessage `json:"auth_data"`
	Version   *string         `json:"version"` // PUT only
}

// readBackupVersion reads a backup's description: algorithm and auth_data
// (an object) are required.
func readBackupVersion(r *http.Request) (*backupVersionRequest, error) {
	var req backupVersionRequest
	if err := httputil.ReadJSON(r, &req); err != nil {
		return nil, err
	}
	if req.Algorithm == nil || *req.Algorithm == "" {
		return nil, httputil.BadJSON("algorithm is required")
	}
	if !isJSONObject(req.AuthData) {
		return nil, httputil.BadJSON("auth_data must be a JSON object")
	}
	return &req, nil
}

// POST /v3/room_keys/version
func (rt *Routes) createBackup(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	req, err := readBackupVersion(r)
	if err != nil {
		return err
	}
	version, err := rt.users.CreateBackup(r.Context(), dev.Localpart, *req.Algorithm, req.AuthData)
	if err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]string{"version": version})
	return nil
}

// GET /v3/room_keys/version (the current backup) and
// /v3/room_keys/version/{version}
func (rt *Routes) getBackup(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	b, err := rt.users.Backup(r.Context(), dev.Localpart, httputil.Vars(r)["version"])
	if err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{
		"algorithm": b.Algorithm,
		"auth_data": b.AuthData,
		"count":     b.Count,
		"etag":      b.ETag,
		"version":   b.Version,
	})
	return nil
}

// PUT /v3/room_keys/version/{version}: only auth_data changes; a version
// in the body must be the path's (spec: 400 M_INVALID_PARAM).
func (rt *Routes) updateBackup(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	version := httputil.Vars(r)["version"]
	req, err := readBackupVersion(r)
	if err != nil {
		return err
	}
	if req.Version != nil && *req.Version != version {
		return httputil.InvalidParam("version in body does not match the path")
	}
	if err := rt.users.UpdateBackup(r.Context(), dev.Localpart, version, *req.Algorithm, req.AuthData); err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}

// DELETE /v3/room_keys/version/{version}
func (rt *Routes) deleteBackup(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	if err := rt.users.DeleteBackup(r.Context(), dev.Localpart, httputil.Vars(r)["version"]); err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}

// backupKeyRequest is one session's KeyBackupData as uploaded; every field
// is required.
type backupKeyRequest struct {
	FirstMessageIndex *int64          `json:"first_message_index"`
	ForwardedCount    *int64          `json:"forwarded_count"`
	IsVerified        *bool           `json:"is_verified"`
	SessionData       json.RawMessage `json:"session_data"`
}

// roomKeysRequest is a room's RoomKeyBackup as uploaded.
type roomKeysRequest struct {
	Sessions map[string]backupKeyRequest `json:"sessions"`
}

func (k backupKeyRequest) key(roomID, sessionID string) (api.BackupKey, error) {
	switch {
	case k.FirstMessageIndex == nil || k.ForwardedCount == nil || k.IsVerified == nil:
		return api.BackupKey{}, httputil.BadJSON(
			"key for %s session %s: first_message_index, forwarded_count and is_verified are required", roomID, sessionID)
	case *k.FirstMessageIndex < 0 || *k.ForwardedCount < 0:
		return api.BackupKey{}, httputil.BadJSON("key for %s session %s: negative index or count", roomID, sessionID)
	case !isJSONObject(k.SessionData):
		return api.BackupKey{}, httputil.BadJSON("key for %s session %s: session_data must be a JSON object", roomID, sessionID)
	}
	return api.BackupKey{
		FirstMessageIndex: *k.FirstMessageIndex,
		ForwardedCount:    *k.ForwardedCount,
		IsVerified:        *k.IsVerified,
		SessionData:       k.SessionData,
	}, nil
}

// backupKeysTarget is what a /room_keys/keys path names: the version (the
// query's version, required), and a room and a session or "" for all.
func backupKeysTarget(r *http.Request) (version, roomID, sessionID string, err error) {
	q := r.URL.Query()
	if !q.Has("version") {
		return "", "", "", httputil.MissingParam("version is required")
	}
	v := httputil.Vars(r)
	if v["roomId"] != "" {
		if err := checkRoomID(v["roomId"]); err != nil {
			return "", "", "", err
		}
	}
	return q.Get("version"), v["roomId"], v["sessionId"], nil
}

// GET /v3/room_keys/keys[/{roomId}[/{sessionId}]]?version=: every room's
// keys as {"rooms": ...}, a room's as {"sessions": ...} (empty when it has
// none), a session's as its KeyBackupData (404 when absent).
func (rt *Routes) getBackupKeys(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	version, roomID, sessionID, err := backupKeysTarget(r)
	if err != nil {
		return err
	}
	keys, err := rt.users.BackupKeys(r.Context(), dev.Localpart, version, roomID, sessionID)
	if err != nil {
		return err
	}
	switch {
	case sessionID != "":
		httputil.WriteJSON(w, http.StatusOK, keys[roomID][sessionID])
	case roomID != "":
		httputil.WriteJSON(w, http.StatusOK, roomKeysBody(keys[roomID]))
	default:
		rooms := make(map[string]any, len(keys))
		for id, sessions := range keys {
			rooms[id] = roomKeysBody(sessions)
		}
		httputil.WriteJSON(w, http.StatusOK, map[string]any{"rooms": rooms})
	}
	return nil
}

func roomKeysBody(sessions map[string]api.BackupKey) map[string]any {
	if sessions == nil {
		sessions = map[string]api.BackupKey{}
	}
	return map[string]any{"sessions": sessions}
}

// PUT /v3/room_keys/keys[/{roomId}[/{sessionId}]]?version=: the body is
// {"rooms": ...}, a room's {"sessions": ...} or one KeyBackupData, as the
// path says. Keys go to the current version only.
func (rt *Routes) putBackupKeys(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	version, roomID, sessionID, err := backupKeysTarget(r)
	if err != nil {
		return err
	}
	keys, err := readBackupKeys(r, roomID, sessionID)
	if err != nil {
		return err
	}
	state, err := rt.users.PutBackupKeys(r.Context(), dev.Localpart, version, keys)
	if err != nil {
		return err
	}
	writeBackupState(w, state)
	return nil
}

// readBackupKeys reads the body of a key upload whose path names roomID
// and sessionID (or not) and checks every key and room ID.
func readBackupKeys(r *http.Request, roomID, sessionID string) (api.BackupKeys, error) {
	rooms := map[string]roomKeysRequest{}
	switch {
	case sessionID != "":
		var k backupKeyRequest
		if err := httputil.ReadJSON(r, &k); err != nil {
			return nil, err
		}
		rooms[roomID] = roomKeysRequest{Sessions: map[string]backupKeyRequest{sessionID: k}}
	case roomID != "":
		var room roomKeysRequest
		if err := httputil.ReadJSON(r, &room); err != nil {
			return nil, err
		}
		if room.Sessions == nil {
			return nil, httputil.BadJSON("sessions is required")
		}
		rooms[roomID] = room
	default:
		var req struct {
			Rooms map[string]roomKeysRequest `json:"rooms"`
		}
		if err := httputil.ReadJSON(r, &req); err != nil {
			return nil, err
		}
		if req.Rooms == nil {
			return nil, httputil.BadJSON("rooms is required")
		}
		rooms = req.Rooms
	}
	return checkBackupKeys(rooms)
}

// checkBackupKeys checks an upload's room IDs and keys.
func checkBackupKeys(rooms map[string]roomKeysRequest) (api.BackupKeys, error) {
	out := make(api.BackupKeys, len(rooms))
	for roomID, room := range rooms {
		if err := checkRoomID(roomID); err != nil {
			return nil, err
		}
		if room.Sessions == nil {
			return nil, httputil.BadJSON("%s: sessions is required", roomID)
		}
		out[roomID] = make(map[string]api.BackupKey, len(room.Sessions))
		for sessionID, k := range room.Sessions {
			if sessionID == "" {
				return nil, httputil.InvalidParam("%s: empty session ID", roomID)
			}
			key, err := k.key(roomID, sessionID)
			if err != nil {
				return nil, err
			}
			out[roomID][sessionID] = key
		}
	}
	return out, nil
}

// DELETE /v3/room_keys/keys[/{roomId}[/{sessionId}]]?version=
func (rt *Routes) deleteBackupKeys(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	version, roomID, sessionID, err := backupKeysTarget(r)
	if err != nil {
		return err
	}
	state, err := rt.users.DeleteBackupKeys(r.Context(), dev.Localpart, version, roomID, sessionID)
	if err != nil {
		return err
	}
	writeBackupState(w, state)
	return nil
}

// writeBackupState answers a key write or deletion (spec:
// RoomKeysUpdateResponse).
func writeBackupState(w http.ResponseWriter, s api.BackupState) {
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"etag": s.ETag, "count": s.Count})
}
