package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	mediaapi "github.com/myelin-im/myelin/mediaapi/api"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/test/fixture"
)

// upload uploads body as u and returns the media ID.
func upload(t *testing.T, s *server, u *fixture.User, body string) string {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/_matrix/media/v3/upload?filename=f.txt", bytes.NewBufferString(body))
	req.Header.Set("Authorization", "Bearer "+u.Token)
	req.Header.Set("Content-Type", "text/plain")
	res := s.DoRequest(t, req)
	res.Want(t, http.StatusOK)
	uri, _ := res.JSON()["content_uri"].(string)
	m, err := mediaapi.ParseMXC(uri)
	if err != nil {
		t.Fatalf("upload: %s", res.Body)
	}
	return string(m.MediaID)
}

// mediaRoutes are the media admin routes, for the refusals.
func mediaRoutes(s *server, id string) [][2]string {
	return [][2]string{
		{http.MethodGet, "/v1/users/" + s.Alice.ID + "/media"}, {http.MethodDelete, "/v1/users/" + s.Alice.ID + "/media"},
		{http.MethodPost, "/v1/media/quarantine/" + s.ServerName + "/" + id},
		{http.MethodPost, "/v1/media/unquarantine/" + s.ServerName + "/" + id},
		{http.MethodPost, "/v1/room/!r:x/media/quarantine"}, {http.MethodPost, "/v1/quarantine_media/!r:x"},
		{http.MethodPost, "/v1/user/" + s.Alice.ID + "/media/quarantine"},
		{http.MethodPost, "/v1/media/protect/" + id}, {http.MethodPost, "/v1/media/unprotect/" + id},
		{http.MethodPost, "/v1/media/delete?before_ts=99999999999999"},
		{http.MethodPost, "/v1/media/" + s.ServerName + "/delete?before_ts=99999999999999"},
		{http.MethodDelete, "/v1/media/" + s.ServerName + "/" + id}, {http.MethodGet, "/v1/room/!r:x/media"},
	}
}

func TestMediaAdmin(t *testing.T) {
	s := newServer(t, nil)
	a, b, c := upload(t, s, s.Alice, "aaa"), upload(t, s, s.Alice, "bbbb"), upload(t, s, s.Alice, "cc")
	md, err := s.Media.LocalMetadata(context.Background(), mediaapi.MediaID(c))
	if err != nil {
		t.Fatal(err)
	}
	cFile, _ := s.Media.FilePath(md)
	if _, err := os.Stat(cFile); err != nil || !strings.Contains(cFile, md.SHA256) {
		t.Fatalf("file path %s is not the content's: %v", cFile, err)
	}
	for _, r := range mediaRoutes(s, a) {
		run(t, s, refusals(s, r[0], r[1], map[string]any{}))
	}
	mxc := func(id string) string { return "mxc://" + s.ServerName + "/" + id }
	remote := "mxc://elsewhere.example/remoteMedia"
	room := s.Room(t, s.Alice)
	for _, u := range []string{mxc(a), remote} {
		content, _ := json.Marshal(map[string]any{"msgtype": "m.image", "body": "x", "url": u})
		if _, err := s.Rooms.SendEvent(context.Background(), roomapi.SendEventRequest{RoomID: room, Sender: s.Alice.ID,
			Type: "m.room.message", Content: content}); err != nil {
			t.Fatal(err)
		}
	}
	ok := func(name, method, path string, check func(*testing.T, *fixture.Response)) call {
		return call{name: name, method: method, path: path, token: s.Root.Token, status: http.StatusOK, check: check}
	}
	bad := func(name, method, path string, status int, errcode string) call {
		return call{name: name, method: method, path: path, token: s.Root.Token, status: status, errcode: errcode}
	}
	userMedia := "/v1/users/" + s.Alice.ID + "/media"
	run(t, s, []call{
		ok("a user's media", http.MethodGet, userMedia+"?order_by=media_length&dir=b&limit=2", func(t *testing.T, r *fixture.Response) {
			var body struct {
				Media []map[string]any `json:"media"`
				Total int              `json:"total"`
				Next  int              `json:"next_token"`
			}
			r.Decode(t, &body)
			if body.Total != 3 || body.Next != 2 || len(body.Media) != 2 ||
				body.Media[0]["media_id"] != b || body.Media[1]["media_id"] != a {
				t.Fatalf("body %s", r.Body)
			}
			for _, k := range []string{"created_ts", "last_access_ts", "media_id", "media_length", "media_type",
				"quarantined_by", "safe_from_quarantine", "upload_name"} {
				if _, ok := body.Media[0][k]; !ok {
					t.Fatalf("no %s: %s", k, r.Body)
				}
			}
		}),
		bad("bad order", http.MethodGet, userMedia+"?order_by=nope", http.StatusBadRequest, "M_INVALID_PARAM"),
		bad("remote user", http.MethodGet, "/v1/users/@x:elsewhere.example/media", http.StatusBadRequest, "M_UNKNOWN"),
		bad("unknown user", http.MethodGet, "/v1/users/@nobody:"+s.ServerName+"/media", http.StatusNotFound, "M_NOT_FOUND"),
		ok("a room's media", http.MethodGet, "/v1/room/"+room+"/media", func(t *testing.T, r *fixture.Response) {
			var body struct{ Local, Remote []string }
			r.Decode(t, &body)
			if !slices.Equal(body.Local, []string{mxc(a)}) || !slices.Equal(body.Remote, []string{remote}) {
				t.Fatalf("body %s", r.Body)
			}
		}),
		bad("unknown room", http.MethodGet, "/v1/room/!nope:"+s.ServerName+"/media", http.StatusNotFound, "M_NOT_FOUND"),
		ok("protect b", http.MethodPost, "/v1/media/protect/"+b, nil),
		bad("protect unknown", http.MethodPost, "/v1/media/protect/nope", http.StatusNotFound, "M_NOT_FOUND"),
		ok("quarantine the user's media", http.MethodPost, "/v1/user/"+s.Alice.ID+"/media/quarantine", quarantined(2)),
	})
	checkQuarantine(t, s, a, b, room)
	checkDeletes(t, s, a, b, c, cFile)
}

// quarantined checks Synapse's {"num_quarantined": n}.
func quarantined(n int) func(*testing.T, *fixture.Response) {
	return func(t *testing.T, r *fixture.Response) {
		if r.JSON()["num_quarantined"] != float64(n) {
			t.Fatalf("want %d quarantined: %s", n, r.Body)
		}
	}
}

// checkQuarantine: quarantined a is not served, protected b is; released
// a is served again; a room's quarantine takes its local and remote media.
func checkQuarantine(t *testing.T, s *server, a, b, room string) {
	download := func(id string) string { return "/_matrix/client/v1/media/download/" + s.ServerName + "/" + id }
	root := s.Root.Token
	run(t, s, []call{
		{name: "quarantined media is not served", method: http.MethodGet, path: download(a), token: s.Alice.Token,
			status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
		{name: "protected media is", method: http.MethodGet, path: download(b), token: s.Alice.Token, status: http.StatusOK},
		{name: "release a", method: http.MethodPost, path: "/v1/media/unquarantine/" + s.ServerName + "/" + a, token: root,
			status: http.StatusOK},
		{name: "released media is served", method: http.MethodGet, path: download(a), token: s.Alice.Token, status: http.StatusOK},
		{name: "quarantine the room's media", method: http.MethodPost, path: "/v1/room/" + room + "/media/quarantine", token: root,
			status: http.StatusOK, check: quarantined(2)},
		{name: "quarantine one", method: http.MethodPost, path: "/v1/media/quarantine/" + s.ServerName + "/" + b, token: root,
			status: http.StatusOK},
		{name: "the user's media again: nothing new", method: http.MethodPost, path: "/v1/user/" + s.Alice.ID + "/media/quarantine",
			token: root, status: http.StatusOK, check: quarantined(0)},
		{name: "one quarantined is not served", method: http.MethodGet, path: download(b), token: s.Alice.Token,
			status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
		{name: "nor its thumbnail", method: http.MethodGet, path: "/_matrix/client/v1/media/thumbnail/" + s.ServerName + "/" + b +
			"?width=32&height=32", token: s.Alice.Token, status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
		{name: "bad media ID", method: http.MethodPost, path: "/v1/media/quarantine/" + s.ServerName + "/a.b", token: root,
			status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"},
	})
}

// checkDeletes: by ID, by age (protected media and avatars kept), a
// user's; the files go from disk.
func checkDeletes(t *testing.T, s *server, a, b, c, cFile string) {
	ctx := context.Background()
	avatar, _ := json.Marshal("mxc://" + s.ServerName + "/" + c)
	if err := s.Users.SetProfileField(ctx, "alice", "avatar_url", avatar); err != nil {
		t.Fatal(err)
	}
	rootMedia := upload(t, s, s.Root, "root's")
	later := fmt.Sprint(time.Now().Add(time.Minute).UnixMilli())
	deleted := func(ids ...string) func(*testing.T, *fixture.Response) {
		return func(t *testing.T, r *fixture.Response) {
			var body struct {
				Deleted []string `json:"deleted_media"`
				Total   int      `json:"total"`
			}
			r.Decode(t, &body)
			slices.Sort(body.Deleted)
			slices.Sort(ids)
			if !slices.Equal(body.Deleted, ids) || body.Total != len(ids) {
				t.Fatalf("want %v deleted: %s", ids, r.Body)
			}
		}
	}
	root := s.Root.Token
	run(t, s, []call{
		{name: "delete remote", method: http.MethodDelete, path: "/v1/media/elsewhere.example/x", token: root,
			status: http.StatusBadRequest, errcode: "M_UNKNOWN"},
		{name: "delete unknown", method: http.MethodDelete, path: "/v1/media/" + s.ServerName + "/nope", token: root,
			status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
		{name: "delete one", method: http.MethodDelete, path: "/v1/media/" + s.ServerName + "/" + rootMedia, token: root,
			status: http.StatusOK, check: deleted(rootMedia)},
		{name: "no before_ts", method: http.MethodPost, path: "/v1/media/delete", token: root,
			status: http.StatusBadRequest, errcode: "M_MISSING_PARAM"},
		{name: "before_ts in seconds", method: http.MethodPost, path: "/v1/media/delete?before_ts=1700000000", token: root,
			status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"},
		{name: "another server's", method: http.MethodPost, path: "/v1/media/elsewhere.example/delete?before_ts=" + later,
			token: root, status: http.StatusBadRequest, errcode: "M_UNKNOWN"},
		{name: "by age, keeping b (protected) and c (an avatar)", method: http.MethodPost, path: "/v1/media/delete?before_ts=" + later,
			token: root, status: http.StatusOK, check: deleted(a)},
		{name: "the avatar too", method: http.MethodPost,
			path:  "/v1/media/" + s.ServerName + "/delete?keep_profiles=false&before_ts=" + later,
			token: root, status: http.StatusOK, check: deleted(c)},
		{name: "the user's media", method: http.MethodDelete, path: "/v1/users/" + s.Alice.ID + "/media", token: root,
			status: http.StatusOK, check: deleted(b)},
	})
	if _, err := os.Stat(cFile); !os.IsNotExist(err) {
		t.Fatalf("deleted media's file %s still there: %v", cFile, err)
	}
}

// TestRoomMediaURIs: a room's media, on both databases, from plain and
// encrypted attachments and thumbnails, each once; other events' text
// mentioning mxc:// is no media.
func TestRoomMediaURIs(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		s := newServer(t, db)
		room := s.Room(t, s.Alice)
		local := "mxc://" + s.ServerName + "/"
		for _, content := range []map[string]any{
			{"msgtype": "m.image", "body": "x", "url": local + "img", "info": map[string]any{"thumbnail_url": local + "thumb"}},
			{"msgtype": "m.file", "body": "x", "file": map[string]any{"url": "mxc://other.example/enc"},
				"info": map[string]any{"thumbnail_file": map[string]any{"url": local + "encthumb"}}},
			{"msgtype": "m.image", "body": "again", "url": local + "img"},
			{"msgtype": "m.text", "body": "see mxc://" + s.ServerName + "/text"},
			{"msgtype": "m.image", "body": "x", "url": "mxc://bad server/x"},
		} {
			raw, _ := json.Marshal(content)
			if _, err := s.Rooms.SendEvent(context.Background(), roomapi.SendEventRequest{RoomID: room, Sender: s.Alice.ID,
				Type: "m.room.message", Content: raw}); err != nil {
				t.Fatal(err)
			}
		}
		run(t, s, []call{{name: "the room's media", method: http.MethodGet, path: "/v1/room/" + room + "/media", token: s.Root.Token,
			status: http.StatusOK, check: func(t *testing.T, r *fixture.Response) {
				var body struct{ Local, Remote []string }
				r.Decode(t, &body)
				slices.Sort(body.Local)
				if !slices.Equal(body.Local, []string{local + "encthumb", local + "img", local + "thumb"}) ||
					!slices.Equal(body.Remote, []string{"mxc://other.example/enc"}) {
					t.Fatalf("body %s", r.Body)
				}
			}}})
	})
}
