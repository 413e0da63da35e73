#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 30), from fresh seeds
# plus the committed regression inputs in tests/fuzz/regress/TARGET/.
# A crash leaves its input in build-fuzz/crashes/ and fails the run.
#   tests/fuzz/run.sh [SECONDS] [TARGET ...]
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_EACH="${1:-30}"
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(packets pcapfile dcerpc smb smb3 stubs taskxml ntlmssp kerberos rules report)

CC=clang cmake -S . -B build-fuzz -DRPCSENTRY_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j"$(nproc)" >/dev/null
rm -rf build-fuzz/seeds && /usr/bin/python3 tests/fuzz/make_seeds.py build-fuzz/seeds
mkdir -p build-fuzz/crashes build-fuzz/corpus

# undefined behaviour stops the run, as in the sanitizer build, and the fuzzer keeps the input
# (set at run time: -fno-sanitize-recover would also drop UBSan's checks from coverage)
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

status=0
for t in "${TARGETS[@]}"; do
  corpus="build-fuzz/corpus/$t"
  mkdir -p "$corpus" "tests/fuzz/regress/$t"
  # the regression inputs first, on their own: each must run clean
  if ls "tests/fuzz/regress/$t"/* >/dev/null 2>&1; then
    "build-fuzz/tests/fuzz/fuzz_$t" -runs=0 "tests/fuzz/regress/$t" >/dev/null 2>&1 || {
      echo "fuzz: $t: a regression input fails" >&2; status=1; }
  fi
  log="build-fuzz/fuzz_$t.log"
  if "build-fuzz/tests/fuzz/fuzz_$t" -max_total_time="$SECONDS_EACH" -timeout=10 \
      -rss_limit_mb=2048 -artifact_prefix="build-fuzz/crashes/$t-" -print_final_stats=1 \
      "$corpus" "build-fuzz/seeds/$t" "tests/fuzz/regress/$t" >"$log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
    echo "fuzz: $t: ${SECONDS_EACH}s, $runs runs, $cov, no crash"
  else
    echo "fuzz: $t: CRASH (see $log and build-fuzz/crashes/)" >&2
    tail -40 "$log" >&2
    status=1
  fi
done
exit $status
