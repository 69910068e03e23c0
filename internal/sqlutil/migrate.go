package sqlutil

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Migrate applies a component's embedded migrations that have not been applied
// yet, each in its own transaction, and records them in the version table
// myelin_schema_versions (component, version).
//
// Files are named NNN_description.sql (NNN: 1, 2, …; gaps are an error). A
// file may hold per-dialect sections; a line
//
//	-- dialect: sqlite      (or postgres, or all)
//
// starts a section that only that dialect runs, until the next such line.
// Statements are separated by lines ending in ';'.
func Migrate(ctx context.Context, db *DB, component string, files fs.FS) error {
	migs, err := loadMigrations(files)
	if err != nil {
		return fmt.Errorf("sqlutil: migrations of %s: %w", component, err)
	}
	if _, err := db.Exec(ctx, `CREATE TABLE IF NOT EXISTS myelin_schema_versions (
		component TEXT NOT NULL,
		version INTEGER NOT NULL,
		applied_ts BIGINT NOT NULL,
		PRIMARY KEY (component, version)
	)`); err != nil {
		return fmt.Errorf("sqlutil: creating version table: %w", err)
	}
	for _, m := range migs {
		err := db.WithTx(ctx, func(ctx context.Context) error {
			if db.dialect == Postgres {
				// Several processes may start at once; one applies, the others wait.
				if _, err := db.Exec(ctx, `SELECT pg_advisory_xact_lock(7365012)`); err != nil {
					return err
				}
			}
			var n int
			row := db.QueryRow(ctx, `SELECT COUNT(*) FROM myelin_schema_versions WHERE component = $1 AND version = $2`,
				component, m.version)
			if err := row.Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			for _, stmt := range m.statements(db.dialect) {
				if _, err := db.Exec(ctx, stmt); err != nil {
					return fmt.Errorf("%s: %w", m.name, err)
				}
			}
			_, err := db.Exec(ctx, `INSERT INTO myelin_schema_versions (component, version, applied_ts) VALUES ($1, $2, $3)`,
				component, m.version, time.Now().UnixMilli())
			return err
		})
		if err != nil {
			return fmt.Errorf("sqlutil: migrating %s to version %d: %w", component, m.version, err)
		}
	}
	return nil
}

// MigrateDir is Migrate for the migrations in directory dir of fsys (an
// embedded "migrations" folder, usually).
func MigrateDir(ctx context.Context, db *DB, component string, fsys fs.FS, dir string) error {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		return fmt.Errorf("sqlutil: migrations of %s: %w", component, err)
	}
	return Migrate(ctx, db, component, sub)
}

// SchemaVersion returns the highest applied migration of a component (0: none).
func SchemaVersion(ctx context.Context, db *DB, component string) (int, error) {
	var v int
	err := db.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM myelin_schema_versions WHERE component = $1`, component).Scan(&v)
	return v, err
}

type migration struct {
	version int
	name    string
	text    string
}

func loadMigrations(files fs.FS) ([]migration, error) {
	var migs []migration
	err := fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".sql") {
			return err
		}
		base := path.Base(p)
		num, _, ok := strings.Cut(base, "_")
		v, convErr := strconv.Atoi(num)
		if !ok || convErr != nil || v <= 0 {
			return fmt.Errorf("%s: name must be NNN_description.sql", p)
		}
		b, err := fs.ReadFile(files, p)
		if err != nil {
			return err
		}
		migs = append(migs, migration{version: v, name: base, text: string(b)})
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(migs, func(i, j int) bool { return migs[i].version < migs[j].version })
	for i, m := range migs {
		if m.version != i+1 {
			return nil, fmt.Errorf("%s: expected version %d (versions must be 1, 2, … without gaps or repeats)", m.name, i+1)
		}
	}
	return migs, nil
}

// statements returns the statements of m that dialect d runs.
func (m migration) statements(d Dialect) []string {
	var out []string
	var cur strings.Builder
	section := "all"
	for _, line := range strings.Split(m.text, "\n") {
		trimmed := strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(trimmed, "-- dialect:"); ok {
			section = strings.TrimSpace(rest)
			continue
		}
		if section != "all" && section != string(d) {
			continue
		}
		if strings.HasPrefix(trimmed, "--") || trimmed == "" {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(trimmed, ";") {
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}
