# Ringside — build, run and test. `make help` lists the targets.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w \
	-X github.com/ringside/ringside/pkg/buildinfo.Version=$(VERSION) \
	-X github.com/ringside/ringside/pkg/buildinfo.Commit=$(COMMIT)
FUZZTIME ?= 30s

.PHONY: help build run test bench fuzz lint check clean

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

build: ## build bin/ringside, version stamped
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/ringside ./cmd/ringside

run: build ## run Ringside on its embedded default with simulated calls (ringside demo)
	./bin/ringside demo

test: ## run every test with the race detector, in random order
	$(GO) test -race -shuffle=on -count=1 -timeout 20m ./...

bench: ## run the benchmarks (one core for the state machine, as the targets say)
	$(GO) test -run='^$$' -bench=. -benchmem -cpu=1 ./pkg/callstate/ ./adapters/asterisk/ ./adapters/freeswitch/
	$(GO) test -run='^$$' -bench=. -benchmem ./integration/...

fuzz: ## fuzz the call state machine and the ESL frame parser, FUZZTIME each
	$(GO) test -run='^$$' -fuzz=FuzzApply -fuzztime=$(FUZZTIME) ./pkg/callstate/
	$(GO) test -run='^$$' -fuzz=FuzzFrame -fuzztime=$(FUZZTIME) ./adapters/freeswitch/

lint: ## go vet and a gofmt check
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

check: build ## validate the example configuration
	./bin/ringside check -config configs/ringside.example.yaml

clean: ## remove build output
	rm -rf bin
