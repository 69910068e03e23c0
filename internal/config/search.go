package config

import (
	"net/url"
	"strings"
)

// Search backends (Search.Backend).
const (
	SearchSQL           = "sql"
	SearchElasticsearch = "elasticsearch"
	SearchOff           = "off"
)

// Search configures message search (POST /v3/search; ARCHITECTURE.md §6).
type Search struct {
	// Backend is sql (default: full-text indexes in the database of
	// record), elasticsearch, or off (/search answers nothing and nothing is
	// indexed).
	Backend       string        `yaml:"backend"`
	Elasticsearch Elasticsearch `yaml:"elasticsearch"`
}

// Elasticsearch is the cluster the elasticsearch backend uses.
type Elasticsearch struct {
	// Addresses are the nodes' base URLs. Default ["http://127.0.0.1:9200"].
	Addresses []string `yaml:"addresses"`
	// Username and Password (basic auth) or APIKey authenticate; all empty:
	// none.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	APIKey   string `yaml:"api_key"`
	// CAFile is a PEM file of CAs to trust besides the system's.
	CAFile string `yaml:"ca_file"`
	// Index is the index holding the events. Default "myelin-events".
	Index string `yaml:"index"`
	// Refresh is the refresh policy of indexing requests: "false" (default:
	// the cluster's refresh interval, about a second, makes them
	// searchable) or "wait_for" (each bulk request waits until they are).
	Refresh string `yaml:"refresh"`
}

// Defaults fills the zero fields of s.
func (s *Search) Defaults() {
	setDefault(&s.Backend, SearchSQL)
	if len(s.Elasticsearch.Addresses) == 0 {
		s.Elasticsearch.Addresses = []string{"http://127.0.0.1:9200"}
	}
	setDefault(&s.Elasticsearch.Index, "myelin-events")
	setDefault(&s.Elasticsearch.Refresh, "false")
}

// Verify records the problems of s in errs.
func (s *Search) Verify(errs *Errors) {
	checkOneOf(errs, "search.backend", s.Backend, []string{SearchSQL, SearchElasticsearch, SearchOff})
	if s.Backend != SearchElasticsearch {
		return
	}
	es := s.Elasticsearch
	for _, a := range es.Addresses {
		u, err := url.Parse(a)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs.Add("search.elasticsearch.addresses", "must be http(s) URLs (got %q)", describeURL(a))
		}
	}
	if es.Index == "" || strings.ToLower(es.Index) != es.Index || strings.ContainsAny(es.Index, `\/*?"<>| ,#:`) {
		errs.Add("search.elasticsearch.index", "must be a lower-case index name (got %q)", es.Index)
	}
	checkOneOf(errs, "search.elasticsearch.refresh", es.Refresh, []string{"false", "wait_for"})
	if es.APIKey != "" && (es.Username != "" || es.Password != "") {
		errs.Add("search.elasticsearch", "set api_key or username/password, not both")
	}
}

func init() {
	docs["search"] = "Message search (POST /v3/search): where the index of messages, room names and topics lives."
	docs["search.backend"] = "sql: full-text indexes in the database (SQLite FTS5, PostgreSQL GIN); " +
		"elasticsearch: an Elasticsearch cluster (below); off: no index, searches find nothing."
	docs["search.elasticsearch"] = "The Elasticsearch cluster, when search.backend is elasticsearch."
	docs["search.elasticsearch.addresses"] = "Base URLs of the cluster's nodes."
	docs["search.elasticsearch.username"] = "Basic-auth user name; empty: none."
	docs["search.elasticsearch.password"] = "Basic-auth password. Prefer the environment or a file only Myelin reads."
	docs["search.elasticsearch.api_key"] = "API key (instead of a user name and password); empty: none."
	docs["search.elasticsearch.ca_file"] = "PEM file of CA certificates to trust for the cluster, besides the system's."
	docs["search.elasticsearch.index"] = "Index holding the events; created with its mappings at start if missing."
	docs["search.elasticsearch.refresh"] = "Refresh policy of indexing: false (the cluster's refresh " +
		"interval makes new messages searchable, about a second) or wait_for (each batch waits until they are)."
}
