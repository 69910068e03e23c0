# Myelin — common tasks. `make run` starts a server on SQLite under
# ./myelin-data; `make test` runs every test (services such as PostgreSQL,
# Redis and RabbitMQ are used when their MYELIN_TEST_* URLs are set — .ci/run
# installs, starts and exports them).

GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.Version=$(VERSION)
# The linter, pinned: `go run` fetches and builds it from the Go module proxy
# the first time (a few minutes), then runs it from the build cache.
GOLANGCI_LINT ?= $(GO) run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0
# goolm: the end-to-end encryption tests use mautrix-go's pure-Go Olm
# (test/e2e/encryption_test.go); without the tag its crypto package needs
# libolm through cgo.
TAGS ?= goolm

.PHONY: build run test test-services bench vet fmt lint complement-image

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/myelin ./cmd/myelin

run:
	$(GO) run -ldflags "$(LDFLAGS)" ./cmd/myelin

# The heaviest end-to-end tests run without the race detector, beside the
# rest (test/e2e under -race is the suite's critical path: 12 minutes on 2
# cores): TestRoomExport (a 10,000-event room: building it alone took
# minutes under -race), TestFederationBackfill1000 (1,000 messages across
# two servers), TestToDeviceAcrossRestart (600 to-device messages) and
# TestTranscription (pocketsphinx's time, not ours). The code they drive
# has its own tests under -race.
SLOW_NORACE := ^(TestRoomExport|TestFederationBackfill1000|TestToDeviceAcrossRestart|TestTranscription)$$

test: lint
	$(GO) test -tags $(TAGS) -count=1 -timeout 15m -run '$(SLOW_NORACE)' ./test/e2e & slow=$$!; \
	$(GO) test -tags $(TAGS) -race -count=1 -timeout 20m -skip '$(SLOW_NORACE)' ./...; rc=$$?; \
	wait $$slow || rc=1; exit $$rc

# Starts PostgreSQL, Redis and RabbitMQ (installing them with apt-get when
# missing, as root) and runs the tests against them.
test-services:
	bash -c 'eval "$$(bash .ci/services.sh)" && $(MAKE) test'

bench:
	$(GO) test -tags $(TAGS) -run '^$$' -bench . -benchmem ./...

vet:
	$(GO) vet -tags $(TAGS) ./...

# vet, gofmt and golangci-lint (.golangci.yml); a finding fails the build.
lint: vet
	@test -z "$$(gofmt -l . | tee /dev/stderr)" || (echo "gofmt: files above need formatting" && exit 1)
	$(GOLANGCI_LINT) run ./...

fmt:
	gofmt -w .

# The Docker image Complement (the Matrix conformance suite) runs; see
# docs/conformance.md once it exists and build/complement/.
complement-image:
	bash build/complement/build.sh
