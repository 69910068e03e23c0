package transcribe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// stderrKeep is how much of a program's standard error is kept for its
// error message: the end, where the reason for a failure is written.
const stderrKeep = 8 << 10

// run runs a program until it exits or ctx ends, when the program and
// everything it started are killed (it runs in its own process group).
// It returns what the program wrote to standard output; when the program
// fails, a *programError with the lines of standard error that say why.
func run(ctx context.Context, program string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, program, args...)
	inOwnProcessGroup(cmd)
	cmd.WaitDelay = time.Second
	var stdout bytes.Buffer
	stderr := &tailBuffer{max: stderrKeep}
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("%s: %w", program, context.Cause(ctx))
	}
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return nil, &programError{program: filepath.Base(program), message: failureLines(stderr.String()), err: err}
		}
		return nil, fmt.Errorf("%s: %w", program, err)
	}
	return stdout.Bytes(), nil
}

// programError is a program that ran and failed: its name (not where it
// is installed, which the client need not see) and what it said.
type programError struct {
	program string
	message string
	err     error
}

func (e *programError) Error() string { return e.program + ": " + e.message }

func (e *programError) Unwrap() error { return e.err }

// failureLines picks what a person needs from a program's standard error:
// pocketsphinx's ERROR and FATAL lines among its INFO chatter, else the
// last non-empty line (ffmpeg at -loglevel error writes only the reason).
func failureLines(stderr string) string {
	var picked []string
	last := "no error message"
	for line := range strings.Lines(stderr) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		last = line
		if strings.HasPrefix(line, "ERROR:") || strings.HasPrefix(line, "FATAL:") {
			picked = append(picked, line)
		}
	}
	if len(picked) > 0 {
		return strings.Join(picked, "; ")
	}
	return last
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	buf []byte
}

// Write appends p, dropping the oldest bytes beyond max.
func (b *tailBuffer) Write(p []byte) (int, error) {
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

// String returns what is kept.
func (b *tailBuffer) String() string { return string(b.buf) }
