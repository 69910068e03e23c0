package admin_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	roomapi "github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/test/fixture"
)

func TestEventReports(t *testing.T) {
	s := newServer(t, nil)
	ctx := context.Background()
	bob := s.User(t, "bob")
	name := "Reported room"
	room := s.Room(t, s.Alice, roomapi.CreateRoomRequest{Preset: "public_chat", Name: &name})
	s.Join(t, bob, room)
	var ids []int64
	for i := range 3 {
		ev := s.Send(t, s.Alice, room, fmt.Sprint("message ", i))
		id, err := s.Rooms.Report(ctx, roomapi.NewReport{Kind: roomapi.ReportEvent, Reporter: bob.ID, RoomID: room,
			EventID: ev, Reason: fmt.Sprint("reason ", i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	userReport, err := s.Rooms.Report(ctx, roomapi.NewReport{Kind: roomapi.ReportUser, Reporter: bob.ID, TargetUserID: s.Alice.ID})
	if err != nil {
		t.Fatal(err)
	}
	one := fmt.Sprintf("/v1/event_reports/%d", ids[0])
	for _, c := range [][2]string{{http.MethodGet, "/v1/event_reports"}, {http.MethodGet, one},
		{http.MethodDelete, one}, {http.MethodPost, one + "/resolve"}} {
		run(t, s, refusals(s, c[0], c[1], map[string]any{}))
	}
	get := func(name, path string, status int, errcode string, check func(*testing.T, *fixture.Response)) call {
		return call{name: name, method: http.MethodGet, path: path, token: s.Root.Token, status: status, errcode: errcode, check: check}
	}
	run(t, s, []call{
		get("a page, newest first", "/v1/event_reports?limit=2", http.StatusOK, "",
			listed([]int64{ids[2], ids[1]}, 3, 2.0)),
		get("the next page", "/v1/event_reports?limit=2&from=2", http.StatusOK, "", listed([]int64{ids[0]}, 3, nil)),
		get("oldest first", "/v1/event_reports?dir=f", http.StatusOK, "", listed(ids, 3, nil)),
		get("by reporter", "/v1/event_reports?user_id=bo", http.StatusOK, "", listed([]int64{ids[2], ids[1], ids[0]}, 3, nil)),
		get("by another reporter", "/v1/event_reports?user_id=alice", http.StatusOK, "", listed([]int64{}, 0, nil)),
		get("by sender", "/v1/event_reports?event_sender_user_id=alice&room_id="+room[:4], http.StatusOK, "",
			listed([]int64{ids[2], ids[1], ids[0]}, 3, nil)),
		get("bad dir", "/v1/event_reports?dir=x", http.StatusBadRequest, "M_INVALID_PARAM", nil),
		get("bad from", "/v1/event_reports?from=-1", http.StatusBadRequest, "M_INVALID_PARAM", nil),
		get("details", one, http.StatusOK, "", func(t *testing.T, r *fixture.Response) {
			m := r.JSON()
			ev, _ := m["event_json"].(map[string]any)
			if m["user_id"] != bob.ID || m["sender"] != s.Alice.ID || m["room_id"] != room || m["name"] != name ||
				m["reason"] != "reason 0" || ev == nil || ev["room_id"] != room || m["resolved"] != false {
				t.Fatalf("details %s", r.Body)
			}
		}),
		get("bad ID", "/v1/event_reports/x", http.StatusBadRequest, "M_INVALID_PARAM", nil),
		get("unknown ID", "/v1/event_reports/999", http.StatusNotFound, "M_NOT_FOUND", nil),
		get("a user report is no event report", fmt.Sprintf("/v1/event_reports/%d", userReport), http.StatusNotFound, "M_NOT_FOUND", nil),
		{name: "resolve", method: http.MethodPost, path: one + "/resolve", token: s.Root.Token, body: map[string]any{"resolved": true},
			status: http.StatusOK},
		get("resolved", one, http.StatusOK, "", func(t *testing.T, r *fixture.Response) {
			if r.JSON()["resolved"] != true {
				t.Fatalf("not resolved: %s", r.Body)
			}
		}),
		{name: "resolve unknown", method: http.MethodPost, path: "/v1/event_reports/999/resolve", token: s.Root.Token,
			body: map[string]any{}, status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
		{name: "delete", method: http.MethodDelete, path: one, token: s.Root.Token, status: http.StatusOK},
		{name: "delete again", method: http.MethodDelete, path: one, token: s.Root.Token,
			status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
		get("deleted", one, http.StatusNotFound, "M_NOT_FOUND", nil),
	})
}

// listed checks a page of Synapse's event_reports: the report IDs in
// order, total, and next_token (nil: none).
func listed(ids []int64, total int, next any) func(*testing.T, *fixture.Response) {
	return func(t *testing.T, r *fixture.Response) {
		m := r.JSON()
		reports, _ := m["event_reports"].([]any)
		if len(reports) != len(ids) || m["total"] != float64(total) || m["next_token"] != next {
			t.Fatalf("want %v of %d (next %v), got %s", ids, total, next, r.Body)
		}
		for i, rep := range reports {
			o := rep.(map[string]any)
			for _, k := range []string{"id", "received_ts", "room_id", "name", "canonical_alias", "event_id",
				"user_id", "sender", "reason", "score"} {
				if _, ok := o[k]; !ok {
					t.Fatalf("report without %s: %s", k, r.Body)
				}
			}
			if o["id"] != float64(ids[i]) {
				t.Fatalf("want %v, got %s", ids, r.Body)
			}
		}
	}
}
