package indexer

import (
	"encoding/json"

	"github.com/myelin-im/myelin/syncapi/search"
	"github.com/myelin-im/myelin/syncapi/storage"
)

// eventJSON is what the indexer reads of a stored event's client JSON.
type eventJSON struct {
	Content map[string]json.RawMessage `json:"content"`
	// Redacts is the target of an m.room.redaction in room versions 1-10;
	// from v11 it is content.redacts (spec: room versions, v11, "Moving the
	// redacts property of m.room.redaction events to a content property").
	// Servers add the top-level one to v11 events too for older clients.
	Redacts string `json:"redacts"`
}

// work is what one batch of events asks of a backend.
type work struct {
	docs    []search.Doc
	deletes []string
}

// add maps one stored event to documents or a deletion (spec: "Server Side
// Search": the keys content.body, content.name and content.topic).
func (w *work) add(e *storage.Event) {
	var ev eventJSON
	if err := json.Unmarshal(e.JSON, &ev); err != nil {
		return // not an object: nothing to search
	}
	if e.Type == "m.room.redaction" {
		if target := redactsOf(ev); target != "" {
			w.deletes = append(w.deletes, target)
		}
		return
	}
	key, field := keyOf(e)
	if key == "" {
		return
	}
	var text string
	// A value that is not a string (or absent, as in an event that
	// storage holds redacted) indexes nothing.
	if raw, ok := ev.Content[field]; !ok || json.Unmarshal(raw, &text) != nil || text == "" {
		return
	}
	w.docs = append(w.docs, search.Doc{
		EventID: e.ID, RoomID: e.RoomID, Sender: e.Sender, Type: e.Type,
		Key: key, Text: text, TS: e.TS, Pos: e.Pos,
	})
}

// keyOf is the searchable key of an event and its content field, or "".
// m.room.name and m.room.topic count as the room's state (state key "");
// their text is the plain string (m.room.topic's m.topic blocks, spec
// v1.11+, repeat it in other mimetypes and are not indexed). Any other
// event with a string content.body is searched by its body, except
// m.room.encrypted, whose ciphertext is not text.
func keyOf(e *storage.Event) (key, field string) {
	state := e.StateKey != nil && *e.StateKey == ""
	switch e.Type {
	case "m.room.name":
		if state {
			return search.KeyName, "name"
		}
		return "", ""
	case "m.room.topic":
		if state {
			return search.KeyTopic, "topic"
		}
		return "", ""
	case "m.room.encrypted":
		return "", ""
	}
	return search.KeyBody, "body"
}

func redactsOf(ev eventJSON) string {
	var target string
	if raw, ok := ev.Content["redacts"]; ok && json.Unmarshal(raw, &target) == nil && target != "" {
		return target
	}
	return ev.Redacts
}

// finish drops the documents of events the same batch redacts: a backend
// applies Index before Delete, but an event never needs indexing only to
// be deleted.
func (w *work) finish() {
	if len(w.deletes) == 0 {
		return
	}
	gone := make(map[string]bool, len(w.deletes))
	for _, id := range w.deletes {
		gone[id] = true
	}
	kept := w.docs[:0]
	for _, d := range w.docs {
		if !gone[d.EventID] {
			kept = append(kept, d)
		}
	}
	w.docs = kept
}
