// Package api is what other components may know of the federation
// component: the interfaces through which they reach other servers, each
// named for the need of the component that calls it, and the errors those
// return. It imports no other Myelin package, so any component's internals
// (the roomserver's included) may use it without a cycle.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/matrix-org/gomatrixserverlib"
)

// Errors of the federation component, compared with errors.Is.
var (
	// ErrRemoteNotFound means the remote server answered 404: the user,
	// profile, alias or room does not exist there.
	ErrRemoteNotFound = errors.New("federationapi: not found on the remote server")
	// ErrRemoteUnavailable means the remote server could not be asked, or
	// gave no answer a client could act on (see RemoteError).
	ErrRemoteUnavailable = errors.New("federationapi: remote server unavailable")
	// ErrNoServers means no server could be asked to join a room through,
	// to reject an invite through, or for a room's history.
	ErrNoServers = errors.New("federationapi: no server to join through")
)

// RemoteRooms joins and leaves rooms this server is not in, and reads other
// servers' directories (the client API uses it).
type RemoteRooms interface {
	// JoinRemote joins userID to roomID through the first of servers that
	// lets it, and returns the join event's ID.
	JoinRemote(ctx context.Context, roomID, userID string, servers []string, content map[string]any) (string, error)
	// CatchUp brings this server's copy of a room it is in up to date with
	// the first of servers that answers, and reports whether it learned
	// events: a local join no local user can authorise may only be behind
	// (a power-level change still on its way here).
	CatchUp(ctx context.Context, roomID, userID string, servers []string) bool
	// LeaveRemote rejects an invite to, or rescinds a knock on, a room this
	// server is not in.
	LeaveRemote(ctx context.Context, roomID, userID string) error
	// ResolveRemoteAlias asks the alias's server for its room and servers.
	ResolveRemoteAlias(ctx context.Context, alias string) (roomID string, servers []string, err error)
	// RemotePublicRooms asks another server for a page of its directory.
	RemotePublicRooms(ctx context.Context, server string, body json.RawMessage) (json.RawMessage, error)
	RemoteKnocker
}

// RemoteKnocker knocks on rooms this server is not in (the client API uses
// it; LeaveRemote rescinds such a knock).
type RemoteKnocker interface {
	// KnockRemote knocks userID on roomID through the first of servers
	// that lets it; content is the knock's content (reason, profile).
	KnockRemote(ctx context.Context, roomID, userID string, servers []string, content map[string]any) error
}

// RemoteProfiles fetches profiles from other servers (the client API uses
// it): errors wrapping ErrRemoteNotFound mean the user has none, others
// (a *RemoteError, ErrRemoteUnavailable among them) that the server could
// not or would not say.
type RemoteProfiles interface {
	RemoteProfile(ctx context.Context, userID string) (map[string]json.RawMessage, error)
}

// Remote is the federation component as the client API uses it.
type Remote interface {
	RemoteRooms
	RemoteProfiles
	RemoteKeys
	RemoteSpaces
}

// RemoteInviter has an invite for a user of another server signed by that
// server (spec: PUT /_matrix/federation/v2/invite), which then delivers it
// to the user (the roomserver uses it). A refusal, or no usable answer, is
// a *RemoteError, which callers pass through to the client.
type RemoteInviter interface {
	SendInvite(ctx context.Context, invite gomatrixserverlib.PDU, inviteRoomState []json.RawMessage) (gomatrixserverlib.PDU, error)
}

// Backfiller fetches a room's history from before the oldest events this
// server has, from the room's other servers (the sync component uses it
// for /messages).
type Backfiller interface {
	// Backfill returns up to limit events before from (checked and stored
	// by the roomserver), oldest first; ErrNoServers when no server can be
	// asked.
	Backfill(ctx context.Context, roomID string, from []string, limit int) ([]gomatrixserverlib.PDU, error)
	// TimestampToEvent asks the room's other servers for the event nearest
	// ts, after it when forward, else before it; ErrNoServers when no
	// server can be asked.
	TimestampToEvent(ctx context.Context, roomID string, ts int64, forward bool) (EventAt, error)
}

// EventAt is an event found by its time (spec: server-server API, GET
// /_matrix/federation/v1/timestamp_to_event).
type EventAt struct {
	EventID        string `json:"event_id"`
	OriginServerTS int64  `json:"origin_server_ts"`
}

// FederationAPI is every method the federation component offers other
// components.
type FederationAPI interface {
	Remote
	RemoteInviter
	Backfiller
}

// KeyFailure is a failures entry of /keys/query or /keys/claim: why a
// server's users' keys are missing (spec: client-server API, "POST
// /keys/query", failures).
type KeyFailure struct {
	Status  int    `json:"status"`
	Message string `json:"message"`
}

// RemoteKeyQuery is what other servers said of their users' keys, merged,
// in the shape of the client API's /keys/query answer.
type RemoteKeyQuery struct {
	// DeviceKeys is user ID → device ID → DeviceKeys object.
	DeviceKeys map[string]map[string]json.RawMessage
	// MasterKeys and SelfSigningKeys are users' cross-signing keys.
	MasterKeys      map[string]json.RawMessage
	SelfSigningKeys map[string]json.RawMessage
	// Failures is server name → why it gave no answer.
	Failures map[string]KeyFailure
}

// RemoteKeys reads other servers' users' keys and sends to-device
// messages to them (the client API uses it; spec: server-server API,
// "End-to-End Encryption", "Send-to-device messaging"). Servers are asked
// in parallel; one that does not answer within timeout is a failure.
type RemoteKeys interface {
	// QueryRemoteKeys returns the device keys of other servers' users
	// (user ID → device IDs, none: every device), from the cache of their
	// device lists where it is current.
	QueryRemoteKeys(ctx context.Context, query map[string][]string, timeout time.Duration) (RemoteKeyQuery, error)
	// ClaimRemoteKeys claims one-time keys of other servers' users' devices
	// (user ID → device ID → algorithm): user ID → device ID → key ID →
	// key, and failures by server name.
	ClaimRemoteKeys(
		ctx context.Context, claim map[string]map[string]string, timeout time.Duration,
	) (map[string]map[string]map[string]json.RawMessage, map[string]KeyFailure, error)
}
