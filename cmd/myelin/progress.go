package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/sirupsen/logrus"
)

// progressBar shows a long task's progress: on a terminal, one line
// redrawn in place (percent, rate, time left); otherwise (a log file, a
// pipe) a log line every logEvery.
type progressBar struct {
	w        io.Writer
	log      logrus.FieldLogger
	tty      bool
	now      func() time.Time
	start    time.Time
	last     time.Time // of the last line drawn or logged
	every    time.Duration
	lastDone int64
	total    int64
}

const (
	redrawEvery = 100 * time.Millisecond
	logEvery    = 5 * time.Second
)

func newProgressBar(w io.Writer, log logrus.FieldLogger) *progressBar {
	p := &progressBar{w: w, log: log, tty: isTerminal(w), now: time.Now, every: logEvery}
	if p.tty {
		p.every = redrawEvery
	}
	p.start = p.now()
	return p
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func (p *progressBar) update(done, total int64) {
	p.lastDone, p.total = done, total
	if now := p.now(); now.Sub(p.last) >= p.every {
		p.last = now
		p.show()
	}
}

// finish shows the final state and ends the terminal line.
func (p *progressBar) finish() {
	p.show()
	if p.tty {
		fmt.Fprintln(p.w)
	}
}

func (p *progressBar) show() {
	elapsed := p.now().Sub(p.start)
	pct, rate, eta := progressStats(p.lastDone, p.total, elapsed)
	if p.tty {
		fmt.Fprintf(p.w, "\r\x1b[Kreindexing: %5.1f%%  %d/%d events  %.0f events/s  ETA %s", pct, p.lastDone, p.total, rate, eta)
		return
	}
	p.log.WithFields(logrus.Fields{
		"done": p.lastDone, "total": p.total, "percent": fmt.Sprintf("%.1f", pct),
		"events_per_second": fmt.Sprintf("%.0f", rate), "eta": eta,
	}).Info("reindexing")
}

// progressStats: the percent done (capped at 100: events stored during the
// run count too), the rate, and the time left at that rate ("?" before
// any rate is known).
func progressStats(done, total int64, elapsed time.Duration) (pct, rate float64, eta string) {
	if total > 0 {
		pct = min(100, 100*float64(done)/float64(total))
	} else {
		pct = 100
	}
	eta = "?"
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(done) / s
	}
	if rate > 0 {
		left := time.Duration(float64(max(total-done, 0)) / rate * float64(time.Second))
		eta = left.Round(time.Second).String()
	}
	return pct, rate, eta
}
