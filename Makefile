# zcio: `make` builds libzcio.a, libzcio.so and include/zcio.h; `make test` runs
# every test; `make demo` shows a copy; `make install` installs.

CARGO ?= cargo
CC ?= cc
CXX ?= c++
VALGRIND ?= valgrind
PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DESTDIR ?=

# The version lives in Cargo.toml only; the soname follows its major number.
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
MAJOR := $(word 1,$(subst ., ,$(VERSION)))
SONAME := libzcio.so.$(MAJOR)
REALNAME := libzcio.so.$(VERSION)

BUILD := build
STAGE := $(BUILD)/lib
ABS_STAGE := $(abspath $(STAGE))
# What a static libzcio.a needs besides itself (rustc --print native-static-libs).
STATIC_LIBS := -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc

CWARN := -Wall -Wextra -Werror
TEST_CFLAGS := -std=c11 $(CWARN) -g -O1 -Iinclude -Ic-tests
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
SHARED_LINK := -L$(STAGE) -lzcio -Wl,-rpath,$(ABS_STAGE)
VALGRIND_FLAGS := -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect \
	--errors-for-leak-kinds=definite,indirect

# Where the C tests put their files: the work disk and tmpfs.
TEST_DIRS := $(abspath $(BUILD)/tmp) /dev/shm

C_TESTS := test_directio test_zerocopy test_engines test_hardening
C_TEST_BINS := $(foreach t,$(C_TESTS),$(BUILD)/$(t)-static $(BUILD)/$(t)-shared $(BUILD)/$(t)-asan)
HEADER_BINS := $(BUILD)/test_header-c89 $(BUILD)/test_header-c99 $(BUILD)/test_header-c11 $(BUILD)/test_header-cxx17
EXAMPLES := $(BUILD)/dropin $(BUILD)/demo $(BUILD)/zc_send $(BUILD)/zc_recv $(BUILD)/zcp

.PHONY: all lib header check-header abi rust-test lint c-build c-test valgrind-test \
	examples example-test zcp-test fault-test fiu-test tsan-lib tsan-test fuzz fuzz-smoke reliability install uninstall install-test docs demo test clean bench

all: lib header $(BUILD)/zcp

# The release libraries, staged as they are installed: the real file, the soname
# link and the development link.
lib:
	$(CARGO) build --release --lib
	@mkdir -p $(STAGE)
	@# Copied under a new name and renamed: a program running from the old copy keeps it.
	@cp target/release/libzcio.a $(STAGE)/.libzcio.a.new && mv -f $(STAGE)/.libzcio.a.new $(STAGE)/libzcio.a
	@cp target/release/libzcio.so $(STAGE)/.$(REALNAME).new && mv -f $(STAGE)/.$(REALNAME).new $(STAGE)/$(REALNAME)
	@ln -sf $(REALNAME) $(STAGE)/$(SONAME)
	@ln -sf $(SONAME) $(STAGE)/libzcio.so

header:
	$(CARGO) run -q -p zcio-genheader -- include/zcio.h

# Fails when the committed header is not what cbindgen makes of src/capi now.
check-header:
	@tmp=$$(mktemp) && $(CARGO) run -q -p zcio-genheader -- $$tmp && \
	if diff -u include/zcio.h $$tmp; then echo "PASS: include/zcio.h is up to date"; rm -f $$tmp; \
	else echo "FAIL: include/zcio.h is stale: run 'make header' and commit it"; rm -f $$tmp; exit 1; fi

abi:
	$(CARGO) run -q -p zcio-abi

rust-test:
	$(CARGO) test --workspace

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

$(BUILD)/%-static: c-tests/%.c c-tests/ref_directio.c c-tests/common.h include/zcio.h lib
	$(CC) $(TEST_CFLAGS) -o $@ $< c-tests/ref_directio.c $(STAGE)/libzcio.a $(STATIC_LIBS)

$(BUILD)/%-shared: c-tests/%.c c-tests/ref_directio.c c-tests/common.h include/zcio.h lib
	$(CC) $(TEST_CFLAGS) -o $@ $< c-tests/ref_directio.c $(SHARED_LINK)

$(BUILD)/%-asan: c-tests/%.c c-tests/ref_directio.c c-tests/common.h include/zcio.h lib
	$(CC) $(TEST_CFLAGS) $(SAN) -o $@ $< c-tests/ref_directio.c $(STAGE)/libzcio.a $(STATIC_LIBS)

# The header on its own, included twice, as C89, C99, C11 and C++17.
$(BUILD)/test_header-c89: c-tests/test_header.c include/zcio.h lib
	$(CC) -std=c89 -pedantic $(CWARN) -Iinclude -o $@ $< $(SHARED_LINK)
$(BUILD)/test_header-c99: c-tests/test_header.c include/zcio.h lib
	$(CC) -std=c99 -pedantic $(CWARN) -Iinclude -o $@ $< $(SHARED_LINK)
$(BUILD)/test_header-c11: c-tests/test_header.c include/zcio.h lib
	$(CC) -std=c11 -pedantic $(CWARN) -Iinclude -o $@ $< $(SHARED_LINK)
$(BUILD)/test_header-cxx17: c-tests/test_header.c include/zcio.h lib
	$(CXX) -x c++ -std=c++17 -pedantic $(CWARN) -Iinclude -o $@ $< $(SHARED_LINK)

$(BUILD)/dropin: examples-c/dropin.cpp include/zcio.h lib
	$(CXX) -std=c++17 $(CWARN) -O2 -Iinclude -o $@ $< $(SHARED_LINK)

$(BUILD)/demo: examples-c/demo.c include/zcio.h lib
	$(CC) -std=c11 $(CWARN) -O2 -Iinclude -o $@ $< $(SHARED_LINK)

c-build: $(C_TEST_BINS) $(HEADER_BINS)

# Each C test against the static and the shared library, and under ASan+UBSan, on
# the work disk and on tmpfs; the Direct I/O tests once more with each engine forced.
c-test: c-build
	@mkdir -p $(BUILD)/tmp
	@for h in $(HEADER_BINS); do c-tests/run.sh $$h $$h || exit 1; done
	@for t in $(C_TESTS); do for d in $(TEST_DIRS); do for v in static shared asan; do \
		c-tests/run.sh "$$t-$$v $$d" $(BUILD)/$$t-$$v $$d || exit 1; done; done; done
	@for e in sync threads io_uring; do for d in $(TEST_DIRS); do \
		c-tests/run.sh "test_directio-static $$d, engine $$e" $(BUILD)/test_directio-static $$d $$e || exit 1; \
	done; done

# The same tests against the shared library under valgrind, leaks counted as errors.
valgrind-test: c-build
	@mkdir -p $(BUILD)/tmp
	@for t in $(C_TESTS); do for d in $(TEST_DIRS); do \
		c-tests/run.sh "$$t valgrind $$d" $(VALGRIND) $(VALGRIND_FLAGS) $(BUILD)/$$t-shared $$d || exit 1; \
	done; done

examples: $(EXAMPLES)

# Real faults: a signal storm, sources truncated and extended mid-copy, a FUSE
# file system (c-tests/faultfs.py) that fails reads and lies about sizes.
$(BUILD)/test_faults-%: c-tests/test_faults.c c-tests/ref_directio.c c-tests/common.h include/zcio.h lib
	$(CC) $(TEST_CFLAGS) $(if $(filter asan,$*),$(SAN)) -o $@ $< c-tests/ref_directio.c $(STAGE)/libzcio.a $(STATIC_LIBS)

fault-test: $(BUILD)/test_faults-static $(BUILD)/test_faults-asan
	@mkdir -p $(BUILD)/tmp
	@for d in $(TEST_DIRS); do for v in static asan; do \
		c-tests/run.sh "test_faults-$$v $$d" $(BUILD)/test_faults-$$v $$d || exit 1; done; done

# System call failures injected with libfiu (Debian's fiu-utils and libfiu-dev):
# libfiu's own POSIX preload plus c-tests/fiu_extra.c for the calls it does not
# wrap, on ext4, tmpfs and an XFS image (where REFLINK and AUTO clone).
FIU_PRELOAD := /usr/lib/fiu/fiu_posix_preload.so $(abspath $(BUILD))/fiu_extra.so

$(BUILD)/fiu_extra.so: c-tests/fiu_extra.c
	@mkdir -p $(BUILD)
	$(CC) -std=gnu11 $(CWARN) -O1 -g -shared -fPIC -o $@ $< -lfiu -ldl

$(BUILD)/test_fiu-static: c-tests/test_fiu.c c-tests/common.h include/zcio.h lib
	$(CC) $(TEST_CFLAGS) -o $@ $< $(STAGE)/libzcio.a -lfiu $(STATIC_LIBS)

$(BUILD)/test_fiu-shared: c-tests/test_fiu.c c-tests/common.h include/zcio.h lib
	$(CC) $(TEST_CFLAGS) -o $@ $< $(SHARED_LINK) -lfiu

fiu-test: $(BUILD)/fiu_extra.so $(BUILD)/test_fiu-static $(BUILD)/test_fiu-shared
	@mkdir -p $(BUILD)/tmp
	@for d in $(TEST_DIRS); do for v in static shared; do \
		c-tests/run.sh "test_fiu-$$v $$d" env LD_PRELOAD="$(FIU_PRELOAD)" $(BUILD)/test_fiu-$$v $$d || exit 1; \
	done; done
	@c-tests/run.sh "test_fiu-static xfs" c-tests/with_mount.sh xfs 320 \
		env LD_PRELOAD="$(FIU_PRELOAD)" $(BUILD)/test_fiu-static {}

# The multi-threaded tests under ThreadSanitizer: zcio built with -Zsanitizer=thread
# (stable rustc, RUSTC_BOOTSTRAP for the flag) and linked with rustc's own TSan
# runtime, which matches its instrumentation. std is not instrumented (no rust-src
# to rebuild it): c-tests/tsan.supp says what that costs.
HOST := $(shell rustc -vV 2>/dev/null | sed -n 's/^host: //p')
TSAN_RT := $(firstword $(wildcard $(shell rustc --print sysroot 2>/dev/null)/lib/rustlib/$(HOST)/lib/librustc-*_rt.tsan.a))
TSAN_LIB := target/tsan/$(HOST)/release/libzcio.a
TSAN_TESTS := test_hardening test_engines test_directio

tsan-lib:
	RUSTC_BOOTSTRAP=1 RUSTFLAGS="-Zsanitizer=thread -Cunsafe-allow-abi-mismatch=sanitizer" \
		$(CARGO) build --release --lib --target $(HOST) --target-dir target/tsan

$(BUILD)/%-tsan: c-tests/%.c c-tests/ref_directio.c c-tests/common.h include/zcio.h tsan-lib
	$(CC) $(TEST_CFLAGS) -fsanitize=thread -c -o $@.o $<
	$(CC) $(TEST_CFLAGS) -fsanitize=thread -c -o $@-ref.o c-tests/ref_directio.c
	$(CC) -o $@ $@.o $@-ref.o $(TSAN_LIB) -Wl,--whole-archive $(TSAN_RT) -Wl,--no-whole-archive \
		-lstdc++ $(STATIC_LIBS)

tsan-test:
	@if [ -z "$(TSAN_RT)" ]; then echo "SKIP: tsan-test: this Rust toolchain has no ThreadSanitizer runtime"; \
	else $(MAKE) $(foreach t,$(TSAN_TESTS),$(BUILD)/$(t)-tsan) && mkdir -p $(BUILD)/tmp && \
	for t in $(TSAN_TESTS); do \
		TSAN_OPTIONS="halt_on_error=1 exitcode=66 suppressions=$(abspath c-tests/tsan.supp)" \
		c-tests/run.sh "$$t-tsan $(abspath $(BUILD)/tmp)" $(BUILD)/$$t-tsan $(abspath $(BUILD)/tmp) || exit 1; done && \
		TSAN_OPTIONS="halt_on_error=1 exitcode=66 suppressions=$(abspath c-tests/tsan.supp)" \
		c-tests/run.sh "test_directio-tsan, engine threads" $(BUILD)/test_directio-tsan $(abspath $(BUILD)/tmp) threads; fi

# The cargo fuzz target over the C API (fuzz/): `make fuzz` for FUZZ_SECONDS, and a
# short smoke run from the committed corpus in `make test`.
FUZZ_SECONDS ?= 600

fuzz:
	fuzz/run.sh $(FUZZ_SECONDS)

fuzz-smoke:
	fuzz/run.sh 45

# zcp as a user drives it: statuses, messages, the progress bar on a terminal,
# Ctrl-C and SIGKILL mid-copy.
zcp-test: $(BUILD)/zcp
	@mkdir -p $(BUILD)/tmp
	@c-tests/run.sh "c-tests/test_zcp.sh" bash c-tests/test_zcp.sh $(abspath $(BUILD)/zcp) $(abspath $(BUILD)/tmp)

# zcp, the command: built against the public header like any user's program.
$(BUILD)/zcp: examples-c/zcp.c include/zcio.h lib
	$(CC) -std=c11 $(CWARN) -O2 -pthread -Iinclude -o $@ $< $(SHARED_LINK)

$(BUILD)/zc_send: examples-c/zc_send.c include/zcio.h lib
	$(CC) -std=c11 $(CWARN) -O2 -Iinclude -o $@ $< $(SHARED_LINK)

$(BUILD)/zc_recv: examples-c/zc_recv.c include/zcio.h lib
	$(CC) -std=c11 $(CWARN) -O2 -Iinclude -o $@ $< $(SHARED_LINK)

# The C++ drop-in copies a file with an unaligned tail exactly. zc_send and zc_recv
# move a 20 MiB file with an unaligned tail over loopback (sendfile out, splice in);
# the trap kills a zc_send left waiting when anything fails. The Python example
# runs its three steps against the shared library.
example-test: examples
	@mkdir -p $(BUILD)/tmp
	@d=$$(mktemp -d $(abspath $(BUILD)/tmp)/example-XXXXXX) && \
	head -c 3146001 /dev/urandom > $$d/src && \
	$(BUILD)/dropin $$d/src $$d/dst && cmp $$d/src $$d/dst && \
	echo "PASS: examples-c/dropin.cpp copied 3146001 bytes exactly"; rc=$$?; rm -rf $$d; exit $$rc
	@set -e; pid=; d=$$(mktemp -d $(abspath $(BUILD)/tmp)/example-XXXXXX); \
	trap 'if [ -n "$$pid" ]; then kill $$pid 2>/dev/null || true; wait $$pid 2>/dev/null || true; fi; rm -rf "$$d"' EXIT; \
	trap 'exit 1' HUP INT TERM; \
	head -c 20971527 /dev/urandom > $$d/src; \
	$(BUILD)/zc_send $$d/src $$d/port & pid=$$!; \
	i=0; while [ ! -s $$d/port ]; do \
		kill -0 $$pid 2>/dev/null || { echo "FAIL: zc_send exited before writing its port"; exit 1; }; \
		i=$$((i + 1)); [ $$i -le 100 ] || { echo "FAIL: zc_send wrote no port file in 10 s"; exit 1; }; \
		sleep 0.1; \
	done; \
	timeout 60 $(BUILD)/zc_recv "$$(cat $$d/port)" $$d/dst || { echo "FAIL: zc_recv"; exit 1; }; \
	rc=0; wait $$pid || rc=$$?; pid=; \
	[ $$rc -eq 0 ] || { echo "FAIL: zc_send exited with $$rc"; exit 1; }; \
	cmp $$d/src $$d/dst || { echo "FAIL: zc_recv's file differs from zc_send's"; exit 1; }; \
	echo "PASS: examples-c/zc_send.c and zc_recv.c moved 20971527 bytes over loopback exactly"
	@TMPDIR=$(abspath $(BUILD)/tmp) python3 examples-py/copy.py --lib $(STAGE)/$(SONAME) && \
	echo "PASS: examples-py/copy.py (zc_copy_file, zc_sendfile, -errno as OSError)"

install: lib
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)
	install -m 644 $(STAGE)/libzcio.a $(DESTDIR)$(LIBDIR)/libzcio.a
	install -m 755 $(STAGE)/$(REALNAME) $(DESTDIR)$(LIBDIR)/$(REALNAME)
	ln -sf $(REALNAME) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libzcio.so
	install -m 644 include/zcio.h $(DESTDIR)$(INCLUDEDIR)/zcio.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
		-e 's|@VERSION@|$(VERSION)|' -e 's|@STATIC_LIBS@|$(STATIC_LIBS)|' zcio.pc.in \
		> $(DESTDIR)$(LIBDIR)/pkgconfig/zcio.pc
	chmod 644 $(DESTDIR)$(LIBDIR)/pkgconfig/zcio.pc

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libzcio.a $(DESTDIR)$(LIBDIR)/$(REALNAME) $(DESTDIR)$(LIBDIR)/$(SONAME) \
		$(DESTDIR)$(LIBDIR)/libzcio.so $(DESTDIR)$(INCLUDEDIR)/zcio.h $(DESTDIR)$(LIBDIR)/pkgconfig/zcio.pc

# Installs into a scratch directory and builds the drop-in example against it
# through pkg-config, shared and static; checks the soname.
install-test:
	@set -e; st=$$(mktemp -d); trap 'rm -rf $$st' EXIT; \
	$(MAKE) -s install DESTDIR=$$st PREFIX=/usr >/dev/null; \
	test -L $$st/usr/lib/$(SONAME) -a -L $$st/usr/lib/libzcio.so -a -f $$st/usr/lib/$(REALNAME); \
	readelf -d $$st/usr/lib/$(REALNAME) | grep -q 'SONAME.*\[$(SONAME)\]'; \
	export PKG_CONFIG_PATH=$$st/usr/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$$st; \
	test "$$(pkg-config --modversion zcio)" = "$(VERSION)"; \
	$(CXX) -std=c++17 $(CWARN) $$(pkg-config --cflags zcio) -o $$st/dropin examples-c/dropin.cpp $$(pkg-config --libs zcio); \
	$(CXX) -std=c++17 $(CWARN) $$(pkg-config --cflags zcio) -o $$st/dropin-static examples-c/dropin.cpp \
		$$(pkg-config --static --libs zcio | sed 's/-lzcio /-l:libzcio.a /'); \
	head -c 1048583 /dev/urandom > $$st/src; \
	LD_LIBRARY_PATH=$$st/usr/lib $$st/dropin $$st/src $$st/dst >/dev/null; cmp $$st/src $$st/dst; \
	LD_LIBRARY_PATH=$$st/usr/lib ldd $$st/dropin | grep -q "$(SONAME) => $$st/usr/lib/$(SONAME)"; \
	$$st/dropin-static $$st/src $$st/dst2 >/dev/null; cmp $$st/src $$st/dst2; \
	! ldd $$st/dropin-static | grep -q libzcio; \
	echo "PASS: make install (soname $(SONAME), zcio.pc $(VERSION)); pkg-config builds, shared and static, copy correctly"

# Doxygen's HTML of the header in $(BUILD)/docs/html. Fails on any Doxygen
# warning (Doxyfile) and when a function of the header is missing from its output.
docs:
	@rm -rf $(BUILD)/docs && mkdir -p $(BUILD)/docs
	ZCIO_VERSION=$(VERSION) doxygen Doxyfile || { cat $(BUILD)/docs/warnings.log; exit 1; }
	@python3 tools/check_docs.py include/zcio.h $(BUILD)/docs
	@echo "PASS: make docs: every function of include/zcio.h documented, no Doxygen warning ($(BUILD)/docs/html/index.html)"

demo: lib $(BUILD)/demo $(BUILD)/zcp
	@mkdir -p $(BUILD)/tmp
	$(BUILD)/demo $(abspath $(BUILD)/zcp) $(abspath $(BUILD)/tmp)

# make bench: zcio's copies against cp, dd, a read/write loop, the article's loop and
# std::fs::copy, with the disk's limit from fio; prints a markdown report (also kept in
# $(BUILD)/bench-report.md). Release builds only; never part of `make test`.
# BENCH_DIR must be on the disk to measure (not tmpfs); BENCH_SIZE takes K/M/G suffixes.
BENCH_DIR ?= $(BUILD)/bench
BENCH_SIZE ?= 2G
BENCH_RUNS ?= 3
BENCH_CFLAGS := -std=c11 $(CWARN) -O2
BENCH_BINS := $(BUILD)/rwloop $(BUILD)/article $(BUILD)/netbench

$(BUILD)/rwloop: bench/rwloop.c
	@mkdir -p $(BUILD)
	$(CC) $(BENCH_CFLAGS) -o $@ $<

$(BUILD)/article: bench/article.c c-tests/ref_directio.c c-tests/ref_directio.h
	@mkdir -p $(BUILD)
	$(CC) $(BENCH_CFLAGS) -Ic-tests -o $@ $< c-tests/ref_directio.c

$(BUILD)/netbench: bench/netbench.c include/zcio.h lib
	$(CC) $(BENCH_CFLAGS) -Iinclude -o $@ $< $(SHARED_LINK)

bench: lib $(BUILD)/zcp $(BENCH_BINS)
	$(CARGO) build --release -p zcio-stdcopy
	python3 bench/bench.py --dir $(BENCH_DIR) --size $(BENCH_SIZE) --runs $(BENCH_RUNS) \
		--zcp $(BUILD)/zcp --lib $(STAGE)/$(SONAME) --rwloop $(BUILD)/rwloop --article $(BUILD)/article \
		--netbench $(BUILD)/netbench --stdcopy target/release/stdcopy --report $(BUILD)/bench-report.md \
		--command "make bench BENCH_DIR=$(BENCH_DIR) BENCH_SIZE=$(BENCH_SIZE) BENCH_RUNS=$(BENCH_RUNS)"

# Rows the tests record for RELIABILITY.md (c-tests/reliability.py).
REPORT := $(abspath $(BUILD))/reliability.tsv

# The committed header is checked first, before anything could regenerate it.
# Every test records what it tried in $(REPORT); the summary of it is
# $(BUILD)/RELIABILITY.md (`make reliability` copies it to the top level).
test:
	$(MAKE) check-header
	$(MAKE) lint
	$(MAKE) docs
	@mkdir -p $(BUILD) && rm -f $(REPORT)
	ZCIO_REPORT=$(REPORT) $(MAKE) rust-test
	$(MAKE) abi
	ZCIO_REPORT=$(REPORT) $(MAKE) c-test
	ZCIO_REPORT=$(REPORT) $(MAKE) valgrind-test
	$(MAKE) example-test
	$(MAKE) zcp-test
	ZCIO_REPORT=$(REPORT) $(MAKE) fault-test
	ZCIO_REPORT=$(REPORT) $(MAKE) fiu-test
	ZCIO_REPORT=$(REPORT) $(MAKE) tsan-test
	$(MAKE) fuzz-smoke
	$(MAKE) install-test
	python3 c-tests/reliability.py $(REPORT) $(BUILD)/fuzz-summary.txt > $(BUILD)/RELIABILITY.md
	@echo "make test: all passed; what was tried: $(BUILD)/RELIABILITY.md"

# RELIABILITY.md from a full run of the suite on this machine.
reliability: test
	cp $(BUILD)/RELIABILITY.md RELIABILITY.md

clean:
	$(CARGO) clean
	rm -rf $(BUILD)
