#!/usr/bin/env bash
# Runs each fuzz target (fuzz/fuzz_targets/) for a set time and prints, per
# target, the inputs run, the coverage reached and the corpus size; exits 1
# if any target crashed (its input is then in fuzz/artifacts/<target>/).
# Called by `make fuzz` and `make fuzz-ci`, which say how to use it.
#
#   scripts/fuzz.sh SECONDS SANITIZER TARGET...
#
# TOOLCHAIN (e.g. +nightly) and FUZZ_FLAGS (extra cargo-fuzz build flags)
# come from the environment. Each target starts from its seeds in
# fuzz/corpus/<target>/ and adds what it finds to fuzz/target/corpus/<target>/,
# which is not committed; the seeds are never written to.
set -euo pipefail

seconds=$1
sanitizer=$2
shift 2
cd "$(dirname "$0")/../fuzz"

toolchain=${TOOLCHAIN:-}
# FUZZ_FLAGS is a list of words on purpose.
# shellcheck disable=SC2206
flags=(-s "$sanitizer" ${FUZZ_FLAGS:-})
# Every target at once: one cargo run builds them in parallel.
cargo ${toolchain:+"$toolchain"} fuzz build "${flags[@]}"

logs=target/fuzz-logs
mkdir -p "$logs"
failed=()
printf '%-16s %10s %8s %9s %8s %7s\n' target runs exec/s coverage features corpus
for target in "$@"; do
	mkdir -p "target/corpus/$target"
	log="$logs/$target.log"
	# -timeout: one input running 10 s is a hang, and fails the run too.
	if cargo ${toolchain:+"$toolchain"} fuzz run "${flags[@]}" "$target" \
		"target/corpus/$target" "corpus/$target" -- \
		-max_total_time="$seconds" -timeout=10 -print_final_stats=1 >"$log" 2>&1; then
		status=
	else
		status=CRASHED
		failed+=("$target")
	fi
	# The last status line: "#N DONE cov: C ft: F corp: K/Sb ..." (or the
	# last one before a crash).
	line=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$line")
	ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$line")
	corp=$(sed -nE 's/.* corp: ([0-9]+)\/.*/\1/p' <<<"$line")
	printf '%-16s %10s %8s %9s %8s %7s %s\n' "$target" "${runs:-?}" "${speed:-?}" \
		"${cov:-?}" "${ft:-?}" "${corp:-?}" "$status"
done

if [ ${#failed[@]} -gt 0 ]; then
	for target in "${failed[@]}"; do
		echo
		echo "== $target crashed; the end of fuzz/$logs/$target.log:"
		grep -v -E '^#[0-9]+' "$logs/$target.log" | tail -n 30
	done
	exit 1
fi
