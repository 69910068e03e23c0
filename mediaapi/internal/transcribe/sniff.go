package transcribe

import (
	"bytes"
	"mime"
	"strings"
)

// SniffLen is how many leading bytes of a file IsAudio needs to recognise
// every container it knows.
const SniffLen = 12

// IsAudio reports whether a file whose declared type is contentType and
// whose first bytes are header (at least SniffLen of them) is audio that
// can be transcribed: the type must be audio/* and the bytes must start an
// audio container, so that a picture or a playlist uploaded as audio/ogg is
// refused before ffmpeg ever reads it.
func IsAudio(contentType string, header []byte) bool {
	return audioType(contentType) && audioContainer(header)
}

// audioType reports whether contentType is audio/*, parameters (such as
// codecs=opus) allowed.
func audioType(contentType string) bool {
	mediaType, _, err := mime.ParseMediaType(contentType)
	return err == nil && strings.HasPrefix(mediaType, "audio/")
}

// audioSignatures are the magic bytes at offset 0 of the containers voice
// messages and audio files come in.
var audioSignatures = [][]byte{
	[]byte("OggS"),           // Ogg (Opus voice messages, Vorbis)
	[]byte("ID3"),            // MP3 with an ID3v2 tag
	{0x1A, 0x45, 0xDF, 0xA3}, // EBML: WebM, Matroska audio
	[]byte("fLaC"),           // FLAC
	[]byte("#!AMR"),          // AMR (older phones' voice notes)
	[]byte("caff"),           // Core Audio Format (iOS recordings)
	[]byte(".snd"),           // Sun/NeXT .au
}

// audioContainer reports whether header starts a known audio container:
// one of audioSignatures, a WAV or AIFF file (a RIFF or IFF chunk of that
// form), an ISO base media file, or a bare MPEG audio or ADTS frame.
func audioContainer(header []byte) bool {
	if len(header) < 4 {
		return false
	}
	switch {
	case bytes.HasPrefix(header, []byte("RIFF")), bytes.HasPrefix(header, []byte("RF64")):
		return len(header) >= 12 && string(header[8:12]) == "WAVE"
	case bytes.HasPrefix(header, []byte("FORM")):
		return len(header) >= 12 && (string(header[8:12]) == "AIFF" || string(header[8:12]) == "AIFC")
	case len(header) >= 8 && string(header[4:8]) == "ftyp":
		return true // ISO base media: M4A, MP4 audio, 3GP voice notes
	case header[0] == 0xFF && header[1]&0xE0 == 0xE0:
		return true // an MPEG audio frame (MP3 without a tag) or ADTS AAC
	}
	for _, sig := range audioSignatures {
		if bytes.HasPrefix(header, sig) {
			return true
		}
	}
	return false
}
