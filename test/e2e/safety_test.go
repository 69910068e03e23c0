package e2e

import (
	"net/http"
	"net/url"
	"slices"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
)

// TestSafetyEndpoints drives reporting, mutual rooms, room summaries and
// OpenID with mautrix, as a client sees them after reading /versions: a
// report is stored for the admins, the shared room is found, a summary is
// read, and an OpenID token is exchanged at the federation API (on the
// client listener, as a service behind the same host would call it).
func TestSafetyEndpoints(t *testing.T) {
	srv := startServer(t, testConfig(t, sqltest.URL(t, sqlutil.SQLite)))
	alice := register(t, srv, "alice", "alice-password")
	bob := register(t, srv, "bob", "bob-password")
	for _, c := range []*mautrix.Client{alice, bob} {
		if _, err := c.Versions(ctx(t)); err != nil {
			t.Fatal(err)
		}
	}
	room := publicRoom(t, alice, bob)
	sent, err := sendTextTxn(ctx(t), alice, room, "something rude", "t1")
	if err != nil {
		t.Fatal(err)
	}

	if err := bob.ReportEvent(ctx(t), room, sent.EventID, "rude"); err != nil {
		t.Fatalf("report event: %v", err)
	}
	if err := bob.ReportUser(ctx(t), alice.UserID, "spam"); err != nil {
		t.Fatalf("report user: %v", err)
	}
	err = bob.ReportEvent(ctx(t), room, id.EventID("$nope"), "x")
	wantMatrixError(t, err, http.StatusNotFound, "M_NOT_FOUND")
	reports, total, err := srv.Roomserver.ListReports(ctx(t), roomapi.ReportsQuery{OldestFirst: true})
	if err != nil || total != 2 || reports[0].EventID != string(sent.EventID) || reports[0].TargetUserID != string(alice.UserID) ||
		reports[1].Kind != roomapi.ReportUser {
		t.Fatalf("stored reports %+v (%d), %v", reports, total, err)
	}

	mutual, err := alice.GetMutualRooms(ctx(t), bob.UserID)
	if err != nil || !slices.Equal(mutual.Joined, []id.RoomID{room}) || mutual.NextBatch != "" {
		t.Fatalf("mutual rooms %+v, %v", mutual, err)
	}

	anonymous := newClient(t, srv)
	if _, err := anonymous.Versions(ctx(t)); err != nil {
		t.Fatal(err)
	}
	summary, err := anonymous.GetRoomSummary(ctx(t), room.String())
	if err != nil || summary.RoomID != room || summary.NumJoinedMembers != 2 || summary.JoinRule != "public" {
		t.Fatalf("room summary %+v, %v", summary, err)
	}

	tok, err := alice.RequestOpenIDToken(ctx(t))
	if err != nil || tok.TokenType != "Bearer" || tok.MatrixServerName != "localhost" || tok.ExpiresIn != 3600 {
		t.Fatalf("openid token %+v, %v", tok, err)
	}
	userinfo := srv.ClientURL() + "/_matrix/federation/v1/openid/userinfo?access_token="
	info := do(t, http.MethodGet, userinfo+url.QueryEscape(tok.AccessToken), "", nil)
	if info.Status != http.StatusOK || info.Body["sub"] != alice.UserID.String() {
		t.Fatalf("userinfo %d %v", info.Status, info.Body)
	}
	bad := do(t, http.MethodGet, userinfo+url.QueryEscape(alice.AccessToken), "", nil)
	if bad.Status != http.StatusUnauthorized || bad.errcode() != "M_UNKNOWN_TOKEN" {
		t.Fatalf("an access token as an OpenID token: %d %v", bad.Status, bad.Body)
	}
}
