# dupbridge — build, test, benchmark, fuzz.
# Every target works on a fresh machine with Go installed; what else a target
# needs (thrift-compiler, ZooKeeper, toxiproxy) is installed by scripts/ here.

GO        ?= go
BIN       := bin/dupbridge
PKGS      := ./...
FUZZTIME  ?= 10s
BENCHTIME ?= 1s
TESTFLAGS ?= -timeout 15m

.PHONY: all build test unit idl idl-check bench bench-wan fuzz demo demo-wan lint clean

all: build

# -buildvcs=auto stamps the git revision (dupbridge version) even where
# GOFLAGS turns it off; Go finds no revision in a linked git worktree.
build:
	$(GO) build -buildvcs=auto -o $(BIN) ./cmd/dupbridge

# make test: vet, the generated-code staleness check, then every test.
test: idl-check
	$(GO) vet $(PKGS)
	$(GO) test $(TESTFLAGS) $(PKGS)

unit:
	$(GO) test -short $(PKGS)

# make idl: regenerate idl/gen from idl/*.thrift (installs thrift-compiler if missing).
idl:
	bash scripts/idl.sh generate

# Fails when the committed generated code differs from what the compiler makes now.
idl-check:
	bash scripts/idl.sh check

# make bench: every benchmark, with side-by-side baselines and their ratios.
bench: build
	bash scripts/bench.sh $(BENCHTIME)

# make bench-wan: the WAN comparison across a real toxiproxy link (30 ms RTT,
# 100 Mbit/s; installs toxiproxy into .tools/). Separate from bench: minutes.
bench-wan:
	bash scripts/bench-wan.sh

# make fuzz: a bounded run of every fuzz target (FUZZTIME each).
fuzz:
	bash scripts/fuzz.sh $(FUZZTIME)

# make demo: the end-to-end job on its embedded default.
demo: build
	./$(BIN) demo

# make demo-wan: the JSON log through an edge, a real toxiproxy link at
# 30 ms RTT and a sink into a simulated follower, against Pegasus's
# discipline across the same link, every key verified.
demo-wan:
	bash scripts/demo-wan.sh

lint:
	@unformatted="$$(gofmt -l $$(git ls-files '*.go' | grep -v '^idl/gen/'))"; \
	if [ -n "$$unformatted" ]; then echo "$$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)

clean:
	rm -rf bin
