package routing_test

import (
	"context"
	"net/url"
	"testing"

	roomapi "github.com/myelin-im/myelin/roomserver/api"
)

// TestReportHandlers covers report.go: event, room and user reports are
// refused with the spec's errors, and stored with what admins need when
// accepted.
func TestReportHandlers(t *testing.T) {
	f := newServer(t, serverOpts{})
	ctx := context.Background()
	alice, bob, eve := f.User(t, "alice"), f.User(t, "bob"), f.User(t, "eve")
	room := f.Room(t, alice)
	f.Invite(t, alice, bob, room)
	f.Join(t, bob, room)
	other := f.Room(t, eve)
	msg := f.Send(t, alice, room, "offensive")
	otherMsg := f.Send(t, eve, other, "elsewhere")
	redacted := f.Send(t, alice, room, "regretted")
	if _, err := f.Rooms.Redact(ctx, roomapi.RedactRequest{RoomID: room, Sender: alice.ID, EventID: redacted}); err != nil {
		t.Fatal(err)
	}
	ev := func(roomID, eventID string) string {
		return "/rooms/" + url.PathEscape(roomID) + "/report/" + url.PathEscape(eventID)
	}
	roomPath := "/rooms/" + url.PathEscape(room) + "/report"
	run(t, f, []call{
		{"event: without token", "POST", ev(room, msg), "", `{}`, 401, "M_MISSING_TOKEN", nil},
		{"event: not joined", "POST", ev(room, msg), eve.Token, `{"reason":"x"}`, 404, "M_NOT_FOUND", nil},
		{"event: unknown room", "POST", ev("!nope:test.local", msg), bob.Token, `{}`, 404, "M_NOT_FOUND", nil},
		{"event: unknown event", "POST", ev(room, "$nope"), bob.Token, `{}`, 404, "M_NOT_FOUND", nil},
		{"event: another room's event", "POST", ev(room, otherMsg), bob.Token, `{}`, 404, "M_NOT_FOUND", nil},
		{"event: redacted", "POST", ev(room, redacted), bob.Token, `{}`, 404, "M_NOT_FOUND", nil},
		{"event: malformed room", "POST", ev("nope", msg), bob.Token, `{}`, 400, "M_INVALID_PARAM", nil},
		{"event: not JSON", "POST", ev(room, msg), bob.Token, `{nope`, 400, "M_NOT_JSON", nil},
		{"event: reason not a string", "POST", ev(room, msg), bob.Token, `{"reason":3}`, 400, "M_BAD_JSON", nil},
		{"event: score out of range", "POST", ev(room, msg), bob.Token, `{"score":5}`, 400, "M_INVALID_PARAM", nil},
		{"event: score not an integer", "POST", ev(room, msg), bob.Token, `{"score":-1.5}`, 400, "M_BAD_JSON", nil},
		{"event", "POST", ev(room, msg), bob.Token, `{"reason":"rude","score":-100}`, 200, "", body(`{}`)},
		{"event: no reason", "POST", ev(room, msg), bob.Token, `{}`, 200, "", body(`{}`)},
		{"room: without reason", "POST", roomPath, eve.Token, `{}`, 400, "M_BAD_JSON", nil},
		{"room: with score", "POST", roomPath, eve.Token, `{"reason":"x","score":-1}`, 400, "M_BAD_JSON", nil},
		{"room: unknown", "POST", "/rooms/" + url.PathEscape("!nope:test.local") + "/report", eve.Token, `{"reason":"x"}`,
			404, "M_NOT_FOUND", nil},
		{"room: malformed", "POST", "/rooms/nope/report", eve.Token, `{"reason":"x"}`, 400, "M_INVALID_PARAM", nil},
		{"room: not joined is fine", "POST", roomPath, eve.Token, `{"reason":""}`, 200, "", body(`{}`)},
		{"user: without reason", "POST", "/users/" + eve.ID + "/report", alice.Token, `{}`, 400, "M_BAD_JSON", nil},
		{"user: malformed", "POST", "/users/eve/report", alice.Token, `{"reason":"x"}`, 400, "M_INVALID_PARAM", nil},
		{"user: unknown local", "POST", "/users/@nobody:test.local/report", alice.Token, `{"reason":"x"}`, 404, "M_NOT_FOUND", nil},
		{"user: another server's", "POST", "/users/@troll:elsewhere.test/report", alice.Token, `{"reason":"troll"}`, 200, "", nil},
		{"user", "POST", "/users/" + eve.ID + "/report", alice.Token, `{"reason":"spam"}`, 200, "", body(`{}`)},
		{"GET", "GET", "/users/" + eve.ID + "/report", alice.Token, nil, 405, "M_UNRECOGNIZED", nil},
	})

	got, total, err := f.Rooms.ListReports(ctx, roomapi.ReportsQuery{OldestFirst: true})
	if err != nil || total != 5 || len(got) != 5 {
		t.Fatalf("stored reports: %+v (%d), %v", got, total, err)
	}
	want := []roomapi.Report{
		{Kind: "event", Reporter: bob.ID, RoomID: room, EventID: msg, TargetUserID: alice.ID, Reason: "rude"},
		{Kind: "event", Reporter: bob.ID, RoomID: room, EventID: msg, TargetUserID: alice.ID},
		{Kind: "room", Reporter: eve.ID, RoomID: room},
		{Kind: "user", Reporter: alice.ID, TargetUserID: "@troll:elsewhere.test", Reason: "troll"},
		{Kind: "user", Reporter: alice.ID, TargetUserID: eve.ID, Reason: "spam"},
	}
	for i, w := range want {
		g := got[i]
		if g.Kind != w.Kind || g.Reporter != w.Reporter || g.RoomID != w.RoomID || g.EventID != w.EventID ||
			g.TargetUserID != w.TargetUserID || g.Reason != w.Reason || g.ReceivedTS == 0 || g.Resolved {
			t.Fatalf("report %d = %+v; want %+v", i, g, w)
		}
	}
	if got[0].Score == nil || *got[0].Score != -100 || got[1].Score != nil {
		t.Fatalf("scores %v, %v", got[0].Score, got[1].Score)
	}
}
