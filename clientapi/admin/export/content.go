package export

import (
	"bytes"
	"encoding/json"
	"strings"

	roomapi "github.com/myelin-im/myelin/roomserver/api"
)

// relatesTo is content.m.relates_to (spec: "Forming relationships
// between events", "Rich replies").
type relatesTo struct {
	RelType   string `json:"rel_type"`
	EventID   string `json:"event_id"`
	InReplyTo *struct {
		EventID string `json:"event_id"`
	} `json:"m.in_reply_to"`
}

// content holds the fields of an event's content the export reads.
type content struct {
	MsgType     string     `json:"msgtype"`
	Body        string     `json:"body"`
	URL         string     `json:"url"`
	FileName    string     `json:"filename"`
	RelatesTo   *relatesTo `json:"m.relates_to"`
	NewContent  *content   `json:"m.new_content"`
	Membership  string     `json:"membership"`
	DisplayName string     `json:"displayname"`
	Reason      string     `json:"reason"`
	Name        string     `json:"name"`
	Topic       any        `json:"topic"`
	Info        *struct {
		MimeType string `json:"mimetype"`
	} `json:"info"`
	File *struct {
		URL string `json:"url"`
	} `json:"file"`
	// redacted: the content is the redacted form (no original kept).
	redacted bool
	// mxcs are every content URI in the content, wherever it is.
	mxcs []string
}

// parseContent reads an event's content: the original's when the event
// was redacted and the original is kept. Content that does not parse is
// left empty (the JSON lines keep it as it is).
func parseContent(e *roomapi.ExportEvent) *content {
	js := e.PDU
	if e.Original != nil {
		js = e.Original
	}
	var pdu struct {
		Content json.RawMessage `json:"content"`
	}
	c := &content{redacted: e.RedactedBy != "" && e.Original == nil}
	if json.Unmarshal(js, &pdu) != nil || len(pdu.Content) == 0 {
		return c
	}
	if json.Unmarshal(pdu.Content, c) != nil {
		*c = content{redacted: c.redacted}
	}
	if bytes.Contains(pdu.Content, []byte("mxc:")) {
		var v any
		if json.Unmarshal(pdu.Content, &v) == nil {
			c.mxcs = findMXCs(v, nil)
		}
	}
	return c
}

// findMXCs collects the mxc:// strings anywhere in v.
func findMXCs(v any, out []string) []string {
	switch t := v.(type) {
	case string:
		if strings.HasPrefix(t, "mxc://") {
			out = append(out, t)
		}
	case []any:
		for _, e := range t {
			out = findMXCs(e, out)
		}
	case map[string]any:
		for _, e := range t {
			out = findMXCs(e, out)
		}
	}
	return out
}

// isEdit: the event replaces another's content (spec: "Event
// replacements", rel_type m.replace).
func (c *content) isEdit() bool {
	return c.RelatesTo != nil && c.RelatesTo.RelType == "m.replace" && c.RelatesTo.EventID != ""
}

// replyTo is the event a reply answers ("" if none).
func (c *content) replyTo() string {
	if c.RelatesTo == nil || c.RelatesTo.InReplyTo == nil {
		return ""
	}
	return c.RelatesTo.InReplyTo.EventID
}

// isMessage: an event the transcript shows as a message (a message or a
// sticker that is not an edit of another, redacted or not).
func isMessage(e *roomapi.ExportEvent, c *content) bool {
	return !e.Rejected && e.StateKey == nil && (e.Type == "m.room.message" || e.Type == "m.sticker") && !c.isEdit()
}

// mxcURL is the attachment's content URI: url, or file.url when
// end-to-end encrypted.
func (c *content) mxcURL() string {
	if c.URL != "" {
		return c.URL
	}
	if c.File != nil {
		return c.File.URL
	}
	return ""
}
