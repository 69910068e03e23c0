package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	roomapi "github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/server"
	usersapi "github.com/myelin-im/myelin/userapi/api"
)

// chromiumEnv set to "required" fails the export test when Chromium is
// missing instead of skipping its screenshot (.ci/services.sh sets it).
const chromiumEnv = "MYELIN_TEST_CHROMIUM"

// exportRoom is the room the export test builds, and what it sent.
type exportRoom struct {
	srv    *server.Server
	client *mautrix.Client // alice's, who sees the whole room
	roomID string
	alice  string
	bob    string
	mu     sync.Mutex
	// contents of every message the test sent, by event ID; messages
	// counts those the transcript shows (not edits).
	contents map[string]map[string]any
	messages int
	// redacted are the events the test redacted; edited maps a message to
	// the body of its (only) edit.
	redacted map[string]bool
	edited   map[string]string
	members  int // membership events
	media    map[string][]byte
	ids      []string // phase-1 messages, in the order sent
}

// TestRoomExport builds a room of 10,000 events (sent straight through the
// roomserver API, many at once) with edits, replies, redactions, media,
// Chinese text and membership churn, exports it through the admin API and
// checks the archive: digests, the events against the sync component's
// copy, the redaction history, the transcript's message count, and a
// screenshot of the transcript in headless Chromium.
func TestRoomExport(t *testing.T) {
	t.Parallel()
	srv := startServer(t, testConfig(t, ""))
	start := time.Now()
	r := buildExportRoom(t, srv)
	t.Logf("built a room of %d messages in %s", r.messages, time.Since(start).Round(time.Millisecond))
	root := adminClient(t, srv)
	waitForSync(t, r.client, r)
	dir := downloadExport(t, srv, root, r.roomID)
	checkExportedEvents(t, r, dir)
	checkExportedMedia(t, r, dir)
	checkTranscript(t, r, dir)
	screenshotTranscript(t, dir)
}

func adminClient(t *testing.T, srv *server.Server) *mautrix.Client {
	t.Helper()
	if _, err := srv.UserAPI.CreateAccount(ctx(t), usersapi.CreateAccountRequest{Localpart: "root", Password: "rootpass1",
		IsAdmin: true}); err != nil {
		t.Fatal(err)
	}
	return login(t, srv, "root", "rootpass1")
}

func buildExportRoom(t *testing.T, srv *server.Server) *exportRoom {
	t.Helper()
	alice := register(t, srv, "alice", "password1")
	bob := register(t, srv, "bob", "password1")
	r := &exportRoom{srv: srv, client: alice, roomID: string(publicRoom(t, alice, bob)),
		alice: string(alice.UserID), bob: string(bob.UserID),
		contents: map[string]map[string]any{}, redacted: map[string]bool{}, edited: map[string]string{}, media: map[string][]byte{}}
	r.members = 2
	img, doc := pngBytes(t), []byte("季度报告：一切正常。\nQuarterly report: all fine.\n")
	imgURI := upload(t, alice, img, "image/png", "截图.png")
	docURI := upload(t, bob, doc, "text/plain; charset=utf-8", "报告.txt")
	r.media[imgURI], r.media[docURI] = img, doc
	r.showcase(t, imgURI, docURI)
	var wg sync.WaitGroup
	for i := range 4 {
		u := register(t, srv, fmt.Sprintf("churn%d", i), "password1")
		wg.Go(func() { r.churn(t, string(u.UserID), 100) })
	}
	start := time.Now()
	r.parallel(t, 6100, func(i int) { r.phaseOne(t, i, imgURI, docURI) })
	t.Logf("phase one %s", time.Since(start))
	wg.Wait()
	t.Logf("churn %s", time.Since(start))
	r.parallel(t, 1500, func(i int) { r.reply(t, i) })
	r.parallel(t, 1200, func(i int) { r.edit(t, i) })
	t.Logf("replies, edits %s", time.Since(start))
	r.parallel(t, 400, func(i int) { r.redact(t, r.ids[1+i*15]) })
	t.Logf("redactions %s", time.Since(start))
	return r
}

// parallel runs fn(0..n-1) on 16 workers: the roomserver commits a
// room's concurrent writes in shared transactions.
func (r *exportRoom) parallel(t *testing.T, n int, fn func(i int)) {
	t.Helper()
	next := make(chan int)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := range next {
				fn(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

func (r *exportRoom) send(t *testing.T, sender string, c map[string]any, message bool) string {
	t.Helper()
	raw, err := json.Marshal(c)
	if err != nil {
		t.Error(err)
		return ""
	}
	id, err := r.srv.Roomserver.SendEvent(context.Background(), roomapi.SendEventRequest{RoomID: r.roomID, Sender: sender,
		Type: "m.room.message", Content: raw})
	if err != nil {
		t.Errorf("sending: %v", err)
		return ""
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.contents[id] = c
	if message {
		r.messages++
	}
	return id
}

func text(body string) map[string]any { return map[string]any{"msgtype": "m.text", "body": body} }

// showcase sends, one after the other, what the top of the transcript
// shows: Chinese, a reply, an image, a file, an edit and a redaction.
func (r *exportRoom) showcase(t *testing.T, imgURI, docURI string) {
	hello := r.send(t, r.alice, text("大家好！这是房间导出的测试。"), true)
	reply := text("收到，谢谢！")
	reply["m.relates_to"] = map[string]any{"m.in_reply_to": map[string]any{"event_id": hello}}
	r.send(t, r.bob, reply, true)
	r.send(t, r.alice, map[string]any{"msgtype": "m.image", "body": "截图.png", "url": imgURI,
		"info": map[string]any{"mimetype": "image/png", "w": 160, "h": 90}}, true)
	r.send(t, r.bob, map[string]any{"msgtype": "m.file", "body": "报告.txt", "url": docURI}, true)
	typo := r.send(t, r.alice, text("会议在下午三点开使"), true)
	r.editOf(t, r.alice, typo, "会议在下午三点开始")
	oops := r.send(t, r.bob, text("这条消息将被删除"), true)
	r.redact(t, oops)
}

func (r *exportRoom) editOf(t *testing.T, sender, target, body string) {
	c := text("* " + body)
	c["m.new_content"] = text(body)
	c["m.relates_to"] = map[string]any{"rel_type": "m.replace", "event_id": target}
	if r.send(t, sender, c, false) != "" {
		r.mu.Lock()
		r.edited[target] = body
		r.mu.Unlock()
	}
}

func (r *exportRoom) redact(t *testing.T, eventID string) {
	if _, err := r.srv.Roomserver.Redact(context.Background(), roomapi.RedactRequest{RoomID: r.roomID, Sender: r.alice,
		EventID: eventID, Reason: "测试"}); err != nil {
		t.Errorf("redacting: %v", err)
		return
	}
	r.mu.Lock()
	r.redacted[eventID] = true
	r.mu.Unlock()
}

func (r *exportRoom) sender(i int) string {
	if i%2 == 0 {
		return r.alice
	}
	return r.bob
}

// phaseOne sends the bulk: text, one in three Chinese, every 50th an
// attachment.
func (r *exportRoom) phaseOne(t *testing.T, i int, imgURI, docURI string) {
	c := text(fmt.Sprintf("message %d", i))
	switch {
	case i%50 == 7:
		c = map[string]any{"msgtype": "m.image", "body": "截图.png", "url": imgURI}
	case i%50 == 33:
		c = map[string]any{"msgtype": "m.file", "body": "报告.txt", "url": docURI}
	case i%3 == 0:
		c = text(fmt.Sprintf("第%d条消息：你好，世界", i))
	}
	if id := r.send(t, r.sender(i), c, true); id != "" {
		r.mu.Lock()
		r.ids = append(r.ids, id)
		r.mu.Unlock()
	}
}

func (r *exportRoom) reply(t *testing.T, i int) {
	target := r.ids[(i*7)%len(r.ids)]
	c := text(fmt.Sprintf("回复 %d", i))
	c["m.relates_to"] = map[string]any{"m.in_reply_to": map[string]any{"event_id": target}}
	r.send(t, r.sender(i+1), c, true)
}

// edit edits phase-1 messages 0, 5, 10, …, each once, by its sender (the
// redacted ones, 1 + 15k, are never among them).
func (r *exportRoom) edit(t *testing.T, i int) {
	target := r.ids[i*5]
	ev, err := r.srv.Roomserver.Event(context.Background(), target)
	if err != nil {
		t.Error(err)
		return
	}
	ce, err := ev.Client()
	if err != nil {
		t.Error(err)
		return
	}
	r.editOf(t, ce.Sender, target, fmt.Sprintf("编辑后的消息 %d", i))
}

// churn has user join and leave, or be kicked, n times.
func (r *exportRoom) churn(t *testing.T, user string, n int) {
	for i := range n {
		reqs := []roomapi.MembershipRequest{{RoomID: r.roomID, Sender: user, Target: user, Membership: "join"},
			{RoomID: r.roomID, Sender: user, Target: user, Membership: "leave"}}
		if i%3 == 1 {
			reqs[1] = roomapi.MembershipRequest{RoomID: r.roomID, Sender: r.alice, Target: user, Membership: "leave", Reason: "踢出"}
		}
		for _, req := range reqs {
			if _, err := r.srv.Roomserver.PerformMembership(context.Background(), req); err != nil {
				t.Errorf("%s %s: %v", user, req.Membership, err)
				return
			}
		}
		r.mu.Lock()
		r.members += 2
		r.mu.Unlock()
	}
}

func upload(t *testing.T, c *mautrix.Client, data []byte, contentType, name string) string {
	t.Helper()
	res, err := c.UploadBytesWithName(ctx(t), data, contentType, name)
	if err != nil {
		t.Fatal(err)
	}
	return res.ContentURI.String()
}

func pngBytes(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 160, 90))
	for x := range 160 {
		for y := range 90 {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y * 2), 200, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// serverEvents reads every event of the room as the sync component has
// it, through /messages (newest first), by event ID; it is all there when
// the newest is the roomserver's latest.
func serverEvents(t *testing.T, c *mautrix.Client, roomID string) (map[string]json.RawMessage, string) {
	t.Helper()
	out := map[string]json.RawMessage{}
	newest, from := "", ""
	for {
		res, err := c.Messages(ctx(t), id.RoomID(roomID), from, "", mautrix.DirectionBackward, nil, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range res.Chunk {
			if newest == "" {
				newest = string(ev.ID)
			}
			out[string(ev.ID)] = ev.Content.VeryRaw
		}
		if len(res.Chunk) == 0 || res.End == "" {
			return out, newest
		}
		from = res.End
	}
}

func waitForSync(t *testing.T, c *mautrix.Client, r *exportRoom) {
	t.Helper()
	latest, err := r.srv.Roomserver.LatestEventID(context.Background(), r.roomID)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		res, err := c.Messages(ctx(t), id.RoomID(r.roomID), "", "", mautrix.DirectionBackward, nil, 1)
		if err == nil && len(res.Chunk) == 1 && string(res.Chunk[0].ID) == latest {
			return
		}
	}
	t.Fatalf("the sync component did not reach %s", latest)
}
