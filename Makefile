# shim-logs: build, test, run a simulated container, measure.
#
#   make build    static musl release binary + tools
#   make test     unit tests, behaviour tests (real redis-server), tools tests, lint
#   make spawn    a simulated container writing through the real binary into a
#                 temporary root (REDIS_URL=redis://... adds a Redis endpoint)
#   make bench    memory, throughput, CPU (prints tables; not run in CI)
#
# Both `make spawn` and `make test` work on a fresh machine: `deps` adds the
# musl target and installs redis-server when missing.

TARGET   := x86_64-unknown-linux-musl
BIN      := target/$(TARGET)/release/shim-logs
TOOLS    := tools/target/release
PREFIX   ?= /usr/local
CARGO    ?= cargo

.PHONY: all deps build tools test unit behaviour lint spawn rss bench bench-smoke install clean

all: build

deps:
	@rustup target list --installed 2>/dev/null | grep -qx $(TARGET) || rustup target add $(TARGET)
	@command -v redis-server >/dev/null && command -v redis-cli >/dev/null || { \
	  echo "installing redis-server (Debian package)"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq redis-server redis-tools >/dev/null; }

build: deps
	$(CARGO) build --release --target $(TARGET)
	cd tools && CARGO_TARGET_DIR=$(CURDIR)/tools/target $(CARGO) build --release -q

tools: build

test: build lint
	$(CARGO) test -- --test-threads=2
	cd tools && CARGO_TARGET_DIR=$(CURDIR)/tools/target $(CARGO) test -q

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -q -- -D warnings
	cd tools && $(CARGO) fmt --check

spawn: build
	@ROOT=$$(mktemp -d /tmp/shim-logs-spawn.XXXXXX); \
	mkdir -p $$ROOT/config/demo; \
	if [ -n "$(REDIS_URL)" ]; then \
	  printf '[{"type":"redis","data":{"stdout":"%s","stderr":"%s"}}]\n' "$(REDIS_URL)" "$(REDIS_URL)" > $$ROOT/config/demo/container1-logs.json; \
	  echo "config: forwarding to $(REDIS_URL)"; \
	else echo '[]' > $$ROOT/config/demo/container1-logs.json; fi; \
	echo "root: $$ROOT"; \
	$(TOOLS)/shim-spawn --id container1 --ns demo --logger $(CURDIR)/$(BIN) --root $$ROOT -- \
	  sh -c 'for i in 1 2 3 4 5; do echo "stdout line $$i"; echo "stderr line $$i" >&2; done; printf "no newline at the end"'; \
	echo "--- $$ROOT/logs/demo/container1.log"; cat $$ROOT/logs/demo/container1.log; echo; \
	echo "--- $$ROOT/logs/demo/container1-sys.log"; cat $$ROOT/logs/demo/container1-sys.log

# make e2e: the release binary under a real containerd (tests/e2e/run.sh). Root only;
# installs Debian's containerd, runc and busybox-static when missing; exits 77 (and says
# why) where this machine cannot run containers.
.PHONY: e2e
e2e: build
	timeout -k 30 600 tests/e2e/run.sh

# make fuzz: every cargo-fuzz target in fuzz/ for FUZZ_SECONDS each, one at a time (the
# nightly toolchain; cargo-fuzz is installed when missing). New inputs go to
# fuzz/target/corpus (ignored by git); the seeds in fuzz/corpus stay as committed. A crash
# stops the run, with its input in fuzz/artifacts/<target>/ and the log in fuzz/target/.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := json_config redis_url resp_reply framing encoders
.PHONY: fuzz
fuzz:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz
	@set -e; for t in $(FUZZ_TARGETS); do \
	  mkdir -p fuzz/target/corpus/$$t; \
	  printf '%-12s %4s s: ' $$t $(FUZZ_SECONDS); \
	  if (cd fuzz && $(CARGO) +nightly fuzz run $$t target/corpus/$$t corpus/$$t -- \
	      -max_total_time=$(FUZZ_SECONDS) -max_len=9000 -print_final_stats=1) > fuzz/target/$$t.log 2>&1; then \
	    grep -h '^stat::number_of_executed_units' fuzz/target/$$t.log; \
	  else \
	    tail -n 40 fuzz/target/$$t.log; echo "fuzz $$t failed: fuzz/target/$$t.log, fuzz/artifacts/$$t/"; exit 1; \
	  fi; \
	done

rss: build
	bench/rss.sh

bench: build
	bench/all.sh

bench-smoke: build
	bench/all.sh --quick

install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/shim-logs

clean:
	$(CARGO) clean
	rm -rf tools/target
