#!/usr/bin/env bash
# One libFuzzer binary for a bounded time over its committed seeds (CTest label `libfuzzer`, in a
# Clang build directory: see tests/fuzz/README.md).
# Usage: run_libfuzzer.sh <binary> <seeds dir> <work dir> <seconds> <max_len> [dict]
#
# The seeds are only read: what the run finds goes to <work dir>/corpus, emptied at the start of
# each run. A crash, a failed oracle, a timeout or an out-of-memory fails the test, and libFuzzer
# writes the input to <work dir>/artifacts/ (crash-*, timeout-*, oom-*); this script names it.
set -uo pipefail
if [ $# -lt 5 ]; then
  echo "usage: $0 <binary> <seeds dir> <work dir> <seconds> <max_len> [dict]" >&2
  exit 2
fi
bin=$1 seeds=$2 work=$3 seconds=$4 max_len=$5 dict=${6:-}
name=$(basename "$bin")
corpus=$work/corpus
artifacts=$work/artifacts
log=$work/log
rm -rf "$corpus"
mkdir -p "$corpus" "$artifacts"
stamp=$work/.started
touch "$stamp"

args=(-max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048
      -print_final_stats=1 -artifact_prefix="$artifacts/")
[ -n "$dict" ] && args+=(-dict="$dict")
# Sanitizer reports with file:line (llvm-symbolizer comes with Debian's llvm package).
if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ] && command -v llvm-symbolizer >/dev/null 2>&1; then
  ASAN_SYMBOLIZER_PATH=$(command -v llvm-symbolizer)
  export ASAN_SYMBOLIZER_PATH
fi

echo "$name ${args[*]} $corpus $seeds"
"$bin" "${args[@]}" "$corpus" "$seeds" >"$log" 2>&1
rc=$?
if [ $rc -eq 0 ]; then
  # The last status line and the final stats: how far it got.
  grep -E '^(#[0-9]+[[:space:]]+DONE|Done [0-9]+ runs|stat::number_of_executed_units|stat::peak_rss_mb)' "$log"
  echo "$name: no failure in ${seconds} s; new inputs in $corpus ($(find "$corpus" -type f | wc -l) files), full log $log"
  exit 0
fi

# The report: from the first line of the failure to the end (the whole log is kept).
awk 'found || /ERROR: |fuzz oracle failed|deadly signal|ALARM: |out-of-memory|runtime error: /{found=1} found' "$log" | head -n 200
[ -s "$log" ] || echo "(no output)"
echo
echo "=== $name FAILED (exit $rc); full log: $log"
found=0
while IFS= read -r f; do
  found=1
  echo "=== the failing input is saved as $f ($(stat -c %s "$f") bytes)"
  echo "    reproduce: $bin $f"
  echo "    once the bug is fixed, add it to tests/fuzz/corpus/make_seeds.py"
done < <(find "$artifacts" -maxdepth 1 -type f -newer "$stamp" | sort)
[ $found -eq 1 ] || echo "=== no input was saved (see the log); artifacts go to $artifacts/"
exit $rc
