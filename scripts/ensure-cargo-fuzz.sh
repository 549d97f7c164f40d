#!/usr/bin/env bash
# Makes sure `cargo fuzz` is on this machine for `make fuzz` and
# `make fuzz-ci`: installs the pinned cargo-fuzz from crates.io when the
# command is missing, and Debian's g++ when there is no C++ compiler
# (libfuzzer-sys builds libFuzzer from its C++ sources); does nothing
# otherwise. Quiet on success.
#
# Pinned, and --locked to its own Cargo.lock, so a CI run builds the same
# tool every time. On stable Rust it runs with `-s none` (no sanitizer);
# `cargo +nightly fuzz` adds AddressSanitizer where nightly is installed.
set -euo pipefail

CARGO_FUZZ_VERSION=0.13.2

if ! command -v c++ >/dev/null; then
	sudo=()
	[ "$(id -u)" -eq 0 ] || sudo=(sudo)
	log=$(mktemp)
	if ! { "${sudo[@]}" apt-get update && "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y --no-install-recommends g++; } >"$log" 2>&1; then
		cat "$log" >&2
		rm -f "$log"
		echo "ensure-cargo-fuzz: installing g++ failed" >&2
		exit 1
	fi
	rm -f "$log"
fi

cargo fuzz --version >/dev/null 2>&1 && exit 0

log=$(mktemp)
if ! cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked >"$log" 2>&1; then
	cat "$log" >&2
	rm -f "$log"
	echo "ensure-cargo-fuzz: installing cargo-fuzz $CARGO_FUZZ_VERSION failed" >&2
	exit 1
fi
rm -f "$log"

cargo fuzz --version >/dev/null 2>&1 || {
	echo "ensure-cargo-fuzz: cargo fuzz still missing after the install" >&2
	exit 1
}
