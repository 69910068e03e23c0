package storage

import (
	"strings"
	"unicode/utf8"

	"github.com/myelin-im/myelin/internal/textseg"
)

// Tokenisation of the user directory. A user is indexed under terms; a
// search term is split the same way and each of its words must be a prefix
// of one of the user's terms (as Synapse matches: "ali coo" finds "Alice
// Cooper"). Words are runs of letters and digits, lower-cased. Chinese,
// Japanese and Korean text has no spaces between words, so a run of CJK
// characters is indexed under every one of its suffixes: a prefix of a
// suffix is any substring, and "三丰" finds "张三丰". Every term is a plain
// string compared byte-wise, so one SQL text and one B-tree index serve both
// databases.
const (
	// maxTermBytes cuts long words (the query's words are cut alike, so a
	// long word still finds itself).
	maxTermBytes = 64
	// maxCJKRun bounds the suffixes indexed for one CJK run.
	maxCJKRun = 24
	// maxFieldTerms bounds the terms one field (a long signature) adds.
	maxFieldTerms = 32
	// maxQueryWords bounds the words of one search.
	maxQueryWords = 8
)

// splitRuns lower-cases s and splits it into words and CJK runs.
func splitRuns(s string) []textseg.Run { return textseg.Split(s, 0) }

// cut shortens s to at most maxTermBytes without splitting a character.
func cut(s string) string {
	if len(s) <= maxTermBytes {
		return s
	}
	s = s[:maxTermBytes]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// fieldTerms returns the index terms of one field.
func fieldTerms(s string) []string {
	var out []string
	for _, r := range splitRuns(s) {
		if !r.CJK {
			out = append(out, cut(r.Text))
			continue
		}
		rs := []rune(r.Text)
		if len(rs) > maxCJKRun {
			rs = rs[:maxCJKRun]
		}
		for i := range rs {
			out = append(out, cut(string(rs[i:])))
		}
		if len(out) >= maxFieldTerms {
			break
		}
	}
	if len(out) > maxFieldTerms {
		out = out[:maxFieldTerms]
	}
	return out
}

// directoryTerms returns the distinct index terms of a directory entry: the
// whole lower-cased user ID, the words of its localpart, display name and
// signature.
func directoryTerms(e DirectoryEntry) []string {
	seen := map[string]bool{}
	var out []string
	add := func(ts ...string) {
		for _, t := range ts {
			if t != "" && !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		}
	}
	add(cut(strings.ToLower(e.UserID)))
	local, _, _ := strings.Cut(strings.TrimPrefix(e.UserID, "@"), ":")
	add(fieldTerms(local)...)
	add(fieldTerms(e.DisplayName)...)
	add(fieldTerms(e.Signature)...)
	return out
}

// queryTerms splits a search term into the prefixes that must all match. A
// term that looks like a whole user ID ("@alice:example.org", or the start
// of one) is one prefix of the user-ID term; otherwise its words and CJK
// runs are. Duplicates and words that are a prefix of another word are
// dropped (they add no condition).
func queryTerms(search string) []string {
	s := strings.TrimSpace(search)
	if strings.HasPrefix(s, "@") && strings.Contains(s, ":") && !strings.ContainsAny(s, " \t") {
		return []string{cut(strings.ToLower(s))}
	}
	var words []string
	for _, r := range splitRuns(s) {
		words = append(words, cut(r.Text))
	}
	var out []string
	for i, w := range words {
		redundant := false
		for j, o := range words {
			if i != j && strings.HasPrefix(o, w) && (len(o) > len(w) || j < i) {
				redundant = true
				break
			}
		}
		if !redundant {
			out = append(out, w)
		}
		if len(out) == maxQueryWords {
			break
		}
	}
	return out
}

// prefixEnd is the smallest string greater than every string starting with
// p, byte-wise: p followed by the largest code point (no stored term goes
// past it).
func prefixEnd(p string) string { return p + string(utf8.MaxRune) }
