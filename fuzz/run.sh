#!/usr/bin/env bash
# Fuzzes the C API for SECONDS seconds (default 60) with cargo-fuzz, starting from
# the committed corpus fuzz/corpus/capi. Works on a stable toolchain.
#
#   fuzz/run.sh 600    # make fuzz
#   fuzz/run.sh 45     # the smoke run of make test
#
# The corpus is copied to build/fuzz/corpus, so new inputs and any crash
# (build/fuzz/artifacts) stay out of the repository; `cargo fuzz cmin capi DIR` can
# shrink that directory before it is copied back. Exits non-zero on a crash,
# timeout or out-of-memory. The last line, also in build/fuzz-summary.txt, reads
#   fuzz: capi SECONDS s, N runs, C crashes, corpus K inputs
#
# Environment: CARGO_FUZZ_VERSION (cargo-fuzz to install when missing),
# ZCIO_FUZZ_ARGS (more libFuzzer flags, e.g. "-fork=2" or "-detect_leaks=0").
set -euo pipefail

# All in a function, so that bash has read the whole script before it runs: a
# checkout during a long run cannot change what runs.
main() {
	local secs=${1:-60}
	case $secs in
	'' | *[!0-9]*)
		echo "usage: $0 SECONDS" >&2
		exit 2
		;;
	esac

	local root work summary target=capi
	root=$(cd "$(dirname "$0")/.." && pwd)
	cd "$root"
	work=$root/build/fuzz
	summary=$root/build/fuzz-summary.txt
	mkdir -p "$root/build"

	export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
	# cargo-fuzz passes nightly-only flags (-Zsanitizer=address and friends); this
	# lets a stable rustc take them. The AddressSanitizer runtime ships with stable
	# rustc, and nothing here needs -Zbuild-std (rust-src).
	export RUSTC_BOOTSTRAP=1
	# Stay on stable even where rustup's default is a nightly.
	if command -v rustup >/dev/null 2>&1 && rustup run stable rustc -V >/dev/null 2>&1; then
		export RUSTUP_TOOLCHAIN=stable
	fi

	if ! cargo fuzz --version >/dev/null 2>&1; then
		echo "fuzz: installing cargo-fuzz"
		cargo install cargo-fuzz --locked --version "${CARGO_FUZZ_VERSION:-0.13.2}" || {
			echo "fuzz: $target $secs s, 0 runs, cargo-fuzz install failed" | tee "$summary"
			exit 1
		}
	fi

	echo "fuzz: $(rustc -V), $(cargo fuzz --version)"
	cargo fuzz build "$target" || {
		echo "fuzz: $target $secs s, 0 runs, build failed" | tee "$summary"
		exit 1
	}

	# One run at a time: a second one would delete this one's corpus under it.
	if command -v flock >/dev/null 2>&1; then
		exec 9>"$root/build/fuzz.lock"
		flock -n 9 || {
			echo "fuzz: waiting for another fuzz/run.sh to finish"
			flock 9
		}
	fi

	rm -rf "$work"
	mkdir -p "$work/corpus" "$work/artifacts"
	cp fuzz/corpus/$target/* "$work/corpus/" 2>/dev/null || true
	local log=$work/fuzz.log

	# -timeout: an input that takes 30 s is a hang (inputs take milliseconds, but a
	# Direct I/O write can wait seconds on a busy disk). The output goes to a log:
	# libFuzzer prints a line per new input.
	local status=0
	# shellcheck disable=SC2086 # ZCIO_FUZZ_ARGS is a list of flags
	cargo fuzz run "$target" "$work/corpus" -- \
		-max_total_time="$secs" -timeout=30 -print_final_stats=1 \
		-artifact_prefix="$work/artifacts/" ${ZCIO_FUZZ_ARGS:-} >"$log" 2>&1 || status=$?

	local runs crashes corpus line
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	crashes=$(find "$work/artifacts" -type f | wc -l)
	corpus=$(find "$work/corpus" -type f | wc -l)
	if [ "$status" -ne 0 ]; then
		tail -n 80 "$log"
		echo "fuzz: FAILED (exit $status); full log $log; inputs in $work/artifacts/" \
			"(replay: RUSTC_BOOTSTRAP=1 cargo fuzz run $target FILE)"
		[ "$crashes" -gt 0 ] || crashes=1
	fi
	line="fuzz: $target $secs s, ${runs:-0} runs, $crashes crashes, corpus $corpus inputs"
	echo "$line" | tee "$summary"
	[ "$status" -eq 0 ] && [ "$crashes" -eq 0 ]
}

main "$@"
exit
