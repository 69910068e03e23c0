package transcribe

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Defaults of PocketsphinxConfig: the program and the US English model of
// Debian's pocketsphinx (0.8+5prealpha in bookworm) and pocketsphinx-en-us.
const (
	DefaultPocketsphinxBinary   = "pocketsphinx_continuous"
	DefaultPocketsphinxHMM      = "/usr/share/pocketsphinx/model/en-us/en-us"
	DefaultPocketsphinxLM       = "/usr/share/pocketsphinx/model/en-us/en-us.lm.bin"
	DefaultPocketsphinxDict     = "/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict"
	DefaultPocketsphinxLanguage = "en"
)

// PocketsphinxConfig sets up the offline engine. Zero fields take the
// defaults above; another model (say a CMU Sphinx model for German) is used
// by naming its three parts and its language.
type PocketsphinxConfig struct {
	// Binary is the pocketsphinx_continuous program, a path or a name looked
	// up in PATH.
	Binary string
	// HMM is the acoustic model's directory (-hmm).
	HMM string
	// LM is the language model (-lm).
	LM string
	// Dict is the pronunciation dictionary (-dict).
	Dict string
	// Language is the model's language (ISO 639-1); requests for another
	// language are refused with ErrLanguage.
	Language string
}

// withDefaults returns c with its zero fields set to the defaults.
func (c PocketsphinxConfig) withDefaults() PocketsphinxConfig {
	set := func(field *string, def string) {
		if *field == "" {
			*field = def
		}
	}
	set(&c.Binary, DefaultPocketsphinxBinary)
	set(&c.HMM, DefaultPocketsphinxHMM)
	set(&c.LM, DefaultPocketsphinxLM)
	set(&c.Dict, DefaultPocketsphinxDict)
	set(&c.Language, DefaultPocketsphinxLanguage)
	return c
}

// Available reports whether pocketsphinx can run here: its program, its
// model and ffmpeg are installed. The media component uses it to pick
// pocketsphinx when no engine is configured.
func (c PocketsphinxConfig) Available() bool { return c.missing() == "" }

// missing says what keeps pocketsphinx from running, for the operator to
// install; empty when nothing does.
func (c PocketsphinxConfig) missing() string {
	c = c.withDefaults()
	if _, err := exec.LookPath(c.Binary); err != nil {
		return fmt.Sprintf("%s is not installed (Debian package pocketsphinx)", c.Binary)
	}
	for _, file := range []string{filepath.Join(c.HMM, "mdef"), c.LM, c.Dict} {
		if _, err := os.Stat(file); err != nil {
			return fmt.Sprintf("the pocketsphinx model file %s is missing (Debian package pocketsphinx-en-us)", file)
		}
	}
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		return "ffmpeg is not installed (Debian package ffmpeg)"
	}
	return ""
}

// pocketsphinx recognizes speech offline with pocketsphinx_continuous, one
// process per transcription.
type pocketsphinx struct {
	cfg PocketsphinxConfig
}

// newPocketsphinx returns the engine for cfg (whose programs exist).
func newPocketsphinx(cfg PocketsphinxConfig) (*pocketsphinx, error) {
	cfg = cfg.withDefaults()
	binary, err := exec.LookPath(cfg.Binary)
	if err != nil {
		return nil, fmt.Errorf("pocketsphinx: %w", err)
	}
	cfg.Binary = binary
	return &pocketsphinx{cfg: cfg}, nil
}

func (p *pocketsphinx) name() string { return EnginePocketsphinx }

// language accepts the model's language only.
func (p *pocketsphinx) language(requested string) (string, error) {
	if requested != "" && requested != p.cfg.Language {
		return "", ErrLanguage.with("pocketsphinx here has a model for %q only, not %q", p.cfg.Language, requested)
	}
	return p.cfg.Language, nil
}

// maxDuration is 0: the time limit bounds how much pocketsphinx hears.
func (p *pocketsphinx) maxDuration() time.Duration { return 0 }

// recognize runs pocketsphinx_continuous on the converted WAV file. It
// prints one hypothesis line per utterance it finds; its log, on standard
// error, is kept for the error message when it fails.
func (p *pocketsphinx) recognize(ctx context.Context, c *clip, _ string) (string, error) {
	out, err := run(ctx, p.cfg.Binary,
		"-infile", c.path,
		"-hmm", p.cfg.HMM,
		"-lm", p.cfg.LM,
		"-dict", p.cfg.Dict)
	if err != nil {
		return "", engineFailure(ctx, err)
	}
	return strings.Join(strings.Fields(string(out)), " "), nil
}

// engineFailure is ErrEngine with err's message, unless ctx has ended, when
// err is returned as it is for the pipeline to tell a timeout from the
// caller giving up.
func engineFailure(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return err
	}
	return ErrEngine.with("%v", err)
}
