# pushgate: `make help` lists the targets.
GO       ?= go
BIN      ?= bin
FUZZTIME ?= 60s

.PHONY: help run build test test-race lint fmt fuzz bench bench-load tidy

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

run: ## serve on 127.0.0.1:8080 with embedded SQLite (pushgate.db); prints development tokens
	$(GO) run ./cmd/pushgate serve --dev

build: ## build bin/pushgate and bin/loadbench
	$(GO) build -o $(BIN)/pushgate ./cmd/pushgate
	$(GO) build -o $(BIN)/loadbench ./cmd/loadbench

test: ## every test, race detector on (needs PostgreSQL on 127.0.0.1:5432, see .ci/run)
	$(GO) mod download
	$(GO) test -race -count=1 -timeout 20m ./...

test-race: test ## the same as test

lint: ## go vet and a gofmt check
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

fmt: ## gofmt every file
	gofmt -w $$(git ls-files '*.go')

fuzz: ## fuzz the decoders for FUZZTIME (default 60s)
	$(GO) test -run XXX -fuzz FuzzDecode -fuzztime $(FUZZTIME) ./events

bench: build ## go benchmarks, then the HTTP load benchmark (bare net/http, the peer, pushgate)
	$(GO) test -run XXX -bench . -benchmem ./events
	$(GO) test -run XXX -bench PostWechat -benchmem ./handlers
	$(GO) test -run XXX -bench . ./notify
	$(GO) test -run XXX -bench AwaitWaiters -benchtime 1x ./bridge
	$(BIN)/loadbench -pushgate $(BIN)/pushgate -peer bench/peers/silenceper -floor $(LOADBENCH_FLAGS)

bench-load: build ## only the HTTP load benchmark: wrk when installed, bare vs peer (builds bench/peers/silenceper: needs the module proxy) vs the durable floor vs pushgate
	$(BIN)/loadbench -pushgate $(BIN)/pushgate -peer bench/peers/silenceper -floor $(LOADBENCH_FLAGS)

tidy: ## go mod tidy
	$(GO) mod tidy
