package backends

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/myelin-im/myelin/internal/config"
)

func TestOpen(t *testing.T) {
	ctx := context.Background()
	if _, err := Open(ctx, config.Search{Backend: config.SearchOff}, nil, nil, nil); !errors.Is(err, ErrOff) {
		t.Fatalf("off: %v", err)
	}
	if _, err := Open(ctx, config.Search{Backend: "lucene"}, nil, nil, nil); err == nil || !strings.Contains(err.Error(), "unknown") {
		t.Fatalf("unknown backend: %v", err)
	}
}

func TestName(t *testing.T) {
	for _, tc := range []struct {
		cfg  config.Search
		want string
	}{
		{config.Search{Backend: config.SearchSQL}, "sql"},
		{config.Search{Backend: config.SearchElasticsearch, Elasticsearch: config.Elasticsearch{Index: "myelin-events"}},
			"elasticsearch:myelin-events"},
	} {
		if got := Name(tc.cfg); got != tc.want {
			t.Errorf("Name(%+v) = %q, want %q", tc.cfg, got, tc.want)
		}
	}
}
