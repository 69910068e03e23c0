package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/internal/cache"
	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/userapi"
	"github.com/myelin-im/myelin/userapi/api"
)

// openUserAPI opens the user API of the configured database for an operator
// tool. The server may be running: the tools only use the database. The
// returned func closes the database, telling stderr when that fails.
func openUserAPI(ctx context.Context, configPath string, stderr io.Writer) (api.UserAPI, func(), error) {
	cfg, db, err := openToolDB(ctx, configPath)
	if err != nil {
		return nil, nil, err
	}
	c := cache.NewMemory(cache.MemoryOptions{}, nil)
	log := logrus.New()
	log.SetOutput(io.Discard)
	u, err := userapi.New(ctx, cfg.Global.ServerName, cfg.UserAPI, db, c, nil, log, nil)
	if err != nil {
		return nil, nil, errors.Join(err, db.Close())
	}
	closeDB := func() {
		if err := db.Close(); err != nil {
			fmt.Fprintf(stderr, "closing the database: %v\n", err)
		}
	}
	return u, closeDB, nil
}

// openToolDB loads the configuration (configPath, else the environment and
// defaults) and opens its database, for an operator tool.
func openToolDB(ctx context.Context, configPath string) (*config.Config, *sqlutil.DB, error) {
	var cfg *config.Config
	var err error
	if configPath != "" {
		cfg, err = config.LoadFile(configPath)
	} else {
		cfg, err = config.Load(nil, os.LookupEnv)
	}
	if err != nil {
		return nil, nil, err
	}
	if err := os.MkdirAll(cfg.Global.DataDir, 0o700); err != nil {
		return nil, nil, err
	}
	db, err := sqlutil.Open(ctx, cfg.DatabaseURL(), sqlutil.Options{})
	if err != nil {
		return nil, nil, err
	}
	return cfg, db, nil
}

func createAccount(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("create-account", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", os.Getenv("MYELIN_CONFIG"), "config file (default: environment and defaults)")
	username := fs.String("username", "", "localpart of the new user (required)")
	password := fs.String("password", "", "password; read from standard input when empty")
	admin := fs.Bool("admin", false, "make the user a server admin")
	displayName := fs.String("displayname", "", "display name (default: the username)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *username == "" {
		fmt.Fprintln(stderr, "create-account: --username is required")
		return 2
	}
	if *password == "" {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			fmt.Fprintf(stderr, "create-account: reading password: %v\n", err)
			return 1
		}
		*password = strings.TrimRight(line, "\r\n")
		if *password == "" {
			fmt.Fprintln(stderr, "create-account: give --password or the password on standard input")
			return 2
		}
	}
	ctx := context.Background()
	u, closeDB, err := openUserAPI(ctx, *configPath, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "create-account: %v\n", err)
		return 1
	}
	defer closeDB()
	acct, err := u.CreateAccount(ctx, api.CreateAccountRequest{
		Localpart:   api.Localpart(strings.ToLower(*username)),
		Password:    *password,
		IsAdmin:     *admin,
		DisplayName: *displayName,
	})
	if errors.Is(err, api.ErrUserInUse) {
		fmt.Fprintf(stderr, "create-account: %s is already taken\n", *username)
		return 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "create-account: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "created %s (admin: %v)\n", acct.UserID, acct.IsAdmin)
	return 0
}

func createRegistrationToken(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("create-registration-token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", os.Getenv("MYELIN_CONFIG"), "config file")
	uses := fs.Int64("uses", 1, "how many registrations the token allows; 0 = unlimited")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx := context.Background()
	u, closeDB, err := openUserAPI(ctx, *configPath, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "create-registration-token: %v\n", err)
		return 1
	}
	defer closeDB()
	var usesAllowed *int64
	if *uses > 0 {
		usesAllowed = uses
	}
	tok, err := u.CreateRegistrationToken(ctx, usesAllowed, nil)
	if err != nil {
		fmt.Fprintf(stderr, "create-registration-token: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, tok)
	return 0
}
