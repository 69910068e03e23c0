package federationapi

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/myelin-im/myelin/internal/bus"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// Outbound EDUs (spec: server-server API, "EDUs"): to-device messages and
// local users' device-list updates, queued per destination like PDUs.

// edu is an EDU as queued.
type edu struct {
	Type    string `json:"edu_type"`
	Content any    `json:"content"`
}

// directToDevice is m.direct_to_device's content (spec: "Send-to-device
// messaging").
type directToDevice struct {
	Sender    string                                `json:"sender"`
	Type      string                                `json:"type"`
	MessageID string                                `json:"message_id"`
	Messages  map[string]map[string]json.RawMessage `json:"messages"`
}

// onToDeviceRemote sends one server's share of a send-to-device request as
// an m.direct_to_device EDU (spec: "Send-to-device messaging"). The user API
// published it in the send's transaction with its message ID, so a
// redelivery queues the same EDU, which the receiver stores once.
func (f *FederationAPI) onToDeviceRemote(ctx context.Context, msg *bus.Message) error {
	var send userapi.RemoteToDeviceSend
	if err := json.Unmarshal(msg.Body, &send); err != nil || send.Server == "" || send.Server == string(f.name) {
		return nil
	}
	body, err := json.Marshal(edu{Type: "m.direct_to_device", Content: directToDevice{
		Sender: send.Sender, Type: send.Type, MessageID: send.MessageID, Messages: send.Messages,
	}})
	if err != nil {
		return err
	}
	return f.queues.EnqueueEDU(ctx, []string{send.Server}, body)
}

// deviceListGroup is the federation component's consumer group on the
// user API's device-list topic.
const deviceListGroup = "federationapi"

// deviceListUpdate is m.device_list_update's content (spec: server-server
// API, "m.device_list_update").
type deviceListUpdate struct {
	UserID      string          `json:"user_id"`
	DeviceID    string          `json:"device_id"`
	DisplayName string          `json:"device_display_name,omitempty"`
	StreamID    int64           `json:"stream_id"`
	PrevID      []int64         `json:"prev_id,omitempty"`
	Deleted     bool            `json:"deleted,omitempty"`
	Keys        json.RawMessage `json:"keys,omitempty"`
}

// onDeviceList sends a local user's device change to every server that
// shares a room with the user (spec: "Device Management": servers share
// device lists with the servers of the rooms they share). The bus keeps
// one user's changes in order, so each update's prev_id is the previous
// one's stream_id.
func (f *FederationAPI) onDeviceList(ctx context.Context, msg *bus.Message) error {
	var ch userapi.DeviceListChange
	if err := json.Unmarshal(msg.Body, &ch); err != nil {
		return nil
	}
	user, err := spec.NewUserID(ch.UserID, true)
	if err != nil || user.Domain() != f.name || f.opts.Profiles == nil {
		return nil // another server's user: their server tells the others
	}
	dests, err := f.serversSharingRooms(ctx, ch.UserID)
	if err != nil || len(dests) == 0 {
		return err
	}
	if ch.DeviceID == "" {
		// No device: the user's cross-signing keys or their signatures.
		return f.sendSigningKeyUpdate(ctx, *user, dests)
	}
	up := deviceListUpdate{UserID: ch.UserID, DeviceID: ch.DeviceID, StreamID: ch.Pos, Deleted: ch.Deleted}
	if ch.PrevPos > 0 {
		up.PrevID = []int64{ch.PrevPos}
	}
	if !ch.Deleted {
		if err := f.describeDevice(ctx, *user, &up); err != nil {
			return err
		}
	}
	body, err := json.Marshal(edu{Type: "m.device_list_update", Content: up})
	if err != nil {
		return err
	}
	return f.queues.EnqueueEDU(ctx, dests, body)
}

// sendSigningKeyUpdate tells dests of a local user's master and
// self-signing keys (spec: "m.signing_key_update"), after a change of them
// or of a signature on them.
func (f *FederationAPI) sendSigningKeyUpdate(ctx context.Context, user spec.UserID, dests []string) error {
	xs, err := f.opts.Profiles.QueryCrossSigningKeys(ctx, "", []string{user.String()})
	if err != nil {
		return err
	}
	content := map[string]any{"user_id": user.String()}
	if k, ok := xs.Master[user.String()]; ok {
		content["master_key"] = k
	}
	if k, ok := xs.SelfSigning[user.String()]; ok {
		content["self_signing_key"] = k
	}
	body, err := json.Marshal(edu{Type: "m.signing_key_update", Content: content})
	if err != nil {
		return err
	}
	return f.queues.EnqueueEDU(ctx, dests, body)
}

// describeDevice adds a device's display name and keys to an update.
func (f *FederationAPI) describeDevice(ctx context.Context, user spec.UserID, up *deviceListUpdate) error {
	devices, err := f.opts.Profiles.Devices(ctx, localpart(user))
	if err != nil {
		return err
	}
	for _, d := range devices {
		if string(d.ID) == up.DeviceID {
			up.DisplayName = d.DisplayName
		}
	}
	keys, err := f.opts.Profiles.QueryKeys(ctx, map[string][]userapi.DeviceID{user.String(): {userapi.DeviceID(up.DeviceID)}})
	if err != nil {
		return err
	}
	up.Keys = keys[user.String()][userapi.DeviceID(up.DeviceID)]
	return nil
}

// serversSharingRooms are the other servers with a user joined to a room
// the user is joined to.
func (f *FederationAPI) serversSharingRooms(ctx context.Context, userID string) ([]string, error) {
	if f.opts.Rooms == nil {
		return nil, nil
	}
	rooms, err := f.opts.Rooms.JoinedRooms(ctx, userID)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{string(f.name): true}
	var out []string
	for _, room := range rooms {
		servers, err := f.opts.Rooms.JoinedServers(ctx, room)
		if err != nil {
			return nil, err
		}
		for _, s := range servers {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

// sendDeviceListsOnJoin sends a local user who joined a room an
// m.device_list_update for each of their devices to the room's other
// servers, which may not have shared a room with the user before and so
// know nothing of their devices (Synapse does the same). The updates carry
// the user's current stream_id and no prev_id: a server holding an older
// list fetches it again.
func (f *FederationAPI) sendDeviceListsOnJoin(ctx context.Context, userID, roomID string) error {
	user, err := spec.NewUserID(userID, true)
	if err != nil || user.Domain() != f.name || f.opts.Profiles == nil || f.opts.Rooms == nil || f.queues == nil {
		return nil
	}
	dests := f.otherServersIn(ctx, roomID)
	if len(dests) == 0 {
		return nil
	}
	stream, err := f.opts.Profiles.DeviceListStreamID(ctx, userID)
	if err != nil {
		return err
	}
	devices, err := f.opts.Profiles.Devices(ctx, localpart(*user))
	if err != nil {
		return err
	}
	for _, d := range devices {
		up := deviceListUpdate{UserID: userID, DeviceID: string(d.ID), StreamID: stream}
		if err := f.describeDevice(ctx, *user, &up); err != nil {
			return err
		}
		body, err := json.Marshal(edu{Type: "m.device_list_update", Content: up})
		if err != nil {
			return err
		}
		if err := f.queues.EnqueueEDU(ctx, dests, body); err != nil {
			return err
		}
	}
	return nil
}
