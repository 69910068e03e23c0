package appservice_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/appservice"
	"github.com/myelin-im/myelin/appservice/api"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/test/fixture"
)

// TestDirectoryAsksTheBridge: the directory other servers query asks the
// bridge about an unknown alias in its namespace, on the real roomserver.
func TestDirectoryAsksTheBridge(t *testing.T) {
	f := fixture.New(t)
	bot := f.User(t, "bot")
	portal := f.Room(t, bot, roomapi.CreateRoomRequest{Preset: "public_chat"})
	var mu sync.Mutex
	var asked []string
	bridge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		alias, _ := strings.CutPrefix(r.URL.Path, "/_matrix/app/v1/rooms/")
		mu.Lock()
		asked = append(asked, alias)
		mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer hs" || alias != "#_fake_portal:"+f.ServerName {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		if err := f.Rooms.CreateAlias(r.Context(), alias, portal, bot.ID); err != nil {
			t.Errorf("creating the alias: %v", err)
		}
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(bridge.Close)
	reg := &api.Registration{ID: "fake", URL: &bridge.URL, ASToken: "as", HSToken: "hs", SenderLocalpart: "bot",
		Namespaces: api.Namespaces{Aliases: []api.Namespace{{Exclusive: true, Regex: "#_fake_.*"}}}}
	if err := reg.Compile(); err != nil {
		t.Fatal(err)
	}
	dir := appservice.WrapDirectory(f.Rooms, api.NewRegistry(f.ServerName, []*api.Registration{reg}), logrus.New())
	ctx := context.Background()
	if got, err := dir.ResolveAlias(ctx, "#_fake_portal:"+f.ServerName); err != nil || got != portal {
		t.Fatalf("ResolveAlias = %q, %v; want %s", got, err, portal)
	}
	if _, err := dir.ResolveAlias(ctx, "#_fake_none:"+f.ServerName); !errors.Is(err, roomapi.ErrAliasNotFound) {
		t.Fatalf("refused alias: err = %v", err)
	}
	if _, err := dir.ResolveAlias(ctx, "#other:"+f.ServerName); !errors.Is(err, roomapi.ErrAliasNotFound) {
		t.Fatalf("alias outside the namespace: err = %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := "#_fake_portal:" + f.ServerName + " #_fake_none:" + f.ServerName; strings.Join(asked, " ") != want {
		t.Fatalf("asked %v, want %s", asked, want)
	}
	if appservice.WrapDirectory(f.Rooms, api.NewRegistry(f.ServerName, nil), logrus.New()) != roomapi.Directory(f.Rooms) {
		t.Fatal("without services the directory should be the roomserver's own")
	}
}
