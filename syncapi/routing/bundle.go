package routing

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strconv"

	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/syncapi/storage"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// Aggregations of child events (spec: client-server API, "Aggregations of
// child events"): the server bundles into unsigned["m.relations"] of each
// event it serves the m.thread, m.replace and m.reference aggregations of
// its children. They are computed for a whole page at once: one query sums
// up the page's children by rel_type (most pages have none and stop
// there), then one query per rel_type present reads what the bundles hold.
//
// The children counted are those up to the end of what the user may see of
// the room (their leave, if they left), so a former member learns nothing
// of later replies. NOTSPEC: the start of the visible range is not applied
// to children (a child comes after its visible parent in all but
// backfilled history); see docs/decisions.md.

// bundles maps an event ID to its unsigned["m.relations"].
type bundles map[string]map[string]json.RawMessage

// aggregation is one page's aggregation request.
type aggregation struct {
	dev    *userapi.Device
	userID string
	// hi is the last position whose children count.
	hi int64
}

// bundleRelations computes the aggregations of evs for the device's user,
// counting children up to hi.
func (rt *Routes) bundleRelations(ctx context.Context, evs []*storage.Event, dev *userapi.Device, hi int64) bundles {
	a := aggregation{dev: dev, hi: hi}
	if dev != nil {
		a.userID = dev.UserID
	}
	b, err := rt.aggregate(ctx, evs, a, true)
	if err != nil {
		// The events are still worth serving without their bundles.
		httputil.Logger(ctx).WithError(err).Warn("bundling aggregations")
		return nil
	}
	return b
}

// aggregate computes the bundles of evs; withThreads, the m.thread ones too
// (whose latest_event gets its own bundle, without threads: a thread reply
// cannot be a thread root).
func (rt *Routes) aggregate(ctx context.Context, evs []*storage.Event, a aggregation, withThreads bool) (bundles, error) {
	if len(evs) == 0 {
		return nil, nil
	}
	byID := make(map[string]*storage.Event, len(evs))
	ids := make([]string, 0, len(evs))
	for _, e := range evs {
		if _, seen := byID[e.ID]; !seen {
			byID[e.ID] = e
			ids = append(ids, e.ID)
		}
	}
	sums, err := rt.store.RelationSummaries(ctx, ids, a.userID, a.hi)
	if err != nil || len(sums) == 0 {
		return nil, err
	}
	out := bundles{}
	var edited, referenced []string
	var threads []storage.RelationSummary
	for _, s := range sums {
		if p := byID[s.ParentID]; p == nil || p.RoomID != s.RoomID {
			continue // children claimed by another room's events
		}
		switch s.RelType {
		case "m.replace":
			edited = append(edited, s.ParentID)
		case "m.reference":
			referenced = append(referenced, s.ParentID)
		case "m.thread":
			if withThreads {
				threads = append(threads, s)
			}
		}
	}
	if err := rt.bundleEdits(ctx, out, byID, edited, a.hi); err != nil {
		return nil, err
	}
	if err := rt.bundleReferences(ctx, out, byID, referenced, a.hi); err != nil {
		return nil, err
	}
	if err := rt.bundleThreads(ctx, out, byID, threads, a); err != nil {
		return nil, err
	}
	return out, nil
}

func (b bundles) set(eventID, relType string, v json.RawMessage) {
	m := b[eventID]
	if m == nil {
		m = map[string]json.RawMessage{}
		b[eventID] = m
	}
	m[relType] = v
}

// bundleEdits adds the m.replace aggregation: the most recent valid
// replacement event, whole (spec: "Server-side aggregation of m.replace
// relationships"; since v1.7 the original's content is left as it is).
func (rt *Routes) bundleEdits(ctx context.Context, out bundles, byID map[string]*storage.Event, parents []string, hi int64) error {
	if len(parents) == 0 {
		return nil
	}
	rels, evs, err := rt.store.RelatedOfType(ctx, parents, "m.replace", hi)
	if err != nil {
		return err
	}
	latest := map[string]*storage.Event{}
	for i, r := range rels {
		orig, e := byID[r.ParentID], evs[i]
		if orig == nil || !validEdit(orig, e) {
			continue
		}
		if cur := latest[r.ParentID]; cur == nil || newerEdit(e, cur) {
			latest[r.ParentID] = e
		}
	}
	for parent, e := range latest {
		out.set(parent, "m.replace", e.JSON)
	}
	return nil
}

// newerEdit: the most recent by origin_server_ts, ties going to the
// lexicographically largest event ID (spec).
func newerEdit(a, b *storage.Event) bool {
	if a.TS != b.TS {
		return a.TS > b.TS
	}
	return a.ID > b.ID
}

// validEdit applies the spec's "Validity of replacement events": same room
// and sender, same type, neither a state event, the original not itself an
// edit, and the replacement has m.new_content (an encrypted one is
// accepted: its m.new_content is inside the ciphertext). An original that
// was redacted gets no m.replace bundle at all.
func validEdit(orig, edit *storage.Event) bool {
	if orig.RoomID != edit.RoomID || orig.Sender != edit.Sender || orig.Type != edit.Type {
		return false
	}
	if orig.StateKey != nil || edit.StateKey != nil || redacted(orig.JSON) {
		return false
	}
	if _, relType, ok := storage.RelationOf(orig.JSON); ok && relType == "m.replace" {
		return false
	}
	if edit.Type == "m.room.encrypted" {
		return true
	}
	var c struct {
		Content struct {
			NewContent map[string]any `json:"m.new_content"`
		} `json:"content"`
	}
	return json.Unmarshal(edit.JSON, &c) == nil && c.Content.NewContent != nil
}

// redacted reports whether a client event carries its redaction.
func redacted(js []byte) bool {
	var e struct {
		Unsigned struct {
			RedactedBecause json.RawMessage `json:"redacted_because"`
		} `json:"unsigned"`
	}
	return json.Unmarshal(js, &e) == nil && len(e.Unsigned.RedactedBecause) > 0
}

// bundleReferences adds the m.reference aggregation: the IDs of the
// referencing events, oldest first (spec: "Server-side aggregation of
// m.reference relationships").
func (rt *Routes) bundleReferences(ctx context.Context, out bundles, byID map[string]*storage.Event, parents []string, hi int64) error {
	if len(parents) == 0 {
		return nil
	}
	rels, _, err := rt.store.RelatedOfType(ctx, parents, "m.reference", hi)
	if err != nil {
		return err
	}
	chunks := map[string][]map[string]string{}
	for _, r := range rels {
		if p := byID[r.ParentID]; p == nil || p.RoomID != r.RoomID {
			continue
		}
		chunks[r.ParentID] = append(chunks[r.ParentID], map[string]string{"event_id": r.EventID})
	}
	for parent, c := range chunks {
		b, err := json.Marshal(map[string]any{"chunk": c})
		if err != nil {
			return err
		}
		out.set(parent, "m.reference", b)
	}
	return nil
}

// bundleThreads adds the m.thread aggregation of thread roots: the latest
// reply (with its own bundled aggregations), the number of replies and
// whether the user took part (sent the root or a reply) (spec:
// "Server-side aggregation of m.thread relationships").
func (rt *Routes) bundleThreads(
	ctx context.Context, out bundles, byID map[string]*storage.Event, threads []storage.RelationSummary, a aggregation,
) error {
	if len(threads) == 0 {
		return nil
	}
	positions := make([]int64, 0, len(threads))
	for _, t := range threads {
		positions = append(positions, t.LatestPos)
	}
	latest, err := rt.store.EventsByPos(ctx, positions)
	if err != nil {
		return err
	}
	inner, err := rt.aggregate(ctx, latest, a, false)
	if err != nil {
		return err
	}
	latestByPos := make(map[int64]json.RawMessage, len(latest))
	for _, e := range latest {
		latestByPos[e.Pos] = withRelations(clientJSON(e, a.dev), inner[e.ID])
	}
	for _, t := range threads {
		js, ok := latestByPos[t.LatestPos]
		if !ok {
			continue
		}
		root := byID[t.ParentID]
		participated := t.ByUser || (root != nil && root.Sender == a.userID && a.userID != "")
		// Written by hand: json.Marshal would re-validate the whole latest
		// event.
		b := make([]byte, 0, len(js)+80)
		b = append(b, `{"latest_event":`...)
		b = append(b, js...)
		b = append(b, `,"count":`...)
		b = strconv.AppendInt(b, int64(t.Count), 10)
		b = append(b, `,"current_user_participated":`...)
		b = strconv.AppendBool(b, participated)
		out.set(t.ParentID, "m.thread", append(b, '}'))
	}
	return nil
}

// withRelations sets unsigned["m.relations"] of a client event's JSON:
// spliced into its unsigned object when that is the event's last member
// (the common case: timeline events carry unsigned.membership), else by
// decoding.
func withRelations(js json.RawMessage, rels map[string]json.RawMessage) json.RawMessage {
	if len(rels) == 0 {
		return js
	}
	b := relationsObject(rels)
	var err error
	if at, ok := lastUnsigned(js); ok {
		out := make([]byte, 0, len(js)+len(b)+16)
		out = append(out, js[:at]...)
		out = append(out, `"m.relations":`...)
		out = append(out, b...)
		if js[at] != '}' {
			out = append(out, ',')
		}
		return append(out, js[at:]...)
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(js, &obj) != nil {
		return js
	}
	unsigned := map[string]json.RawMessage{}
	if raw, ok := obj["unsigned"]; ok {
		_ = json.Unmarshal(raw, &unsigned)
	}
	unsigned["m.relations"] = b
	if obj["unsigned"], err = json.Marshal(unsigned); err != nil {
		return js
	}
	if out, err := json.Marshal(obj); err == nil {
		return out
	}
	return js
}

// relationsObject writes rels as a JSON object, keys sorted, its values
// (JSON this server produced) as they are: json.Marshal would re-validate
// each bundled event.
func relationsObject(rels map[string]json.RawMessage) []byte {
	keys := slices.Sorted(maps.Keys(rels))
	n := 2
	for _, k := range keys {
		n += len(k) + len(rels[k]) + 4
	}
	b := make([]byte, 0, n)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, k)
		b = append(b, ':')
		b = append(b, rels[k]...)
	}
	return append(b, '}')
}

// lastUnsigned finds the inside of the event's unsigned object when it is
// the last member of the event (its closing brace followed only by the
// event's) and has no m.relations yet: the offset just after its '{'.
func lastUnsigned(js []byte) (int, bool) {
	key := []byte(`"unsigned":{`)
	i := bytes.LastIndex(js, key)
	if i < 0 || bytes.Contains(js[i:], []byte(`"m.relations"`)) {
		return 0, false
	}
	at := i + len(key)
	depth, inString, escaped := 1, false, false
	for j := at; j < len(js); j++ {
		c := js[j]
		switch {
		case escaped:
			escaped = false
		case inString:
			escaped = c == '\\'
			inString = c != '"'
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
			if depth == 0 {
				return at, string(bytes.TrimSpace(js[j+1:])) == "}"
			}
		}
	}
	return 0, false
}
