package routing_test

import (
	"maps"
	"net/http"
	"slices"
	"testing"

	"github.com/myelin-im/myelin/clientapi/routing"
	"github.com/myelin-im/myelin/internal/config"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/test/fixture"
)

// TestInfoHandlers covers info.go: /versions, the client well-known and
// capabilities.
func TestInfoHandlers(t *testing.T) {
	f := newServer(t, serverOpts{})
	alice := f.User(t, "alice")
	run(t, f, []call{
		{"versions", "GET", "/_matrix/client/versions", "", nil, 200, "", versions},
		{"versions by POST", "POST", "/_matrix/client/versions", "", nil, 405, "M_UNRECOGNIZED", nil},
		{"well-known from the request's host", "GET", "/.well-known/matrix/client", "", nil, 200, "", baseURL("http://example.com")},
		{"capabilities without token", "GET", "/capabilities", "", nil, 401, "M_MISSING_TOKEN", nil},
		{"capabilities", "GET", "/capabilities", alice.Token, nil, 200, "", capabilities},
		{"no account moderation for a user", "GET", "/capabilities", alice.Token, nil, 200, "", accountModeration(false)},
		{"account moderation for an admin", "GET", "/capabilities", f.AdminUser(t, "root").Token, nil, 200, "",
			accountModeration(true)},
	})
}

// accountModeration checks m.account_moderation: both true for an admin,
// absent otherwise.
func accountModeration(admin bool) func(t *testing.T, r *fixture.Response) {
	return func(t *testing.T, r *fixture.Response) {
		t.Helper()
		var body struct {
			Capabilities struct {
				Moderation *struct {
					Suspend bool `json:"suspend"`
					Lock    bool `json:"lock"`
				} `json:"m.account_moderation"`
			} `json:"capabilities"`
		}
		r.Decode(t, &body)
		m := body.Capabilities.Moderation
		if admin != (m != nil) || (m != nil && (!m.Suspend || !m.Lock)) {
			t.Fatalf("capabilities %s", r.Body)
		}
	}
}

// TestWellKnownConfigured: a configured base URL is advertised as it is,
// without a trailing slash.
func TestWellKnownConfigured(t *testing.T) {
	f := newServer(t, serverOpts{config: func(c *config.Config) { c.ClientAPI.WellKnownBaseURL = "https://matrix.test.local/" }})
	res := f.Do(t, http.MethodGet, "/.well-known/matrix/client", "", nil)
	res.Want(t, http.StatusOK)
	baseURL("https://matrix.test.local")(t, res)
}

// TestCapabilitiesConfiguredRoomVersion: /capabilities advertises the
// configured default room version.
func TestCapabilitiesConfiguredRoomVersion(t *testing.T) {
	f := newServer(t, serverOpts{config: func(c *config.Config) { c.RoomServer.DefaultRoomVersion = "10" }})
	alice := f.User(t, "alice")
	res := f.Do(t, http.MethodGet, "/_matrix/client/v3/capabilities", alice.Token, nil)
	res.Want(t, http.StatusOK)
	var body struct {
		Capabilities struct {
			RoomVersions struct {
				Default string `json:"default"`
			} `json:"m.room_versions"`
		} `json:"capabilities"`
	}
	res.Decode(t, &body)
	if body.Capabilities.RoomVersions.Default != "10" {
		t.Fatalf("capabilities %s, want default 10", res.Body)
	}
}

// TestVersionsOtherComponentsFeatures: the unstable features other
// components serve (the media component's transcription, true or false)
// are advertised beside the client API's own.
func TestVersionsOtherComponentsFeatures(t *testing.T) {
	for _, available := range []bool{true, false} {
		f := newServer(t, serverOpts{features: map[string]bool{"im.myelin.transcribe": available}})
		res := f.Do(t, http.MethodGet, "/_matrix/client/versions", "", nil)
		res.Want(t, http.StatusOK)
		var body struct {
			Unstable map[string]bool `json:"unstable_features"`
		}
		res.Decode(t, &body)
		// The client API's own (im.myelin.sync_ws, im.myelin.friends, …)
		// and the other components'.
		want := maps.Clone(routing.UnstableFeatures)
		want["im.myelin.transcribe"] = available
		if !maps.Equal(body.Unstable, want) {
			t.Errorf("unstable_features %v, want %v", body.Unstable, want)
		}
	}
}

func versions(t *testing.T, r *fixture.Response) {
	t.Helper()
	var body struct {
		Versions []string        `json:"versions"`
		Unstable map[string]bool `json:"unstable_features"`
	}
	r.Decode(t, &body)
	// v1.11 is authenticated media, v1.12 thumbnails; v1.13 needs content
	// reporting (see SupportedVersions).
	advertised := slices.Contains(body.Versions, "v1.1") && slices.Contains(body.Versions, "v1.12")
	if !advertised || slices.Contains(body.Versions, "v1.13") || body.Unstable == nil {
		t.Fatalf("versions %s", r.Body)
	}
}

func baseURL(want string) func(t *testing.T, r *fixture.Response) {
	return func(t *testing.T, r *fixture.Response) {
		t.Helper()
		var body struct {
			Homeserver struct {
				BaseURL string `json:"base_url"`
			} `json:"m.homeserver"`
		}
		r.Decode(t, &body)
		if body.Homeserver.BaseURL != want {
			t.Fatalf("base_url %s, want %s", r.Body, want)
		}
	}
}

func capabilities(t *testing.T, r *fixture.Response) {
	t.Helper()
	var body struct {
		Capabilities struct {
			ChangePassword struct {
				Enabled bool `json:"enabled"`
			} `json:"m.change_password"`
			RoomVersions struct {
				Default   string            `json:"default"`
				Available map[string]string `json:"available"`
			} `json:"m.room_versions"`
		} `json:"capabilities"`
	}
	r.Decode(t, &body)
	c := body.Capabilities
	if !c.ChangePassword.Enabled || c.RoomVersions.Default != roomapi.DefaultRoomVersion ||
		c.RoomVersions.Available[roomapi.DefaultRoomVersion] != "stable" {
		t.Fatalf("capabilities %s", r.Body)
	}
}
