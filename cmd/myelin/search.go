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

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/syncapi/search"
	"github.com/myelin-im/myelin/syncapi/search/backends"
	"github.com/myelin-im/myelin/syncapi/search/indexer"
	"github.com/myelin-im/myelin/syncapi/storage"
)

// openBackend builds a search backend (backends.Open; tests give their own).
type openBackend func(ctx context.Context, cfg config.Search, db *sqlutil.DB, log logrus.FieldLogger,
	reg prometheus.Registerer) (search.Backend, error)

func searchCommand(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "reindex" {
		fmt.Fprintln(stderr, "usage: myelin search reindex [--config FILE] [--batch N]")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return searchReindex(ctx, args[1:], stdout, stderr, backends.Open)
}

// searchReindex rebuilds the configured search backend's index from every
// event the sync component stored (indexer.Reindex). The server may be
// running: indexing is idempotent, and its indexer goes on from wherever
// the checkpoint is left.
func searchReindex(ctx context.Context, args []string, stdout, stderr io.Writer, open openBackend) int {
	fs := flag.NewFlagSet("search reindex", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", os.Getenv("MYELIN_CONFIG"), "config file (default: environment and defaults)")
	batch := fs.Int("batch", 500, "events per backend request")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, db, err := openToolDB(ctx, *configPath)
	if err != nil {
		fmt.Fprintf(stderr, "search reindex: %v\n", err)
		return 1
	}
	defer func() {
		if err := db.Close(); err != nil {
			fmt.Fprintf(stderr, "closing the database: %v\n", err)
		}
	}()
	log := newLogger(cfg, stderr)
	if err := reindex(ctx, cfg, db, *batch, log, stdout, stderr, open); err != nil {
		fmt.Fprintf(stderr, "search reindex: %v\n", err)
		return 1
	}
	return 0
}

func reindex(ctx context.Context, cfg *config.Config, db *sqlutil.DB, batch int, log *logrus.Logger,
	stdout, stderr io.Writer, open openBackend) (err error) {
	store, err := storage.New(ctx, db)
	if err != nil {
		return err
	}
	backend, err := open(ctx, cfg.Search, db, log, nil)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, backend.Close()) }()
	name := backends.Name(cfg.Search)
	bar := newProgressBar(stderr, log)
	start := time.Now()
	var indexed int64
	err = indexer.Reindex(ctx, indexer.Options{Name: name, Source: store, Backend: backend, Batch: batch, Log: log},
		func(done, total int64) {
			indexed = done
			bar.update(done, total)
		})
	bar.finish()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "reindexed %d events into %s in %s\n", indexed, name, time.Since(start).Round(time.Millisecond))
	return nil
}
