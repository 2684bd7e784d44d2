# zoosim — common tasks. A fresh machine needs only Go: modules come from
# the Go module proxy on first use.
GO ?= go
PKGS ?= ./...
BENCHTIME ?= 1s

SUITE ?= ci
SEEDS ?=
# MAX_INCONCLUSIVE: how many inconclusive runs make run tolerates (zoosim
# suite's default is 0: an inconclusive run fails the job).
MAX_INCONCLUSIVE ?=

.PHONY: all run corpus build test test-short lint vet fmt bench bench-all canary fuzz fuzz-cli crash-test real-smoke bench-serve bench-real tidy clean report-check deploy-check zookeeper kazoo clients compat differential

## run: the main job — the default scenario suite (ci), with its summary table; fails on a violation,
## a harness error or an inconclusive run beyond MAX_INCONCLUSIVE
run:
	$(GO) run ./cmd/zoosim suite --suite $(SUITE) $(if $(SEEDS),--seeds $(SEEDS)) $(if $(MAX_INCONCLUSIVE),--max-inconclusive $(MAX_INCONCLUSIVE))

## corpus: the regression corpus (every seed that once exposed a real problem), with its table
corpus:
	$(GO) run ./cmd/zoosim suite --corpus corpus/regressions.json

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

## bench: the measurements behind the README's numbers table, each run as the table says
bench:
	@echo '== simulator event loop: a synthetic ping core (5 nodes pinging each other on timers), not the service'
	$(GO) test -run '^$$' -bench '^BenchmarkSimEvents$$' -benchmem -cpu 1 ./sim/
	@echo '== standard scenario (5 servers, 10 clients, 60 virtual s, swarm nemesis), checking included: seeds/min on one core'
	$(GO) test -run '^$$' -bench '^BenchmarkStandardScenario$$' -benchtime 20x -cpu 1 ./scenarios/
	@echo '== every checker over a generated (synthetic, not recorded) 10,000-op history'
	$(GO) test -run '^$$' -bench '^BenchmarkCheck10kOps$$' -benchmem ./checker/
	@echo '== read capacity: servers with a 600 us CPU, reads per virtual second'
	$(GO) test -count=1 -run '^TestReadCapacity_MoreServersServeMoreReads$$' -v ./experiments/
	@echo '== leader crash to a new leader'"'"'s first commit, in virtual time'
	$(GO) test -count=1 -run '^TestZab_LeaderFailoverTime$$' -v ./quorum/zab/

## bench-all: every Go benchmark of the module
bench-all:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) $(PKGS)

## fuzz: every go test -fuzz target for FUZZTIME each (the decoders of the
## client port's jute frames and of the peer messages, zoosim run's arguments and zoosim check's
## history files). Not part of `make
## test`: the regular tests replay the seed corpora under testdata/fuzz.
FUZZTIME ?= 20s
FUZZ_TARGETS = ./wire/clientport:FuzzServerDecode ./wire/clientport:FuzzClientDecode ./server:FuzzPeerDecode \
	./cmd/zoosim:FuzzRunArgs ./cmd/zoosim:FuzzCheckHistory
fuzz:
	@for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; name=$${t##*:}; \
		echo "== $$name in $$pkg for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	done

## fuzz-cli: fuzz zoosim run's argument vector (flag parsing and input checks), then zoosim check's
## history file, FUZZTIME each
fuzz-cli:
	$(GO) test -run '^$$' -fuzz '^FuzzRunArgs$$' -fuzztime $(FUZZTIME) ./cmd/zoosim/
	$(GO) test -run '^$$' -fuzz '^FuzzCheckHistory$$' -fuzztime $(FUZZTIME) ./cmd/zoosim/

## crash-test: SIGKILL a server of a real 3-server ensemble (zoosim serve
## processes on loopback) CRASH_KILLS times under write load, restarting it
## each time, then check that no acknowledged write is lost and that every
## server holds the same tree; then the same as power losses (the fault-injecting
## file layer cuts what no fsync covered; every other kill takes all three
## servers down, on a disk slowed up to 10 ms a sync). go test ./... runs both with 5 kills.
CRASH_KILLS ?= 50
crash-test:
	ZOOSIM_CRASH_KILLS=$(CRASH_KILLS) $(GO) test -count=1 -run '^TestCrash_' -v -timeout 10m ./real/

## real-smoke: zoosim real — the standard scenario for REAL_DURATION against a real 3-server
## ensemble of zoosim serve processes (workload through zoosim's client over TCP, the seed's
## faults applied to the processes and proxies, the same checkers), then the same against
## Apache ZooKeeper 3.8 when it is installed (make clients); fails on a violation or a harness error
REAL_DURATION ?= 60s
real-smoke:
	@set -e; dir=$$(mktemp -d); trap 'rm -rf "$$dir"' EXIT; \
	$(GO) build -o "$$dir/zoosim" ./cmd/zoosim; \
	"$$dir/zoosim" real --target zoosim --servers 3 --scenario standard --duration $(REAL_DURATION); \
	if [ -f /usr/share/java/zookeeper.jar ] && command -v java >/dev/null 2>&1; then \
		"$$dir/zoosim" real --target zookeeper --servers 3 --scenario standard --duration $(REAL_DURATION); \
	else echo "real-smoke: Apache ZooKeeper is not installed (make clients): --target zookeeper skipped"; fi

## bench-serve: setData/s and getData/s (and p99) of 64 go-zookeeper clients against a
## real 3-server ensemble with fsync on, through real/bench as zoosim bench measures (BENCH_SECONDS per phase)
BENCH_SECONDS ?= 10
bench-serve:
	ZOOSIM_BENCH_SECONDS=$(BENCH_SECONDS) $(GO) test -count=1 -run '^$$' -bench '^BenchmarkServe' -benchtime 1x -v ./real/bench/

## bench-real: zoosim bench, the full default matrix: zoosim's servers, then Apache ZooKeeper 3.8 (make clients;
## skipped, saying so, without it), 3 servers each, set/get/create at 1, 16 and 64 go-zookeeper clients, 20 s a cell,
## fsync on; the table, then the ratios zoosim / ZooKeeper (about 10 minutes; not part of CI)
bench-real:
	@set -e; dir=$$(mktemp -d); trap 'rm -rf "$$dir"' EXIT; \
	$(GO) build -o "$$dir/zoosim" ./cmd/zoosim; \
	"$$dir/zoosim" bench --target zoosim,zookeeper --servers 3 --clients 1,16,64 --op set,get,create --duration 20s

## zookeeper: Apache ZooKeeper 3.8 from Debian (java, /usr/share/java/zookeeper.jar, zkCli.sh), which
## the side-by-side tests of real/ run; does nothing when it is installed (they skip, saying so, without it)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
zookeeper:
	@if [ -f /usr/share/java/zookeeper.jar ] && [ -x /usr/share/zookeeper/bin/zkCli.sh ] && command -v java >/dev/null 2>&1; then \
		echo "zookeeper: installed"; \
	else echo '== installing Debian'"'"'s zookeeper'; $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq zookeeper; fi

## kazoo: Python's kazoo from Debian (python3-kazoo, for /usr/bin/python3), which real/'s kazoo test runs;
## does nothing when it is installed
kazoo:
	@if /usr/bin/python3 -c 'import kazoo' >/dev/null 2>&1; then echo "kazoo: installed"; \
	else echo '== installing Debian'"'"'s python3-kazoo'; $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq python3-kazoo; fi

## clients: every ZooKeeper client and server the tests compare zoosim with
clients: zookeeper kazoo

## compat: zoosim next to Apache ZooKeeper 3.8 (installed if missing): the go-zookeeper suite on both,
## the differential test, the four-letter words, raw jute ops, kazoo's and zkCli.sh's sessions
compat: clients
	$(GO) test -count=1 -run 'TestSideBySide_|TestFourLetterWords_|TestRawOps_|TestGoZK_ThreeServerEnsemble' -v ./real/

## differential: the seeded random op sequences on zoosim and Apache ZooKeeper, DIFF_SEEDS x DIFF_OPS
DIFF_SEEDS ?= 20
DIFF_OPS ?= 400
differential: zookeeper
	ZOOSIM_DIFF_SEEDS=$(DIFF_SEEDS) ZOOSIM_DIFF_OPS=$(DIFF_OPS) $(GO) test -count=1 -run '^TestSideBySide_ThreeServerEnsembles$$/^differential$$' -v ./real/

## report-check: render every kind of HTML report (run, suite, merged shards, bugs --measure, quorum) in a
## real headless Chromium (Debian's chromium, installed here if missing), at a desktop width, a phone's
## width and as printed; fail on a blank page, a console error or any network request. The screenshots
## stay in REPORT_SHOTS for people to look at.
REPORT_SHOTS ?= report-check
report-check:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
		{ echo '== installing Debian'"'"'s chromium'; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }
	ZOOSIM_BROWSER=1 ZOOSIM_SCREENSHOTS=$(abspath $(REPORT_SHOTS)) $(GO) test -count=1 -run 'TestReports_RenderInARealBrowser|TestBrowser_' -v ./cmd/zoosim/
	@echo "screenshots: $(abspath $(REPORT_SHOTS))"

## deploy-check: the deploy/ manifests' command lines run locally (shards merged equal the unsharded
## sweep), and the Dockerfile's build of the static binary, as written
deploy-check:
	ZOOSIM_DEPLOY_BUILD=1 $(GO) test -count=1 -run 'TestDeploy' -v ./cmd/zoosim/

## canary: the determinism canary alone (same seed, same trace hash)
canary:
	$(GO) test -count=1 -run 'Determinism|SameSeedSameTraceHash' -v ./sim/... ./scenarios/...

tidy:
	$(GO) mod tidy

clean:
	$(GO) clean -testcache
