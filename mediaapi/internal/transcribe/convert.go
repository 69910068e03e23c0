package transcribe

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The audio every engine receives: 16 kHz mono 16-bit little-endian PCM,
// what pocketsphinx's en-us model was trained on and what Baidu takes.
const (
	sampleRate     = 16000
	bytesPerSecond = sampleRate * 2
)

// inputFormats are the demuxers ffmpeg may use on a user's file: audio
// containers only, so that a playlist or a concat script dressed as audio
// cannot make it open other files or URLs.
const inputFormats = "ogg,mp3,wav,mov,matroska,flac,aac,amr,aiff,caf,au"

// clip is a user's audio converted for the engines: a WAV file of 16 kHz
// mono 16-bit PCM, and where its samples lie in it.
type clip struct {
	path       string
	dataOffset int64
	dataLen    int64
}

// duration is how long the audio plays.
func (c *clip) duration() time.Duration {
	return time.Duration(c.dataLen) * time.Second / bytesPerSecond
}

// pcm reads the raw samples (the WAV file's data chunk), for engines that
// take PCM rather than a file.
func (c *clip) pcm() ([]byte, error) {
	f, err := os.Open(c.path)
	if err != nil {
		return nil, fmt.Errorf("open converted audio: %w", err)
	}
	defer f.Close() //nolint:errcheck // read only
	buf := make([]byte, c.dataLen)
	if _, err := f.ReadAt(buf, c.dataOffset); err != nil {
		return nil, fmt.Errorf("read converted audio: %w", err)
	}
	return buf, nil
}

// convert decodes the audio file in with ffmpeg into a 16 kHz mono WAV file
// in dir; when limit is not 0, only its first limit and a second. A file
// ffmpeg cannot decode, or one without sound, is ErrNotAudio.
func convert(ctx context.Context, ffmpeg, in, dir string, limit time.Duration) (*clip, error) {
	out := filepath.Join(dir, "audio.wav")
	args := []string{
		"-nostdin", "-hide_banner", "-loglevel", "error",
		"-protocol_whitelist", "file", "-format_whitelist", inputFormats,
		"-i", "file:" + in,
		"-vn", "-ac", "1", "-ar", fmt.Sprint(sampleRate), "-c:a", "pcm_s16le",
	}
	if limit > 0 {
		args = append(args, "-t", fmt.Sprint((limit + time.Second).Seconds()))
	}
	_, err := run(ctx, ffmpeg, append(args, "-f", "wav", "file:"+out)...)
	var failed *programError
	if errors.As(err, &failed) {
		// ffmpeg names the files; the client is not told where they are.
		msg := strings.NewReplacer("file:"+in, "input", in, "input", "file:"+out, "output", out, "output").Replace(failed.message)
		return nil, ErrNotAudio.with("ffmpeg cannot decode it: %s", msg)
	}
	if err != nil {
		return nil, err
	}
	return readWAV(out)
}

// readWAV finds the samples in a WAV file ffmpeg wrote: it walks the RIFF
// chunks (ffmpeg puts a LIST chunk before the data) to the data chunk.
func readWAV(path string) (*clip, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open converted audio: %w", err)
	}
	defer f.Close() //nolint:errcheck // read only
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat converted audio: %w", err)
	}
	offset, length, err := findDataChunk(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("converted audio %s: %w", path, err)
	}
	length = min(length, info.Size()-offset)
	if length <= 0 {
		return nil, ErrNotAudio.with("it holds no sound")
	}
	return &clip{path: path, dataOffset: offset, dataLen: length}, nil
}

// findDataChunk returns the offset and length of the data chunk of the
// RIFF/WAVE stream r.
func findDataChunk(r io.Reader) (offset, length int64, err error) {
	var head [12]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return 0, 0, fmt.Errorf("read header: %w", err)
	}
	if string(head[0:4]) != "RIFF" || string(head[8:12]) != "WAVE" {
		return 0, 0, errors.New("not a RIFF/WAVE file")
	}
	offset = int64(len(head))
	for {
		var chunk [8]byte
		if _, err := io.ReadFull(r, chunk[:]); err != nil {
			return 0, 0, fmt.Errorf("no data chunk: %w", err)
		}
		offset += int64(len(chunk))
		size := int64(binary.LittleEndian.Uint32(chunk[4:8]))
		if string(chunk[0:4]) == "data" {
			return offset, size, nil
		}
		size += size & 1 // chunks are padded to an even length
		if _, err := io.CopyN(io.Discard, r, size); err != nil {
			return 0, 0, fmt.Errorf("skip %q chunk: %w", chunk[0:4], err)
		}
		offset += size
	}
}
