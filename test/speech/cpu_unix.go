//go:build unix

package speech

import (
	"syscall"
	"testing"
	"time"
)

// ChildrenCPU is the user and system CPU time of this process's child
// processes that have ended so far (ffmpeg, pocketsphinx): the work of a
// transcription, which a loaded machine does not inflate as it does the
// wall-clock time.
func ChildrenCPU(tb testing.TB) time.Duration {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
