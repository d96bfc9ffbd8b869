#!/usr/bin/env bash
# Rate-import benchmark: generates a deterministic A–Z rate deck (default 1,000,000 rows, in
# shuffled destination order, all eight columns) in a temporary directory, creates a fresh
# SQLite data directory holding one empty rate table, and times
# `tollswitch rates import` with the release binary. Prints elapsed seconds and rows/s.
#
#   scripts/bench-rates-import.sh            # 1,000,000 rows
#   ROWS=200000 scripts/bench-rates-import.sh
#   TOLLSWITCH_BIN=/path/to/tollswitch scripts/bench-rates-import.sh   # skip the build
#
# Bounded: at most 5,000,000 rows, the import is killed after LIMIT_SECS (default 300), and the
# temporary directory is removed on exit.
set -euo pipefail

ROWS=${ROWS:-1000000}
LIMIT_SECS=${LIMIT_SECS:-300}
if ! [[ "$ROWS" =~ ^[0-9]+$ ]] || (( ROWS < 1 || ROWS > 5000000 )); then
    echo "ROWS must be 1..5000000" >&2
    exit 2
fi

root=$(cd "$(dirname "$0")/.." && pwd)
if [[ -n "${TOLLSWITCH_BIN:-}" ]]; then
    bin=$TOLLSWITCH_BIN
else
    (cd "$root" && cargo build --release --quiet -p tollswitch)
    bin=${CARGO_TARGET_DIR:-$root/target}/release/tollswitch
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tollswitch-bench-rates.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# Country codes and names (A–Z); each gets ROWS/len sub-prefixes of six digits, so every prefix
# is unique (codes of one length differ, and codes of different lengths give different lengths).
awk -v rows="$ROWS" 'BEGIN {
    n = split("93:Afghanistan 355:Albania 213:Algeria 54:Argentina 61:Australia 43:Austria " \
              "32:Belgium 55:Brazil 359:Bulgaria 1:Canada-USA 56:Chile 86:China 57:Colombia " \
              "385:Croatia 420:Czechia 45:Denmark 20:Egypt 372:Estonia 358:Finland 33:France " \
              "49:Germany 30:Greece 852:Hong-Kong 36:Hungary 91:India 62:Indonesia 353:Ireland " \
              "972:Israel 39:Italy 81:Japan 254:Kenya 82:Korea 371:Latvia 370:Lithuania " \
              "60:Malaysia 52:Mexico 212:Morocco 31:Netherlands 64:New-Zealand 234:Nigeria " \
              "47:Norway 92:Pakistan 51:Peru 63:Philippines 48:Poland 351:Portugal 40:Romania " \
              "7:Russia 966:Saudi-Arabia 65:Singapore 27:South-Africa 34:Spain 46:Sweden " \
              "41:Switzerland 66:Thailand 90:Turkey 380:Ukraine 971:UAE 44:United-Kingdom " \
              "84:Vietnam 260:Zambia 263:Zimbabwe", cc, " ")
    print "prefix,area,price,first_increment,next_increment,connect_fee,effective_from,effective_until"
    split("60/60 30/6 1/1 6/6", inc, " ")
    for (i = 0; i < rows; i++) {
        # A fixed permutation of 0..rows-1 when rows is not a multiple of 7919 (prime).
        j = (i * 7919) % rows
        split(cc[j % n + 1], c, ":")
        k = int(j / n)
        split(inc[j % 4 + 1], in2, "/")
        from = ""
        if (j % 10 == 0) from = "2026-01-01T00:00:00Z"
        else if (j % 10 == 1) from = "1767225600"
        printf "%s%06d,%s %d,0.%06d,%s,%s,%s,%s,\n", c[1], k, c[2], k % 1000, \
            (j * 104729) % 200000, in2[1], in2[2], (j % 5 == 0 ? "0.01" : ""), from
    }
}' > "$tmp/deck.csv"

cat > "$tmp/bench.toml" <<'TOML'
[[rate_table]]
name = "az-deck"
currency = "USD"
TOML

"$bin" provision apply "$tmp/bench.toml" --data "$tmp/data" > /dev/null
size=$(du -h "$tmp/deck.csv" | cut -f1)
echo "deck: $ROWS rows ($size), binary: $bin"

start=$(date +%s.%N)
timeout "$LIMIT_SECS" "$bin" rates import az-deck "$tmp/deck.csv" --data "$tmp/data"
end=$(date +%s.%N)

awk -v s="$start" -v e="$end" -v r="$ROWS" 'BEGIN {
    t = e - s
    printf "elapsed %.2f s for %d rows: %.0f rows/s (whole command: connect, parse, insert, commit)\n", t, r, r / t
}'
