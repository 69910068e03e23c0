package pusher

import (
	"encoding/json"

	syncapi "github.com/myelin-im/myelin/syncapi/api"
	"github.com/myelin-im/myelin/userapi/api"
)

// The body of POST /_matrix/push/v1/notify (spec: Push Gateway API).
type notifyRequest struct {
	Notification notification `json:"notification"`
}

type notification struct {
	EventID           string          `json:"event_id,omitempty"`
	RoomID            string          `json:"room_id,omitempty"`
	Type              string          `json:"type,omitempty"`
	Sender            string          `json:"sender,omitempty"`
	SenderDisplayName string          `json:"sender_display_name,omitempty"`
	RoomName          string          `json:"room_name,omitempty"`
	UserIsTarget      bool            `json:"user_is_target,omitempty"`
	Prio              string          `json:"prio,omitempty"`
	Content           json.RawMessage `json:"content,omitempty"`
	Counts            counts          `json:"counts"`
	Devices           []device        `json:"devices"`
}

// counts leaves zero counts out ("Counts whose value is zero should be
// omitted").
type counts struct {
	Unread int `json:"unread,omitempty"`
}

type device struct {
	AppID     string                     `json:"app_id"`
	PushKey   string                     `json:"pushkey"`
	PushKeyTS int64                      `json:"pushkey_ts,omitempty"`
	Data      map[string]json.RawMessage `json:"data"`
	Tweaks    map[string]json.RawMessage `json:"tweaks"`
}

// notifyResponse is the push gateway's answer.
type notifyResponse struct {
	Rejected []string `json:"rejected"`
}

// eventFields are what the full format copies from the event.
type eventFields struct {
	Type     string          `json:"type"`
	Sender   string          `json:"sender"`
	StateKey *string         `json:"state_key"`
	Content  json.RawMessage `json:"content"`
}

// buildRequest is the notify request of one notification for one pusher.
// The full format carries the event's type, sender, names and content;
// "event_id_only" leaves all of that out for privacy (only event_id,
// room_id, counts, devices and the priority, which tells nothing of the
// event, go through the push provider).
func buildRequest(p api.Pusher, n *syncapi.Notification, u syncapi.NotifiedUser) ([]byte, error) {
	data, format := gatewayData(p.Data)
	tweaks := tweaksOf(u.Actions)
	req := notifyRequest{Notification: notification{
		EventID: n.EventID,
		RoomID:  n.RoomID,
		Prio:    prio(u, tweaks),
		Counts:  counts{Unread: u.Unread},
		Devices: []device{{AppID: p.AppID, PushKey: p.PushKey, PushKeyTS: p.PushKeyTS, Data: data, Tweaks: tweaks}},
	}}
	if format != "event_id_only" {
		var ev eventFields
		if len(n.Event) > 0 {
			if err := json.Unmarshal(n.Event, &ev); err != nil {
				return nil, err
			}
		}
		r := &req.Notification
		r.Type, r.Sender, r.Content = ev.Type, ev.Sender, ev.Content
		r.SenderDisplayName, r.RoomName = n.SenderDisplayName, n.RoomName
		r.UserIsTarget = ev.Type == "m.room.member" && ev.StateKey != nil && *ev.StateKey == u.UserID
		if string(r.Content) == "null" {
			r.Content = nil
		}
	}
	return json.Marshal(req)
}

// gatewayData is the pusher's data as the gateway gets it: everything but
// url, format included (spec: POST /pushers/set, "Servers MUST forward the
// entire content including format and any custom keys but excluding
// url"); and the format.
func gatewayData(raw json.RawMessage) (map[string]json.RawMessage, string) {
	data := map[string]json.RawMessage{}
	_ = json.Unmarshal(raw, &data) // checked when the pusher was set
	delete(data, "url")
	var format string
	_ = json.Unmarshal(data["format"], &format)
	return data, format
}

// tweaksOf collects the set_tweak actions (spec: "Actions"): a tweak's
// value, or true for a highlight tweak without one.
func tweaksOf(actions []json.RawMessage) map[string]json.RawMessage {
	tweaks := map[string]json.RawMessage{}
	for _, a := range actions {
		var t struct {
			SetTweak *string        `json:"set_tweak"`
			Value    json.RawMessage `json:"value"`
		}
		if json.Unmarshal(a, &t) != nil || t.SetTweak == nil {
			continue // "notify" and other plain strings
		}
		switch {
		case len(t.Value) > 0:
			tweaks[*t.SetTweak] = t.Value
		case *t.SetTweak == "highlight":
			tweaks[*t.SetTweak] = json.RawMessage("true")
		}
	}
	return tweaks
}

// prio is "high" for a notification that makes a sound or highlights
// (the user is meant to be interrupted) and "low" for the rest, which the
// gateway may deliver when it saves the phone's battery (spec: prio).
func prio(u syncapi.NotifiedUser, tweaks map[string]json.RawMessage) string {
	if u.Highlight || len(tweaks["sound"]) > 0 || string(tweaks["highlight"]) == "true" {
		return "high"
	}
	return "low"
}
