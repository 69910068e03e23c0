package elastic

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// maxClauseCount is the cluster's bound on the clauses of one query.
const maxClauseCount = 1024

type fakeHit struct {
	id    string
	doc   map[string]any
	score float64
	sort  []any
}

// search evaluates a search body over the documents.
func (f *fakeES) search(body []byte) (any, *esErr) {
	var req map[string]json.RawMessage
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, bad("search body: %v", err)
	}
	for k := range req {
		if !slices.Contains([]string{"query", "sort", "size", "_source", "track_total_hits", "search_after"}, k) {
			return nil, bad("unknown key [%s]", k)
		}
	}
	var whole map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	_ = dec.Decode(&whole)
	f.searches = append(f.searches, whole)
	query, _ := whole["query"].(map[string]any)
	if n := countClauses(query); n > maxClauseCount {
		return nil, &esErr{status: 400, typ: "too_many_nested_clauses", reason: fmt.Sprintf("%d clauses", n)}
	}
	sortSpec, e := f.parseSort(whole["sort"])
	if e != nil {
		return nil, e
	}
	// The query is checked on a document of zero values, whatever the
	// index holds.
	probe := map[string]any{}
	for name := range f.props {
		probe[name] = nil
	}
	if _, _, e := f.eval(query, probe); e != nil {
		return nil, e
	}
	var hits []fakeHit
	for id, doc := range f.docs {
		ok, score, e := f.eval(query, doc)
		if e != nil {
			return nil, e
		}
		if ok {
			h := fakeHit{id: id, doc: doc, score: score}
			h.sort = sortValues(sortSpec, h)
			hits = append(hits, h)
		}
	}
	slices.SortFunc(hits, func(a, b fakeHit) int { return compareSort(sortSpec, a.sort, b.sort) })
	total := len(hits)
	if after, ok := whole["search_after"].([]any); ok {
		if len(after) != len(sortSpec) {
			return nil, bad("search_after has %d values, sort has %d", len(after), len(sortSpec))
		}
		av := normalise(sortSpec, after)
		hits = slices.DeleteFunc(hits, func(h fakeHit) bool { return compareSort(sortSpec, h.sort, av) <= 0 })
	}
	size := 10
	if s, ok := whole["size"].(json.Number); ok {
		n, _ := s.Int64()
		size = int(n)
	}
	hits = hits[:min(size, len(hits))]
	return f.searchResponse(whole, sortSpec, hits, total), nil
}

func (f *fakeES) searchResponse(req map[string]any, sortSpec []sortKey, hits []fakeHit, total int) map[string]any {
	fields, _ := req["_source"].([]any)
	out := make([]any, 0, len(hits))
	for _, h := range hits {
		src := map[string]any{}
		for _, fl := range fields {
			if v, ok := h.doc[fl.(string)]; ok {
				src[fl.(string)] = v
			}
		}
		var score any
		if sortSpec[0].field == "_score" {
			score = h.score
		}
		out = append(out, map[string]any{"_index": f.index, "_id": h.id, "_score": score, "_source": src, "sort": h.sort})
	}
	hitsObj := map[string]any{"max_score": nil, "hits": out}
	if track, ok := req["track_total_hits"].(json.Number); ok {
		n, _ := track.Int64()
		rel := "eq"
		if int64(total) > n {
			total, rel = int(n), "gte"
		}
		hitsObj["total"] = map[string]any{"value": total, "relation": rel}
	}
	return map[string]any{
		"took": 1, "timed_out": false,
		"_shards": map[string]any{"total": 1, "successful": 1, "skipped": 0, "failed": 0},
		"hits":    hitsObj,
	}
}

type sortKey struct {
	field string
	desc  bool
}

func (f *fakeES) parseSort(v any) ([]sortKey, *esErr) {
	arr, ok := v.([]any)
	if !ok || len(arr) == 0 {
		return nil, bad("sort must be a non-empty array")
	}
	var out []sortKey
	for _, s := range arr {
		m, ok := s.(map[string]any)
		if !ok || len(m) != 1 {
			return nil, bad("sort entry %v", s)
		}
		for field, order := range m {
			if order != "asc" && order != "desc" {
				return nil, bad("sort order %v", order)
			}
			if field != "_score" {
				typ := f.props[field]["type"]
				if typ != "keyword" && typ != "long" && typ != "date" {
					return nil, &esErr{status: 400, typ: "illegal_argument_exception", reason: "cannot sort on " + field}
				}
			}
			out = append(out, sortKey{field: field, desc: order == "desc"})
		}
	}
	return out, nil
}

func sortValues(spec []sortKey, h fakeHit) []any {
	out := make([]any, len(spec))
	for i, k := range spec {
		if k.field == "_score" {
			out[i] = h.score
		} else if n, ok := h.doc[k.field].(float64); ok {
			out[i] = int64(n)
		} else {
			out[i] = h.doc[k.field]
		}
	}
	return out
}

// normalise turns search_after values (json.Number) into sort values.
func normalise(spec []sortKey, vals []any) []any {
	out := make([]any, len(vals))
	for i, v := range vals {
		n, isNum := v.(json.Number)
		switch {
		case spec[i].field == "_score" && isNum:
			out[i], _ = n.Float64()
		case isNum:
			out[i], _ = n.Int64()
		default:
			out[i] = v
		}
	}
	return out
}

func compareSort(spec []sortKey, a, b []any) int {
	for i, k := range spec {
		var c int
		switch x := a[i].(type) {
		case float64:
			c = cmp.Compare(x, b[i].(float64))
		case int64:
			c = cmp.Compare(x, b[i].(int64))
		case string:
			c = cmp.Compare(x, b[i].(string))
		}
		if k.desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

func countClauses(q map[string]any) int {
	n := 0
	for kind, body := range q {
		if kind != "bool" {
			return 1
		}
		for _, occur := range []string{"must", "filter", "should", "must_not"} {
			for _, c := range asList(body.(map[string]any)[occur]) {
				n += countClauses(c.(map[string]any))
			}
		}
	}
	return n
}

func asList(v any) []any {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		return x
	default:
		return []any{x}
	}
}

// eval is whether doc matches q, and its score.
func (f *fakeES) eval(q map[string]any, doc map[string]any) (bool, float64, *esErr) {
	if len(q) != 1 {
		return false, 0, bad("a query must have one kind, got %v", q)
	}
	for kind, body := range q {
		b, ok := body.(map[string]any)
		if !ok {
			return false, 0, bad("[%s] query malformed", kind)
		}
		switch kind {
		case "bool":
			return f.evalBool(b, doc)
		case "term", "terms":
			return f.evalTerms(kind, b, doc)
		case "range":
			return f.evalRange(b, doc)
		case "match_phrase":
			return f.evalPhrase(b, doc)
		}
		return false, 0, bad("unknown query [%s]", kind)
	}
	return false, 0, nil
}

func (f *fakeES) evalBool(b map[string]any, doc map[string]any) (bool, float64, *esErr) {
	score := 0.0
	for k := range b {
		if !slices.Contains([]string{"must", "filter", "should", "must_not", "minimum_should_match"}, k) {
			return false, 0, bad("[bool] query does not support [%s]", k)
		}
	}
	// Every clause is evaluated (no short cut), so that every one is checked.
	all := true
	for _, occur := range []string{"must", "filter", "must_not"} {
		for _, c := range asList(b[occur]) {
			cq, isObj := c.(map[string]any)
			if !isObj {
				return false, 0, bad("[bool] clause %v", c)
			}
			ok, s, e := f.eval(cq, doc)
			if e != nil {
				return false, 0, e
			}
			all = all && ok == (occur != "must_not")
			if occur == "must" {
				score += s
			}
		}
	}
	should := asList(b["should"])
	msm := int64(0)
	if len(should) > 0 && b["must"] == nil && b["filter"] == nil {
		msm = 1
	}
	if v, ok := b["minimum_should_match"].(json.Number); ok {
		msm, _ = v.Int64()
	}
	matched := int64(0)
	for _, c := range should {
		ok, s, e := f.eval(c.(map[string]any), doc)
		if e != nil {
			return false, 0, e
		}
		if ok {
			matched++
			score += s
		}
	}
	return all && matched >= msm, score, nil
}

func (f *fakeES) field(name, want string) *esErr {
	if typ := f.props[name]["type"]; typ != want {
		return bad("field [%s] is %v, not %s", name, typ, want)
	}
	return nil
}

func (f *fakeES) evalTerms(kind string, b map[string]any, doc map[string]any) (bool, float64, *esErr) {
	if len(b) != 1 {
		return false, 0, bad("[%s] query on more than one field", kind)
	}
	for name, v := range b {
		if e := f.field(name, "keyword"); e != nil {
			return false, 0, e
		}
		want := asList(v)
		if kind == "term" {
			if _, ok := v.(string); !ok {
				return false, 0, bad("[term] value %v", v)
			}
		} else if _, ok := v.([]any); !ok {
			return false, 0, bad("[terms] needs an array, got %v", v)
		}
		for _, have := range asList(doc[name]) {
			if slices.Contains(want, have) {
				return true, 0, nil
			}
		}
	}
	return false, 0, nil
}

func (f *fakeES) evalRange(b map[string]any, doc map[string]any) (bool, float64, *esErr) {
	for name, v := range b {
		if t := f.props[name]["type"]; t != "long" && t != "date" {
			return false, 0, bad("[range] on field [%s] of type %v", name, t)
		}
		n, _ := doc[name].(float64)
		have := int64(n)
		for op, bound := range v.(map[string]any) {
			if op == "format" {
				continue
			}
			n, ok := bound.(json.Number)
			if !ok {
				return false, 0, bad("[range] bound %v", bound)
			}
			x, _ := n.Int64()
			ok = map[string]bool{"gt": have > x, "gte": have >= x, "lt": have < x, "lte": have <= x}[op]
			if _, known := map[string]bool{"gt": true, "gte": true, "lt": true, "lte": true}[op]; !known {
				return false, 0, bad("[range] does not support [%s]", op)
			}
			if !ok {
				return false, 0, nil
			}
		}
	}
	return true, 0, nil
}

// evalPhrase matches consecutive whitespace tokens and scores them with the
// density similarity: freq / (freq + number of tokens).
func (f *fakeES) evalPhrase(b map[string]any, doc map[string]any) (bool, float64, *esErr) {
	for name, v := range b {
		if e := f.field(name, "text"); e != nil {
			return false, 0, e
		}
		if f.props[name]["index"] == false {
			return false, 0, bad("cannot search on field [%s] since it is not indexed", name)
		}
		opts, ok := v.(map[string]any)
		qs, isStr := opts["query"].(string)
		if !ok || !isStr || len(opts) != 1 {
			return false, 0, bad("[match_phrase] malformed %v", v)
		}
		phrase := strings.Fields(qs)
		text, _ := doc[name].(string)
		tokens := strings.Fields(text)
		freq := 0
		for i := 0; i+len(phrase) <= len(tokens); i++ {
			if slices.Equal(tokens[i:i+len(phrase)], phrase) {
				freq++
			}
		}
		if freq == 0 || len(phrase) == 0 {
			return false, 0, nil
		}
		return true, float64(freq) / float64(freq+len(tokens)), nil
	}
	return false, 0, nil
}
