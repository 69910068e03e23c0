package elastic

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// fakeES is a one-node Elasticsearch 8 for exactly the requests this
// backend sends, speaking its wire format: it checks the request bodies
// against what the cluster accepts (index definitions, strict mappings,
// query and sort syntax, field types) and evaluates the queries over the
// documents it holds, scoring phrases with the index's density similarity.
type fakeES struct {
	t     *testing.T
	srv   *httptest.Server
	index string

	mu         sync.Mutex
	props      map[string]map[string]any // the mapping's properties
	analyzers  map[string]bool
	docs       map[string]map[string]any
	creates    int             // PUT /{index} that created it
	hideIndex  bool            // HEAD answers 404 although it exists (a concurrent creator)
	noProduct  bool            // answer without X-Elastic-Product
	bulkLoad   int             // bulk requests to refuse whole with 429
	searchLoad int             // search requests to refuse with 503
	itemLoad   map[string]int  // _ids to refuse with 429, times
	itemBad    map[string]bool // _ids to refuse with 400 (mapping)
	bulkBodies [][]bulkLine
	searches   []map[string]any
	refreshes  []string
}

type bulkLine struct {
	action, id string
	source     map[string]any
}

func newFakeES(t *testing.T) *fakeES {
	f := &fakeES{t: t, index: testIndex, docs: map[string]map[string]any{},
		itemLoad: map[string]int{}, itemBad: map[string]bool{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

type esErr struct {
	status int
	typ    string
	reason string
}

func (f *fakeES) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.noProduct {
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
	}
	w.Header().Set("Content-Type", "application/json")
	body, _ := io.ReadAll(r.Body)
	out, e := f.route(r, body)
	if e != nil {
		w.WriteHeader(e.status)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"error": map[string]any{
				"root_cause": []any{map[string]any{"type": e.typ, "reason": e.reason}},
				"type":       e.typ, "reason": e.reason,
			},
			"status": e.status,
		})
		return
	}
	if r.Method == http.MethodHead {
		return
	}
	_ = json.NewEncoder(w).Encode(out)
}

func (f *fakeES) route(r *http.Request, body []byte) (any, *esErr) {
	idx := "/" + f.index
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/":
		return map[string]any{
			"name": "fake", "cluster_name": "myelin-test", "cluster_uuid": "u",
			"version": map[string]any{
				"number": "8.15.0", "build_flavor": "default", "lucene_version": "9.11.1",
				"minimum_wire_compatibility_version": "7.17.0", "minimum_index_compatibility_version": "7.0.0",
			},
			"tagline": "You Know, for Search",
		}, nil
	case r.Method == http.MethodHead && r.URL.Path == idx:
		if f.props == nil || f.hideIndex {
			return nil, &esErr{status: 404, typ: "index_not_found_exception", reason: "no such index"}
		}
		return nil, nil
	case r.Method == http.MethodPut && r.URL.Path == idx:
		return f.create(body)
	case r.Method == http.MethodDelete && r.URL.Path == idx:
		f.props, f.docs = nil, map[string]map[string]any{}
		return map[string]any{"acknowledged": true}, nil
	case r.Method == http.MethodPost && r.URL.Path == "/_bulk":
		checkJSONType(f.t, r)
		f.refreshes = append(f.refreshes, r.URL.Query().Get("refresh"))
		return f.bulk(body)
	case r.Method == http.MethodPost && r.URL.Path == idx+"/_search":
		checkJSONType(f.t, r)
		if f.searchLoad > 0 {
			f.searchLoad--
			return nil, &esErr{status: 503, typ: "search_phase_execution_exception", reason: "all shards failed"}
		}
		return f.search(body)
	}
	f.t.Errorf("fake ES: unexpected request %s %s", r.Method, r.URL)
	return nil, &esErr{status: 400, typ: "illegal_argument_exception", reason: "unexpected request"}
}

func checkJSONType(t *testing.T, r *http.Request) {
	ct := r.Header.Get("Content-Type")
	if !strings.HasPrefix(ct, "application/json") && !strings.HasPrefix(ct, "application/x-ndjson") {
		t.Errorf("fake ES: %s with Content-Type %q", r.URL.Path, ct)
	}
}

func bad(format string, args ...any) *esErr {
	return &esErr{status: 400, typ: "parsing_exception", reason: fmt.Sprintf(format, args...)}
}

// create checks an index definition as the cluster would and keeps it.
func (f *fakeES) create(body []byte) (any, *esErr) {
	if f.props != nil {
		return nil, &esErr{status: 400, typ: "resource_already_exists_exception", reason: "index already exists"}
	}
	var def struct {
		Settings struct {
			Analysis struct {
				Analyzer map[string]struct {
					Type      string `json:"type"`
					Tokenizer string `json:"tokenizer"`
				} `json:"analyzer"`
			} `json:"analysis"`
			Similarity map[string]struct {
				Type   string `json:"type"`
				Script struct {
					Source string `json:"source"`
				} `json:"script"`
			} `json:"similarity"`
		} `json:"settings"`
		Mappings struct {
			Dynamic    string                    `json:"dynamic"`
			Properties map[string]map[string]any `json:"properties"`
		} `json:"mappings"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&def); err != nil {
		return nil, bad("index definition: %v", err)
	}
	f.analyzers = map[string]bool{"standard": true, "whitespace": true, "cjk": true}
	for name, a := range def.Settings.Analysis.Analyzer {
		if a.Type != "custom" || a.Tokenizer != "whitespace" {
			return nil, bad("analyzer %s: %+v", name, a)
		}
		f.analyzers[name] = true
	}
	for name, s := range def.Settings.Similarity {
		if s.Type != "scripted" || !strings.Contains(s.Script.Source, "doc.freq") {
			return nil, bad("similarity %s: %+v", name, s)
		}
	}
	if def.Mappings.Dynamic != "strict" {
		return nil, bad("mappings.dynamic %q", def.Mappings.Dynamic)
	}
	for name, p := range def.Mappings.Properties {
		switch p["type"] {
		case "keyword", "long":
		case "date":
			if p["format"] != "epoch_millis" {
				return nil, bad("field %s: format %v", name, p["format"])
			}
		case "text":
			if a, ok := p["analyzer"].(string); ok && !f.analyzers[a] {
				return nil, bad("field %s: analyzer %s not defined", name, a)
			}
			if s, ok := p["similarity"].(string); ok && def.Settings.Similarity[s].Type == "" {
				return nil, bad("field %s: similarity %s not defined", name, s)
			}
		default:
			return nil, bad("field %s: type %v", name, p["type"])
		}
	}
	f.props = def.Mappings.Properties
	f.creates++
	return map[string]any{"acknowledged": true, "shards_acknowledged": true, "index": f.index}, nil
}

// bulk applies NDJSON actions, refusing some as configured.
func (f *fakeES) bulk(body []byte) (any, *esErr) {
	if f.props == nil {
		return nil, &esErr{status: 404, typ: "index_not_found_exception", reason: "no such index"}
	}
	lines, e := parseBulk(f.index, body)
	if e != nil {
		return nil, e
	}
	f.bulkBodies = append(f.bulkBodies, lines)
	if f.bulkLoad > 0 {
		f.bulkLoad--
		return nil, &esErr{status: 429, typ: "es_rejected_execution_exception", reason: "rejected execution of coordinating operation"}
	}
	items := make([]any, 0, len(lines))
	anyErr := false
	for _, l := range lines {
		out := map[string]any{"_index": f.index, "_id": l.id}
		switch {
		case f.itemLoad[l.id] > 0:
			f.itemLoad[l.id]--
			out["status"] = 429
			out["error"] = map[string]any{"type": "es_rejected_execution_exception", "reason": "rejected execution"}
		case f.itemBad[l.id]:
			out["status"] = 400
			out["error"] = map[string]any{"type": "document_parsing_exception", "reason": "failed to parse"}
		case l.action == "index":
			if e := f.checkSource(l.source); e != nil {
				out["status"] = 400
				out["error"] = map[string]any{"type": "strict_dynamic_mapping_exception", "reason": e.reason}
				break
			}
			_, had := f.docs[l.id]
			f.docs[l.id] = l.source
			out["status"], out["result"] = 201, "created"
			if had {
				out["status"], out["result"] = 200, "updated"
			}
		case l.action == "delete":
			_, had := f.docs[l.id]
			delete(f.docs, l.id)
			out["status"], out["result"] = 200, "deleted"
			if !had {
				out["status"], out["result"] = 404, "not_found"
			}
		}
		if out["status"].(int) >= 300 && out["result"] != "not_found" {
			anyErr = true
		}
		items = append(items, map[string]any{l.action: out})
	}
	return map[string]any{"took": 1, "errors": anyErr, "items": items}, nil
}

func parseBulk(index string, body []byte) ([]bulkLine, *esErr) {
	var lines []bulkLine
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<24)
	if len(body) == 0 || body[len(body)-1] != '\n' {
		return nil, &esErr{status: 400, typ: "illegal_argument_exception", reason: "The bulk request must be terminated by a newline [\\n]"}
	}
	for sc.Scan() {
		var action map[string]struct {
			Index string `json:"_index"`
			ID    string `json:"_id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &action); err != nil || len(action) != 1 {
			return nil, bad("bulk action line %q", sc.Text())
		}
		for name, meta := range action {
			if meta.Index != index || meta.ID == "" || len(meta.ID) > 512 {
				return nil, bad("bulk action meta %+v", meta)
			}
			l := bulkLine{action: name, id: meta.ID}
			switch name {
			case "index":
				if !sc.Scan() || json.Unmarshal(sc.Bytes(), &l.source) != nil {
					return nil, bad("bulk index without a source")
				}
			case "delete":
			default:
				return nil, bad("bulk action %s", name)
			}
			lines = append(lines, l)
		}
	}
	return lines, nil
}

// checkSource is the strict mapping's check of a document.
func (f *fakeES) checkSource(src map[string]any) *esErr {
	for field, v := range src {
		p, ok := f.props[field]
		if !ok {
			return bad("mapping set to strict, dynamic introduction of [%s] is not allowed", field)
		}
		ok = false
		switch p["type"] {
		case "keyword":
			_, ok = v.(string)
			if arr, isArr := v.([]any); isArr {
				ok = true
				for _, x := range arr {
					if _, s := x.(string); !s {
						ok = false
					}
				}
			}
		case "long", "date":
			n, isNum := v.(float64)
			ok = isNum && n == float64(int64(n))
		case "text":
			_, ok = v.(string)
		}
		if !ok {
			return bad("field %s: %v does not fit %v", field, v, p["type"])
		}
	}
	return nil
}
