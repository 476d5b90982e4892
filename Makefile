# zcio: `make` builds libzcio.a, libzcio.so and zcp (include/zcio.h is committed:
# `make header` regenerates it); `make test` runs every test; `make demo` shows a
# copy; `make install` installs; `make docs` runs Doxygen on the header.

CARGO ?= cargo
CC ?= cc
CXX ?= c++
VALGRIND ?= valgrind
STRIP ?= strip
LDCONFIG ?= ldconfig
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
DESTDIR ?=
# Non-empty: install the libraries and zcp with their debug info (else stripped).
KEEP_DEBUG ?=

# The version lives in Cargo.toml only. Cargo's semver makes every 0.MINOR (from
# 1.0 on, every MAJOR) a breaking release, so that is the ABI: it names the soname
# (libzcio.so.0.1) and the symbol version (ZCIO_0.1).
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
MAJOR := $(word 1,$(subst ., ,$(VERSION)))
MINOR := $(word 2,$(subst ., ,$(VERSION)))
ABI := $(if $(filter 0,$(MAJOR)),0.$(MINOR),$(MAJOR))
SONAME := libzcio.so.$(ABI)
REALNAME := libzcio.so.$(VERSION)
SYMVER := ZCIO_$(ABI)

BUILD := build
STAGE := $(BUILD)/lib
ABS_STAGE := $(abspath $(STAGE))
# What libzcio.a needs besides itself, as rustc reports it (written by `lib`).
NATIVE_LIBS := $(BUILD)/native-static-libs
STATIC_LIBS = $$(cat $(NATIVE_LIBS))

CWARN := -Wall -Wextra -Werror
SHARED_LINK := -L$(STAGE) -lzcio -Wl,-rpath,$(ABS_STAGE)

# The C tests have their own Makefile (c-tests/Makefile); these targets call it
# with the library's paths.
C_MAKE = $(MAKE) -C c-tests CC="$(CC)" CXX="$(CXX)" VALGRIND="$(VALGRIND)" STAGE=$(ABS_STAGE) \
	NATIVE_LIBS=$(abspath $(NATIVE_LIBS))
EXAMPLES := $(BUILD)/dropin $(BUILD)/demo $(BUILD)/zc_send $(BUILD)/zc_recv $(BUILD)/zcp
# zcp and zcp-mpi share cp's command line and the copies that are not trees.
ZCP_COMMON := examples-c/zcp-common.c
ZCP_DEPS := $(ZCP_COMMON) examples-c/zcp-common.h include/zcio.h
# zcp-mpi is built where an MPI compiler is (Debian: libopenmpi-dev); without one,
# make builds the rest and says so, and mpi-test skips.
MPICC ?= mpicc
MPIRUN ?= mpirun
HAVE_MPI := $(shell command -v $(MPICC) >/dev/null 2>&1 && echo 1)
ZCP_MPI := $(if $(HAVE_MPI),$(BUILD)/zcp-mpi $(BUILD)/dist/zcp-mpi,no-mpicc)

.PHONY: all lib header check-header abi rust-test lint c-build c-test valgrind-test \
	examples example-test zcp-test mpi-test no-mpicc fault-test fiu-test tsan-lib tsan-test fuzz fuzz-smoke \
	reliability install uninstall install-test man-test docs package-test demo test clean bench bench-mpi \
	python-venv python-test bench-python

all: lib $(BUILD)/zcp $(BUILD)/dist/zcp $(ZCP_MPI)

# The release libraries, staged as they are installed: the real file, the soname
# link and the development link; debug info is kept here for the tests.
# libzcio.so is linked here from libzcio.a, not by cargo: rustc gives a cdylib its
# own version script, which wins over a second one (rust-lld) or refuses it (GNU
# ld), so libzcio.map.in could not version the symbols.
lib:
	@mkdir -p $(STAGE)
	@# cargo rustc, to hear rustc's native-static-libs note; the output is shown
	@# as it comes, so the exit status goes through a file.
	@{ $(CARGO) rustc --release --lib -- --print native-static-libs 2>&1; echo $$? >$(BUILD)/.cargo-rc; } \
		| tee $(BUILD)/cargo-lib.log | sed -e '/^note: link against the following/d' -e '/^note: native-static-libs/d'
	@test "$$(cat $(BUILD)/.cargo-rc)" = 0
	@sed -n 's/^note: native-static-libs: //p' $(BUILD)/cargo-lib.log | tail -n 1 >$(NATIVE_LIBS)
	@test -s $(NATIVE_LIBS) || { echo "lib: rustc reported no native-static-libs" >&2; exit 1; }
	@sed 's/@SYMVER@/$(SYMVER)/' libzcio.map.in >$(BUILD)/libzcio.map
	@# Copied under a new name and renamed: a program running from the old copy keeps it.
	@cp target/release/libzcio.a $(STAGE)/.libzcio.a.new && mv -f $(STAGE)/.libzcio.a.new $(STAGE)/libzcio.a
	$(CC) -shared -o $(STAGE)/.$(REALNAME).new -Wl,-soname,$(SONAME) -Wl,--version-script=$(BUILD)/libzcio.map \
		-Wl,--whole-archive $(STAGE)/libzcio.a -Wl,--no-whole-archive -Wl,--gc-sections -Wl,--no-undefined \
		-Wl,-z,relro,-z,now -Wl,-z,noexecstack $(STATIC_LIBS)
	@mv -f $(STAGE)/.$(REALNAME).new $(STAGE)/$(REALNAME)
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

# Formatting, clippy, no circle among the modules of src/, and an example in the
# docs of every public item (checked on rustdoc's JSON, which needs RUSTC_BOOTSTRAP).
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	python3 tools/modcycles.py src
	RUSTC_BOOTSTRAP=1 RUSTDOCFLAGS="-Z unstable-options --output-format json" \
		$(CARGO) doc -q --no-deps -p zcio --target-dir target/docjson
	python3 tools/doc_examples.py target/docjson/doc/zcio.json

$(BUILD)/dropin: examples-c/dropin.cpp include/zcio.h lib
	$(CXX) -std=c++17 $(CWARN) -O2 -Iinclude -o $@ $< $(SHARED_LINK)

$(BUILD)/demo: examples-c/demo.c include/zcio.h lib
	$(CC) -std=c11 $(CWARN) -O2 -Iinclude -o $@ $< $(SHARED_LINK)

# The C suite: the ABI programs and the sanitizer drivers, static, shared and
# under ASan+UBSan, on the work disk and tmpfs; the header as C89/C99/C11/C++.
c-build: lib
	$(C_MAKE) build

c-test: lib
	$(C_MAKE) test

# The same programs against the shared library under valgrind, leaks as errors.
valgrind-test: lib
	$(C_MAKE) valgrind

examples: $(EXAMPLES)

# A FUSE file system (c-tests/faultfs.py) that fails reads and lies about sizes.
fault-test: lib
	$(C_MAKE) faults

# System-call failures injected with libfiu (Debian's fiu-utils and libfiu-dev),
# on ext4, tmpfs and an XFS image (where REFLINK and AUTO clone).
fiu-test: lib
	$(C_MAKE) fiu

# The C programs under ThreadSanitizer: zcio built with -Zsanitizer=thread
# (stable rustc, RUSTC_BOOTSTRAP for the flag) and linked with rustc's own TSan
# runtime, which matches its instrumentation. std is not instrumented (no rust-src
# to rebuild it): c-tests/tsan.supp says what that costs.
HOST := $(shell rustc -vV 2>/dev/null | sed -n 's/^host: //p')
TSAN_RT := $(firstword $(wildcard $(shell rustc --print sysroot 2>/dev/null)/lib/rustlib/$(HOST)/lib/librustc-*_rt.tsan.a))
TSAN_LIB := target/tsan/$(HOST)/release/libzcio.a

tsan-lib:
	RUSTC_BOOTSTRAP=1 RUSTFLAGS="-Zsanitizer=thread -Cunsafe-allow-abi-mismatch=sanitizer" \
		$(CARGO) build --release --lib --target $(HOST) --target-dir target/tsan

tsan-test:
	@if [ -z "$(TSAN_RT)" ]; then echo "SKIP: tsan-test: this Rust toolchain has no ThreadSanitizer runtime"; \
	else $(MAKE) tsan-lib lib && $(C_MAKE) tsan TSAN_LIB=$(abspath $(TSAN_LIB)) TSAN_RT=$(TSAN_RT); fi

# The cargo fuzz target over the C API (fuzz/): `make fuzz` for FUZZ_SECONDS, and a
# short smoke run from the committed corpus in `make test`.
FUZZ_SECONDS ?= 600

fuzz:
	fuzz/run.sh $(FUZZ_SECONDS)

fuzz-smoke:
	fuzz/run.sh 45

# zcp as a user drives it: statuses, messages, the progress bar on a terminal,
# Ctrl-C and SIGKILL mid-copy; and side by side with cp(1) on the same trees
# (ext4 and tmpfs, as root and as nobody), cp being the oracle.
zcp-test: $(BUILD)/zcp
	$(C_MAKE) zcp ZCP=$(abspath $(BUILD)/zcp)

# zcp, the command: built against the public header like any user's program.
$(BUILD)/zcp: examples-c/zcp.c $(ZCP_DEPS) lib
	$(CC) -std=c11 $(CWARN) -O2 -pthread -Iinclude -o $@ $< $(ZCP_COMMON) $(SHARED_LINK)

# zcp-mpi: zcp's command line, each tree split across the MPI ranks.
$(BUILD)/zcp-mpi: examples-c/zcp-mpi.c $(ZCP_DEPS) lib
	$(MPICC) -std=c11 $(CWARN) -O2 -pthread -Iinclude -o $@ $< $(ZCP_COMMON) $(SHARED_LINK)

no-mpicc:
	@echo "note: no $(MPICC): zcp-mpi not built (Debian: apt-get install openmpi-bin libopenmpi-dev)"

# zcp-mpi under mpirun with 1, 2 and 4 ranks on this machine: the fidelity tree
# against zcp -a and cp -a, a skewed tree's balance, a rank killed with SIGKILL
# and the rerun that finishes the copy.
mpi-test: $(BUILD)/zcp $(ZCP_MPI)
	@if [ -z "$(HAVE_MPI)" ]; then echo "SKIP: mpi-test: no $(MPICC)"; \
	else $(C_MAKE) mpi ZCP=$(abspath $(BUILD)/zcp) ZCP_MPI=$(abspath $(BUILD)/zcp-mpi) MPIRUN="$(MPIRUN)"; fi

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
	@TMPDIR=$(abspath $(BUILD)/tmp) python3 examples-py/ctypes_copy.py --lib $(STAGE)/$(SONAME) && \
	echo "PASS: examples-py/ctypes_copy.py (zc_copy_file, zc_sendfile, -errno as OSError)"

# zcp as installed: linked to libzcio.so with no RUNPATH into the build tree; it
# finds the library from where it is installed ($ORIGIN/../lib for the default
# layout). ZCP_RUNPATH= links it without one, for a LIBDIR the loader searches.
ZCP_RUNPATH ?= $$ORIGIN/$(shell realpath -m --relative-to=$(BINDIR) $(LIBDIR))

$(BUILD)/dist/zcp: examples-c/zcp.c $(ZCP_DEPS) lib
	@mkdir -p $(BUILD)/dist
	$(CC) -std=c11 $(CWARN) -O2 -g -pthread -Iinclude -o $@ $< $(ZCP_COMMON) -L$(STAGE) -lzcio \
		$(if $(ZCP_RUNPATH),-Xlinker -rpath -Xlinker '$(ZCP_RUNPATH)')

$(BUILD)/dist/zcp-mpi: examples-c/zcp-mpi.c $(ZCP_DEPS) lib
	@mkdir -p $(BUILD)/dist
	$(MPICC) -std=c11 $(CWARN) -O2 -g -pthread -Iinclude -o $@ $< $(ZCP_COMMON) -L$(STAGE) -lzcio \
		$(if $(ZCP_RUNPATH),-Xlinker -rpath -Xlinker '$(ZCP_RUNPATH)')

MAN_PAGES := $(sort $(wildcard man/man[1-8]/*.[1-8]))
# zcp-mpi and its page are installed where it was built.
INSTALL_PAGES := $(if $(HAVE_MPI),$(MAN_PAGES),$(filter-out man/man1/zcp-mpi.1,$(MAN_PAGES)))
DIST_BINS := $(BUILD)/dist/zcp $(if $(HAVE_MPI),$(BUILD)/dist/zcp-mpi)
# -lgcc_s is libgcc's shared unwinder: the compiler driver links an unwinder by
# itself (libgcc_s, or libgcc_eh under -static), and `cc -static` fails on -lgcc_s.
PC_LIBS = $$(sed 's/-lgcc_s *//' $(NATIVE_LIBS))
PC_SED = sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	-e 's|@VERSION@|$(VERSION)|' -e "s|@STATIC_LIBS@|$(PC_LIBS)|"

# Libraries, header, zcio.pc and zcio-static.pc, zcp (and zcp-mpi), and the man pages with a
# link for each other name in a page's NAME line (man/links.sh). Installed copies
# are stripped unless KEEP_DEBUG is set. It installs what `make` built and builds
# nothing itself, so `sudo make install` needs no cargo in root's PATH; a zcp
# linked for another BINDIR/LIBDIR layout is refused.
install:
	@for f in $(STAGE)/libzcio.a $(STAGE)/$(REALNAME) $(NATIVE_LIBS) $(DIST_BINS); do \
		[ -f $$f ] || { echo "make install: $$f is missing: run make first" >&2; exit 1; }; done
	@for f in $(DIST_BINS); do rp=$$(readelf -d $$f | sed -n 's/.*(RUNPATH).*\[\(.*\)\]/\1/p'); \
	[ "$$rp" = '$(ZCP_RUNPATH)' ] || { printf "make install: $$f has RUNPATH '%s', not '%s': %s\n" \
		"$$rp" '$(ZCP_RUNPATH)' "run make with the same BINDIR, LIBDIR and ZCP_RUNPATH first" >&2; exit 1; }; done
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(BINDIR) \
		$(sort $(foreach p,$(INSTALL_PAGES),$(DESTDIR)$(MANDIR)/$(notdir $(patsubst %/,%,$(dir $(p))))))
	install -m 644 $(STAGE)/libzcio.a $(DESTDIR)$(LIBDIR)/libzcio.a
	install -m 755 $(STAGE)/$(REALNAME) $(DESTDIR)$(LIBDIR)/$(REALNAME)
	install -m 755 $(DIST_BINS) $(DESTDIR)$(BINDIR)/
	$(if $(KEEP_DEBUG),,$(STRIP) --strip-debug $(DESTDIR)$(LIBDIR)/libzcio.a)
	$(if $(KEEP_DEBUG),,$(STRIP) --strip-unneeded $(DESTDIR)$(LIBDIR)/$(REALNAME) \
		$(addprefix $(DESTDIR)$(BINDIR)/,$(notdir $(DIST_BINS))))
	ln -sf $(REALNAME) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libzcio.so
	install -m 644 include/zcio.h $(DESTDIR)$(INCLUDEDIR)/zcio.h
	$(PC_SED) zcio.pc.in >$(DESTDIR)$(LIBDIR)/pkgconfig/zcio.pc
	$(PC_SED) zcio-static.pc.in >$(DESTDIR)$(LIBDIR)/pkgconfig/zcio-static.pc
	chmod 644 $(DESTDIR)$(LIBDIR)/pkgconfig/zcio.pc $(DESTDIR)$(LIBDIR)/pkgconfig/zcio-static.pc
	@for p in $(INSTALL_PAGES); do echo "install -m 644 $$p $(DESTDIR)$(MANDIR)/$${p#man/}"; \
		install -m 644 $$p $(DESTDIR)$(MANDIR)/$${p#man/} || exit 1; done
	@man/links.sh $(INSTALL_PAGES) | while read -r dir page name; do \
		echo "ln -sf $$page $(DESTDIR)$(MANDIR)/$$dir/$$name"; \
		ln -sf $$page $(DESTDIR)$(MANDIR)/$$dir/$$name || exit 1; done
	@# The loader's cache, for a LIBDIR it searches (as zlib does); not into a DESTDIR.
	@if [ -z "$(DESTDIR)" ]; then $(LDCONFIG) 2>/dev/null || true; fi

# Removes what `make install` put there, given the same variables.
uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libzcio.a $(DESTDIR)$(LIBDIR)/$(REALNAME) $(DESTDIR)$(LIBDIR)/$(SONAME) \
		$(DESTDIR)$(LIBDIR)/libzcio.so $(DESTDIR)$(INCLUDEDIR)/zcio.h $(DESTDIR)$(BINDIR)/zcp $(DESTDIR)$(BINDIR)/zcp-mpi \
		$(DESTDIR)$(LIBDIR)/pkgconfig/zcio.pc $(DESTDIR)$(LIBDIR)/pkgconfig/zcio-static.pc
	rm -f $(patsubst man/%,$(DESTDIR)$(MANDIR)/%,$(MAN_PAGES))
	@man/links.sh $(MAN_PAGES) | while read -r dir page name; do \
		echo "rm -f $(DESTDIR)$(MANDIR)/$$dir/$$name"; rm -f $(DESTDIR)$(MANDIR)/$$dir/$$name; done

# Installs into a scratch DESTDIR as a user would and checks the result with a
# program of its own (c-tests/install/prog.c), then uninstalls: see the script.
install-test: lib $(DIST_BINS)
	@MAKE="$(MAKE)" CC="$(CC)" ZCP_MPI=$(if $(HAVE_MPI),1,0) MPIRUN="$(MPIRUN)" VERSION=$(VERSION) SONAME=$(SONAME) REALNAME=$(REALNAME) SYMVER=$(SYMVER) \
		c-tests/install/test_install.sh

# The man pages: mandoc's lint and man's rendering clean, a page for every
# function in the header, every zcp option in zcp.1.
man-test: $(BUILD)/zcp
	@man/check.sh include/zcio.h $(BUILD)/zcp $(MAN_PAGES)

# Doxygen's HTML of the header in $(BUILD)/docs/html. Fails on any Doxygen
# warning (Doxyfile) and when a function of the header is missing from its output.
docs:
	@rm -rf $(BUILD)/docs && mkdir -p $(BUILD)/docs
	ZCIO_VERSION=$(VERSION) doxygen Doxyfile || { cat $(BUILD)/docs/warnings.log; exit 1; }
	@python3 tools/check_docs.py include/zcio.h $(BUILD)/docs
	@echo "PASS: make docs: every function of include/zcio.h documented, no Doxygen warning ($(BUILD)/docs/html/index.html)"

# What `cargo publish` would upload: complete metadata, the licence and changelog
# files, a changelog section for this version, and a package that builds with no
# warning.
package-test:
	@tools/check_package.sh $(VERSION)

# The Python package (python/, built by maturin through pip): a fresh virtualenv
# in $(PY_VENV) with `pip install .` as a user would run it, `pip wheel .` too (the
# tests look into its wheel), pytest, tqdm (for the progress-bar example) and mypy
# (to check the type hints) from PyPI; then pytest on that install.
PYTHON ?= python3
PY_VENV := $(BUILD)/pyvenv
PY_WHEELS := $(BUILD)/wheels
PIP := $(PY_VENV)/bin/pip --disable-pip-version-check -q

python-venv:
	rm -rf $(PY_VENV) $(PY_WHEELS)
	$(PYTHON) -m venv $(PY_VENV)
	$(PIP) install .
	$(PIP) wheel --no-deps -w $(PY_WHEELS) .
	$(PIP) install pytest tqdm mypy

# From python/tests, so that no source tree of the package is on sys.path. The
# scratch trees go once the tests pass (kept for a look when they fail): their
# symlink loops would make cargo package warn.
python-test: python-venv
	@mkdir -p $(BUILD)/tmp
	cd python/tests && ZCIO_WHEELS=$(abspath $(PY_WHEELS)) $(abspath $(PY_VENV))/bin/python -m pytest \
		-q -p no:cacheprovider --basetemp=$(abspath $(BUILD)/tmp/pytest) $(PYTEST_ARGS)
	@rm -rf $(BUILD)/tmp/pytest

demo: lib $(BUILD)/demo $(BUILD)/zcp
	@mkdir -p $(BUILD)/tmp
	$(BUILD)/demo $(abspath $(BUILD)/zcp) $(abspath $(BUILD)/tmp)

# make bench: zcio's copies against cp, dd, a read/write loop, the article's loop and
# std::fs::copy, with the disk's limit from fio; prints a markdown report (also kept in
# $(BUILD)/bench-report.md); then trees (bench/trees.py), then the Python package
# against shutil (bench-python). Release builds only; never part of `make test`.
# BENCH_DIR must be on the disk to measure (not tmpfs); BENCH_SIZE takes K/M/G suffixes.
BENCH_DIR ?= $(BUILD)/bench
BENCH_SIZE ?= 2G
BENCH_RUNS ?= 3
BENCH_CFLAGS := -std=c11 $(CWARN) -O2
BENCH_BINS := $(BUILD)/rwloop $(BUILD)/article $(BUILD)/netbench $(BUILD)/treefloor
# Which trees bench/trees.py copies: a (50,000 files in 1,000 directories), b (20,000
# in one), c (/usr/include and the cargo registry).
BENCH_TREES ?= abc
# The large file of the MPI section's second tree (the first is trees.py's a).
BENCH_MPI_BIG ?= 2G

$(BUILD)/treefloor: bench/treefloor.c
	@mkdir -p $(BUILD)
	$(CC) $(BENCH_CFLAGS) -pthread -o $@ $<

$(BUILD)/rwloop: bench/rwloop.c
	@mkdir -p $(BUILD)
	$(CC) $(BENCH_CFLAGS) -o $@ $<

$(BUILD)/article: bench/article.c c-tests/ref_directio.c c-tests/ref_directio.h
	@mkdir -p $(BUILD)
	$(CC) $(BENCH_CFLAGS) -Ic-tests -o $@ $< c-tests/ref_directio.c

$(BUILD)/netbench: bench/netbench.c include/zcio.h lib
	$(CC) $(BENCH_CFLAGS) -Iinclude -o $@ $< $(SHARED_LINK)

bench: lib $(BUILD)/zcp $(BENCH_BINS) $(ZCP_MPI)
	$(CARGO) build --release -p zcio-stdcopy
	python3 bench/bench.py --dir $(BENCH_DIR) --size $(BENCH_SIZE) --runs $(BENCH_RUNS) \
		--zcp $(BUILD)/zcp --lib $(STAGE)/$(SONAME) --rwloop $(BUILD)/rwloop --article $(BUILD)/article \
		--netbench $(BUILD)/netbench --stdcopy target/release/stdcopy --report $(BUILD)/bench-report.md \
		--command "make bench BENCH_DIR=$(BENCH_DIR) BENCH_SIZE=$(BENCH_SIZE) BENCH_RUNS=$(BENCH_RUNS)"
	python3 bench/trees.py --dir $(BENCH_DIR) --runs $(BENCH_RUNS) --shapes $(BENCH_TREES) \
		--zcp $(BUILD)/zcp --lib $(STAGE)/$(SONAME) --floor $(BUILD)/treefloor \
		--report $(BUILD)/bench-trees.md
	$(MAKE) bench-python
	$(if $(HAVE_MPI),$(MAKE) bench-mpi,@echo "note: no $(MPICC): no MPI section")

# The Python rows alone: zcio.copyfile and zcio.copytree against shutil's, in a fresh
# virtualenv with the package pip installed (bench/python.py).
bench-python: python-venv
	python3 bench/python.py --python $(PY_VENV)/bin/python --dir $(BENCH_DIR) --size $(BENCH_SIZE) \
		--runs $(BENCH_RUNS) --report $(BUILD)/bench-python.md \
		--command "make bench-python BENCH_DIR=$(BENCH_DIR) BENCH_SIZE=$(BENCH_SIZE) BENCH_RUNS=$(BENCH_RUNS)"

# The MPI section of make bench alone.
bench-mpi: lib $(BUILD)/zcp $(BUILD)/treefloor $(ZCP_MPI)
	python3 bench/mpi.py --dir $(BENCH_DIR) --runs $(BENCH_RUNS) --big $(BENCH_MPI_BIG) \
		--zcp $(BUILD)/zcp --zcp-mpi $(BUILD)/zcp-mpi --mpirun $(MPIRUN) --lib $(STAGE)/$(SONAME) \
		--floor $(BUILD)/treefloor --report $(BUILD)/bench-mpi.md

# Rows the tests record for RELIABILITY.md (c-tests/reliability.py).
REPORT := $(abspath $(BUILD))/reliability.tsv

# The committed header is checked first, before anything could regenerate it.
# Every test records what it tried in $(REPORT); the summary of it is
# $(BUILD)/RELIABILITY.md (`make reliability` copies it to the top level).
test:
	$(MAKE) check-header
	$(MAKE) lint
	$(MAKE) docs
	$(MAKE) man-test
	$(MAKE) package-test
	@mkdir -p $(BUILD) && rm -f $(REPORT)
	ZCIO_REPORT=$(REPORT) $(MAKE) rust-test
	$(MAKE) abi
	ZCIO_REPORT=$(REPORT) $(MAKE) c-test
	ZCIO_REPORT=$(REPORT) $(MAKE) valgrind-test
	$(MAKE) example-test
	$(MAKE) zcp-test
	ZCIO_REPORT=$(REPORT) $(MAKE) mpi-test
	ZCIO_REPORT=$(REPORT) $(MAKE) fault-test
	ZCIO_REPORT=$(REPORT) $(MAKE) fiu-test
	ZCIO_REPORT=$(REPORT) $(MAKE) tsan-test
	$(MAKE) fuzz-smoke
	$(MAKE) install-test
	$(MAKE) python-test
	python3 c-tests/reliability.py $(REPORT) $(BUILD)/fuzz-summary.txt > $(BUILD)/RELIABILITY.md
	@echo "make test: all passed; what was tried: $(BUILD)/RELIABILITY.md"

# RELIABILITY.md from a full run of the suite on this machine.
reliability: test
	cp $(BUILD)/RELIABILITY.md RELIABILITY.md

clean:
	$(CARGO) clean
	rm -rf $(BUILD)
