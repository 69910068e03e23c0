package transcribe

import "testing"

func TestIsAudio(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	ogg := []byte("OggS\x00\x02\x00\x00\x00\x00\x00\x00")
	for _, tc := range []struct {
		name        string
		contentType string
		header      []byte
		want        bool
	}{
		{"ogg voice message", "audio/ogg", ogg, true},
		{"type parameters", "audio/ogg; codecs=opus", ogg, true},
		{"type case", "Audio/OGG", ogg, true},
		{"mp3 with id3", "audio/mpeg", []byte("ID3\x04\x00\x00\x00\x00\x00\x23TSSE"), true},
		{"mp3 frame", "audio/mpeg", []byte{0xFF, 0xFB, 0x90, 0x64, 0, 0, 0, 0, 0, 0, 0, 0}, true},
		{"adts aac", "audio/aac", []byte{0xFF, 0xF1, 0x50, 0x80, 0, 0, 0, 0, 0, 0, 0, 0}, true},
		{"wav", "audio/wav", []byte("RIFF\x24\x08\x00\x00WAVE"), true},
		{"x-wav", "audio/x-wav", []byte("RIFF\x24\x08\x00\x00WAVE"), true},
		{"m4a", "audio/mp4", []byte("\x00\x00\x00\x1cftypM4A "), true},
		{"x-m4a", "audio/x-m4a", []byte("\x00\x00\x00\x1cftypM4A "), true},
		{"webm", "audio/webm", []byte{0x1A, 0x45, 0xDF, 0xA3, 0x9F, 0x42, 0x86, 0x81, 1, 0x42, 0xF7, 0x81}, true},
		{"flac", "audio/flac", []byte("fLaC\x00\x00\x00\x22\x10\x00\x10\x00"), true},
		{"amr", "audio/amr", []byte("#!AMR\n<\x91\x17\x16\xbe"), true},
		{"aiff", "audio/aiff", []byte("FORM\x00\x00\x10\x00AIFF"), true},
		{"png as audio", "audio/ogg", png, false},
		{"jpeg as audio", "audio/mpeg", []byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, 'J', 'F', 'I', 'F', 0, 1}, false},
		{"avi as wav", "audio/wav", []byte("RIFF\x24\x08\x00\x00AVI "), false},
		{"playlist as audio", "audio/mpeg", []byte("#EXTM3U\n#EXTINF"), false},
		{"concat script as audio", "audio/ogg", []byte("ffconcat version 1.0\n"), false},
		{"html as audio", "audio/ogg", []byte("<!DOCTYPE html>"), false},
		{"ogg as image", "image/png", ogg, false},
		{"ogg as octet stream", "application/octet-stream", ogg, false},
		{"no type", "", ogg, false},
		{"malformed type", "audio/", ogg, false},
		{"empty file", "audio/ogg", nil, false},
		{"truncated wav", "audio/wav", []byte("RIFF\x24\x08"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsAudio(tc.contentType, tc.header); got != tc.want {
				t.Errorf("IsAudio(%q, %q) = %v, want %v", tc.contentType, tc.header, got, tc.want)
			}
		})
	}
}
