#!/usr/bin/env bash
# Makes sure `redis-server` is on this machine for `make cluster-test`:
# installs Debian's package when it is missing, and does nothing otherwise.
# Quiet on success.
#
# The tests start their own redis-server on free ports; a system one on
# 6379 is of no use to them, so the package is kept from starting its
# service (a policy-rc.d that says "no", as in Debian's container images),
# and one that started all the same is shut down.
set -euo pipefail

command -v redis-server >/dev/null && exit 0

sudo=()
if [ "$(id -u)" -ne 0 ]; then
	sudo=(sudo)
fi

policy=/usr/sbin/policy-rc.d
added_policy=
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\n# added by scripts/ensure-redis.sh during its install\nexit 101\n' |
		"${sudo[@]}" tee "$policy" >/dev/null
	"${sudo[@]}" chmod 755 "$policy"
	added_policy=1
fi
remove_policy() {
	if [ -n "$added_policy" ]; then
		"${sudo[@]}" rm -f "$policy"
	fi
}
trap remove_policy EXIT

log=$(mktemp)
if ! { "${sudo[@]}" apt-get update && "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
	apt-get install -y --no-install-recommends redis-server; } >"$log" 2>&1; then
	cat "$log" >&2
	rm -f "$log"
	echo "ensure-redis: installing redis-server failed" >&2
	exit 1
fi
rm -f "$log"

# Should the service have started anyway (no policy honoured), stop it.
if command -v redis-cli >/dev/null && redis-cli -p 6379 ping >/dev/null 2>&1; then
	"${sudo[@]}" service redis-server stop >/dev/null 2>&1 ||
		redis-cli -p 6379 shutdown nosave >/dev/null 2>&1 || true
fi

command -v redis-server >/dev/null || {
	echo "ensure-redis: redis-server still missing after the install" >&2
	exit 1
}
