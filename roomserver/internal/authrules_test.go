package internal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/roomserver/api"
)

// The authorisation rules of the spec (content/rooms/v*.md, "Authorisation
// rules"), as they apply to events local users send through the roomserver
// API, checked in every stable room version the roomserver creates.

const dave = "@dave:test.local"

// authVersions are the room versions the rules are checked in.
var authVersions = []string{"1", "6", "9", "10", "11", "12"}

// authOp is one request to the roomserver: a membership change when
// membership is set, a power levels edit when editPL is set, otherwise an
// event (a state event when stateKey is set).
type authOp struct {
	sender, target, membership string
	evType                     string
	stateKey                   *string
	content                    string
	editPL                     func(pl map[string]any)
}

func (o authOp) String() string {
	switch {
	case o.membership != "":
		return fmt.Sprintf("%s sets %s to %s", o.sender, o.target, o.membership)
	case o.editPL != nil:
		return o.sender + " edits m.room.power_levels"
	case o.stateKey != nil:
		return fmt.Sprintf("%s sends %s/%q", o.sender, o.evType, *o.stateKey)
	}
	return o.sender + " sends " + o.evType
}

func memb(sender, target, m string) *authOp {
	return &authOp{sender: sender, target: target, membership: m}
}
func join(u string) *authOp      { return memb(u, u, "join") }
func leave(u string) *authOp     { return memb(u, u, "leave") }
func invite(s, t string) *authOp { return memb(s, t, "invite") }
func kick(s, t string) *authOp   { return memb(s, t, "leave") } // also an unban when t is banned
func ban(s, t string) *authOp    { return memb(s, t, "ban") }
func msg(s string) *authOp {
	return &authOp{sender: s, evType: "m.room.message", content: `{"msgtype":"m.text","body":"hi"}`}
}
func stateOp(s, typ, sk, content string) *authOp {
	return &authOp{sender: s, evType: typ, stateKey: &sk, content: content}
}

// setPL edits the current power levels: key[sub] = v, or key = v when sub is "".
func setPL(sender, key, sub string, v any) *authOp {
	return &authOp{sender: sender, editPL: func(pl map[string]any) {
		if sub == "" {
			pl[key] = v
			return
		}
		m, _ := pl[key].(map[string]any)
		if m == nil {
			m = map[string]any{}
			pl[key] = m
		}
		m[sub] = v
	}}
}

// authCase creates a room as alice, runs setup (which must succeed), then
// the action, whose outcome must be the spec's.
type authCase struct {
	name     string
	versions []string // nil: all of authVersions
	preset   string   // default private_chat
	invite   []string
	creation string // creation_content
	// users are power_level_content_override.users; below v12 the runner
	// adds the creator at 100, as an override replaces the whole map.
	users   map[string]int
	pl      map[string]any // other power_level_content_override keys
	initial []api.StateEvent
	setup   []*authOp
	action  *authOp // nil: creating the room is the action
	allowed bool
	// bug marks a known deviation from the spec in bugIn (nil: all
	// versions): the case is skipped as BUG when it gives the wrong outcome.
	bug   string
	bugIn []string
	// check inspects the room after an allowed outcome.
	check func(rs *Roomserver, roomID, ver string) error
}

var (
	trusted = "trusted_private_chat"
	public  = PresetPublicChat
	// Room state a user at level 0 may send when state_default is 0.
	custom = "org.example.state"
)

// knockRestricted is a knock_restricted join rule allowing members of no room.
var knockRestricted = []api.StateEvent{{Type: "m.room.join_rules", Content: json.RawMessage(`{"join_rule":"knock_restricted","allow":[]}`)}}

var authCases = []authCase{
	// knock_restricted (spec: room version 10; unknown before it).
	{
		name:     "knock_under_knock_restricted",
		versions: []string{"10", "11", "12"},
		initial:  knockRestricted,
		action:   memb(bob, bob, "knock"),
		allowed:  true,
	},
	{
		name:     "knock_restricted_unknown_before_v10",
		versions: []string{"9"},
		initial:  knockRestricted,
		action:   memb(bob, bob, "knock"),
	},
	{
		name:     "knock_restricted_invited_join_before_v10",
		versions: []string{"9"},
		initial:  knockRestricted,
		invite:   []string{bob},
		action:   join(bob),
		allowed:  true,
	},
	// Joins (rules "If membership is join").
	{
		name:    "join_public_room",
		preset:  public,
		action:  join(bob),
		allowed: true,
	},
	{name: "join_invite_only_needs_invite", action: join(bob)},
	{
		name:    "join_invited_user",
		invite:  []string{bob},
		action:  join(bob),
		allowed: true,
	},
	{
		name:   "join_banned_user",
		preset: public,
		setup:  []*authOp{join(bob), ban(alice, bob)},
		action: join(bob),
	},
	{
		name:   "join_banned_before_joining",
		preset: public,
		setup:  []*authOp{ban(alice, bob)},
		action: join(bob),
	},
	{
		name:   "join_after_leaving_invite_only",
		invite: []string{bob},
		setup:  []*authOp{join(bob), leave(bob)},
		action: join(bob),
	},
	{name: "join_on_behalf_of_other", preset: public, action: memb(alice, bob, "join")},
	{name: "join_on_behalf_of_invited", invite: []string{bob}, action: memb(alice, bob, "join")},

	// Invites.
	{
		name:    "invite_by_member_at_invite_level",
		preset:  public,
		pl:      map[string]any{"invite": 0},
		setup:   []*authOp{join(bob)},
		action:  invite(bob, carol),
		allowed: true,
	},
	// public_chat's default invite level is 50 (as Synapse's).
	{
		name:   "invite_by_member_public_default",
		preset: public,
		setup:  []*authOp{join(bob)},
		action: invite(bob, carol),
	},
	{name: "invite_sender_must_be_joined", invite: []string{bob}, action: invite(bob, carol)},
	{name: "invite_sender_never_in_room", preset: public, action: invite(carol, dave)},
	{
		name:   "invite_needs_invite_level",
		preset: public,
		pl:     map[string]any{"invite": 50},
		setup:  []*authOp{join(bob)},
		action: invite(bob, carol),
	},
	{
		name:    "invite_level_met",
		preset:  public,
		pl:      map[string]any{"invite": 50},
		users:   map[string]int{bob: 50},
		setup:   []*authOp{join(bob)},
		action:  invite(bob, carol),
		allowed: true,
	},
	{
		name:   "invite_banned_user",
		preset: public,
		setup:  []*authOp{join(bob), ban(alice, bob)},
		action: invite(alice, bob),
	},
	{
		name:   "invite_joined_user",
		preset: public,
		setup:  []*authOp{join(bob)},
		action: invite(alice, bob),
	},
	{
		name:    "invite_already_invited",
		invite:  []string{bob},
		action:  invite(alice, bob),
		allowed: true,
	},
	{
		name:    "invite_after_leave",
		preset:  public,
		setup:   []*authOp{join(bob), leave(bob)},
		action:  invite(alice, bob),
		allowed: true,
	},

	// Leaves and kicks.
	{
		name:    "leave_joined",
		preset:  public,
		setup:   []*authOp{join(bob)},
		action:  leave(bob),
		allowed: true,
	},
	{
		name:    "leave_rejects_invite",
		invite:  []string{bob},
		action:  leave(bob),
		allowed: true,
	},
	{name: "leave_never_in_room", preset: public, action: leave(carol)},
	{
		name:   "leave_banned",
		preset: public,
		setup:  []*authOp{join(bob), ban(alice, bob)},
		action: leave(bob),
	},
	{
		name:    "kick_by_creator",
		preset:  public,
		setup:   []*authOp{join(bob)},
		action:  kick(alice, bob),
		allowed: true,
	},
	{
		name:    "kick_revokes_invite",
		invite:  []string{bob},
		action:  kick(alice, bob),
		allowed: true,
	},
	{
		name:    "kick_by_moderator",
		preset:  public,
		users:   map[string]int{bob: 50},
		setup:   []*authOp{join(bob), join(carol)},
		action:  kick(bob, carol),
		allowed: true,
	},
	{
		name:   "kick_needs_kick_level",
		preset: public,
		users:  map[string]int{bob: 40},
		setup:  []*authOp{join(bob), join(carol)},
		action: kick(bob, carol),
	},
	{
		name:   "kick_needs_higher_level",
		preset: public,
		users:  map[string]int{bob: 50, carol: 60},
		setup:  []*authOp{join(bob), join(carol)},
		action: kick(bob, carol),
	},
	{
		name:   "kick_equal_level",
		preset: public,
		users:  map[string]int{bob: 50, carol: 50},
		setup:  []*authOp{join(bob), join(carol)},
		action: kick(bob, carol),
	},
	{
		name:   "kick_creator",
		preset: public,
		users:  map[string]int{bob: 100},
		setup:  []*authOp{join(bob)},
		action: kick(bob, alice),
	},
	{
		name:   "kick_sender_must_be_joined",
		preset: public,
		users:  map[string]int{bob: 50},
		setup:  []*authOp{join(carol)},
		action: kick(bob, carol),
	},

	// Bans and unbans.
	{
		name:    "ban_by_moderator",
		preset:  public,
		users:   map[string]int{bob: 50},
		setup:   []*authOp{join(bob), join(carol)},
		action:  ban(bob, carol),
		allowed: true,
	},
	{
		name:   "ban_needs_ban_level",
		preset: public,
		users:  map[string]int{bob: 40},
		setup:  []*authOp{join(bob), join(carol)},
		action: ban(bob, carol),
	},
	{
		name:   "ban_equal_level",
		preset: public,
		users:  map[string]int{bob: 50, carol: 50},
		setup:  []*authOp{join(bob), join(carol)},
		action: ban(bob, carol),
	},
	{
		name:   "ban_sender_must_be_joined",
		preset: public,
		users:  map[string]int{bob: 50},
		setup:  []*authOp{join(carol)},
		action: ban(bob, carol),
	},
	{
		name:    "ban_non_member",
		preset:  public,
		action:  ban(alice, dave),
		allowed: true,
	},
	{
		name:    "unban_by_moderator",
		preset:  public,
		users:   map[string]int{bob: 50},
		setup:   []*authOp{join(bob), join(carol), ban(alice, carol)},
		action:  kick(bob, carol),
		allowed: true,
	},
	{
		name:   "unban_needs_ban_level",
		preset: public,
		pl:     map[string]any{"kick": 0},
		users:  map[string]int{bob: 40},
		setup:  []*authOp{join(bob), join(carol), ban(alice, carol)},
		action: kick(bob, carol),
	},
	{
		name:   "unban_needs_kick_level",
		preset: public,
		pl:     map[string]any{"kick": 75},
		users:  map[string]int{bob: 50},
		setup:  []*authOp{join(bob), join(carol), ban(alice, carol)},
		action: kick(bob, carol),
	},
	{
		name:   "unban_needs_higher_level",
		preset: public,
		users:  map[string]int{bob: 50, carol: 50},
		setup:  []*authOp{join(bob), join(carol), ban(alice, carol)},
		action: kick(bob, carol),
	},

	// State events: the event's required power level.
	{
		name:   "state_name_by_member_at_0",
		invite: []string{bob},
		setup:  []*authOp{join(bob)},
		action: stateOp(bob, "m.room.name", "", `{"name":"mine"}`),
	},
	{name: "state_name_by_creator", action: stateOp(alice, "m.room.name", "", `{"name":"ours"}`), allowed: true},
	{
		name:    "state_name_at_level",
		preset:  public,
		users:   map[string]int{bob: 50},
		setup:   []*authOp{join(bob)},
		action:  stateOp(bob, "m.room.name", "", `{"name":"mine"}`),
		allowed: true,
	},
	{
		name:   "state_default_applies",
		preset: public,
		users:  map[string]int{bob: 49},
		setup:  []*authOp{join(bob)},
		action: stateOp(bob, custom, "", `{}`),
	},
	{
		name:    "state_per_type_level_below_default",
		preset:  public,
		pl:      map[string]any{"events": map[string]any{custom: 0}},
		setup:   []*authOp{join(bob)},
		action:  stateOp(bob, custom, "", `{}`),
		allowed: true,
	},
	{
		name:   "state_per_type_level_above_default",
		preset: public,
		pl:     map[string]any{"events": map[string]any{custom: 75}},
		users:  map[string]int{bob: 50},
		setup:  []*authOp{join(bob)},
		action: stateOp(bob, custom, "", `{}`),
	},
	{
		name:   "state_sender_must_be_joined",
		preset: public,
		pl:     map[string]any{"state_default": 0},
		action: stateOp(carol, custom, "", `{}`),
	},

	// Power levels.
	{
		name:   "power_levels_by_member_at_0",
		preset: public,
		setup:  []*authOp{join(bob)},
		action: setPL(bob, "events_default", "", 0),
	},
	{
		name:    "power_levels_by_creator",
		preset:  public,
		setup:   []*authOp{join(bob)},
		action:  setPL(alice, "users", bob, 50),
		allowed: true,
		check: func(rs *Roomserver, roomID, _ string) error {
			var pl struct{ Users map[string]int }
			if err := stateContent(rs, roomID, "m.room.power_levels", &pl); err != nil {
				return fmt.Errorf("reading the power levels: %w", err)
			}
			if pl.Users[bob] != 50 {
				return fmt.Errorf("bob's level = %d, want 50", pl.Users[bob])
			}
			return nil
		},
	},
	{
		name:    "power_levels_raise_other_to_own",
		preset:  public,
		pl:      plByModerators(),
		users:   map[string]int{bob: 50},
		setup:   []*authOp{join(bob)},
		action:  setPL(bob, "users", carol, 50),
		allowed: true,
	},
	{
		name:   "power_levels_raise_other_above_own",
		preset: public,
		pl:     plByModerators(),
		users:  map[string]int{bob: 50},
		setup:  []*authOp{join(bob)},
		action: setPL(bob, "users", carol, 75),
	},
	{
		name:   "power_levels_raise_self_above_own",
		preset: public,
		pl:     plByModerators(),
		users:  map[string]int{bob: 50},
		setup:  []*authOp{join(bob)},
		action: setPL(bob, "users", bob, 51),
	},
	{
		name:    "power_levels_lower_self",
		preset:  public,
		pl:      plByModerators(),
		users:   map[string]int{bob: 50},
		setup:   []*authOp{join(bob)},
		action:  setPL(bob, "users", bob, 10),
		allowed: true,
	},
	{
		name:   "power_levels_change_equal_user",
		preset: public,
		pl:     plByModerators(),
		users:  map[string]int{bob: 50, carol: 50},
		setup:  []*authOp{join(bob)},
		action: setPL(bob, "users", carol, 0),
	},
	{
		name:   "power_levels_change_level_above_own",
		preset: public,
		pl:     plByModerators(),
		users:  map[string]int{bob: 50},
		setup:  []*authOp{join(bob)},
		action: setPL(bob, "events", "m.room.history_visibility", 50),
	},
	{
		name:    "power_levels_change_level_at_own",
		preset:  public,
		pl:      plByModerators(),
		users:   map[string]int{bob: 50},
		setup:   []*authOp{join(bob)},
		action:  setPL(bob, "kick", "", 40),
		allowed: true,
	},
	{
		name:    "power_levels_change_notifications_at_own",
		preset:  public,
		pl:      plByModerators(),
		users:   map[string]int{bob: 50},
		setup:   []*authOp{join(bob)},
		action:  setPL(bob, "notifications", "room", 40),
		allowed: true,
	},
	{
		name:    "power_levels_notifications_by_creator",
		action:  setPL(alice, "notifications", "room", 100),
		allowed: true,
	},
	// Room versions 6 and later check notification levels: a current or
	// new value above the sender's level is refused.
	{
		name:     "power_levels_raise_notifications_above_own",
		versions: []string{"6", "9", "10", "11", "12"},
		preset:   public,
		pl:       plByModerators(),
		users:    map[string]int{bob: 50},
		setup:    []*authOp{join(bob)},
		action:   setPL(bob, "notifications", "room", 60),
	},
	{
		name:     "power_levels_lower_notifications_above_own",
		versions: []string{"6", "9", "10", "11", "12"},
		preset:   public,
		pl:       plByModerators(),
		users:    map[string]int{bob: 40},
		setup:    []*authOp{join(bob)},
		action:   setPL(bob, "notifications", "room", 30),
	},
	{
		name:    "power_levels_add_notifications_key_at_own",
		preset:  public,
		pl:      plByModerators(),
		users:   map[string]int{bob: 50},
		setup:   []*authOp{join(bob)},
		action:  setPL(bob, "notifications", "m.custom", 40),
		allowed: true,
	},
	// Room versions 10 and later require integers, earlier ones accept strings.
	{
		name:     "power_levels_string_level",
		versions: []string{"1", "6", "9"},
		action:   setPL(alice, "kick", "", "40"),
		allowed:  true,
	},
	{name: "power_levels_string_level", versions: []string{"10", "11", "12"}, action: setPL(alice, "kick", "", "40")},
	{name: "power_levels_listing_creator", versions: []string{"12"}, action: setPL(alice, "users", alice, 100)},
	{name: "power_levels_override_listing_creator", versions: []string{"12"}, users: map[string]int{alice: 100}},

	// trusted_private_chat: invitees are creators (v12) or get the creator's 100.
	{
		name:    "trusted_invitee_can_change_power_levels",
		preset:  trusted,
		invite:  []string{bob},
		setup:   []*authOp{join(bob)},
		action:  setPL(bob, "users", carol, 100),
		allowed: true,
		check:   checkTrustedInvitee,
	},
	{
		name:    "trusted_invitee_can_change_name",
		preset:  trusted,
		invite:  []string{bob},
		setup:   []*authOp{join(bob)},
		action:  stateOp(bob, "m.room.name", "", `{"name":"ours"}`),
		allowed: true,
	},
	{
		name:   "trusted_invitee_cannot_kick_creator",
		preset: trusted,
		invite: []string{bob},
		setup:  []*authOp{join(bob)},
		action: kick(bob, alice),
	},
	{
		name:   "trusted_invitee_cannot_be_demoted",
		preset: trusted,
		invite: []string{bob},
		setup:  []*authOp{join(bob)},
		action: setPL(alice, "users", bob, 50),
	},
	{
		name:     "additional_creator_can_change_power_levels",
		versions: []string{"12"},
		creation: `{"additional_creators":["` + bob + `"]}`,
		invite:   []string{bob},
		setup:    []*authOp{join(bob)},
		action:   setPL(bob, "users", carol, 100),
		allowed:  true,
	},
	{
		name:     "trusted_additional_creators_deduplicated",
		versions: []string{"12"},
		preset:   trusted,
		invite:   []string{bob},
		creation: `{"additional_creators":["` + bob + `"]}`,
		allowed:  true,
		check:    checkTrustedInvitee,
	},

	// Messages.
	{name: "message_by_non_member", preset: public, action: msg(carol)},
	{name: "message_by_invited", invite: []string{bob}, action: msg(bob)},
	{
		name:   "message_after_leaving",
		preset: public,
		setup:  []*authOp{join(bob), leave(bob)},
		action: msg(bob),
	},
	{
		name:    "message_by_member",
		preset:  public,
		setup:   []*authOp{join(bob)},
		action:  msg(bob),
		allowed: true,
	},
	{
		name:   "message_events_default_raised",
		preset: public,
		setup:  []*authOp{join(bob), setPL(alice, "events_default", "", 10)},
		action: msg(bob),
	},
	{
		name:   "message_per_type_level",
		preset: public,
		setup:  []*authOp{join(bob), setPL(alice, "events", "m.room.message", 10)},
		action: msg(bob),
	},
	{
		name:    "message_events_default_at_level",
		preset:  public,
		pl:      map[string]any{"events_default": 10},
		users:   map[string]int{bob: 10},
		setup:   []*authOp{join(bob)},
		action:  msg(bob),
		allowed: true,
	},

	// State keys starting with '@' belong to that user.
	{
		name:    "at_state_key_own",
		preset:  public,
		pl:      map[string]any{"state_default": 0},
		setup:   []*authOp{join(bob)},
		action:  stateOp(bob, custom, bob, `{}`),
		allowed: true,
	},
	{
		name:   "at_state_key_other",
		preset: public,
		pl:     map[string]any{"state_default": 0},
		setup:  []*authOp{join(bob)},
		action: stateOp(bob, custom, carol, `{}`),
	},
	{
		name:   "at_state_key_other_by_creator",
		preset: public,
		setup:  []*authOp{join(bob)},
		action: stateOp(alice, custom, bob, `{}`),
	},
	{
		name:    "state_key_without_at",
		preset:  public,
		pl:      map[string]any{"state_default": 0},
		setup:   []*authOp{join(bob)},
		action:  stateOp(bob, custom, carol[1:], `{}`),
		allowed: true,
	},

	// m.room.third_party_invite needs the invite level, not its event level.
	{
		name:    "third_party_invite_at_invite_level",
		preset:  public,
		pl:      map[string]any{"invite": 0},
		setup:   []*authOp{join(bob)},
		action:  stateOp(bob, "m.room.third_party_invite", "tok", tpInvite),
		allowed: true,
	},
	{
		name:   "third_party_invite_below_invite_level",
		preset: public,
		pl:     map[string]any{"invite": 50, "events": map[string]any{"m.room.third_party_invite": 0}},
		setup:  []*authOp{join(bob)},
		action: stateOp(bob, "m.room.third_party_invite", "tok", tpInvite),
	},
}

const tpInvite = `{"display_name":"d...@example.org",` +
	`"key_validity_url":"https://id.example.org/_matrix/identity/v2/pubkey/isvalid","public_key":"AAAA"}`

// plByModerators is an override that lets users at level 50 send power
// levels (a fresh map for each case).
func plByModerators() map[string]any {
	return map[string]any{"events": map[string]any{"m.room.power_levels": 50, "m.room.history_visibility": 100}}
}

func TestAuthRules(t *testing.T) {
	for _, ver := range authVersions {
		t.Run("v"+ver, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, sqltest.Open(t, sqlutil.SQLite))
			for _, c := range authCases {
				if c.versions != nil && !slices.Contains(c.versions, ver) {
					continue
				}
				t.Run(c.name, func(t *testing.T) { runAuthCase(t, f.rs, ver, c) })
			}
		})
	}
}

func runAuthCase(t *testing.T, rs *Roomserver, ver string, c authCase) {
	ctx := context.Background()
	req := api.CreateRoomRequest{Creator: alice, RoomVersion: ver, Preset: c.preset, Invite: c.invite, InitialState: c.initial}
	if req.Preset == "" {
		req.Preset = PresetPrivateChat
	}
	if c.creation != "" {
		req.CreationContent = json.RawMessage(c.creation)
	}
	if c.users != nil || c.pl != nil {
		override := map[string]any{}
		for k, v := range c.pl {
			override[k] = v
		}
		if c.users != nil {
			users := map[string]any{}
			if ver != "12" {
				users[alice] = 100
			}
			for u, l := range c.users {
				users[u] = l
			}
			override["users"] = users
		}
		b, err := json.Marshal(override)
		if err != nil {
			t.Fatal(err)
		}
		req.PowerLevelContentOverride = b
	}
	roomID, err := rs.CreateRoom(ctx, req)
	eventID := ""
	if c.action != nil {
		if err != nil {
			t.Fatalf("create room: %v", err)
		}
		for _, op := range c.setup {
			if _, err := doAuthOp(ctx, rs, roomID, op); err != nil {
				t.Fatalf("setup: %s: %v", op, err)
			}
		}
		eventID, err = doAuthOp(ctx, rs, roomID, c.action)
	}

	// Refused: forbidden by the auth rules, or (content the room version
	// cannot hold, such as a v12 creator in power levels) a bad request;
	// either way with a reason.
	var fe *api.ForbiddenError
	var be *api.BadRequestError
	refused := (errors.As(err, &fe) && fe.Reason != "") || (errors.As(err, &be) && be.Reason != "")
	var problem string
	switch {
	case c.allowed && err != nil:
		problem = fmt.Sprintf("%s: want allowed, got %v", describe(c), err)
	case !c.allowed && !refused:
		problem = fmt.Sprintf("%s: want a ForbiddenError or BadRequestError with a reason, got %v", describe(c), err)
	case c.allowed && c.action != nil:
		if err := checkAuthOpApplied(rs, roomID, eventID, c.action); err != nil {
			problem = err.Error()
		}
	}
	if problem == "" && c.allowed && c.check != nil {
		if err := c.check(rs, roomID, ver); err != nil {
			problem = err.Error()
		}
	}
	knownBug := c.bug != "" && (c.bugIn == nil || slices.Contains(c.bugIn, ver))
	switch {
	case problem != "" && knownBug:
		t.Skipf("BUG: %s: %s", c.bug, problem)
	case problem != "":
		t.Fatal(problem)
	case knownBug:
		t.Logf("known bug no longer reproduces, drop the marker: %s", c.bug)
	}
}

func describe(c authCase) string {
	if c.action == nil {
		return "create room"
	}
	return c.action.String()
}

// doAuthOp sends op and returns the new event's ID.
func doAuthOp(ctx context.Context, rs *Roomserver, roomID string, op *authOp) (string, error) {
	switch {
	case op.membership != "":
		return rs.PerformMembership(ctx, api.MembershipRequest{
			RoomID:     roomID,
			Sender:     op.sender,
			Target:     op.target,
			Membership: op.membership,
		})
	case op.editPL != nil:
		raw, err := rs.StateEvent(ctx, roomID, "m.room.power_levels", "")
		if err != nil {
			return "", err
		}
		var ev struct {
			Content map[string]any `json:"content"`
		}
		if err := json.Unmarshal(raw.PDU, &ev); err != nil {
			return "", err
		}
		op.editPL(ev.Content)
		content, err := json.Marshal(ev.Content)
		if err != nil {
			return "", err
		}
		empty := ""
		return rs.SendEvent(ctx, api.SendEventRequest{
			RoomID:   roomID,
			Sender:   op.sender,
			Type:     "m.room.power_levels",
			StateKey: &empty,
			Content:  content,
		})
	}
	return rs.SendEvent(ctx, api.SendEventRequest{
		RoomID:   roomID,
		Sender:   op.sender,
		Type:     op.evType,
		StateKey: op.stateKey,
		Content:  json.RawMessage(op.content),
	})
}

// checkAuthOpApplied checks that an allowed action became part of the room.
func checkAuthOpApplied(rs *Roomserver, roomID, eventID string, op *authOp) error {
	ctx := context.Background()
	stored, err := rs.Event(ctx, eventID)
	if err != nil {
		return fmt.Errorf("reading event %q: %w", eventID, err)
	}
	if stored.ID != eventID || stored.RoomID != roomID {
		return fmt.Errorf("event %q: got %q in room %q", eventID, stored.ID, stored.RoomID)
	}
	evType, sk := op.evType, op.stateKey
	switch {
	case op.membership != "":
		m, err := rs.Membership(ctx, roomID, op.target)
		if err != nil {
			return fmt.Errorf("reading %s's membership: %w", op.target, err)
		}
		if m != op.membership {
			return fmt.Errorf("%s's membership = %q, want %q", op.target, m, op.membership)
		}
		evType, sk = "m.room.member", &op.target
	case op.editPL != nil:
		empty := ""
		evType, sk = "m.room.power_levels", &empty
	}
	if sk == nil {
		return nil
	}
	cur, err := rs.StateEvent(ctx, roomID, evType, *sk)
	if err != nil {
		return fmt.Errorf("reading the current %s/%q: %w", evType, *sk, err)
	}
	if cur.ID != eventID || !bytes.Equal(cur.PDU, stored.PDU) {
		return fmt.Errorf("current %s/%q is not the new event %s", evType, *sk, eventID)
	}
	return nil
}

// stateContent decodes the content of a current state event into v.
func stateContent(rs *Roomserver, roomID, evType string, v any) error {
	raw, err := rs.StateEvent(context.Background(), roomID, evType, "")
	if err != nil {
		return err
	}
	return json.Unmarshal(raw.PDU, &struct {
		Content any `json:"content"`
	}{v})
}

// checkTrustedInvitee checks where bob's power comes from: in v12 he is an
// additional creator (once) and not in users; before, he is in users at 100.
func checkTrustedInvitee(rs *Roomserver, roomID, ver string) error {
	var pl struct{ Users map[string]int }
	var create struct {
		AdditionalCreators []string `json:"additional_creators"`
	}
	if err := stateContent(rs, roomID, "m.room.power_levels", &pl); err != nil {
		return err
	}
	if err := stateContent(rs, roomID, "m.room.create", &create); err != nil {
		return err
	}
	_, listed := pl.Users[bob]
	if ver == "12" && (!slices.Equal(create.AdditionalCreators, []string{bob}) || listed) {
		return fmt.Errorf("additional_creators = %v, users = %v; want [%s] and not listed", create.AdditionalCreators, pl.Users, bob)
	}
	if ver != "12" && (len(create.AdditionalCreators) != 0 || pl.Users[bob] != 100) {
		return fmt.Errorf("additional_creators = %v, users = %v; want bob at 100 in users", create.AdditionalCreators, pl.Users)
	}
	return nil
}
