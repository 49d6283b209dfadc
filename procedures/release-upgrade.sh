#!/usr/bin/env bash
# The whole release upgrade in the order the Triton operator guide recommends:
#
#    1. sdcadm itself                       sdcadm self-update --latest
#       (the steps below run the build it installs: <selfUpdate.prefix>/current/bin
#       goes first on PATH)
#    2. preload every image                 sdcadm update -f just-images.yaml
#    3. maintenance mode on                 sdcadm dc-maint start
#    4. the agents                          sdcadm update -f agents.yaml
#    5. everything but the data path        sdcadm update -f all-but-data-path.yaml
#    6. sapi, moray, binder, manatee,       sdcadm update SVC; sdcadm check-health
#       one at a time, health in between
#    7. maintenance mode off                sdcadm dc-maint stop
#
# Platforms are a separate leg (platform-rollout.yaml, then the headnode with
# `sdcadm reboot-plan`). The guide's update-other and update-gz-tools steps have no
# counterpart here yet: run them from the original tooling between steps 4 and 5.
#
#   procedures/release-upgrade.sh -n   # every step as a dry run: nothing is changed
#   procedures/release-upgrade.sh      # asks before each update; -y answers yes to all
#
# A dry run shows each step from today's datacenter, so a later step also lists what an
# earlier one would have done. Stops at the first failure; every step is in `sdcadm history`,
# and running the script again continues (finished steps find nothing to do).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
mode=()
case "${1:-}" in
    -n|--dry-run) mode=(-n) ;;
    -y|--yes) mode=(-y) ;;
    "") ;;
    *) echo "usage: $0 [-n|-y]" >&2; exit 2 ;;
esac
dry() { [ "${mode[*]:-}" = "-n" ]; }
step() { printf '\n== %s\n' "$*" >&2; "$@"; }

# Where self-update installs builds: `selfUpdate.prefix` of the configuration sdcadm loads
# (`sdcadm info -j`, one JSON object), else the default.
self_update_prefix() {
    local prefix
    prefix="$(sdcadm info -j | tr -d '\n' |
        sed -n 's/.*"selfUpdate": *{[^}]*"prefix": *"\([^"]*\)".*/\1/p')"
    printf '%s\n' "${prefix:-/opt/smartdc/sdcadm}"
}

step sdcadm self-update --latest "${mode[@]}"
# The old sdcadm may still come first on PATH: every later step runs the build self-update
# made current (none before the first self-update: the sdcadm on PATH then stays).
current="$(self_update_prefix)/current/bin"
if [ -x "$current/sdcadm" ]; then
    export PATH="$current:$PATH"
    echo "The steps below run $current/sdcadm" >&2
fi
step sdcadm update -f "$here/just-images.yaml" "${mode[@]}"
if dry; then
    printf '\n== sdcadm dc-maint start (skipped in a dry run)\n' >&2
else
    step sdcadm dc-maint start
fi
step sdcadm update -f "$here/agents.yaml" "${mode[@]}"
step sdcadm update -f "$here/all-but-data-path.yaml" "${mode[@]}"
for svc in sapi moray binder manatee; do
    step sdcadm update "$svc" "${mode[@]}"
    # Unhealthy stops the script (exit 1): look before going on to the next service.
    step sdcadm check-health -q
done
if dry; then
    printf '\n== sdcadm dc-maint stop (skipped in a dry run)\n' >&2
else
    step sdcadm dc-maint stop
fi
