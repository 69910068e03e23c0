package search

import (
	"slices"

	"github.com/myelin-im/myelin/internal/textseg"
)

// Tokenisation shared by every backend, so that what is indexed and what is
// looked for agree (docs/decisions.md, "Message search: tokenisation").
//
// Text splits into words (runs of letters and digits), lower-cased. Runs of
// Chinese, Japanese and Korean characters (Han, Hiragana, Katakana, Hangul)
// have no spaces between words, so they are indexed as overlapping bigrams,
// in order, and each character also on its own: a query of two or more such
// characters is the phrase of its bigrams (明天 finds 我们明天见; 天气 does
// not find 明天见, which holds the bigrams 明天 and 天见 only), and a query of
// one character matches the characters.

// Analyzed is a text as the index holds it.
type Analyzed struct {
	// Words are the text's words and CJK bigrams, in order, so that phrase
	// queries can match consecutive ones.
	Words []string
	// Chars are the CJK characters of the text, each once.
	Chars []string
}

// Analyze splits a text for the index.
func Analyze(text string) Analyzed {
	var a Analyzed
	seen := map[string]bool{}
	for _, run := range splitRuns(text) {
		if !run.CJK {
			a.Words = append(a.Words, run.Text)
			continue
		}
		rs := []rune(run.Text)
		a.Words = append(a.Words, bigrams(rs)...)
		for _, r := range rs {
			if c := string(r); !seen[c] {
				seen[c] = true
				a.Chars = append(a.Chars, c)
			}
		}
	}
	return a
}

// Clause is one part of a query; a query matches a text that matches every
// clause.
type Clause struct {
	// Phrase, when set, must appear in Words as consecutive words: one word,
	// or the bigrams of a CJK run of two or more characters.
	Phrase []string
	// Char, when set, must be one of Chars: a CJK run of one character.
	Char string
}

// ParseQuery splits a search term into clauses; none when the term has no
// word or character to look for.
func ParseQuery(term string) []Clause {
	var out []Clause
	seen := map[string]bool{}
	for _, run := range splitRuns(term) {
		if seen[run.Text] {
			continue
		}
		seen[run.Text] = true
		rs := []rune(run.Text)
		switch {
		case !run.CJK:
			out = append(out, Clause{Phrase: []string{run.Text}})
		case len(rs) == 1:
			out = append(out, Clause{Char: run.Text})
		default:
			out = append(out, Clause{Phrase: bigrams(rs)})
		}
	}
	return out
}

// Highlights are the strings a client should highlight in results for a
// term (spec: highlights): its words and CJK runs, lower-cased.
func Highlights(term string) []string {
	var out []string
	seen := map[string]bool{}
	for _, run := range splitRuns(term) {
		if !seen[run.Text] {
			seen[run.Text] = true
			out = append(out, run.Text)
		}
	}
	return out
}

// maxRunRunes bounds one word, so that a pathological text cannot make a
// huge token.
const maxRunRunes = 64

func splitRuns(text string) []textseg.Run { return textseg.Split(text, maxRunRunes) }

// bigrams are the overlapping pairs of a run of two or more characters; a
// run of one character is itself.
func bigrams(rs []rune) []string {
	if len(rs) == 1 {
		return []string{string(rs)}
	}
	out := make([]string, 0, len(rs)-1)
	for i := 0; i+1 < len(rs); i++ {
		out = append(out, string(rs[i:i+2]))
	}
	return out
}

// Match is the meaning of a query: whether a text with analysis a matches
// it. Every backend must find exactly what Match accepts (backends may use
// it to check candidates).
func Match(q []Clause, a Analyzed) bool {
	for _, c := range q {
		if c.Char != "" {
			if !slices.Contains(a.Chars, c.Char) {
				return false
			}
			continue
		}
		found := false
		for i := 0; i+len(c.Phrase) <= len(a.Words); i++ {
			if slices.Equal(a.Words[i:i+len(c.Phrase)], c.Phrase) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return len(q) > 0
}
