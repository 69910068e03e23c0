package config

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestMediaSettingsFromFile(t *testing.T) {
	c, err := LoadFile(writeConfig(t, `
global:
  data_dir: /srv/myelin
media_api:
  user_quota_bytes: 1073741824
  legacy_media:
    frozen_after: 2024-09-01T00:00:00Z
  thumbnail_sizes:
    - {width: 64, height: 64, method: crop}
    - width: 1024
      height: 768
      method: scale
  url_preview:
    ip_range_whitelist: [127.0.0.1, 10.0.0.0/8]
`))
	if err != nil {
		t.Fatal(err)
	}
	m := c.MediaAPI
	want := []ThumbnailSize{{64, 64, "crop"}, {1024, 768, "scale"}}
	if !reflect.DeepEqual(m.ThumbnailSizes, want) {
		t.Errorf("thumbnail_sizes = %+v, want %+v", m.ThumbnailSizes, want)
	}
	frozen, err := m.LegacyMedia.FrozenAfterTime()
	if err != nil || !frozen.Equal(time.Date(2024, 9, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("frozen_after = %v (%v)", frozen, err)
	}
	if !m.LegacyMedia.Enabled || m.UserQuotaBytes != 1<<30 || len(m.URLPreview.IPRangeWhitelist) != 2 {
		t.Errorf("media_api = %+v", m)
	}
	if got := c.MediaBasePath(); got != filepath.Join("/srv/myelin", "media") {
		t.Errorf("MediaBasePath() = %q, want /srv/myelin/media", got)
	}
	c.MediaAPI.BasePath = "/var/lib/media"
	if got := c.MediaBasePath(); got != "/var/lib/media" {
		t.Errorf("MediaBasePath() = %q, want the configured path", got)
	}
}

func TestMediaFileProblems(t *testing.T) {
	_, err := LoadFile(writeConfig(t, "media_api:\n  thumbnail_sizes:\n    - {width: 32, height: 32, method: crop, depth: 8}\n"))
	if err == nil || !strings.Contains(err.Error(), "media_api.thumbnail_sizes.depth") {
		t.Fatalf("unknown key in a thumbnail size: %v", err)
	}
	_, err = LoadFile(writeConfig(t, "media_api:\n  legacy_media:\n    frozen_after: yesterday\n"))
	if err == nil || !strings.Contains(err.Error(), "media_api.legacy_media.frozen_after") {
		t.Fatalf("bad freeze time: %v", err)
	}
}

func TestParseIPRange(t *testing.T) {
	for in, want := range map[string]string{
		"10.1.2.3/8":  "10.0.0.0/8",
		"127.0.0.1":   "127.0.0.1/32",
		"::1":         "::1/128",
		"fe80::1/10":  "fe80::/10",
		"not-an-addr": "",
	} {
		p, err := ParseIPRange(in)
		if want == "" {
			if err == nil {
				t.Errorf("ParseIPRange(%q) = %v, want an error", in, p)
			}
			continue
		}
		if err != nil || p.String() != want {
			t.Errorf("ParseIPRange(%q) = %v, %v; want %s", in, p, err, want)
		}
	}
}
