package internal

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/roomserver/api"
)

// restrictedRoom creates, as alice, a room of version ver whose join rule
// is rule with allow as its allow list.
func restrictedRoom(t *testing.T, rs *Roomserver, ver, rule string, allow any) string {
	t.Helper()
	content, err := json.Marshal(map[string]any{"join_rule": rule, "allow": allow})
	if err != nil {
		t.Fatal(err)
	}
	roomID, err := rs.CreateRoom(context.Background(), api.CreateRoomRequest{Creator: alice, Preset: PresetPublicChat,
		RoomVersion: ver, InitialState: []api.StateEvent{{Type: spec.MRoomJoinRules, Content: content}}})
	if err != nil {
		t.Fatalf("creating a %s room of version %s: %v", rule, ver, err)
	}
	return roomID
}

// allowMembersOf is an allow list naming one room.
func allowMembersOf(roomID string) []map[string]string {
	return []map[string]string{{"type": spec.MRoomMembership, "room_id": roomID}}
}

func publicRoom(t *testing.T, rs *Roomserver) string {
	t.Helper()
	roomID, err := rs.CreateRoom(context.Background(), api.CreateRoomRequest{Creator: alice, Preset: PresetPublicChat})
	if err != nil {
		t.Fatal(err)
	}
	return roomID
}

// authoriserOf is the join_authorised_via_users_server of user's member
// event in the room's current state ("" for none).
func authoriserOf(t *testing.T, rs *Roomserver, roomID, user string) string {
	t.Helper()
	r, err := rs.loadRoom(context.Background(), roomID)
	if err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	ev, _ := r.Member(spec.SenderID(user))
	if ev == nil {
		t.Fatalf("%s has no member event in %s", user, roomID)
	}
	var c map[string]any
	_ = json.Unmarshal(ev.Content(), &c)
	via, _ := c[authorisedViaKey].(string)
	return via
}

func joinAs(rs *Roomserver, roomID, user string, extra map[string]json.RawMessage) error {
	_, err := rs.PerformMembership(context.Background(), api.MembershipRequest{RoomID: roomID, Sender: user, Target: user,
		Membership: spec.Join, Extra: extra})
	return err
}

func setPowerLevels(t *testing.T, rs *Roomserver, roomID string, content map[string]any) {
	t.Helper()
	c, _ := json.Marshal(content)
	empty := ""
	if _, err := rs.SendEvent(context.Background(), api.SendEventRequest{RoomID: roomID, Sender: alice,
		Type: spec.MRoomPowerLevels, StateKey: &empty, Content: c}); err != nil {
		t.Fatalf("setting power levels %s: %v", c, err)
	}
}

// TestRestrictedJoinLocal: local users join restricted rooms (versions 8+,
// knock_restricted in 10+) when joined to an allowed room, authorised by a
// local user who may invite, chosen by power (creators of version 12 rooms
// above all, others by the power levels).
func TestRestrictedJoinLocal(t *testing.T) {
	cases := []struct{ ver, rule string }{
		{"8", spec.Restricted},
		{"10", spec.KnockRestricted},
		{"11", spec.Restricted},
		{"12", spec.Restricted},
		{"12", spec.KnockRestricted},
	}
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		rs := newFixture(t, db).rs
		for _, tc := range cases {
			t.Run(tc.ver+"/"+tc.rule, func(t *testing.T) { testRestrictedJoinLocal(t, rs, tc.ver, tc.rule) })
		}
	})
}

func testRestrictedJoinLocal(t *testing.T, rs *Roomserver, ver, rule string) {
	ctx := context.Background()
	space := publicRoom(t, rs)
	roomID := restrictedRoom(t, rs, ver, rule, allowMembersOf(space))

	forbidden(t, joinAs(rs, roomID, bob, nil))

	// A client cannot name the authoriser itself.
	setMembership(t, rs, space, bob, bob, spec.Join)
	if err := joinAs(rs, roomID, bob, map[string]json.RawMessage{authorisedViaKey: json.RawMessage(`"@carol:test.local"`)}); err != nil {
		t.Fatalf("bob, in the space, joins: %v", err)
	}
	if got := authoriserOf(t, rs, roomID, bob); got != alice {
		t.Fatalf("bob's join authorised by %q, want %q", got, alice)
	}
	// A join after a join needs no authoriser, and carries none.
	sk := bob
	if _, err := rs.SendEvent(ctx, api.SendEventRequest{RoomID: roomID, Sender: bob, Type: spec.MRoomMember, StateKey: &sk,
		Content: json.RawMessage(`{"membership":"join","displayname":"Bobby","join_authorised_via_users_server":"unused"}`)}); err != nil {
		t.Fatalf("bob's join after his join: %v", err)
	}
	if got := authoriserOf(t, rs, roomID, bob); got != "" {
		t.Fatalf("bob's second join names %q", got)
	}

	// Alice leaves; bob, with the invite level, authorises carol.
	pl := map[string]any{"invite": 50, "users": map[string]any{bob: 50}}
	if ver != "12" {
		pl["users"] = map[string]any{alice: 100, bob: 50}
	}
	setPowerLevels(t, rs, roomID, pl)
	setMembership(t, rs, roomID, alice, alice, spec.Leave)
	setMembership(t, rs, space, carol, carol, spec.Join)
	if err := joinAs(rs, roomID, carol, nil); err != nil {
		t.Fatalf("carol, in the space, joins: %v", err)
	}
	if got := authoriserOf(t, rs, roomID, carol); got != bob {
		t.Fatalf("carol's join authorised by %q, want %q", got, bob)
	}
}

// TestRestrictedJoinLocalRefusals: what a local user's join to a restricted
// room this server is in gives when it cannot be authorised here.
func TestRestrictedJoinLocalRefusals(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		rs := newFixture(t, db).rs
		space := publicRoom(t, rs)
		setMembership(t, rs, space, bob, bob, spec.Join)
		setMembership(t, rs, space, carol, carol, spec.Join)
		cases := []struct {
			name  string
			allow any
			setup func(t *testing.T, roomID string)
			check func(t *testing.T, err error)
		}{
			{"allow is not a list", "invalid", nil, func(t *testing.T, err error) { forbidden(t, err) }},
			{"allow has no condition", []string{"invalid"}, nil, func(t *testing.T, err error) { forbidden(t, err) }},
			{"no local user may invite", allowMembersOf(space), func(t *testing.T, roomID string) {
				if err := joinAs(rs, roomID, bob, nil); err != nil {
					t.Fatal(err)
				}
				setPowerLevels(t, rs, roomID, map[string]any{"invite": 100, "users": map[string]any{alice: 100}})
				setMembership(t, rs, roomID, alice, alice, spec.Leave)
			}, func(t *testing.T, err error) {
				var elsewhere *api.JoinElsewhereError
				if !errors.As(err, &elsewhere) || !errors.Is(err, api.ErrUnableToGrantJoin) || len(elsewhere.Servers) != 0 {
					t.Fatalf("got %v, want a JoinElsewhereError with no other server", err)
				}
			}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				roomID := restrictedRoom(t, rs, "10", spec.Restricted, tc.allow)
				if tc.setup != nil {
					tc.setup(t, roomID)
				}
				tc.check(t, joinAs(rs, roomID, carol, nil))
			})
		}
	})
}

// TestRestrictedMakeJoin: make_join and send_join of another server's
// user to a restricted room (spec: server-server API, "Restricted rooms").
func TestRestrictedMakeJoin(t *testing.T) {
	const dave, erin = "@dave:other.test", "@erin:other.test"
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		home := newFixture(t, db)
		rs := home.rs
		_, key, _ := ed25519.GenerateKey(rand.Reader)
		space := publicRoom(t, rs)
		if _, _, err := rs.SendJoin(ctx, joinThrough(t, home, space, dave, key)); err != nil {
			t.Fatalf("dave joins the space: %v", err)
		}
		cases := []struct {
			name, user string
			allow      any
			setup      func(t *testing.T, roomID string)
			want       error // nil: a template naming alice
		}{
			{"allowed room unknown here", dave, allowMembersOf("!elsewhere:else.test"), nil, api.ErrUnableToAuthoriseJoin},
			{"not in the allowed room", erin, allowMembersOf(space), nil, &api.ForbiddenError{}},
			{"allow has no condition", dave, []string{"invalid"}, nil, &api.ForbiddenError{}},
			{"in the allowed room", dave, allowMembersOf(space), nil, nil},
			{"no local user may invite", dave, allowMembersOf(space), func(t *testing.T, roomID string) {
				setMembership(t, rs, roomID, alice, bob, spec.Invite)
				setMembership(t, rs, roomID, bob, bob, spec.Join)
				// Alice, a creator, is never in a version 12 room's
				// power levels: her leaving is what takes her power.
				setPowerLevels(t, rs, roomID, map[string]any{"invite": 100})
				setMembership(t, rs, roomID, alice, alice, spec.Leave)
			}, api.ErrUnableToGrantJoin},
		}
		for _, tc := range cases {
			for _, ver := range []string{"9", "12"} {
				t.Run(tc.name+"/"+ver, func(t *testing.T) {
					roomID := restrictedRoom(t, rs, ver, spec.Restricted, tc.allow)
					if tc.setup != nil {
						tc.setup(t, roomID)
					}
					_, proto, err := rs.MakeJoin(ctx, roomID, tc.user)
					var fe *api.ForbiddenError
					switch {
					case tc.want == nil && err != nil:
						t.Fatalf("make_join: %v", err)
					case tc.want == nil:
						checkAuthorisedTemplate(t, home, roomID, tc.user, key, json.RawMessage(proto.Content))
					case errors.As(tc.want, &fe):
						forbidden(t, err)
					case !errors.Is(err, tc.want):
						t.Fatalf("make_join: %v, want %v", err, tc.want)
					}
				})
			}
		}
		// A join naming alice for a user in no allowed room is refused at
		// send_join, though alice could invite.
		roomID := restrictedRoom(t, rs, "9", spec.Restricted, allowMembersOf(space))
		forged := authorisedJoin(t, rs, roomID, erin, key)
		if _, _, err := rs.SendJoin(ctx, forged); err == nil {
			t.Fatal("send_join of a join erin may not make, naming alice, was accepted")
		} else {
			forbidden(t, err)
		}
	})
}

// checkAuthorisedTemplate checks that a make_join template names alice and
// that the join built from it is taken in by send_join.
func checkAuthorisedTemplate(t *testing.T, home *fixture, roomID, user string, key ed25519.PrivateKey, content json.RawMessage) {
	t.Helper()
	var c map[string]string
	_ = json.Unmarshal(content, &c)
	if c[authorisedViaKey] != alice || c["membership"] != spec.Join {
		t.Fatalf("template content %s, want a join naming %s", content, alice)
	}
	if _, _, err := home.rs.SendJoin(context.Background(), joinThrough(t, home, roomID, user, key)); err != nil {
		t.Fatalf("send_join: %v", err)
	}
	if got := authoriserOf(t, home.rs, roomID, user); got != alice {
		t.Fatalf("the join stored names %q", got)
	}
}

// authorisedJoin is user's join naming alice as its authoriser, built on
// the room's head as a server that skipped make_join would.
func authorisedJoin(t *testing.T, rs *Roomserver, roomID, user string, key ed25519.PrivateKey) gomatrixserverlib.PDU {
	t.Helper()
	r, err := rs.loadRoom(context.Background(), roomID)
	if err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	x := &remote{t: t, priv: key, ver: r.version, room: roomID, now: time.Now()}
	return x.event(user, spec.MRoomMember, &user,
		map[string]string{"membership": spec.Join, authorisedViaKey: alice}, r.extremities, r.depth+1, r)
}
