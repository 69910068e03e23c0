package export

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"strings"
	"time"

	roomapi "github.com/myelin-im/myelin/roomserver/api"
)

// The transcript's head: UTF-8, and a font stack that has CJK fonts on
// every common system (Noto/Source Han on Linux, PingFang and Hiragino on
// macOS, Microsoft YaHei on Windows) so Chinese renders without tofu.
const transcriptHead = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>%s</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Noto Sans CJK SC", "Noto Sans SC",
  "Source Han Sans SC", "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", "WenQuanYi Micro Hei", sans-serif;
  margin: 0 auto; max-width: 60em; padding: 1em; color: #1c1c1c; background: #fff; line-height: 1.45; }
header { border-bottom: 1px solid #ccc; margin-bottom: 1em; }
.msg { padding: .35em .5em; border-radius: 4px; }
.msg:hover { background: #f4f6f8; }
.meta { font-size: .85em; color: #555; }
.sender { font-weight: 600; color: #1a4d8f; }
.body { white-space: pre-wrap; overflow-wrap: anywhere; }
.edited { font-size: .8em; color: #777; }
blockquote.reply { margin: .2em 0 .2em .2em; padding: .1em .6em; border-left: 3px solid #9ab; color: #444; font-size: .9em; }
.redacted .body { color: #888; font-style: italic; }
details.original { color: #6b2d2d; }
.ev { font-size: .85em; color: #666; padding: .15em .5em; }
img.attachment { max-width: 320px; max-height: 240px; display: block; margin-top: .2em; }
</style>
</head>
<body>
`

// transcript writes transcript.html as the events stream past.
type transcript struct {
	x     *roomExport
	w     *bufio.Writer
	names map[string]string // user -> display name so far
	// joined: users whose membership so far is join.
	joined map[string]bool
	count  int64
}

// writeTranscript writes transcript.html: every message in DAG order
// with who sent it and when, replies quoting what they answer, edits as
// their latest text marked edited, attachments linked to the exported
// files, redacted messages with their kept original; membership and
// other state changes as short lines.
func (x *roomExport) writeTranscript(ctx context.Context) (err error) {
	f, err := x.sink.Create(TranscriptFile)
	if err != nil {
		return err
	}
	t := &transcript{x: x, w: bufio.NewWriterSize(f, 64<<10), names: map[string]string{}, joined: map[string]bool{}}
	defer func() { err = closeAll(t.flush(err), f) }()
	title := x.roomName
	if title == "" {
		title = x.info.RoomID
	}
	fmt.Fprintf(t.w, transcriptHead, esc(title))
	fmt.Fprintf(t.w, "<header><h1>%s</h1><p>Room <code>%s</code> (version %s), exported %s: %d events, %d messages.</p></header>\n<main>\n",
		esc(title), esc(x.info.RoomID), esc(x.info.Version), fmtTime(x.sum.ExportedTS), x.sum.Events, x.sum.Messages)
	err = x.each(ctx, func(e *roomapi.ExportEvent) error { return t.event(ctx, e) })
	if err != nil {
		return err
	}
	fmt.Fprintf(t.w, "</main>\n<footer data-messages=\"%d\"><p>%d messages.</p></footer>\n</body>\n</html>\n", t.count, t.count)
	return nil
}

func (t *transcript) flush(err error) error {
	if ferr := t.w.Flush(); err == nil {
		return ferr
	}
	return err
}

func (t *transcript) event(ctx context.Context, e *roomapi.ExportEvent) error {
	if e.Rejected {
		return nil
	}
	c := parseContent(e)
	if e.Type == "m.room.member" && e.StateKey != nil {
		t.member(e, c)
		return nil
	}
	if !isMessage(e, c) {
		if e.StateKey != nil {
			fmt.Fprintf(t.w, "<div class=\"ev\">%s %s set %s</div>\n", fmtTime(e.OriginServerTS), t.who(e.Sender), esc(e.Type))
		}
		return nil
	}
	t.count++
	return t.message(ctx, e, c)
}

func (t *transcript) member(e *roomapi.ExportEvent, c *content) {
	user := *e.StateKey
	var what string
	switch c.Membership {
	case "join":
		what = "joined"
		if t.joined[user] {
			what = "changed their profile"
			if c.DisplayName != "" && c.DisplayName != t.names[user] {
				what = "is now called " + esc(c.DisplayName)
			}
		}
	case "leave":
		what = "left"
		if e.Sender != user {
			what = "was removed by " + t.who(e.Sender)
		}
	case "ban":
		what = "was banned by " + t.who(e.Sender)
	case "invite":
		what = "was invited by " + t.who(e.Sender)
	default:
		what = esc(c.Membership)
	}
	if c.Reason != "" {
		what += " (" + esc(c.Reason) + ")"
	}
	fmt.Fprintf(t.w, "<div class=\"ev member\">%s %s %s</div>\n", fmtTime(e.OriginServerTS), t.who(user), what)
	if c.Membership == "join" && c.DisplayName != "" {
		t.names[user] = c.DisplayName
	}
	t.joined[user] = c.Membership == "join"
}

// message writes one message.
func (t *transcript) message(ctx context.Context, e *roomapi.ExportEvent, c *content) error {
	class := "msg"
	if e.RedactedBy != "" {
		class += " redacted"
	}
	fmt.Fprintf(t.w, "<div class=\"%s\" id=\"%s\" data-event-id=\"%s\"><div class=\"meta\">%s <time datetime=\"%s\">%s</time></div>\n",
		class, esc(anchor(e.ID)), esc(e.ID), t.who(e.Sender), time.UnixMilli(e.OriginServerTS).UTC().Format(time.RFC3339),
		fmtTime(e.OriginServerTS))
	if id := c.replyTo(); id != "" {
		if err := t.quote(ctx, id); err != nil {
			return err
		}
	}
	if e.RedactedBy != "" {
		t.redacted(c)
	} else if err := t.body(ctx, e, c); err != nil {
		return err
	}
	_, err := io.WriteString(t.w, "</div>\n")
	return err
}

// body writes the message's latest text (its latest edit's, marked) and
// its attachment.
func (t *transcript) body(ctx context.Context, e *roomapi.ExportEvent, c *content) error {
	text, edited := c.Body, false
	if editID, ok := t.x.edits[e.ID]; ok {
		nc, err := t.edit(ctx, editID, e.Sender)
		if err != nil {
			return err
		}
		if nc != nil {
			text, edited = nc.Body, true
		}
	}
	if c.replyTo() != "" {
		text = stripReplyFallback(text)
	}
	mark := ""
	if edited {
		mark = ` <span class="edited">(edited)</span>`
	}
	fmt.Fprintf(t.w, "<div class=\"body\">%s%s</div>", esc(text), mark)
	t.attachment(c)
	return nil
}

// edit reads an edit's new content; nil when it cannot apply (another
// sender's: spec "Event replacements", validity).
func (t *transcript) edit(ctx context.Context, editID, sender string) (*content, error) {
	ev, err := t.x.o.Rooms.Event(ctx, editID)
	if err != nil {
		return nil, err
	}
	ce, err := ev.Client()
	if err != nil || ce.Sender != sender {
		return nil, nil //nolint:nilerr // an unreadable edit is not applied
	}
	var c content
	if json.Unmarshal(ce.Content, &c) != nil || c.NewContent == nil {
		return nil, nil
	}
	return c.NewContent, nil
}

func (t *transcript) attachment(c *content) {
	uri := c.mxcURL()
	if uri == "" {
		return
	}
	path, ok := t.x.media[uri]
	name := c.FileName
	if name == "" {
		name = c.Body
	}
	if !ok || path == "" {
		fmt.Fprintf(t.w, "<div class=\"attachment missing\">Attachment %s (%s) not on this server</div>", esc(name), esc(uri))
		return
	}
	if c.MsgType == "m.image" || c.Info != nil && strings.HasPrefix(c.Info.MimeType, "image/") {
		fmt.Fprintf(t.w, "<a href=\"%s\"><img class=\"attachment\" src=\"%s\" alt=\"%s\" loading=\"lazy\"></a>",
			esc(path), esc(path), esc(name))
		return
	}
	fmt.Fprintf(t.w, "<div><a class=\"attachment\" href=\"%s\">%s</a></div>", esc(path), esc(name))
}

func (t *transcript) redacted(c *content) {
	io.WriteString(t.w, "<div class=\"body\">Message deleted</div>") //nolint:errcheck // bufio: Flush reports
	if !c.redacted {
		fmt.Fprintf(t.w, "<details class=\"original\" open><summary>Original (redaction history)</summary><div class=\"body\">%s</div>",
			esc(c.Body))
		t.attachment(c)
		io.WriteString(t.w, "</details>") //nolint:errcheck // bufio: Flush reports
	}
}

// quote writes the message a reply answers.
func (t *transcript) quote(ctx context.Context, id string) error {
	ev, err := t.x.o.Rooms.Event(ctx, id)
	if err != nil {
		fmt.Fprintf(t.w, "<blockquote class=\"reply\">In reply to an event not on this server</blockquote>")
		return nil //nolint:nilerr // the target may be unknown: not an export failure
	}
	ce, err := ev.Client()
	if err != nil {
		return err
	}
	var c content
	_ = json.Unmarshal(ce.Content, &c)
	text := c.Body
	if text == "" {
		text = "(deleted message)"
	}
	if len(text) > 300 {
		text = truncate(text, 300) + "…"
	}
	fmt.Fprintf(t.w, "<blockquote class=\"reply\"><a href=\"#%s\">In reply to</a> %s: %s</blockquote>\n",
		esc(anchor(id)), t.who(ce.Sender), esc(stripReplyFallback(text)))
	return nil
}

// who is a user's display name (as of this point of the room) with the
// user ID as its title.
func (t *transcript) who(user string) string {
	name := t.names[user]
	if name == "" {
		name = user
	}
	return fmt.Sprintf("<span class=\"sender\" title=\"%s\">%s</span>", esc(user), esc(name))
}

// stripReplyFallback removes the quoted lines older clients put at the
// start of a reply's body (spec v1.13 removed reply fallbacks).
func stripReplyFallback(body string) string {
	if !strings.HasPrefix(body, "> ") {
		return body
	}
	lines := strings.Split(body, "\n")
	i := 0
	for i < len(lines) && strings.HasPrefix(lines[i], ">") {
		i++
	}
	return strings.TrimLeft(strings.Join(lines[i:], "\n"), "\n")
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	for n > 0 && n < len(s) && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// anchor is the HTML id of an event's message.
func anchor(eventID string) string { return "e-" + strings.TrimPrefix(eventID, "$") }

func esc(s string) string { return html.EscapeString(s) }

func fmtTime(ms int64) string { return time.UnixMilli(ms).UTC().Format("2006-01-02 15:04:05 UTC") }
