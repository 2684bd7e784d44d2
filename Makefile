# zoosim — common tasks. A fresh machine needs only Go: modules come from
# the Go module proxy on first use.
GO ?= go
PKGS ?= ./...
BENCHTIME ?= 1s

SUITE ?= ci
SEEDS ?=

.PHONY: all run build test test-short lint vet fmt bench canary fuzz tidy clean

## run: the main job — the default scenario suite (ci), with its summary table
run:
	$(GO) run ./cmd/zoosim suite --suite $(SUITE) $(if $(SEEDS),--seeds $(SEEDS))

## build: the zoosim binary in ./zoosim
build:
	$(GO) build -o zoosim ./cmd/zoosim

all: lint test

## test: vet and run every test (the command CI and the README use)
test: vet
	$(GO) test -count=1 $(PKGS)

## test-short: the quick subset (skips long seed sweeps)
test-short:
	$(GO) test -count=1 -short $(PKGS)

## lint: gofmt check and go vet
lint: vet
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

## bench: the Go benchmarks (events/s of the simulator, model apply cost, ...)
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) $(PKGS)

## fuzz: every go test -fuzz target for FUZZTIME each (the decoders of the
## client port's jute frames and of the peer messages). Not part of `make
## test`: the regular tests replay the seed corpora under testdata/fuzz.
FUZZTIME ?= 20s
FUZZ_TARGETS = ./wire/clientport:FuzzServerDecode ./wire/clientport:FuzzClientDecode ./server:FuzzPeerDecode
fuzz:
	@for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; name=$${t##*:}; \
		echo "== $$name in $$pkg for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	done

## canary: the determinism canary alone (same seed, same trace hash)
canary:
	$(GO) test -count=1 -run 'Determinism|SameSeedSameTraceHash' -v ./sim/... ./scenarios/...

tidy:
	$(GO) mod tidy

clean:
	$(GO) clean -testcache
