package federationapi_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/myelin-im/myelin/federationapi"
	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/mediaapi"
	mediasapi "github.com/myelin-im/myelin/mediaapi/api"
	"github.com/myelin-im/myelin/test/fixture"
)

// mediaServer is a Myelin server as the media tests run it: a fixture
// with the media component, and the federation component serving its
// files to other servers and fetching theirs for it, the two routers
// joined as the client listener joins them (federation under its
// prefix); alice is a user of it.
type mediaServer struct {
	*fixture.Fixture
	media *mediaapi.MediaAPI
	fed   *federationapi.FederationAPI
	alice *fixture.User

	mu    sync.Mutex
	asked []string // the paths requested over HTTPS (serveHTTPS)
}

// newMediaServer builds a mediaServer called name; hosts and caFile say
// where other servers are and which certificate to trust, change adjusts
// the media configuration.
func newMediaServer(t *testing.T, name string, hosts map[string]string, caFile string, change ...func(*config.MediaAPI)) *mediaServer {
	t.Helper()
	f := fixture.NewAs(t, name)
	cfg := f.Config.MediaAPI
	for _, c := range change {
		c(&cfg)
	}
	// The media component is built first and fetches through the
	// federation component built after it, as server/late.go wires them.
	late := &lateFetcher{}
	media, err := mediaapi.New(context.Background(), mediaapi.Options{
		ServerName: f.ServerName,
		Config:     cfg,
		BasePath:   f.Config.MediaBasePath(),
		DB:         f.DB,
		Users:      f.Users,
		Router:     f.Router,
		Remote:     late,
		Log:        f.Log,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = media.Close() })
	fedCfg := f.Config.FederationAPI
	fedCfg.Hosts, fedCfg.TLSCA = hosts, caFile
	fed := f.Federation(t, fedCfg, func(o *federationapi.Options) {
		o.Media = media
		o.MaxMediaBytes = cfg.MaxUploadBytes
	})
	late.RemoteFetcher = fed
	f.Router.PathPrefix("/_matrix/federation/").Handler(fed.Router())
	return &mediaServer{Fixture: f, media: media, fed: fed, alice: f.User(t, "alice")}
}

// lateFetcher is the federation component once built.
type lateFetcher struct{ mediasapi.RemoteFetcher }

// newMediaPair is local (test.local) and origin (remote.test), each a
// mediaServer, origin served over HTTPS where local finds it, and local's
// key known to origin, which checks its requests' signatures.
func newMediaPair(t *testing.T, change ...func(*config.MediaAPI)) (local, origin *mediaServer) {
	t.Helper()
	origin = newMediaServer(t, "remote.test", nil, "")
	addr, cert := origin.serveHTTPS(t)
	local = newMediaServer(t, fixture.ServerName, map[string]string{"remote.test": addr}, cert, change...)
	storeKey(t, origin.Fixture, local.ServerName, local.Key.ID, local.Key.Private.Public().(ed25519.PublicKey))
	return local, origin
}

// serveHTTPS serves s over HTTPS (serveHTTPS), recording the paths asked.
func (s *mediaServer) serveHTTPS(t *testing.T) (addr, certPath string) {
	t.Helper()
	h := s.Handler(t)
	return serveHTTPS(t, s.ServerName, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.asked = append(s.asked, r.URL.Path)
		s.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
}

// askedFor is the paths requested over HTTPS so far that contain part.
func (s *mediaServer) askedFor(part string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, p := range s.asked {
		if strings.Contains(p, part) {
			out = append(out, p)
		}
	}
	return slices.Clip(out)
}

// upload stores content as alice's upload through the client endpoint
// and returns its mxc:// URI.
func (s *mediaServer) upload(t *testing.T, content []byte, contentType, name string) mediasapi.MXC {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/_matrix/media/v3/upload?filename="+url.QueryEscape(name), bytes.NewReader(content))
	req.Header.Set("Authorization", "Bearer "+s.alice.Token)
	req.Header.Set("Content-Type", contentType)
	res := s.DoRequest(t, req)
	res.Want(t, http.StatusOK)
	mxc, err := mediasapi.ParseMXC(res.JSON()["content_uri"].(string))
	if err != nil {
		t.Fatal(err)
	}
	return mxc
}

// download fetches mxc as alice from the authenticated client endpoint
// (legacy: the unauthenticated one), with query added.
func (s *mediaServer) download(t *testing.T, mxc mediasapi.MXC, legacy bool, query string) *fixture.Response {
	t.Helper()
	if legacy {
		return s.Do(t, http.MethodGet, "/_matrix/media/v3/download/"+mxc.ServerName+"/"+string(mxc.MediaID)+query, "", nil)
	}
	return s.Do(t, http.MethodGet, "/_matrix/client/v1/media/download/"+mxc.ServerName+"/"+string(mxc.MediaID)+query, s.alice.Token, nil)
}

// mediaAnswer is a federation media answer read back with mime/multipart.
type mediaAnswer struct {
	metadata     string // the first part's body
	metadataType string
	contentType  string
	disposition  string
	content      []byte
}

// readMediaAnswer parses res as the spec's multipart/mixed answer of
// exactly two parts, failing the test otherwise.
func readMediaAnswer(t *testing.T, res *fixture.Response) mediaAnswer {
	t.Helper()
	res.Want(t, http.StatusOK)
	mt, params, err := mime.ParseMediaType(res.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/mixed" || params["boundary"] == "" {
		t.Fatalf("Content-Type %q (%v), want multipart/mixed with a boundary", res.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(bytes.NewReader(res.Body), params["boundary"])
	var parts []*multipart.Part
	var bodies [][]byte
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("reading part %d: %v", len(parts)+1, err)
		}
		b, err := io.ReadAll(p)
		if err != nil {
			t.Fatalf("reading part %d: %v", len(parts)+1, err)
		}
		parts, bodies = append(parts, p), append(bodies, b)
	}
	if len(parts) != 2 {
		t.Fatalf("%d parts, want 2", len(parts))
	}
	return mediaAnswer{
		metadata:     string(bodies[0]),
		metadataType: parts[0].Header.Get("Content-Type"),
		contentType:  parts[1].Header.Get("Content-Type"),
		disposition:  parts[1].Header.Get("Content-Disposition"),
		content:      bodies[1],
	}
}
