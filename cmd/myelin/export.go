package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/clientapi/admin/export"
	"github.com/myelin-im/myelin/internal/cache"
	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/internal/signingkey"
	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/mediaapi"
	"github.com/myelin-im/myelin/roomserver"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/userapi"
	usersapi "github.com/myelin-im/myelin/userapi/api"
)

// exportSources are the components an export reads, opened on the
// configured database for an operator tool (the server may be running:
// an export only reads).
type exportSources struct {
	cfg   *config.Config
	db    *sqlutil.DB
	users usersapi.UserAPI
	rooms roomapi.RoomserverAPI
	media *mediaapi.MediaAPI
	log   *logrus.Logger
}

func openExportSources(ctx context.Context, configPath string, stderr io.Writer) (*exportSources, error) {
	cfg, db, err := openToolDB(ctx, configPath)
	if err != nil {
		return nil, err
	}
	s := &exportSources{cfg: cfg, db: db, log: newLogger(cfg, stderr)}
	if err := s.open(ctx); err != nil {
		return nil, errors.Join(err, s.close())
	}
	return s, nil
}

func (s *exportSources) open(ctx context.Context) error {
	quiet := logrus.New()
	quiet.SetOutput(io.Discard)
	var err error
	c := cache.NewMemory(cache.MemoryOptions{}, nil)
	s.users, err = userapi.New(ctx, s.cfg.Global.ServerName, s.cfg.UserAPI, s.db, c, nil, quiet, nil)
	if err != nil {
		return err
	}
	key, _, err := signingkey.LoadOrGenerate(filepath.Join(s.cfg.Global.DataDir, "signing.key"))
	if err != nil {
		return err
	}
	// No bus: an export publishes nothing.
	s.rooms, err = roomserver.New(ctx, s.cfg.Global.ServerName, key, s.db, nil, quiet, nil,
		roomserver.WithRedactionRetention(time.Duration(s.cfg.RoomServer.RedactionRetentionPeriod)))
	if err != nil {
		return err
	}
	s.media, err = mediaapi.New(ctx, mediaapi.Options{ServerName: s.cfg.Global.ServerName, Config: s.cfg.MediaAPI,
		BasePath: s.cfg.MediaBasePath(), DB: s.db, Users: s.users, Router: mux.NewRouter(),
		Registerer: prometheus.NewRegistry(), Log: quiet})
	return err
}

func (s *exportSources) close() error {
	var errs []error
	if s.media != nil {
		errs = append(errs, s.media.Close())
	}
	return errors.Join(append(errs, s.db.Close())...)
}

// exportArgs parses an export command's flags and its one argument, which
// may come before the flags (myelin export-room ROOM_ID --out DIR) or
// after them.
func exportArgs(name, what string, args []string, stderr io.Writer) (id, configPath, out string, ok bool) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := fs.String("config", os.Getenv("MYELIN_CONFIG"), "config file (default: environment and defaults)")
	dir := fs.String("out", "", "directory to write the export to (required)")
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		id, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return "", "", "", false
	}
	if id == "" && fs.NArg() == 1 {
		id = fs.Arg(0)
	} else if fs.NArg() != 0 {
		id = ""
	}
	if id == "" || *dir == "" {
		fmt.Fprintf(stderr, "usage: myelin %s %s --out DIR [--config FILE]\n", name, what)
		return "", "", "", false
	}
	return id, *cfg, *dir, true
}

func exportRoomCommand(args []string, stdout, stderr io.Writer) int {
	roomID, configPath, out, ok := exportArgs("export-room", "ROOM_ID", args, stderr)
	if !ok {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := exportRoom(ctx, roomID, configPath, out, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "export-room: %v\n", err)
		return 1
	}
	return 0
}

// exportRoom writes a room's export into the directory out, with a
// progress bar on stderr.
func exportRoom(ctx context.Context, roomID, configPath, out string, stdout, stderr io.Writer) (err error) {
	src, err := openExportSources(ctx, configPath, stderr)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, src.close()) }()
	if _, err := src.rooms.ExportRoomInfo(ctx, roomID); err != nil {
		return fmt.Errorf("%s: %w", roomID, err)
	}
	sink, err := export.NewDirSink(out, export.RoomFormat)
	if err != nil {
		return err
	}
	bar := newProgressBar(stderr, src.log)
	start := time.Now()
	sum, err := export.Room(ctx, export.Options{Rooms: src.rooms, Media: src.media, Progress: bar.update}, roomID, sink)
	bar.finish()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "exported %s to %s in %s: %d events, %d messages, %d redacted (%d originals kept), %d media files (%d missing)\n",
		roomID, out, time.Since(start).Round(time.Millisecond), sum.Events, sum.Messages, sum.Redacted, sum.RedactedOriginals,
		sum.Media, sum.MediaMissing)
	return nil
}

func exportUserCommand(args []string, stdout, stderr io.Writer) int {
	userID, configPath, out, ok := exportArgs("export-user", "USER_ID", args, stderr)
	if !ok {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := exportUser(ctx, userID, configPath, out, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "export-user: %v\n", err)
		return 1
	}
	return 0
}

// exportUser writes what the server holds of a local user into out.
func exportUser(ctx context.Context, userID, configPath, out string, stdout, stderr io.Writer) (err error) {
	src, err := openExportSources(ctx, configPath, stderr)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, src.close()) }()
	sink, err := export.NewDirSink(out, export.UserFormat)
	if err != nil {
		return err
	}
	sum, err := export.User(ctx, export.UserOptions{ServerName: src.cfg.Global.ServerName, Users: src.users,
		Rooms: src.rooms, Media: src.media}, userID, sink)
	if err != nil {
		return fmt.Errorf("%s: %w", userID, err)
	}
	fmt.Fprintf(stdout, "exported %s to %s: %d rooms, %d events sent, %d uploads\n", userID, out, sum.Rooms, sum.Messages, sum.Uploads)
	return nil
}
