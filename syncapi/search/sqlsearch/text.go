package sqlsearch

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/myelin-im/myelin/syncapi/search"
)

// PostgreSQL's tsvector limits: positions run 1..16383 and a lexeme keeps at
// most 256 of them. Words past either limit are left out (not clamped), so
// the index never matches a phrase that search.Match would reject; it may
// miss one that far into a text (docs/decisions.md).
const (
	maxPosition      = 16383
	maxLexemePos     = 256
	charLexemePrefix = "#" // Analyze's words are letters and digits only, so never start with '#'
	roomLexemePrefix = "@" // nor with '@'
)

// tsvector renders an analysed text of a room as a tsvector literal: each
// word with its positions, then each CJK character prefixed with '#', then
// the room's token prefixed with '@' (without a position). The literal is cast
// with ::tsvector, which takes lexemes verbatim (no text search
// configuration re-tokenises or stems them).
func tsvector(a search.Analyzed, roomID string) string {
	type lexeme struct {
		text string
		pos  []int
	}
	var order []*lexeme
	byText := map[string]*lexeme{}
	add := func(text string, pos int) {
		l := byText[text]
		if l == nil {
			l = &lexeme{text: text}
			byText[text] = l
			order = append(order, l)
		}
		if len(l.pos) < maxLexemePos {
			l.pos = append(l.pos, pos)
		}
	}
	for i, w := range a.Words {
		if i+1 > maxPosition {
			break
		}
		add(w, i+1)
	}
	next := min(len(a.Words)+1, maxPosition)
	for _, c := range a.Chars {
		add(charLexemePrefix+c, next)
		next = min(next+1, maxPosition)
	}
	var sb strings.Builder
	quoteLexeme(&sb, roomLexemePrefix+roomToken(roomID))
	for _, l := range order {
		sb.WriteByte(' ')
		quoteLexeme(&sb, l.text)
		for j, p := range l.pos {
			if j == 0 {
				sb.WriteByte(':')
			} else {
				sb.WriteByte(',')
			}
			sb.WriteString(strconv.Itoa(p))
		}
	}
	return sb.String()
}

// tsquery renders clauses as a tsquery literal: phrases of quoted lexemes
// joined by <->, characters as their '#' lexeme, all AND'ed. Every lexeme is
// quoted, so no character in a token can change the query's structure.
func tsquery(clauses []search.Clause) string {
	var sb strings.Builder
	for i, c := range clauses {
		if i > 0 {
			sb.WriteString(" & ")
		}
		if c.Char != "" {
			quoteLexeme(&sb, charLexemePrefix+c.Char)
			continue
		}
		sb.WriteByte('(')
		for j, w := range c.Phrase {
			if j > 0 {
				sb.WriteString(" <-> ")
			}
			quoteLexeme(&sb, w)
		}
		sb.WriteByte(')')
	}
	return sb.String()
}

// quoteLexeme writes s as a quoted tsvector/tsquery lexeme: inside quotes a
// quote is doubled and a backslash escaped.
func quoteLexeme(sb *strings.Builder, s string) {
	sb.WriteByte('\'')
	for _, r := range s {
		switch r {
		case '\'':
			sb.WriteString("''")
		case '\\':
			sb.WriteString(`\\`)
		default:
			sb.WriteRune(r)
		}
	}
	sb.WriteByte('\'')
}

// ftsMatch renders clauses as an FTS5 query: each phrase as a quoted FTS5
// phrase on the words column, each character as a quoted token on the chars
// column, AND'ed. Inside an FTS5 string a double quote is doubled; nothing
// else is special there.
func ftsMatch(clauses []search.Clause) string {
	var sb strings.Builder
	for i, c := range clauses {
		if i > 0 {
			sb.WriteString(" AND ")
		}
		col, text := "words", strings.Join(c.Phrase, " ")
		if c.Char != "" {
			col, text = "chars", c.Char
		}
		sb.WriteString(col)
		sb.WriteString(`:"`)
		sb.WriteString(strings.ReplaceAll(text, `"`, `""`))
		sb.WriteByte('"')
	}
	return sb.String()
}

// maxRoomTokens bounds how many rooms a query names inside its FTS5 match;
// beyond it, an OR over that many room doclists costs more than it saves,
// and the rooms are only joined against.
const maxRoomTokens = 100

// ftsMatchRooms is ftsMatch restricted to documents of the rooms (an
// optimisation: the exact room and range filter is the join with the room
// ranges).
func ftsMatchRooms(clauses []search.Clause, rooms []search.RoomRange) string {
	m := ftsMatch(clauses)
	toks := roomTokens(rooms)
	if toks == nil {
		return m
	}
	return "(" + m + ") AND room:(" + strings.Join(toks, " OR ") + ")"
}

// tsqueryRooms is tsquery restricted to documents of the rooms, likewise.
func tsqueryRooms(clauses []search.Clause, rooms []search.RoomRange) string {
	q := tsquery(clauses)
	toks := roomTokens(rooms)
	if toks == nil {
		return q
	}
	var sb strings.Builder
	sb.WriteString(q)
	sb.WriteString(" & (")
	for i, t := range toks {
		if i > 0 {
			sb.WriteString(" | ")
		}
		quoteLexeme(&sb, roomLexemePrefix+t)
	}
	sb.WriteByte(')')
	return sb.String()
}

// roomTokens are the distinct tokens of the rooms; nil when there are more
// than maxRoomTokens.
func roomTokens(rooms []search.RoomRange) []string {
	seen := map[string]bool{}
	var toks []string
	for _, r := range rooms {
		if t := roomToken(r.RoomID); !seen[t] {
			seen[t] = true
			toks = append(toks, t)
		}
	}
	if len(toks) > maxRoomTokens {
		return nil
	}
	return toks
}

// roomToken names a room in the FTS5 room column with one token of ASCII
// letters and digits (room IDs hold characters the tokenizer splits on). Two
// rooms sharing a token (a 64-bit hash collision) only cost speed: the join
// with the room ranges compares the room IDs themselves.
func roomToken(roomID string) string {
	h := sha256.Sum256([]byte(roomID))
	return "r" + hex.EncodeToString(h[:8])
}
