package e2e

import (
	"context"
	"testing"

	"maunium.net/go/mautrix"
)

// TestRestartKeepsData stops a server and starts another on the same data
// directory and database: accounts, devices, tokens, profiles and media
// survive.
func TestRestartKeepsData(t *testing.T) {
	t.Parallel() // waits more than it computes: runs beside the others once the serial tests are done
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		cfg := testConfig(t, dbURL)
		srv := startServer(t, cfg)
		bob := register(t, srv, "bob", "password-one")
		if err := bob.SetDisplayName(ctx(t), "Bob"); err != nil {
			t.Fatal(err)
		}
		if err := bob.SetProfileField(ctx(t), "im.myelin.signature", "still here"); err != nil {
			t.Fatal(err)
		}
		phone := login(t, srv, "bob", "password-one")
		avatar, err := bob.UploadBytesWithName(ctx(t), []byte("an avatar"), "image/png", "me.png")
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Fatalf("shutdown: %v", err)
		}

		srv2 := startServer(t, cfg)
		for _, c := range []*mautrix.Client{bob, phone} {
			c.HomeserverURL = mustParse(t, srv2.ClientURL())
			who, err := c.Whoami(ctx(t))
			if err != nil || who.DeviceID != c.DeviceID {
				t.Fatalf("token of %s after restart: %+v %v", c.DeviceID, who, err)
			}
		}
		prof, err := phone.GetProfile(ctx(t), "@bob:localhost")
		if err != nil || prof.DisplayName != "Bob" {
			t.Fatalf("profile after restart: %+v %v", prof, err)
		}
		var sig map[string]string
		err = phone.GetProfileField(ctx(t), "@bob:localhost", "im.myelin.signature", &sig)
		if err != nil || sig["im.myelin.signature"] != "still here" {
			t.Fatalf("signature after restart: %v %v", sig, err)
		}
		devs, err := bob.GetDevicesInfo(ctx(t))
		if err != nil || len(devs.Devices) != 2 {
			t.Fatalf("devices after restart: %+v %v", devs, err)
		}
		if got, res := download(t, phone, avatar.ContentURI); string(got) != "an avatar" || res.Header.Get("Content-Type") != "image/png" {
			t.Fatalf("media after restart: %q %v", got, res.Header)
		}
		login(t, srv2, "bob", "password-one")
	})
}
