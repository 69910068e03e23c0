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
	"strings"

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
	// make the shortest string miss it), or it proves nothing.
	if w, ok := witness(a); ok && reA.MatchString(w) && reB.MatchString(w) {
		return w, true
	}
	if w, ok := witness(b); ok && reB.MatchString(w) && reA.MatchString(w) {
		return w, true
	}
	return "", false
}

// witness returns a short string the regex matches: the first alternative
// of each choice, the fewest repetitions, the first character of each class.
func witness(expr string) (string, bool) {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return "", false
	}
	var b strings.Builder
	if !writeWitness(&b, re.Simplify()) {
		return "", false
	}
	return b.String(), true
}

func writeWitness(b *strings.Builder, re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpNoMatch:
		return false
	case syntax.OpLiteral:
		b.WriteString(string(re.Rune))
	case syntax.OpCharClass:
		if len(re.Rune) == 0 {
			return false
		}
		b.WriteRune(re.Rune[0])
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		b.WriteByte('a')
	case syntax.OpCapture:
		return writeWitness(b, re.Sub[0])
	case syntax.OpPlus:
		return writeWitness(b, re.Sub[0])
	case syntax.OpRepeat:
		for range re.Min {
			if !writeWitness(b, re.Sub[0]) {
				return false
			}
		}
	case syntax.OpConcat:
		for _, sub := range re.Sub {
			if !writeWitness(b, sub) {
				return false
			}
		}
	case syntax.OpAlternate:
		return writeWitness(b, re.Sub[0])
	}
	// OpEmptyMatch, OpStar, OpQuest, anchors and word boundaries add nothing.
	return true
}

// Registration is api.Registration, for callers of Check.
type Registration = api.Registration
