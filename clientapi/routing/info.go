package routing

import (
	"errors"
	"github.com/matrix-org/gomatrixserverlib"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
	"net/http"
	"strings"

	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/userapi/api"
)

// SupportedVersions lists the spec versions advertised by /versions.
//
// NOTSPEC: a version is advertised once the endpoints a client relies on for
// it work. v1.11 is authenticated media (the media component). v1.12 is
// thumbnails with their required Content-Type and Content-Disposition;
// the rest of it is served (via on joins, unread markers as account data)
// or concerns what this server does not have (guest access to media,
// account locking), the 403 for profile lookups is optional, and the
// freeze of the unauthenticated media paths is a SHOULD left to
// legacy_media. v1.13 and
// v1.14 add content reporting (/report), v1.15 room summaries, later ones
// room version 12, which are not served yet. Profile fields (v1.16) work
// regardless and are advertised through the m.profile_fields capability.
var SupportedVersions = []string{"v1.1", "v1.2", "v1.3", "v1.4", "v1.5", "v1.6", "v1.7", "v1.8", "v1.9", "v1.10", "v1.11", "v1.12"}

// UnstableFeatures lists the client API's own unstable features, advertised
// by /versions with those of the other components (Options.UnstableFeatures):
// the sync WebSocket, dehydrated devices (MSC3814) and friends.
var UnstableFeatures = map[string]bool{"im.myelin.sync_ws": true, "org.matrix.msc3814": true, "im.myelin.friends": true,
	// MSC2666: clients look for these flags before asking for mutual rooms
	// at the unstable path and at the stable one (GET /v1/mutual_rooms,
	// spec v1.19, which /versions does not advertise yet).
	"uk.half-shot.msc2666.query_mutual_rooms": true, "uk.half-shot.msc2666.query_mutual_rooms.stable": true}

// GET /_matrix/client/versions
func (rt *Routes) versions(w http.ResponseWriter, r *http.Request) error {
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"versions": SupportedVersions, "unstable_features": rt.unstable})
	return nil
}

// GET /.well-known/matrix/client
func (rt *Routes) wellKnown(w http.ResponseWriter, r *http.Request) error {
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"m.homeserver": map[string]string{"base_url": rt.baseURL(r)}})
	return nil
}

// baseURL is the client API's base URL without a trailing '/': the
// configured one, or the one the request came in on.
func (rt *Routes) baseURL(r *http.Request) string {
	base := rt.opts.WellKnownBaseURL
	if base == "" {
		host := r.Host
		if host == "" {
			host = rt.opts.ServerName
		}
		scheme := "https"
		if r.TLS == nil {
			scheme = "http"
		}
		base = scheme + "://" + host
	}
	return strings.TrimSuffix(base, "/")
}

// GET /v3/capabilities
func (rt *Routes) capabilities(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	enabled := map[string]bool{"enabled": true}
	caps := map[string]any{
		"m.change_password": enabled,
		"m.set_displayname": enabled,
		"m.set_avatar_url":  enabled,
		"m.3pid_changes":    enabled,
		"m.profile_fields":  enabled,
		"m.get_login_token": map[string]bool{"enabled": false},
		"m.room_versions":   roomVersions(rt.opts.DefaultRoomVersion),
	}
	// A server admin may lock and suspend accounts through the admin API
	// (spec v1.18: m.account_moderation, omitted for everyone else).
	if dev.AppServiceID == "" {
		acct, err := rt.users.Account(r.Context(), dev.Localpart)
		if err != nil && !errors.Is(err, api.ErrNoSuchAccount) {
			return err
		}
		if acct != nil && acct.IsAdmin {
			caps["m.account_moderation"] = map[string]bool{"suspend": true, "lock": true}
		}
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"capabilities": caps})
	return nil
}

// roomVersions is the m.room_versions capability: every stable version this
// server can create or join, and the default (def, or the roomserver's
// built-in one when def is "").
func roomVersions(def string) map[string]any {
	if def == "" {
		def = roomapi.DefaultRoomVersion
	}
	available := map[string]string{}
	for v := range gomatrixserverlib.StableRoomVersions() {
		available[string(v)] = "stable"
	}
	return map[string]any{"default": def, "available": available}
}
