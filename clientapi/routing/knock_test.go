package routing_test

import (
	"context"
	"encoding/json"
	"net/url"
	"testing"

	roomapi "github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/test/fixture"
)

// TestKnockHandler covers knock.go: knocks allowed by the join rule (knock,
// and knock_restricted from room version 10 on) by room ID or alias, with
// and without a reason, and the refusals the spec lists (join rule, room
// version, already joined, invited or banned; unknown room; bad input).
func TestKnockHandler(t *testing.T) {
	f := newServer(t, serverOpts{})
	ctx := context.Background()
	alice, bob, carol := f.User(t, "alice"), f.User(t, "bob"), f.User(t, "carol")
	withRule := func(version, rule string) string {
		return f.Room(t, alice, roomapi.CreateRoomRequest{Preset: "private_chat", RoomVersion: version, InitialState: []roomapi.StateEvent{
			{Type: "m.room.join_rules", Content: json.RawMessage(`{"join_rule":"` + rule + `"}`)},
		}})
	}
	knock, knockV7 := withRule("", "knock"), withRule("7", "knock")
	knockRestricted := withRule("10", "knock_restricted")
	knockV6, invite := withRule("6", "knock"), f.Room(t, alice)
	if err := f.Rooms.CreateAlias(ctx, "#door:test.local", knockV7, alice.ID); err != nil {
		t.Fatal(err)
	}
	f.Join(t, carol, withRule("", "public"))
	const v3 = "/_matrix/client/v3"
	path := func(idOrAlias string) string { return "/knock/" + url.PathEscape(idOrAlias) }
	membership := func(roomID, user, want, reason string) func(t *testing.T, r *fixture.Response) {
		return func(t *testing.T, r *fixture.Response) {
			equals("room_id", roomID)(t, r)
			ev, err := f.Rooms.StateEvent(ctx, roomID, "m.room.member", user)
			if err != nil {
				t.Fatal(err)
			}
			var pdu struct {
				Content struct{ Membership, Reason string }
			}
			if err := json.Unmarshal(ev.PDU, &pdu); err != nil || pdu.Content.Membership != want || pdu.Content.Reason != reason {
				t.Fatalf("member event %s, want %s (reason %q)", ev.PDU, want, reason)
			}
		}
	}
	run(t, f, []call{
		{"knock room", "POST", path(knock), bob.Token, `{"reason":"let me in"}`, 200, "", membership(knock, bob.ID, "knock", "let me in")},
		{"knock again", "POST", path(knock), bob.Token, `{}`, 200, "", membership(knock, bob.ID, "knock", "")},
		{"by alias, room version 7, no body", "POST", path("#door:test.local"), bob.Token, nil, 200, "",
			membership(knockV7, bob.ID, "knock", "")},
		{"knock_restricted, version 10 (MSC3787)", "POST", path(knockRestricted) + "?via=test.local", bob.Token, `{}`, 200, "",
			membership(knockRestricted, bob.ID, "knock", "")},
		{"room version 6 has no knocking", "POST", path(knockV6), bob.Token, `{}`, 403, "M_FORBIDDEN", nil},
		{"invite-only room", "POST", path(invite), bob.Token, `{}`, 403, "M_FORBIDDEN", nil},
		{"already joined", "POST", path(knock), alice.Token, `{}`, 403, "M_FORBIDDEN", nil},
		{"unknown room", "POST", path("!nope:test.local"), bob.Token, `{}`, 404, "M_NOT_FOUND", nil},
		{"unknown alias", "POST", path("#nope:test.local"), bob.Token, `{}`, 404, "M_NOT_FOUND", nil},
		{"malformed room", "POST", path("nope"), bob.Token, `{}`, 400, "M_INVALID_PARAM", nil},
		{"malformed via", "POST", path(knock) + "?via=bad%20server", bob.Token, `{}`, 400, "M_INVALID_PARAM", nil},
		{"not JSON", "POST", path(knock), bob.Token, `{`, 400, "M_NOT_JSON", nil},
		{"reason not a string", "POST", path(knock), bob.Token, `{"reason":1}`, 400, "M_BAD_JSON", nil},
		{"no token", "POST", path(knock), "", `{}`, 401, "M_MISSING_TOKEN", nil},
	})
	// Accepted (an invite), the knocker may not knock; refused (a kick), he
	// may knock again; banned, not.
	f.Invite(t, alice, bob, knock)
	f.Do(t, "POST", v3+path(knock), bob.Token, `{}`).Want(t, 403, "M_FORBIDDEN")
	f.Do(t, "POST", v3+"/rooms/"+url.PathEscape(knockV7)+"/kick", alice.Token, map[string]string{"user_id": bob.ID}).Want(t, 200)
	f.Do(t, "POST", v3+path(knockV7), bob.Token, `{}`).Want(t, 200)
	f.Do(t, "POST", v3+"/rooms/"+url.PathEscape(knockV7)+"/ban", alice.Token, map[string]string{"user_id": bob.ID}).Want(t, 200)
	f.Do(t, "POST", v3+path(knockV7), bob.Token, `{}`).Want(t, 403, "M_FORBIDDEN")
	// Rescinding a knock is a leave.
	f.Do(t, "POST", v3+"/rooms/"+url.PathEscape(knockRestricted)+"/leave", bob.Token, `{}`).Want(t, 200)
	if m, err := f.Rooms.Membership(ctx, knockRestricted, bob.ID); err != nil || m != "leave" {
		t.Fatalf("after rescinding: %q, %v", m, err)
	}
}
