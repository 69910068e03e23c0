//go:build goolm

package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto"
	"maunium.net/go/mautrix/crypto/backup"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/server"
)

// The end-to-end encryption tests run mautrix-go's own Olm and Megolm (its
// pure-Go implementation, build tag goolm) as a client would: the server
// only stores and routes keys and to-device messages and never sees a
// plaintext. `make test` builds with the tag.

// e2eeClient is a logged-in device with its crypto machine and sync loop;
// texts receives the bodies of the messages it decrypted.
type e2eeClient struct {
	*mautrix.Client
	mach *crypto.OlmMachine
	// machMu serialises the machine's use: mautrix's memory store is not
	// safe for concurrent writers (the sync loop and the test's own calls).
	// Every use but WaitForSession, which waits for the sync loop, holds it.
	machMu sync.Mutex
	texts  chan string
	mu     sync.Mutex
	// failed are the decryption failures seen, for the failure message.
	failed []error
}

// The mautrix.CryptoHelper the client encrypts with when it sends to an
// encrypted room.
var _ mautrix.CryptoHelper = (*e2eeClient)(nil)

// locked runs fn with the machine while nothing else uses it.
func (ec *e2eeClient) locked(fn func(m *crypto.OlmMachine) error) error {
	ec.machMu.Lock()
	defer ec.machMu.Unlock()
	return fn(ec.mach)
}

// Init is done by withCrypto.
func (ec *e2eeClient) Init(context.Context) error { return nil }

// Encrypt encrypts for the room's members, sharing a new room key with
// their devices first when there is none to use (the machine says so).
func (ec *e2eeClient) Encrypt(ctx context.Context, room id.RoomID, typ event.Type, content any) (*event.EncryptedEventContent, error) {
	ec.machMu.Lock()
	defer ec.machMu.Unlock()
	enc, err := ec.mach.EncryptMegolmEvent(ctx, room, typ, content)
	if !needsNewRoomKey(err) {
		return enc, err
	}
	members, err := ec.StateStore.GetRoomJoinedOrInvitedMembers(ctx, room)
	if err != nil {
		return nil, err
	}
	if err := ec.mach.ShareGroupSession(ctx, room, members); err != nil {
		return nil, fmt.Errorf("sharing the room key: %w", err)
	}
	return ec.mach.EncryptMegolmEvent(ctx, room, typ, content)
}

// needsNewRoomKey says whether an encryption failed for want of a room key
// shared with the room's current devices.
func needsNewRoomKey(err error) bool {
	return errors.Is(err, crypto.ErrNoGroupSession) || errors.Is(err, crypto.ErrSessionExpired) ||
		errors.Is(err, crypto.ErrSessionNotShared)
}

// Decrypt decrypts a Megolm event.
func (ec *e2eeClient) Decrypt(ctx context.Context, evt *event.Event) (dec *event.Event, err error) {
	err = ec.locked(func(m *crypto.OlmMachine) error {
		dec, err = m.DecryptMegolmEvent(ctx, evt)
		return err
	})
	return dec, err
}

// WaitForSession waits for a room key to arrive in a to-device message.
func (ec *e2eeClient) WaitForSession(ctx context.Context, room id.RoomID, key id.SenderKey, sess id.SessionID, d time.Duration) bool {
	return ec.mach.WaitForSession(ctx, room, key, sess, d)
}

// RequestSession is not needed: keys arrive unasked in these tests.
func (ec *e2eeClient) RequestSession(context.Context, id.RoomID, id.SenderKey, id.SessionID, id.UserID, id.DeviceID) {
}

// onEncrypted decrypts a room event as it arrives, waiting a little for
// its room key when the to-device message carrying it is still on its way.
func (ec *e2eeClient) onEncrypted(ctx context.Context, evt *event.Event) {
	dec, err := ec.Decrypt(ctx, evt)
	if errors.Is(err, crypto.ErrNoSessionFound) {
		content := evt.Content.AsEncrypted()
		if ec.mach.WaitForSession(ctx, evt.RoomID, content.SenderKey, content.SessionID, 10*time.Second) {
			dec, err = ec.Decrypt(ctx, evt)
		}
	}
	if err != nil {
		ec.mu.Lock()
		ec.failed = append(ec.failed, err)
		ec.mu.Unlock()
		return
	}
	if msg := dec.Content.AsMessage(); msg != nil {
		ec.texts <- msg.Body
	}
}

// withCrypto gives c a crypto machine, uploads its device and one-time
// keys and starts its sync loop until the test ends.
func withCrypto(t *testing.T, c *mautrix.Client) *e2eeClient {
	t.Helper()
	ec := &e2eeClient{Client: c, texts: make(chan string, 16)}
	c.StateStore = mautrix.NewMemoryStateStore()
	log := zerolog.Nop()
	ec.mach = crypto.NewOlmMachine(c, &log, crypto.NewMemoryStore(nil), c.StateStore.(crypto.StateStore))
	if err := ec.mach.Load(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if err := ec.mach.ShareKeys(ctx(t), -1); err != nil {
		t.Fatalf("uploading %s's keys: %v", c.UserID, err)
	}
	syncer := c.Syncer.(*mautrix.DefaultSyncer)
	syncer.OnEvent(c.StateStoreSyncHandler)
	syncer.OnSync(func(ctx context.Context, resp *mautrix.RespSync, since string) bool {
		ec.machMu.Lock()
		defer ec.machMu.Unlock()
		return ec.mach.ProcessSyncResponse(ctx, resp, since)
	})
	syncer.OnEventType(event.StateMember, func(ctx context.Context, evt *event.Event) {
		_ = ec.locked(func(m *crypto.OlmMachine) error { m.HandleMemberEvent(ctx, evt); return nil })
	})
	syncer.OnEventType(event.EventEncrypted, func(ctx context.Context, evt *event.Event) { go ec.onEncrypted(ctx, evt) })
	c.Crypto = ec
	syncCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.SyncWithContext(syncCtx)
	}()
	t.Cleanup(func() { stop(); <-done })
	return ec
}

// expect waits for the device to decrypt a message with body want.
func (ec *e2eeClient) expect(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case got := <-ec.texts:
			if got == want {
				return
			}
		case <-deadline:
			ec.mu.Lock()
			defer ec.mu.Unlock()
			t.Fatalf("%s/%s did not decrypt %q within 20s (decryption failures: %v)", ec.UserID, ec.DeviceID, want, ec.failed)
		}
	}
}

// waitJoined waits until ec's sync has shown user joined to room.
func (ec *e2eeClient) waitJoined(t *testing.T, room id.RoomID, user id.UserID) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if ec.StateStore.IsInRoom(ctx(t), room, user) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never saw %s join %s", ec.UserID, user, room)
		}
	}
}

// waitDevices waits until ec's crypto machine knows exactly the devices
// want of user (it learns them from device_lists and /keys/query).
func (ec *e2eeClient) waitDevices(t *testing.T, user id.UserID, want ...id.DeviceID) {
	t.Helper()
	var have []id.DeviceID
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var devices map[id.DeviceID]*id.Device
		_ = ec.locked(func(m *crypto.OlmMachine) (err error) {
			devices, err = m.CryptoStore.GetDevices(ctx(t), user)
			return err
		})
		have = have[:0]
		for d := range devices {
			have = append(have, d)
		}
		if sameDevices(have, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s knows devices %v of %s, want %v", ec.UserID, have, user, want)
		}
	}
}

func sameDevices(have, want []id.DeviceID) bool {
	if len(have) != len(want) {
		return false
	}
	set := map[id.DeviceID]bool{}
	for _, d := range have {
		set[d] = true
	}
	for _, d := range want {
		if !set[d] {
			return false
		}
	}
	return true
}

// encryptedDM has alice make an encrypted direct room with bob, who joins.
func encryptedDM(t *testing.T, alice, bob *e2eeClient) id.RoomID {
	t.Helper()
	room, err := alice.CreateRoom(ctx(t), &mautrix.ReqCreateRoom{
		Preset:   "trusted_private_chat",
		IsDirect: true,
		Invite:   []id.UserID{bob.UserID},
		InitialState: []*event.Event{{
			Type:    event.StateEncryption,
			Content: event.Content{Parsed: &event.EncryptionEventContent{Algorithm: id.AlgorithmMegolmV1}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.JoinRoomByID(ctx(t), room.RoomID); err != nil {
		t.Fatal(err)
	}
	alice.waitJoined(t, room.RoomID, bob.UserID)
	bob.waitJoined(t, room.RoomID, alice.UserID)
	return room.RoomID
}

// sendText sends body from c, encrypted by its machine, checks that the
// server stored only ciphertext and returns the event's ID.
func sendText(t *testing.T, srv *server.Server, c *e2eeClient, room id.RoomID, body string) id.EventID {
	t.Helper()
	resp, err := c.SendText(ctx(t), room, body)
	if err != nil {
		t.Fatalf("%s sending %q: %v", c.UserID, body, err)
	}
	raw := do(t, "GET", srv.ClientURL()+"/_matrix/client/v3/rooms/"+room.String()+"/event/"+resp.EventID.String(),
		c.AccessToken, nil)
	stored := toJSON(raw.Body)
	if raw.Status != 200 || raw.Body["type"] != "m.room.encrypted" || strings.Contains(stored, body) {
		t.Fatalf("the server holds %s as %d %s: want m.room.encrypted without the plaintext", resp.EventID, raw.Status, stored)
	}
	return resp.EventID
}

// TestEncryptedDirectChat: two users on one server exchange Megolm-encrypted
// messages in a direct room and read them; a new device of bob's receives
// the room key of later messages and decrypts them; once deleted, it is no
// longer among the devices alice encrypts for.
func TestEncryptedDirectChat(t *testing.T) {
	zerolog.SetGlobalLevel(zerolog.WarnLevel)
	srv := startServer(t, testConfig(t, sqltest.URL(t, sqlutil.SQLite)))
	alice := withCrypto(t, register(t, srv, "alice", "alice-password"))
	bob := withCrypto(t, register(t, srv, "bob", "bob-password"))
	room, bob2 := chatThenNewDevice(t, srv, srv, alice, bob, "bob-password")

	// bob deletes the second device: alice drops it and keeps writing to
	// the first.
	err := bob.DeleteDevice(ctx(t), bob2.DeviceID, &mautrix.ReqDeleteDevice[any]{Auth: passwordAuth(bob.UserID, "bob-password", "")})
	if err != nil {
		t.Fatalf("deleting bob's second device: %v", err)
	}
	alice.waitDevices(t, bob.UserID, bob.DeviceID)
	sendText(t, srv, alice, room, "after the deletion")
	bob.expect(t, "after the deletion")
}

// TestKeyBackupRoundTrip: bob backs up the room key of a message, encrypted
// to his backup key; a new device of his, which never received that room
// key, restores it from the server's backup and decrypts the message.
func TestKeyBackupRoundTrip(t *testing.T) {
	zerolog.SetGlobalLevel(zerolog.WarnLevel)
	srv := startServer(t, testConfig(t, sqltest.URL(t, sqlutil.SQLite)))
	alice := withCrypto(t, register(t, srv, "alice", "alice-password"))
	bob := withCrypto(t, register(t, srv, "bob", "bob-password"))
	room := encryptedDM(t, alice, bob)
	eventID := sendText(t, srv, alice, room, "worth keeping")
	bob.expect(t, "worth keeping")

	backupKey, err := backup.NewMegolmBackupKey()
	if err != nil {
		t.Fatal(err)
	}
	version, err := bob.CreateKeyBackupVersion(ctx(t), &mautrix.ReqRoomKeysVersionCreate[backup.MegolmAuthData]{
		Algorithm: id.KeyBackupAlgorithmMegolmBackupV1,
		AuthData:  backup.MegolmAuthData{PublicKey: id.Ed25519(base64.RawStdEncoding.EncodeToString(backupKey.PublicKey().Bytes()))},
	})
	if err != nil {
		t.Fatalf("creating the backup: %v", err)
	}
	evt, err := bob.GetEvent(ctx(t), room, eventID)
	if err != nil {
		t.Fatal(err)
	}
	if err := evt.Content.ParseRaw(evt.Type); err != nil {
		t.Fatal(err)
	}
	backUpRoomKey(t, bob, backupKey, version.Version, room, evt.Content.AsEncrypted().SessionID)

	bob2 := withCrypto(t, login(t, srv, "bob", "bob-password"))
	if _, err := bob2.Decrypt(ctx(t), evt); err == nil {
		t.Fatal("the new device decrypted the message before restoring the backup")
	}
	var restored id.KeyBackupVersion
	err = bob2.locked(func(m *crypto.OlmMachine) (err error) {
		restored, err = m.DownloadAndStoreLatestKeyBackup(ctx(t), backupKey)
		return err
	})
	if err != nil || restored != version.Version {
		t.Fatalf("restoring the backup: version %q, %v; want %q", restored, err, version.Version)
	}
	dec, err := bob2.Decrypt(ctx(t), evt)
	if err != nil || dec.Content.AsMessage().Body != "worth keeping" {
		t.Fatalf("the restored room key decrypts %v, %v", dec, err)
	}
}

// backUpRoomKey uploads the room key sessionID of ec's device, encrypted to
// backupKey, to the backup version.
func backUpRoomKey(t *testing.T, ec *e2eeClient, backupKey *backup.MegolmBackupKey, version id.KeyBackupVersion,
	room id.RoomID, sessionID id.SessionID) {
	t.Helper()
	var sess *crypto.InboundGroupSession
	err := ec.locked(func(m *crypto.OlmMachine) (err error) {
		sess, err = m.CryptoStore.GetGroupSession(ctx(t), room, sessionID)
		return err
	})
	if err != nil || sess == nil {
		t.Fatalf("bob's room key %s: %v", sessionID, err)
	}
	first := sess.Internal.FirstKnownIndex()
	exported, err := sess.Internal.Export(first)
	if err != nil {
		t.Fatal(err)
	}
	data, err := backup.EncryptSessionData(backupKey, backup.MegolmSessionData{
		Algorithm:          id.AlgorithmMegolmV1,
		ForwardingKeyChain: []string{},
		SenderClaimedKeys:  backup.SenderClaimedKeys{Ed25519: sess.SigningKey},
		SenderKey:          sess.SenderKey,
		SessionKey:         string(exported),
	})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(data)
	if err != nil {
		t.Fatal(err)
	}
	_, err = ec.PutKeysInBackupForRoomAndSession(ctx(t), version, room, sessionID, &mautrix.ReqKeyBackupData{
		FirstMessageIndex: int(first),
		SessionData:       raw,
	})
	if err != nil {
		t.Fatalf("backing up the room key: %v", err)
	}
}

// TestCrossSigningSeenByOthers: alice publishes cross-signing keys and
// signs her device with them; bob's client learns of it from device_lists,
// sees her device cross-signed, and once he signs her master key with his
// user-signing key, sees it verified.
func TestCrossSigningSeenByOthers(t *testing.T) {
	zerolog.SetGlobalLevel(zerolog.WarnLevel)
	srv := startServer(t, testConfig(t, sqltest.URL(t, sqlutil.SQLite)))
	alice := withCrypto(t, register(t, srv, "alice", "alice-password"))
	bob := withCrypto(t, register(t, srv, "bob", "bob-password"))
	room := encryptedDM(t, alice, bob)
	// bob's client fetches alice's devices when it first encrypts for her.
	sendText(t, srv, bob, room, "hello alice")
	alice.expect(t, "hello alice")
	bob.waitDevices(t, alice.UserID, alice.DeviceID)

	seen := crossSignedFor(t, alice, bob, "alice-password")
	verifiedBy(t, bob, "bob-password", alice, seen)
}

// verifiedBy: bob publishes his cross-signing keys and signs alice's master
// key (as seen) with his user-signing key; his client then trusts alice's
// cross-signed device, which needs the server to hand his signature back
// in /keys/query (spec: "Cross-signing").
func verifiedBy(t *testing.T, bob *e2eeClient, bobPassword string, alice *e2eeClient, seen *crypto.CrossSigningPublicKeysCache) {
	t.Helper()
	publishCrossSigning(t, bob, bobPassword)
	err := bob.locked(func(m *crypto.OlmMachine) error { return m.SignUser(ctx(t), alice.UserID, seen.MasterKey) })
	if err != nil {
		t.Fatalf("bob signing alice's master key: %v", err)
	}
	waitTrust(t, bob, alice.UserID, alice.DeviceID, id.TrustStateCrossSignedVerified)
}

// chatThenNewDevice: alice (on aliceSrv) and bob (on bobSrv) exchange
// encrypted messages in a new direct room and read them; bob logs in on a
// second device, alice hears of it and shares the next room key with both.
func chatThenNewDevice(t *testing.T, aliceSrv, bobSrv *server.Server, alice, bob *e2eeClient, bobPassword string) (
	id.RoomID, *e2eeClient,
) {
	t.Helper()
	room := encryptedDM(t, alice, bob)
	sendText(t, aliceSrv, alice, room, "hello bob, this is secret")
	bob.expect(t, "hello bob, this is secret")
	sendText(t, bobSrv, bob, room, "hi alice, read you")
	alice.expect(t, "hi alice, read you")

	bob2 := withCrypto(t, login(t, bobSrv, "bob", bobPassword))
	alice.waitDevices(t, bob.UserID, bob.DeviceID, bob2.DeviceID)
	sendText(t, aliceSrv, alice, room, "to both of bob's devices")
	bob.expect(t, "to both of bob's devices")
	bob2.expect(t, "to both of bob's devices")
	return room, bob2
}

// crossSignedFor: alice publishes cross-signing keys and signs her device;
// bob's client sees her device cross-signed and her master key. It returns
// the keys bob sees.
func crossSignedFor(t *testing.T, alice, bob *e2eeClient, alicePassword string) *crypto.CrossSigningPublicKeysCache {
	t.Helper()
	aliceKeys := publishCrossSigning(t, alice, alicePassword)
	err := alice.locked(func(m *crypto.OlmMachine) error { return m.SignOwnDevice(ctx(t), m.OwnIdentity()) })
	if err != nil {
		t.Fatalf("alice signing her device: %v", err)
	}
	waitTrust(t, bob, alice.UserID, alice.DeviceID, id.TrustStateCrossSignedUntrusted)
	var seen *crypto.CrossSigningPublicKeysCache
	err = bob.locked(func(m *crypto.OlmMachine) (err error) {
		seen, err = m.GetCrossSigningPublicKeys(ctx(t), alice.UserID)
		return err
	})
	if err != nil || seen == nil || seen.MasterKey != aliceKeys.MasterKey.PublicKey() {
		t.Fatalf("bob sees alice's master key as %+v (%v), want %s", seen, err, aliceKeys.MasterKey.PublicKey())
	}
	return seen
}

// publishCrossSigning makes and uploads ec's cross-signing keys, answering
// the server's user-interactive auth with the password if it asks.
func publishCrossSigning(t *testing.T, ec *e2eeClient, password string) *crypto.CrossSigningKeysCache {
	t.Helper()
	var keys *crypto.CrossSigningKeysCache
	err := ec.locked(func(m *crypto.OlmMachine) (err error) {
		if keys, err = m.GenerateCrossSigningKeys(); err != nil {
			return err
		}
		return m.PublishCrossSigningKeys(ctx(t), keys, func(uia *mautrix.RespUserInteractive) any {
			return passwordAuth(ec.UserID, password, uia.Session)
		})
	})
	if err != nil {
		t.Fatalf("%s publishing cross-signing keys: %v", ec.UserID, err)
	}
	return keys
}

// waitTrust waits until ec's machine, asking the server again when the
// device list changes, trusts user's device at least as want.
func waitTrust(t *testing.T, ec *e2eeClient, user id.UserID, device id.DeviceID, want id.TrustState) {
	t.Helper()
	var state id.TrustState
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		_ = ec.locked(func(m *crypto.OlmMachine) error {
			dev, err := m.CryptoStore.GetDevice(ctx(t), user, device)
			if err == nil && dev != nil {
				state, _ = m.ResolveTrustContext(ctx(t), dev)
			}
			return nil
		})
		if state >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s trusts %s/%s as %s, want %s", ec.UserID, user, device, state, want)
		}
	}
}

// TestEncryptedChatAcrossServers: the direct chat of TestEncryptedDirectChat
// between alice on one.test and bob on two.test, so that keys are queried
// and claimed over federation, room keys travel as m.direct_to_device and
// bob's new device reaches alice as m.device_list_update; and alice's
// cross-signing keys reach bob's client through m.signing_key_update.
func TestEncryptedChatAcrossServers(t *testing.T) {
	zerolog.SetGlobalLevel(zerolog.WarnLevel)
	f, aliceClient, bobClient := startPair(t, sqlutil.SQLite)
	one, two := f.servers["one.test"], f.servers["two.test"]
	alice, bob := withCrypto(t, aliceClient), withCrypto(t, bobClient)
	chatThenNewDevice(t, one, two, alice, bob, "long enough")
	seen := crossSignedFor(t, alice, bob, "long enough")
	verifiedBy(t, bob, "long enough", alice, seen) // bob on two.test, alice on one.test
}
