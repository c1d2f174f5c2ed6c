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
shopt -s inherit_errexit
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

# seconds OUT CMD...: wall-clock seconds of one run of CMD reading the input, stdout to OUT.
seconds() {
    local out=$1 start end
    shift
    start=$(date +%s.%N)
    "$@" <"$input" >"$out"
    end=$(date +%s.%N)
    awk -v s="$start" -v e="$end" 'BEGIN { printf "%.4f\n", e - s }'
}

# median_of CMD...: the median wall time of $repeats runs.
median_of() {
    local times=() t
    for _ in $(seq "$repeats"); do
        t=$("$@")
        times+=("$t")
    done
    printf '%s\n' "${times[@]}" | sort -n | awk '{ t[NR] = $1 } END { print t[int((NR + 1) / 2)] }'
}

run_cat() { seconds /dev/null cat; }
run_null() {
    seconds /dev/null "$sluice" run --log.level error -w "$1" \
        -e 'input { stdin {} } output { null {} }'
}
run_json() {
    seconds /dev/null "$sluice" run --log.level error -w "$1" \
        -e 'input { stdin {} } output { stdout { codec => json_lines } }'
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
t=$(median_of run_cat)
report cat - "$t"
for w in $workers; do
    t=$(median_of run_null "$w")
    report null "$w" "$t"
    t=$(median_of run_json "$w")
    report json_lines "$w" "$t"
done
