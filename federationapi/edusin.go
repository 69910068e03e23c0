package federationapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/matrix-org/gomatrixserverlib/spec"

	userapi "github.com/myelin-im/myelin/userapi/api"
)

// Inbound EDUs of a transaction (spec: server-server API, "EDUs"). Each
// names users of the sending server only: an EDU about another server's
// user is dropped. EDU kinds not handled here are ignored. Server ACLs
// apply to the EDUs of a room (typing, receipts: ephemeral.go).

// resyncTimeout bounds one fetch of a user's device list.
const resyncTimeout = 30 * time.Second

// inputEDUs handles a transaction's EDUs. Only a failure to store is an
// error (the sender then retries the transaction); a malformed EDU is
// dropped.
func (f *FederationAPI) inputEDUs(ctx context.Context, origin spec.ServerName, edus []json.RawMessage) error {
	if f.opts.Profiles == nil {
		return nil
	}
	for _, raw := range edus {
		var e struct {
			Type    string          `json:"edu_type"`
			Content json.RawMessage `json:"content"`
		}
		if json.Unmarshal(raw, &e) != nil {
			continue
		}
		var err error
		switch e.Type {
		case "m.direct_to_device":
			err = f.inputToDevice(ctx, origin, e.Content)
		case "m.device_list_update":
			err = f.inputDeviceListUpdate(ctx, origin, e.Content)
		case "m.signing_key_update":
			err = f.inputSigningKeyUpdate(ctx, origin, e.Content)
		case "m.typing":
			err = f.inputTyping(ctx, origin, e.Content)
		case "m.receipt":
			err = f.inputReceipt(ctx, origin, e.Content)
		case "m.presence":
			err = f.inputPresence(ctx, origin, e.Content)
		}
		if err != nil {
			return fmt.Errorf("federationapi: %s EDU from %s: %w", e.Type, origin, err)
		}
	}
	return nil
}

// isUserOf reports whether userID is a user of server.
func isUserOf(userID string, server spec.ServerName) bool {
	u, err := spec.NewUserID(userID, true)
	return err == nil && u.Domain() == server
}

// inputToDevice stores an m.direct_to_device EDU's messages for local
// users (spec: "Send-to-device messaging"), once per sender and
// message_id.
func (f *FederationAPI) inputToDevice(ctx context.Context, origin spec.ServerName, content json.RawMessage) error {
	var m directToDevice
	if json.Unmarshal(content, &m) != nil || m.Type == "" || m.MessageID == "" || !isUserOf(m.Sender, origin) {
		f.opts.Log.WithField("origin", origin).Warn("dropping a malformed or misattributed m.direct_to_device EDU")
		return nil
	}
	for userID := range m.Messages {
		if !isUserOf(userID, f.name) {
			delete(m.Messages, userID)
		}
	}
	return f.opts.Profiles.ReceiveToDevice(ctx, m.Sender, m.Type, m.MessageID, m.Messages)
}

// inputDeviceListUpdate applies an m.device_list_update to the cached
// device list of its user, fetching the whole list again when the update
// does not follow the one cached (spec: "m.device_list_update", prev_id).
func (f *FederationAPI) inputDeviceListUpdate(ctx context.Context, origin spec.ServerName, content json.RawMessage) error {
	var up deviceListUpdate
	if json.Unmarshal(content, &up) != nil || up.DeviceID == "" || !isUserOf(up.UserID, origin) {
		f.opts.Log.WithField("origin", origin).Warn("dropping a malformed or misattributed m.device_list_update EDU")
		return nil
	}
	resync, err := f.opts.Profiles.UpdateRemoteDevice(ctx, userapi.RemoteDeviceUpdate{
		UserID: up.UserID, DeviceID: up.DeviceID, Keys: up.Keys, DisplayName: up.DisplayName,
		Deleted: up.Deleted, StreamID: up.StreamID, PrevIDs: up.PrevID,
	})
	if err == nil && resync {
		go f.resyncDeviceList(context.WithoutCancel(ctx), origin, up.UserID)
	}
	return err
}

// inputSigningKeyUpdate: a user's cross-signing keys changed (spec:
// "m.signing_key_update"); the cached list is fetched again when next
// needed, and local users sharing a room hear of the change.
func (f *FederationAPI) inputSigningKeyUpdate(ctx context.Context, origin spec.ServerName, content json.RawMessage) error {
	var up struct {
		UserID string `json:"user_id"`
	}
	if json.Unmarshal(content, &up) != nil || !isUserOf(up.UserID, origin) {
		return nil
	}
	return f.opts.Profiles.MarkRemoteStale(ctx, up.UserID)
}

// remoteDevices is GET /user/devices' answer.
type remoteDevices struct {
	StreamID int64 `json:"stream_id"`
	Devices  []struct {
		DeviceID    string          `json:"device_id"`
		DisplayName string          `json:"device_display_name"`
		Keys        json.RawMessage `json:"keys"`
	} `json:"devices"`
	MasterKey      json.RawMessage `json:"master_key"`
	SelfSigningKey json.RawMessage `json:"self_signing_key"`
}

// resyncDeviceList fetches a user's whole device list from their server
// (spec: "GET /_matrix/federation/v1/user/devices/{userId}") and caches it;
// local users sharing a room hear of the change. On failure the list stays
// stale and is asked for by the next key query.
func (f *FederationAPI) resyncDeviceList(ctx context.Context, server spec.ServerName, userID string) {
	ctx, cancel := context.WithTimeout(ctx, resyncTimeout)
	defer cancel()
	log := f.opts.Log.WithField("user_id", userID)
	var ans remoteDevices
	err := f.ask(ctx, http.MethodGet, server, "/_matrix/federation/v1/user/devices/"+url.PathEscape(userID), nil, &ans)
	if err != nil {
		log.WithError(err).Warn("fetching a remote user's device list")
		return
	}
	list := userapi.RemoteDeviceList{
		UserID: userID, Devices: map[string]json.RawMessage{}, StreamID: ans.StreamID,
		MasterKey: ans.MasterKey, SelfSigningKey: ans.SelfSigningKey, Fresh: f.sharesRoom(ctx, userID),
	}
	for _, d := range ans.Devices {
		if len(d.Keys) != 0 && string(d.Keys) != "null" {
			list.Devices[d.DeviceID] = d.Keys
		}
	}
	if err := f.opts.Profiles.SetRemoteDeviceList(ctx, list, true); err != nil {
		log.WithError(err).Warn("caching a remote user's device list")
	}
}
