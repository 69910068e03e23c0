package pushrules

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Event is the view of one event that evaluation reads: its properties
// flattened under their dot-separated paths (appendices, "Dot-separated
// property paths"), with string values also lower-cased for the
// case-insensitive matches. Build it once per event and evaluate it for
// every user; it is read-only after NewEvent, so goroutines may share it.
type Event struct {
	props  map[string]prop
	sender string
	roomID string
	// body is content.body lower-cased, when it is a string.
	body    string
	hasBody bool
	// mentions: the content has m.mentions (legacy mention rules then
	// never match).
	mentions bool
}

// valueType is the JSON type of a scalar property.
type valueType uint8

const (
	typeString valueType = iota + 1
	typeInt              // an integer in canonical JSON's range
	typeTrue
	typeFalse
	typeNull
	typeOther // a number that is not such an integer
)

// scalar is a non-compound JSON value.
type scalar struct {
	t     valueType
	s     string // the string, for typeString
	lower string // s lower-cased
	n     int64  // for typeInt
}

func (a scalar) equal(b scalar) bool {
	switch {
	case a.t != b.t:
		return false
	case a.t == typeString:
		return a.s == b.s
	case a.t == typeInt:
		return a.n == b.n
	}
	return a.t != typeOther
}

// prop is a flattened property: a scalar, or an array of the scalars in it.
type prop struct {
	scalar
	array []scalar
	isArr bool
}

// maxCanonicalInt bounds canonical JSON integers (appendices: "Canonical
// JSON", [-(2**53)+1, (2**53)-1]).
const maxCanonicalInt = 1<<53 - 1

// NewEvent flattens an event in client format (the JSON object a client
// receives; room_id and sender are read from it).
func NewEvent(clientJSON []byte) (*Event, error) {
	dec := json.NewDecoder(bytes.NewReader(clientJSON))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, fmt.Errorf("pushrules: event is not a JSON object: %w", err)
	}
	ev := &Event{props: make(map[string]prop, 16)}
	ev.flatten("", obj)
	if content, ok := obj["content"].(map[string]any); ok {
		_, ev.mentions = content["m.mentions"]
	}
	ev.sender = ev.props["sender"].s
	ev.roomID = ev.props["room_id"].s
	if b, ok := ev.props["content.body"]; ok && b.t == typeString {
		ev.body, ev.hasBody = b.lower, true
	}
	return ev, nil
}

// Sender is the event's sender.
func (ev *Event) Sender() string { return ev.sender }

func (ev *Event) flatten(prefix string, obj map[string]any) {
	for k, v := range obj {
		path := escapeSegment(k)
		if prefix != "" {
			path = prefix + "." + path
		}
		switch v := v.(type) {
		case map[string]any:
			ev.flatten(path, v)
		case []any:
			arr := make([]scalar, 0, len(v))
			for _, e := range v {
				if s, ok := toScalar(e); ok {
					arr = append(arr, s)
				}
			}
			ev.props[path] = prop{array: arr, isArr: true}
		default:
			if s, ok := toScalar(v); ok {
				ev.props[path] = prop{scalar: s}
			}
		}
	}
}

// toScalar converts a decoded non-compound JSON value.
func toScalar(v any) (scalar, bool) {
	switch v := v.(type) {
	case string:
		return scalar{t: typeString, s: v, lower: strings.ToLower(v)}, true
	case bool:
		if v {
			return scalar{t: typeTrue}, true
		}
		return scalar{t: typeFalse}, true
	case nil:
		return scalar{t: typeNull}, true
	case json.Number:
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil || n > maxCanonicalInt || n < -maxCanonicalInt {
			return scalar{t: typeOther}, true
		}
		return scalar{t: typeInt, n: n}, true
	}
	return scalar{}, false
}

// parseScalar reads a condition's JSON value; ok is false for a compound
// or malformed value.
func parseScalar(raw json.RawMessage) (scalar, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return scalar{}, false
	}
	switch {
	case raw[0] == '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return scalar{}, false
		}
		return scalar{t: typeString, s: s, lower: strings.ToLower(s)}, true
	case string(raw) == "true":
		return scalar{t: typeTrue}, true
	case string(raw) == "false":
		return scalar{t: typeFalse}, true
	case string(raw) == "null":
		return scalar{t: typeNull}, true
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return scalar{}, false
	}
	s, ok := toScalar(v)
	return s, ok && s.t != typeOther
}

// escapeSegment escapes a property name for a dot-separated path:
// backslash and dot get a backslash.
func escapeSegment(name string) string {
	if !strings.ContainsAny(name, `.\`) {
		return name
	}
	var b strings.Builder
	for _, r := range name {
		if r == '.' || r == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// canonicalPath rewrites a dot-separated path as written in a rule into the
// form the flattened event uses: `\.` and `\\` stand for a literal dot and
// backslash; any other backslash is literal (appendices: "Other escape
// sequences are left as-is").
func canonicalPath(key string) string {
	var segs []string
	var cur strings.Builder
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c == '\\' && i+1 < len(key) && (key[i+1] == '.' || key[i+1] == '\\'):
			cur.WriteByte(key[i+1])
			i++
		case c == '.':
			segs = append(segs, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	segs = append(segs, cur.String())
	for i, s := range segs {
		segs[i] = escapeSegment(s)
	}
	return strings.Join(segs, ".")
}
