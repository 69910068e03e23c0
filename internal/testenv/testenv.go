// Package testenv tells tests where the real services they need are
// (PostgreSQL, Redis, RabbitMQ) and decides what happens when one is missing:
// under CI (CI=true) a missing service fails the test, elsewhere it is skipped
// with a message that says what to start.
package testenv

import (
	"os"
	"testing"
)

// Environment variables that name the services' URLs. .ci/run exports them.
const (
	PostgresURLEnv = "MYELIN_TEST_POSTGRES_URL"
	RedisURLEnv    = "MYELIN_TEST_REDIS_URL"
	AMQPURLEnv     = "MYELIN_TEST_AMQP_URL"
)

// InCI reports whether the tests run under CI, where no service may be missing.
func InCI() bool { return os.Getenv("CI") == "true" }

// Require returns the value of the environment variable env. When it is unset
// the test fails under CI and is skipped elsewhere, with hint telling the
// developer what to start.
func Require(t testing.TB, env, hint string) string {
	t.Helper()
	v := os.Getenv(env)
	if v != "" {
		return v
	}
	if InCI() {
		t.Fatalf("%s is not set under CI: %s", env, hint)
	}
	t.Skipf("%s is not set; skipping (%s)", env, hint)
	return ""
}

// PostgresURL returns the test PostgreSQL URL (see Require).
func PostgresURL(t testing.TB) string {
	return Require(t, PostgresURLEnv,
		"start PostgreSQL and set it, e.g. postgres://myelin:myelin@127.0.0.1:5432/myelin_test?sslmode=disable; .ci/run does this")
}

// RedisURL returns the test Redis URL (see Require).
func RedisURL(t testing.TB) string {
	return Require(t, RedisURLEnv, "start redis-server and set it, e.g. redis://127.0.0.1:6379/0; .ci/run does this")
}

// AMQPURL returns the test RabbitMQ URL (see Require).
func AMQPURL(t testing.TB) string {
	return Require(t, AMQPURLEnv, "start rabbitmq-server and set it, e.g. amqp://guest:guest@127.0.0.1:5672/; .ci/run does this")
}
