package pushrules

import (
	"regexp"
	"strings"
)

// globKind is how a compiled glob matches: most patterns in practice are
// literals, so they skip the regular expression.
type globKind uint8

const (
	globLiteral globKind = iota
	globAny              // "*": any string
	globPrefix           // "foo*"
	globRegexp
)

// glob is a compiled glob-style pattern (appendices, "Glob-style
// matching": '*' matches zero or more characters, '?' exactly one),
// matched case-insensitively against lower-cased values.
type glob struct {
	kind globKind
	lit  string
	re   *regexp.Regexp
	// words: the pattern must match a substring that starts and ends at a
	// word boundary (the content.body rule), not the whole value.
	words bool
}

// compileGlob compiles pattern; words selects the content.body matching.
// The regular expressions are RE2, linear in the value's length whatever
// the pattern, so a user's pattern cannot make evaluation slow.
func compileGlob(pattern string, words bool) *glob {
	p := strings.ToLower(pattern)
	g := &glob{words: words, lit: p}
	wild := strings.IndexAny(p, "*?")
	switch {
	case wild < 0:
		g.kind = globLiteral
	case !words && p == "*":
		g.kind = globAny
	case !words && wild == len(p)-1 && p[wild] == '*':
		g.kind, g.lit = globPrefix, p[:wild]
	default:
		g.kind = globRegexp
		expr := "(?s)^" + globToRegexp(p) + "$"
		if words {
			expr = "(?s)(?:^|" + nonWord + ")" + globToRegexp(p) + "(?:" + nonWord + "|$)"
		}
		g.re = regexp.MustCompile(expr)
	}
	return g
}

// nonWord is a word boundary character (spec: any character not in
// [A-Z], [a-z], [0-9] or _; values are lower-cased first).
const nonWord = "[^a-z0-9_]"

func globToRegexp(p string) string {
	var b strings.Builder
	for _, r := range p {
		switch r {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	return b.String()
}

// match reports whether the lower-cased value matches.
func (g *glob) match(lower string) bool {
	switch g.kind {
	case globAny:
		return true
	case globPrefix:
		return strings.HasPrefix(lower, g.lit)
	case globRegexp:
		return g.re.MatchString(lower)
	}
	if g.words {
		return containsWord(lower, g.lit)
	}
	return lower == g.lit
}

// containsWord reports whether word occurs in s starting and ending at word
// boundaries.
func containsWord(s, word string) bool {
	if word == "" {
		return false
	}
	for from := 0; from+len(word) <= len(s); {
		i := strings.Index(s[from:], word)
		if i < 0 {
			return false
		}
		start, end := from+i, from+i+len(word)
		if (start == 0 || !isWordByte(s[start-1])) && (end == len(s) || !isWordByte(s[end])) {
			return true
		}
		from = start + 1
	}
	return false
}

// isWordByte reports whether b is in [A-Za-z0-9_]. A byte of a multi-byte
// UTF-8 character is not, so non-ASCII characters are boundaries.
func isWordByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_'
}
