#!/usr/bin/env bash
# Instruction counts per parse + typed access of the benchmark INVITE, for tollswitch and the two
# reference parsers, under callgrind: repeatable on a shared machine, unlike wall time.
# Run from the repository root: bash crates/sip-msg/benches/instructions.sh
set -euo pipefail
n=20000
cargo build --release -q -p tollswitch-sip-msg --example parse_loop
bin="${CARGO_TARGET_DIR:-target}/release/examples/parse_loop"
declare -A per
for p in tollswitch rsipstack rsip; do
  out=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$p" "$n" 2>&1 | grep 'refs:' | tr -d ',' | awk '{print $NF}')
  per[$p]=$(( out / n ))
  printf '%-11s %8d instructions per parse\n' "$p" "${per[$p]}"
done
best=$(( per[rsipstack] < per[rsip] ? per[rsipstack] : per[rsip] ))
awk -v b="$best" -v o="${per[tollswitch]}" 'BEGIN { printf "ratio: the faster reference needs %.2fx the instructions of tollswitch (target >= 3x)\n", b / o }'
