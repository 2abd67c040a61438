# The Makefile is the contract: run `make help` for the targets.
SHELL := bash
.SHELLFLAGS := -o pipefail -c
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
DATA ?= ./data
ADDR ?= 127.0.0.1:8080
FUZZTIME ?= 30s
BENCHTIME ?= 10s
SCALE ?= 5000000
SCALE_CLIENTS ?= 8
BENCH_DATABASE_URL ?= $(SENDORA_TEST_DATABASE_URL)
SDK_DEPS := sdk/web/node_modules/.package-lock.json

.PHONY: help run test build generate lint bench fuzz crashtest chromium clean sdk sdk-check sdk-test
CRASH_CYCLES ?= 8

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

run: build ## build bin/sendora and run the server on $(DATA) (default ./data) at http://$(ADDR)
	bin/sendora serve --data $(DATA) --addr $(ADDR)

test: chromium sdk-test ## run every test: the SDK's Node tests, then Go's (race detector on; installs chromium for browser tests when missing, the Node JWT libraries through npm); lists skipped tests
	@if [ -z "$$SENDORA_TEST_DATABASE_URL" ]; then echo "make test: SENDORA_TEST_DATABASE_URL is not set: the PostgreSQL side of the suites is skipped (listed at the end); e.g. SENDORA_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres make test"; fi
	SENDORA_BROWSER_TESTS=required SENDORA_NODE_TESTS=required $(GO) test -race -count=1 -timeout 30m -json ./... | $(GO) run ./scripts/testsummary
	$(GO) test -count=1 -json -run '^TestPageQueriesOnMillionsOfRows$$' ./internal/store | $(GO) run ./scripts/testsummary # too slow under -race

# A cold first build downloads modules and compiles for about a minute in
# silence; say so first, and list the packages of a build from scratch.
FIRST_BUILD := $(if $(wildcard bin/sendora),,yes)
build: ## build bin/sendora (static, no cgo, version stamped)
	@echo "building bin/sendora$(if $(FIRST_BUILD), (the first build downloads modules and compiles them: about a minute; packages are listed as they build))…"
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" $(if $(FIRST_BUILD),-v) -o bin/sendora ./cmd/server
	@echo "built bin/sendora $(VERSION)"

generate: ## regenerate templ components
	$(GO) tool templ generate

lint: sdk-check ## gofmt, go vet, staticcheck, and templ and SDK build output up to date
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	@$(GO) tool templ generate >/dev/null 2>&1 || { echo "templ generate failed"; exit 1; }
	@if [ -n "$$(git status --porcelain -- '*_templ.go')" ]; then echo "templ output is stale; run make generate and commit:"; git status --porcelain -- '*_templ.go'; exit 1; fi

bench: $(SDK_DEPS) ## the SDK's size, Go benchmarks of the hot path, the load tests (SQLite, PostgreSQL when BENCH_DATABASE_URL or SENDORA_TEST_DATABASE_URL is set) and dedup at $(SCALE) events; figures go to docs/BENCHMARKS.md
	cd sdk/web && node build.mjs --size
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 1s ./internal/identity/ ./internal/ingest/
	@echo "== load test: sendora (SQLite) beside the bare baseline, time-ordered messageIds"
	$(GO) run ./cmd/loadtest
	@if [ -n "$(BENCH_DATABASE_URL)" ]; then \
	  for ids in "" -random-ids; do \
	    echo "== load test: SQLite, PostgreSQL, two instances on PostgreSQL $${ids:-(time-ordered messageIds)}"; \
	    $(GO) run ./cmd/loadtest -servers sendora,postgres,postgres-2 -database-url "$(BENCH_DATABASE_URL)" $$ids || exit 1; \
	  done; \
	else echo "make bench: BENCH_DATABASE_URL (or SENDORA_TEST_DATABASE_URL) is not set: PostgreSQL is not measured"; fi
	@echo "== dedup at scale: $(SCALE) events with UUIDv7, then UUIDv4 messageIds"
	$(GO) run ./cmd/loadtest -scale $(SCALE) -scale-clients $(SCALE_CLIENTS)

# FUZZTIME is a duration (30s) or a count of executions (5000x). Go 1.26's
# coordinator can report a spurious "context deadline exceeded" when a
# duration ends (golang/go#75804, fixed in 1.27); counts never race, so CI
# uses one.
fuzz: ## run every fuzz target for $(FUZZTIME) each
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$t ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

crashtest: ## SIGKILL the real binary under load $(CRASH_CYCLES) times; every acknowledged event must survive
	SENDORA_CRASH_CYCLES=$(CRASH_CYCLES) $(GO) test -count=1 -run '^TestCrashSafety$$' -v ./cmd/server

chromium:
	@./scripts/ensure-chromium

# The browser SDK (sdk/web, TypeScript) is built into web/static/sdk/v1 and
# the result committed, like templ output, so `go build` needs no Node.
# These targets need Node 20+ and npm; npm ci installs the locked versions.
$(SDK_DEPS): sdk/web/package.json sdk/web/package-lock.json
	cd sdk/web && npm ci --no-audit --no-fund --prefer-offline

sdk: $(SDK_DEPS) ## build the browser SDK into web/static/sdk/v1 (commit the result)
	cd sdk/web && node build.mjs

sdk-check: $(SDK_DEPS) ## type-check the SDK and fail if web/static/sdk/v1 differs from a fresh build
	cd sdk/web && node build.mjs --check

sdk-test: $(SDK_DEPS) ## the SDK's unit tests (Node's test runner, on the built files)
	cd sdk/web && npm test

clean: ## remove build output
	rm -rf bin
