// Package textseg splits text into the pieces Myelin's searches index:
// lower-cased words (runs of letters, digits and combining marks) and runs
// of Chinese, Japanese and Korean characters, which have no spaces between
// words and which each search indexes its own way (message search by
// bigrams, the user directory by suffixes).
package textseg

import (
	"strings"
	"unicode"
)

// Run is a word, or a run of CJK characters.
type Run struct {
	Text string
	CJK  bool
}

// Split lower-cases text and cuts it into runs; anything else (spaces,
// punctuation, symbols) separates them. maxRunes, when above 0, cuts
// longer runs to that many characters.
func Split(text string, maxRunes int) []Run {
	var out []Run
	var cur []rune
	curCJK := false
	flush := func() {
		if len(cur) > 0 {
			if maxRunes > 0 && len(cur) > maxRunes {
				cur = cur[:maxRunes]
			}
			out = append(out, Run{Text: string(cur), CJK: curCJK})
		}
		cur = cur[:0]
	}
	for _, r := range strings.ToLower(text) {
		cjk := IsCJK(r)
		switch {
		case cjk || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r):
			if cjk != curCJK {
				flush()
			}
			curCJK = cjk
			cur = append(cur, r)
		default:
			flush()
		}
	}
	flush()
	return out
}

// IsCJK reports whether r is a Han, Hiragana, Katakana or Hangul character
// (or the katakana prolonged sound mark).
func IsCJK(r rune) bool {
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul) || r == 'ー'
}
