#!/usr/bin/env bash
# Sets up rpcsentry and runs every test: unit and end-to-end tests on the
# normal build, then again on a build with AddressSanitizer and
# UndefinedBehaviorSanitizer, then every fuzz target for FUZZ_SECONDS (30)
# each. Tests that need the real captures in ../shared skip without them,
# unless RPCSENTRY_REQUIRE_SHARED=1 (CI).
#   ./test.sh            all of it
#   ./test.sh quick      the normal build only
set -euo pipefail
cd "$(dirname "$0")"

scripts/setup.sh build -DRPCSENTRY_WERROR=ON
(cd build && ctest --output-on-failure -j2)

if [ "${1:-}" != quick ]; then
  echo "== again under AddressSanitizer + UndefinedBehaviorSanitizer" >&2
  RPCSENTRY_SKIP_APT=1 scripts/setup.sh build-asan -DRPCSENTRY_WERROR=ON \
    -DRPCSENTRY_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j2)
  echo "== fuzzing, ${FUZZ_SECONDS:-30}s per target" >&2
  tests/fuzz/run.sh "${FUZZ_SECONDS:-30}"
fi
echo "test.sh: all tests passed" >&2
