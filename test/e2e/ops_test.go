package e2e

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestOperations: /health, /ready and /metrics with the metrics of every
// layer (HTTP by route and status, database pools, cache, bus).
func TestOperations(t *testing.T) {
	cfg := testConfig(t, "")
	cfg.Global.MetricsAddr = "127.0.0.1:0"
	srv := startServer(t, cfg)
	for _, base := range []string{srv.ClientURL(), srv.MetricsURL()} {
		if r := do(t, "GET", base+"/health", "", nil); r.Status != 200 || r.Body["status"] != "ok" {
			t.Fatalf("%s/health: %d %v", base, r.Status, r.Body)
		}
		if r := do(t, "GET", base+"/ready", "", nil); r.Status != 200 {
			t.Fatalf("%s/ready: %d %v", base, r.Status, r.Body)
		}
	}
	zed := register(t, srv, "zed", "long enough")
	for i := 0; i < 3; i++ {
		if _, err := zed.Whoami(ctx(t)); err != nil {
			t.Fatal(err)
		}
	}
	do(t, "GET", srv.ClientURL()+"/_matrix/client/v3/nothing", "", nil)

	resp, err := http.Get(srv.MetricsURL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	text := string(body)
	for _, want := range []string{
		`myelin_http_requests_total{listener="client",method="GET",route="/_matrix/client/v3/account/whoami",status="200"} 3`,
		`myelin_http_requests_total{listener="client",method="GET",route="unmatched",status="404"} 1`,
		`myelin_http_request_duration_seconds_bucket{listener="client",method="POST",route="/_matrix/client/v3/register"`,
		`go_sql_open_connections{db_name="writer"}`,
		`go_sql_open_connections{db_name="reader"}`,
		`myelin_cache_hits_total{backend="memory"}`,
		`myelin_userapi_sessions_created_total{component="userapi",kind="login"} 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", text)
	}
}
