#!/usr/bin/env bash
# The README's test command (`npm test`; arguments go to vitest, e.g. `npm test -- test/unit`).
#
# On Debian or Ubuntu as root it brings what the tests need, as CI does: redis-server, prometheus (promtool),
# prometheus-alertmanager (alertmanager, amtool), chromium once the browser tests are installed
# (playwright-core); and it starts a redis-server on 127.0.0.1:6379 when nothing answers there.
# Elsewhere (not root, no apt-get) it says exactly what is missing, runs every suite that does not need it,
# and ends with one line naming the skipped suites and why.
# TEST_REQUIRE_ALL=1 (set by .ci/run) turns anything missing into a failure instead of a skip.
#
# Developers can still run vitest directly: `npx vitest run test/unit/config.test.ts`.
set -uo pipefail
cd "$(dirname "$0")/.."

say() { printf '== %s\n' "$*" >&2; }

redis_answers() {
  # Plain bash, so the check works before redis-tools is installed.
  (exec 3<>/dev/tcp/127.0.0.1/6379 && printf 'PING\r\n' >&3 && timeout 2 head -c 5 <&3 | grep -q PONG) 2>/dev/null
}

# tool|Debian package|what needs it
requirements=(
  'redis-server|redis-server|Redis on 127.0.0.1:6379 and the replication tests (test/integration, test/context, test/ha, test/e2e)'
  'promtool|prometheus|the monitoring checks (test/deploy)'
  'amtool|prometheus-alertmanager|the monitoring checks (test/deploy)'
  'prometheus-alertmanager alertmanager|prometheus-alertmanager|the end-to-end tests with real Alertmanager (test/e2e)'
)
# The browser tests of the operator console drive Debian's chromium through playwright-core.
if [ -d node_modules/playwright-core ]; then
  requirements+=('chromium chromium-browser|chromium|the browser tests of the console')
fi

have() {
  local name
  for name in $1; do command -v "$name" >/dev/null 2>&1 && return 0; done
  return 1
}

missing_packages() {
  local entry tool package
  for entry in "${requirements[@]}"; do
    IFS='|' read -r tool package _ <<<"$entry"
    have "$tool" || printf '%s\n' "$package"
  done | sort -u
}

mapfile -t packages < <(missing_packages)
if [ ${#packages[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing ${packages[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # Packaged daemons must not start on install: the tests start their own Redis and Alertmanager processes.
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
    rm -f /usr/sbin/policy-rc.d
  elif [ "$(id -u)" != 0 ]; then
    say "not root: cannot install ${packages[*]} (as root on Debian/Ubuntu: apt-get install ${packages[*]})"
  else
    say "no apt-get: cannot install ${packages[*]}; install the equivalent packages of your system"
  fi
fi

if ! redis_answers && have redis-server; then
  say 'nothing answers on 127.0.0.1:6379: starting redis-server there (no persistence, noeviction)'
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no \
    --maxmemory-policy noeviction >/dev/null
  for _ in $(seq 1 50); do redis_answers && break; sleep 0.1; done
fi

# What is still missing decides what is skipped.
skipped=()
exclude=()
for entry in "${requirements[@]}"; do
  IFS='|' read -r tool package needed_by <<<"$entry"
  have "$tool" || skipped+=("$needed_by: ${tool%% *} is missing (apt-get install $package)")
done
if ! have redis-server; then
  # Tests that start redis-server processes of their own (restarts, replicas, Sentinel).
  while IFS= read -r file; do exclude+=(--exclude "$file"); done < <(
    grep -rlE "startOwnRedis|redis-topology" test --include='*.test.ts' | sort
  )
fi
if ! redis_answers; then
  skipped+=('every test that needs Redis: nothing answers on 127.0.0.1:6379 (apt-get install redis-server, or start one)')
  # Test files that reach Redis: through the support helpers, a relay, or ioredis directly.
  while IFS= read -r file; do exclude+=(--exclude "$file"); done < <(
    grep -rlE "support/(redis|delivery|config|redis-server|redis-topology)|src/app/relay|from 'ioredis'" test \
      --include='*.test.ts' | sort
  )
fi
if [ ${#skipped[@]} -gt 0 ]; then
  if [ "${TEST_REQUIRE_ALL:-}" = 1 ]; then
    printf 'missing: %s\n' "${skipped[@]}" >&2
    say 'TEST_REQUIRE_ALL=1: refusing to skip suites'
    exit 1
  fi
  # The deploy and end-to-end checks skip themselves when their binary is missing and SKIP_E2E=1.
  export SKIP_E2E=1
fi

npx vitest run "${exclude[@]}" "$@"
status=$?

if [ ${#skipped[@]} -gt 0 ]; then
  printf '\n' >&2
  for line in "${skipped[@]}"; do say "SKIPPED $line"; done
  say "tests finished with exit code $status; ${#skipped[@]} group(s) of suites were SKIPPED (above), run as root on Debian/Ubuntu to run everything"
else
  say "tests finished with exit code $status; no suite was skipped"
fi
exit $status
