// Command myelin is the Myelin homeserver: with no arguments it runs every
// component in one process on an embedded SQLite database under
// ./myelin-data. See `myelin --help` and `myelin generate-config`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/server"
)

// Version is set at build time with -ldflags "-X main.Version=…".
var Version = "0.1.0-dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "version":
			fmt.Fprintf(stdout, "myelin %s\n", Version)
			return 0
		case "generate-config":
			fmt.Fprint(stdout, config.GenerateYAML())
			return 0
		case "create-account":
			return createAccount(args[1:], stdin, stdout, stderr)
		case "create-registration-token":
			return createRegistrationToken(args[1:], stdout, stderr)
		case "search":
			return searchCommand(args[1:], stdout, stderr)
		case "export-room":
			return exportRoomCommand(args[1:], stdout, stderr)
		case "export-user":
			return exportUserCommand(args[1:], stdout, stderr)
		case "issue-cert":
			return issueCert(args[1:], stdout, stderr)
		case "help":
			printUsage(stdout)
			return 0
		}
	}
	cfg, err := config.Load(args, os.LookupEnv)
	if errors.Is(err, flag.ErrHelp) {
		printUsage(stdout)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "myelin: invalid configuration:\n%s\n", indent(err.Error()))
		return 2
	}
	log := newLogger(cfg, stderr)
	return serve(cfg, log)
}

func printUsage(w io.Writer) {
	fmt.Fprintf(w, `%s
Commands:
  myelin generate-config     print a complete, documented YAML configuration
  myelin version             print the version
  myelin create-account --config FILE --username NAME [--password PW] [--admin]
                             create an account (password from stdin when not given)
  myelin create-registration-token --config FILE [--uses N]
                             create a token for --registration token (0 uses = unlimited)
  myelin search reindex [--config FILE] [--batch N]
                             rebuild the message search index from the stored events
  myelin export-room ROOM_ID --out DIR [--config FILE]
                             export a room whole (events, redaction history, media, transcript)
  myelin export-user USER_ID --out DIR [--config FILE]
                             export what the server holds of a user (data-subject requests)
  myelin issue-cert --ca-cert F --ca-key F --name NAME --cert-out F --key-out F
                             sign a federation certificate for NAME with a local CA
`, config.Usage())
}

func indent(s string) string {
	out := "  "
	for _, r := range s {
		out += string(r)
		if r == '\n' {
			out += "  "
		}
	}
	return out
}

func newLogger(cfg *config.Config, w io.Writer) *logrus.Logger {
	log := logrus.New()
	log.SetOutput(w)
	if lvl, err := logrus.ParseLevel(cfg.Global.Log.Level); err == nil {
		log.SetLevel(lvl)
	}
	if cfg.Global.Log.Format == "json" {
		log.SetFormatter(&logrus.JSONFormatter{})
	} else {
		log.SetFormatter(&logrus.TextFormatter{FullTimestamp: true})
	}
	return log
}

func serve(cfg *config.Config, log *logrus.Logger) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	log.WithFields(logrus.Fields{
		"version":     Version,
		"server_name": cfg.Global.ServerName,
		"data_dir":    cfg.Global.DataDir,
		"database":    sqlutil.Redact(cfg.DatabaseURL()),
		"components":  cfg.Global.Components,
	}).Info("starting myelin")
	if cfg.ClientAPI.Registration == config.RegistrationOpen {
		log.Warn("registration is open: anyone who can reach this server can create an account " +
			"(set --registration token or disabled to close it)")
	}
	server.Version = Version
	srv, err := server.New(ctx, cfg, log)
	if err != nil {
		log.WithError(err).Error("could not start")
		return 1
	}
	if err := srv.Start(); err != nil {
		log.WithError(err).Error("could not start")
		_ = srv.Shutdown(context.Background())
		return 1
	}
	code := 0
	select {
	case <-ctx.Done():
		log.Info("shutting down: draining requests")
	case err := <-srv.Errors():
		log.WithError(err).Error("listener failed; shutting down")
		code = 1
	}
	sctx, cancel := context.WithTimeout(context.Background(), time.Duration(cfg.Global.ShutdownTimeout))
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.WithError(err).Error("unclean shutdown")
		return 1
	}
	log.Info("stopped")
	return code
}
