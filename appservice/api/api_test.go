package api_test

import (
	"testing"

	"github.com/myelin-im/myelin/appservice/api"
)

func TestNamespaceMatching(t *testing.T) {
	for _, tc := range []struct {
		regex string
		id    string
		want  bool
	}{
		{"@_irc_.*", "@_irc_alice:example.org", true},
		{"@_irc_", "@_irc_alice:example.org", true}, // from the start, to anywhere (Synapse's re.match)
		{"@_irc_.*", "@alice_irc_x:example.org", false},
		{"@_irc_.*:example\\.org", "@_irc_alice:other.org", false},
		{"^@_wa_.+:example\\.org$", "@_wa_123:example.org", true},
		{"^@_wa_.+:example\\.org$", "@_wa_:example.org", false},
		{".*", "@anyone:anywhere", true},
		{"#_irc_.*", "#_irc_chan:example.org", true},
	} {
		t.Run(tc.regex+" "+tc.id, func(t *testing.T) {
			ns := api.Namespace{Regex: tc.regex}
			if ns.Matches(tc.id) {
				t.Fatal("matches before Compile")
			}
			if err := ns.Compile(); err != nil {
				t.Fatal(err)
			}
			if got := ns.Matches(tc.id); got != tc.want {
				t.Fatalf("Matches = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRegistryLookups(t *testing.T) {
	no := false
	bridge := &api.Registration{ID: "bridge", ASToken: "as1", SenderLocalpart: "bridgebot", RateLimited: &no,
		Namespaces: api.Namespaces{
			Users:   []api.Namespace{{Exclusive: true, Regex: "@_br_.*"}, {Regex: "@shared_.*"}},
			Aliases: []api.Namespace{{Exclusive: true, Regex: "#_br_.*"}},
		}}
	logger := &api.Registration{ID: "logger", ASToken: "as2", SenderLocalpart: "logbot",
		Namespaces: api.Namespaces{Users: []api.Namespace{{Regex: "@shared_.*"}}}}
	for _, r := range []*api.Registration{bridge, logger} {
		if err := r.Compile(); err != nil {
			t.Fatal(err)
		}
	}
	reg := api.NewRegistry("example.org", []*api.Registration{bridge, logger})
	checks := []struct {
		name string
		ok   bool
	}{
		{"by token", reg.ByToken("as1") == bridge && reg.ByToken("as2") == logger && reg.ByToken("x") == nil && reg.ByToken("") == nil},
		{"by id", reg.ByID("logger") == logger && reg.ByID("nope") == nil},
		{"sender owned", bridge.OwnsUser("@bridgebot:example.org", "example.org")},
		{"sender of another server", !bridge.OwnsUser("@bridgebot:other.org", "example.org")},
		{"exclusive owner", reg.ExclusiveUserOwner("@_br_x:example.org") == bridge},
		{"shared not exclusive", reg.ExclusiveUserOwner("@shared_x:example.org") == nil &&
			logger.OwnsUser("@shared_x:example.org", "example.org")},
		{"alias owner", reg.ExclusiveAliasOwner("#_br_room:example.org") == bridge && reg.ExclusiveAliasOwner("#room:example.org") == nil},
		{"rate limits", !bridge.IsRateLimited() && logger.IsRateLimited()},
		{"localpart", reg.Localpart("@a:example.org") == "a" && reg.Localpart("@a:other.org") == "" &&
			reg.Localpart("#a:example.org") == ""},
		{"nil registry", (*api.Registry)(nil).ByToken("as1") == nil &&
			(*api.Registry)(nil).ExclusiveUserOwner("@_br_x:example.org") == nil},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: wrong", c.name)
		}
	}
}
