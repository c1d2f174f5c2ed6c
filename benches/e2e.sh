#!/usr/bin/env bash
# End-to-end throughput: real Apache lines piped through the release `sluice` binary.
#
# Builds the release binary, makes an input file of LINES lines by repeating
# ../shared/corpus/access/apache/apache_logs (cached under target/e2e/), then times, for each
# worker count:
#   null        sluice run -w W -e 'input { stdin {} } output { null {} }' < FILE
#   json_lines  sluice run -w W -e 'input { stdin {} } output { stdout { codec => json_lines } }'
#               < FILE > /dev/null
# and `cat FILE > /dev/null` as the ceiling. Each figure is the median of REPEATS runs.
#
# Usage: benches/e2e.sh [-n LINES] [-w "1 2 ..."] [-r REPEATS]
#   defaults: -n 2000000 -w "1 2" -r 3
set -euo pipefail
cd "$(dirname "$0")/.."

lines=2000000
workers="1 2"
repeats=3
while getopts "n:w:r:h" opt; do
    case "$opt" in
        n) lines=$OPTARG ;;
        w) workers=$OPTARG ;;
        r) repeats=$OPTARG ;;
        *) sed -n '2,15p' "$0"; exit 2 ;;
    esac
done

corpus=../shared/corpus/access/apache/apache_logs
[ -r "$corpus" ] || { echo "e2e: corpus not found at $corpus" >&2; exit 1; }

echo "== building release binary" >&2
cargo build --release --quiet --bin sluice
sluice=target/release/sluice

input=target/e2e/apache-$lines.log
if [ ! -f "$input" ] || [ "$(wc -l <"$input")" -ne "$lines" ]; then
    echo "== writing $input ($lines lines)" >&2
    mkdir -p target/e2e
    # `yes` repeats the corpus name forever; xargs cats it as often as head wants lines.
    yes "$corpus" | xargs cat 2>/dev/null | head -n "$lines" >"$input" || true
fi
bytes=$(wc -c <"$input")
mb=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1e6 }')
echo "input: $input, $lines lines, $mb MB" >&2

# seconds CMD...: wall-clock seconds of one run of CMD (stdin/stdout as redirected by caller).
seconds() {
    local start end
    start=$(date +%s.%N)
    "$@"
    end=$(date +%s.%N)
    awk -v s="$start" -v e="$end" 'BEGIN { printf "%.4f\n", e - s }'
}

# median_of CMD...: the median wall time of $repeats runs.
median_of() {
    local times=()
    for _ in $(seq "$repeats"); do
        times+=("$("$@")")
    done
    printf '%s\n' "${times[@]}" | sort -n | awk '{ t[NR] = $1 } END { print t[int((NR + 1) / 2)] }'
}

run_cat() { seconds cat "$input" >/dev/null; }
run_null() {
    seconds "$sluice" run --log.level error -w "$1" \
        -e 'input { stdin {} } output { null {} }' <"$input"
}
run_json() {
    seconds "$sluice" run --log.level error -w "$1" \
        -e 'input { stdin {} } output { stdout { codec => json_lines } }' <"$input" >/dev/null
}

# report NAME WORKERS SECONDS
report() {
    awk -v name="$1" -v w="$2" -v s="$3" -v n="$lines" -v b="$bytes" 'BEGIN {
        eps = n / s
        per = (w == "-") ? "-" : sprintf("%12.0f", eps / w)
        printf "%-12s %7s %9.3f %14.0f %10.1f %14s\n", name, w, s, eps, b / s / 1e6, per
    }'
}

printf "%-12s %7s %9s %14s %10s %14s\n" "case" "workers" "seconds" "events/s" "MB/s" "events/s/wkr"
report cat - "$(median_of run_cat)"
for w in $workers; do
    report null "$w" "$(median_of run_null "$w")"
    report json_lines "$w" "$(median_of run_json "$w")"
done
