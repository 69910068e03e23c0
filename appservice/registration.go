// Package appservice is Myelin's Application Service API (spec:
// "Application Service API"): registration files loaded and checked at
// start, and the client-server side of bridges — the as_token acting as the
// service's users (identity assertion), user and alias namespaces.
package appservice

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"regexp/syntax"

	"gopkg.in/yaml.v3"

	"github.com/myelin-im/myelin/appservice/api"
	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/internal/mxid"
)

// LoadFiles reads, checks and indexes the registration files at paths. When
// any is unreadable or invalid it returns nil and a *config.Errors listing
// every problem of every file, each prefixed by the file's path.
func LoadFiles(serverName string, paths []string) (*api.Registry, error) {
	errs := &config.Errors{}
	var regs []*api.Registration
	var sources []string
	for _, p := range paths {
		reg, err := readFile(p)
		if err != nil {
			errs.Add("appservice "+p, "%v", err)
			continue
		}
		regs = append(regs, reg)
		sources = append(sources, p)
	}
	Check(errs, regs, sources)
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return api.NewRegistry(serverName, regs), nil
}

func readFile(path string) (*api.Registration, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read the registration file: %w", err)
	}
	return Parse(data)
}

// Parse decodes one registration from YAML (JSON is YAML too). Keys it does
// not know are ignored: bridges write their own extensions.
func Parse(data []byte) (*api.Registration, error) {
	var reg api.Registration
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&reg); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("the registration file is empty")
		}
		return nil, fmt.Errorf("not a registration: %w", err)
	}
	if reg.URL != nil && *reg.URL == "" {
		reg.URL = nil
	}
	return &reg, nil
}

// Check records every problem of regs in errs, each under sources[i] (the
// file regs[i] came from), and compiles the namespaces of the valid ones.
// Besides each registration's own fields it checks that ids and as_tokens
// are unique (spec: "Registration", the homeserver MUST enforce it) and
// that no two services claim the same IDs exclusively (see overlap).
func Check(errs *config.Errors, regs []*api.Registration, sources []string) {
	ids := map[string]string{}
	tokens := map[string]string{}
	for i, reg := range regs {
		src := "appservice " + sources[i]
		checkOne(errs, src, reg)
		if reg.ID != "" {
			if other, dup := ids[reg.ID]; dup {
				errs.Add(src, "id %q is also the id of %s; each service needs its own", reg.ID, other)
			}
			ids[reg.ID] = sources[i]
		}
		if reg.ASToken != "" {
			if other, dup := tokens[reg.ASToken]; dup {
				errs.Add(src, "as_token is also the as_token of %s; each service needs its own", other)
			}
			tokens[reg.ASToken] = sources[i]
		}
	}
	checkOverlaps(errs, regs, sources)
}

func checkOne(errs *config.Errors, src string, reg *api.Registration) {
	if reg.ID == "" {
		errs.Add(src, "id is missing")
	}
	if reg.ASToken == "" {
		errs.Add(src, "as_token is missing")
	}
	if reg.HSToken == "" {
		errs.Add(src, "hs_token is missing")
	}
	if reg.ASToken != "" && reg.ASToken == reg.HSToken {
		errs.Add(src, "as_token and hs_token must differ")
	}
	if reg.SenderLocalpart == "" {
		errs.Add(src, "sender_localpart is missing")
	} else if err := mxid.ValidateLocalpart(reg.SenderLocalpart); err != nil {
		errs.Add(src, "sender_localpart is not a valid localpart: %v", err)
	}
	if reg.URL != nil {
		if u, err := url.Parse(*reg.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs.Add(src, "url must be an absolute http(s) URL or null (got %q)", *reg.URL)
		}
	}
	for _, kind := range namespaceKinds(reg) {
		for i := range kind.list {
			ns := &kind.list[i]
			if ns.Regex == "" {
				errs.Add(src, "namespaces.%s[%d].regex is missing", kind.name, i)
				continue
			}
			if err := ns.Compile(); err != nil {
				errs.Add(src, "namespaces.%s[%d].regex %q is not a valid regular expression: %v", kind.name, i, ns.Regex, err)
			}
		}
	}
}

type namespaceKind struct {
	name string
	list []api.Namespace
}

func namespaceKinds(reg *api.Registration) []namespaceKind {
	return []namespaceKind{
		{"users", reg.Namespaces.Users},
		{"aliases", reg.Namespaces.Aliases},
		{"rooms", reg.Namespaces.Rooms},
	}
}

// checkOverlaps reports two services holding exclusive namespaces of the
// same kind that share an ID. Whether two regular expressions share a match
// is decided on witnesses: the shortest string each regex matches (see
// witness) is tried against the other. Identical regexes, a namespace inside
// another ("@_irc_.*" and "@_irc_bridge_.*") and catch-alls (".*") are
// found; the check reports only overlaps it has an example of, so it never
// refuses two namespaces that are in fact disjoint.
func checkOverlaps(errs *config.Errors, regs []*api.Registration, sources []string) {
	for i := range regs {
		for j := i + 1; j < len(regs); j++ {
			ki, kj := namespaceKinds(regs[i]), namespaceKinds(regs[j])
			for k := range ki {
				reportOverlaps(errs, ki[k].name, ki[k].list, kj[k].list, sources[i], sources[j])
			}
		}
	}
}

func reportOverlaps(errs *config.Errors, kind string, a, b []api.Namespace, srcA, srcB string) {
	for x := range a {
		for y := range b {
			if !a[x].Exclusive || !b[y].Exclusive {
				continue
			}
			if id, ok := Overlap(a[x].Regex, b[y].Regex); ok {
				errs.Add("appservice "+srcB, "exclusive %s namespace %q overlaps the exclusive namespace %q of %s (both match %q)",
					kind, b[y].Regex, a[x].Regex, srcA, id)
			}
		}
	}
}

// Overlap reports whether the namespaces with regexes a and b (matched from
// the start of an ID) surely share an ID, and one such ID.
func Overlap(a, b string) (string, bool) {
	reA, errA := regexp.Compile(`^(?:` + a + `)`)
	reB, errB := regexp.Compile(`^(?:` + b + `)`)
	if errA != nil || errB != nil {
		return "", false // reported as invalid already
	}
	// A witness must match its own regex too (an anchor inside a regex can
	// make a generated string miss it), or it proves nothing.
	for _, w := range witnesses(a) {
		if reA.MatchString(w) && reB.MatchString(w) {
			return w, true
		}
	}
	for _, w := range witnesses(b) {
		if reB.MatchString(w) && reA.MatchString(w) {
			return w, true
		}
	}
	return "", false
}

// maxWitnesses bounds the strings tried per regex.
const maxWitnesses = 256

// witnesses returns short strings the regex matches: each alternative of a
// choice, an optional or repeated part taken zero times and once (at least
// the minimum), the first and last character of each class range, any
// character as 'a'. At most maxWitnesses.
func witnesses(expr string) []string {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil
	}
	return gen(re.Simplify())
}

func gen(re *syntax.Regexp) []string {
	switch re.Op {
	case syntax.OpNoMatch:
		return nil
	case syntax.OpLiteral:
		return []string{string(re.Rune)}
	case syntax.OpCharClass:
		var out []string
		for i := 0; i+1 < len(re.Rune) && len(out) < maxWitnesses; i += 2 {
			out = append(out, string(re.Rune[i]))
			if re.Rune[i+1] != re.Rune[i] {
				out = append(out, string(re.Rune[i+1]))
			}
		}
		return out
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return []string{"a"}
	case syntax.OpCapture:
		return gen(re.Sub[0])
	case syntax.OpStar, syntax.OpQuest:
		return union([]string{""}, gen(re.Sub[0]))
	case syntax.OpPlus:
		return gen(re.Sub[0])
	case syntax.OpRepeat:
		out := []string{""}
		for range max(re.Min, 1) {
			out = product(out, gen(re.Sub[0]))
		}
		if re.Min == 0 {
			out = union([]string{""}, out)
		}
		return out
	case syntax.OpConcat:
		out := []string{""}
		for _, sub := range re.Sub {
			out = product(out, gen(sub))
		}
		return out
	case syntax.OpAlternate:
		var out []string
		for _, sub := range re.Sub {
			out = union(out, gen(sub))
		}
		return out
	}
	// OpEmptyMatch, anchors and word boundaries add nothing.
	return []string{""}
}

func union(a, b []string) []string {
	out := append([]string(nil), a...)
	for _, s := range b {
		if len(out) >= maxWitnesses {
			break
		}
		out = append(out, s)
	}
	return out
}

func product(a, b []string) []string {
	var out []string
	for _, x := range a {
		for _, y := range b {
			if len(out) >= maxWitnesses {
				return out
			}
			out = append(out, x+y)
		}
	}
	return out
}

// Registration is api.Registration, for callers of Check.
type Registration = api.Registration
