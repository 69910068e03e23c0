package export

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	mediaapi "github.com/myelin-im/myelin/mediaapi/api"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// UserFormat names the user export's format (manifest.json's "format").
const UserFormat = "myelin-user-export/1"

// Names of a user export's files (besides media.jsonl and media/).
const (
	AccountFile     = "account.json"
	ProfileFile     = "profile.json"
	AccountDataFile = "account_data.json"
	DevicesFile     = "devices.json"
	RoomsFile       = "rooms.json"
	MessagesFile    = "messages.jsonl"
	SummaryFile     = "summary.json"
)

// Users is what a user export reads of the user API.
type Users interface {
	Account(ctx context.Context, localpart userapi.Localpart) (*userapi.Account, error)
	Profile(ctx context.Context, localpart userapi.Localpart) (map[string]json.RawMessage, error)
	Devices(ctx context.Context, localpart userapi.Localpart) ([]userapi.Device, error)
	AccountDataSince(ctx context.Context, localpart userapi.Localpart, since int64) ([]userapi.AccountDataEntry, int64, error)
}

// UserOptions are what a user export reads from.
type UserOptions struct {
	ServerName string
	Users      Users
	Rooms      Rooms
	// Media copies the user's uploads; nil lists none.
	Media    mediaapi.Exporter
	PageSize int
	Now      func() time.Time
}

// UserSummary counts what a user export holds.
type UserSummary struct {
	UserID     string `json:"user_id"`
	ExportedTS int64  `json:"exported_ts"`
	Rooms      int    `json:"rooms"`
	Messages   int64  `json:"events_sent"`
	Uploads    int    `json:"uploads"`
}

// UserEventLine is one line of messages.jsonl: an event the user sent,
// with its room, and its original when redacted and still kept.
type UserEventLine struct {
	RoomID string `json:"room_id"`
	EventLine
	Original json.RawMessage `json:"original,omitempty"`
}

// ErrNotLocalUser: the user ID is not one of this server's accounts.
var ErrNotLocalUser = errors.New("export: not a user of this server")

// User exports what this server holds of a local user, for a data
// subject's request: account, profile, account data, devices, the rooms
// they have a membership in and every event they sent there, and the
// media they uploaded.
func User(ctx context.Context, o UserOptions, userID string, sink *Sink) (UserSummary, error) {
	if o.PageSize <= 0 {
		o.PageSize = 500
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	sum := UserSummary{UserID: userID, ExportedTS: o.Now().UnixMilli()}
	lp, ok := userapi.LocalpartOf(userID, o.ServerName)
	if !ok {
		return sum, ErrNotLocalUser
	}
	acct, err := o.Users.Account(ctx, lp)
	if errors.Is(err, userapi.ErrNoSuchAccount) {
		return sum, ErrNotLocalUser
	}
	if err != nil {
		return sum, err
	}
	if err := writeUserData(ctx, o, lp, acct, sink); err != nil {
		return sum, err
	}
	rooms, err := o.Rooms.RoomsOfUser(ctx, userID)
	if err != nil {
		return sum, err
	}
	sum.Rooms = len(rooms)
	if err := sink.WriteJSON(RoomsFile, rooms); err != nil {
		return sum, err
	}
	if sum.Messages, err = writeUserEvents(ctx, o, userID, rooms, sink); err != nil {
		return sum, err
	}
	if sum.Uploads, err = writeUploads(ctx, o, userID, sink); err != nil {
		return sum, err
	}
	if err := sink.WriteJSON(SummaryFile, sum); err != nil {
		return sum, err
	}
	return sum, sink.Finish()
}

type deviceJSON struct {
	DeviceID    string `json:"device_id"`
	DisplayName string `json:"display_name,omitempty"`
	LastSeenIP  string `json:"last_seen_ip,omitempty"`
	LastSeenTS  int64  `json:"last_seen_ts,omitempty"`
}

type accountDataJSON struct {
	RoomID  string          `json:"room_id,omitempty"`
	Type    string          `json:"type"`
	Content json.RawMessage `json:"content"`
}

// writeUserData writes account.json, profile.json, account_data.json and
// devices.json.
func writeUserData(ctx context.Context, o UserOptions, lp userapi.Localpart, acct *userapi.Account, sink *Sink) error {
	if err := sink.WriteJSON(AccountFile, map[string]any{"user_id": acct.UserID, "admin": acct.IsAdmin,
		"deactivated": acct.Deactivated, "creation_ts": acct.CreatedTS}); err != nil {
		return err
	}
	profile, err := o.Users.Profile(ctx, lp)
	if err != nil {
		return fmt.Errorf("export: profile: %w", err)
	}
	if err := sink.WriteJSON(ProfileFile, profile); err != nil {
		return err
	}
	entries, _, err := o.Users.AccountDataSince(ctx, lp, -1)
	if err != nil {
		return fmt.Errorf("export: account data: %w", err)
	}
	ad := make([]accountDataJSON, len(entries))
	for i, e := range entries {
		ad[i] = accountDataJSON{RoomID: e.RoomID, Type: e.Type, Content: e.Content}
	}
	if err := sink.WriteJSON(AccountDataFile, ad); err != nil {
		return err
	}
	devs, err := o.Users.Devices(ctx, lp)
	if err != nil {
		return fmt.Errorf("export: devices: %w", err)
	}
	out := make([]deviceJSON, len(devs))
	for i, d := range devs {
		out[i] = deviceJSON{DeviceID: string(d.ID), DisplayName: d.DisplayName, LastSeenIP: d.LastSeenIP, LastSeenTS: d.LastSeenTS}
	}
	return sink.WriteJSON(DevicesFile, out)
}

// writeUserEvents writes messages.jsonl: every event the user sent in each
// room, in DAG order, a page at a time.
func writeUserEvents(ctx context.Context, o UserOptions, userID string, rooms []roomapi.UserRoom, sink *Sink) (n int64, err error) {
	lines, err := sink.createLines(MessagesFile)
	if err != nil {
		return 0, err
	}
	defer func() { err = closeAll(err, lines) }()
	for _, r := range rooms {
		var pos roomapi.ExportPosition
		for {
			page, err := o.Rooms.ExportEvents(ctx, r.RoomID, pos, o.PageSize, userID)
			if err != nil {
				return n, err
			}
			for _, e := range page {
				n++
				if err := lines.write(UserEventLine{RoomID: r.RoomID, Original: e.Original, EventLine: EventLine{
					Order: n, EventID: e.ID, Type: e.Type, StateKey: e.StateKey, Sender: e.Sender,
					OriginServerTS: e.OriginServerTS, Depth: e.Depth, Outlier: e.Outlier, Rejected: e.Rejected,
					RedactedBy: e.RedactedBy, Event: e.PDU,
				}}); err != nil {
					return n, err
				}
			}
			if len(page) < o.PageSize {
				break
			}
			pos = page[len(page)-1].Position
		}
	}
	return n, nil
}

// writeUploads copies the media the user uploaded.
func writeUploads(ctx context.Context, o UserOptions, userID string, sink *Sink) (int, error) {
	if o.Media == nil {
		_, _, err := copyMedia(ctx, nil, sink, nil)
		return 0, err
	}
	uploads, err := o.Media.UploadsOf(ctx, userID)
	if err != nil {
		return 0, err
	}
	uris := make([]mediaapi.MXC, len(uploads))
	for i, md := range uploads {
		uris[i] = md.MXC()
	}
	_, missing, err := copyMedia(ctx, o.Media, sink, uris)
	return len(uris) - int(missing), err
}
