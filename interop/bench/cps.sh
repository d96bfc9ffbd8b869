#!/usr/bin/env bash
# Calls per second: SIPp UAC -> tollswitch -> SIPp UAS, against the same SIPp pair through
# Kamailio (transaction-stateful relay, kamailio.cfg) and SIPp UAC -> UAS directly (the ceiling).
# Loopback only; every step is bounded (SIPp -m and -timeout, a hard deadline in loadstep.py,
# timeout(1) around each sweep); every process is started and stopped by PID.
#
#   interop/bench/cps.sh                      # full run, about 12-15 minutes on 2 cores
#   RATES=250,500 HOLD_RATES=250 interop/bench/cps.sh  # quick check
#
# Two sweeps, targets interleaved at each rate, each target stops after its first failing step:
#   1. hold 0 s:   RATES            (calls are torn down at once: pure call setup rate)
#   2. hold 30 s:  HOLD_RATES       (SECS*rate calls up at the same time: concurrency, RSS per call)
# A step passes with 0 failed calls (UAC and UAS), all calls done, >= 95 % of the rate achieved,
# and retransmissions <= STORM_PCT % of the calls. See loadstep.py for what is measured.
#
# Environment (defaults in brackets):
#   RATES [250,500,1000,1500,2000,3000,4000,5000,6000,7000,8000,10000,12000]
#   HOLD_RATES [500,1000,2000]     HOLD_MS [30000]     SECS [10] seconds of call creation per step
#   TARGETS [sipp,kamailio,tollswitch]   STORM_PCT [1]   KEEP_GOING [0]
#     (tollswitch-nobill: the same binary with --no-billing, to measure what billing and CDRs cost)
#   UAC_PORT [5061] UAS_PORT [5080] KAM_PORT [5070] TS_PORT [5060]
#   TS_ARGS [] more arguments for `tollswitch serve` (e.g. "--shards 1")
#   KAM_WORKERS [2] KAM_SHM_MB [2048] KAM_ALLOC [tlsf] (Debian's default qm costs ~4x CPU)
#   TOLLSWITCH [build with cargo: target/release/tollswitch, or $CARGO_TARGET_DIR]
#   OUT [interop/bench/results/YYYYmmdd-HHMMSS]   SWEEP_TIMEOUT [1500] seconds per sweep
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
RATES=${RATES:-250,500,1000,1500,2000,3000,4000,5000,6000,7000,8000,10000,12000}
HOLD_RATES=${HOLD_RATES:-500,1000,2000}
HOLD_MS=${HOLD_MS:-30000}
SECS=${SECS:-10}
TARGETS=${TARGETS:-sipp,kamailio,tollswitch}
STORM_PCT=${STORM_PCT:-1}
UAC_PORT=${UAC_PORT:-5061}
UAS_PORT=${UAS_PORT:-5080}
KAM_PORT=${KAM_PORT:-5070}
TS_PORT=${TS_PORT:-5060}
KAM_WORKERS=${KAM_WORKERS:-2}
KAM_SHM_MB=${KAM_SHM_MB:-2048}
KAM_ALLOC=${KAM_ALLOC:-tlsf}
SWEEP_TIMEOUT=${SWEEP_TIMEOUT:-1500}
TS_ARGS=${TS_ARGS:-}
OUT=${OUT:-$HERE/results/$(date +%Y%m%d-%H%M%S)}

die() { echo "cps.sh: $*" >&2; exit 1; }
has() { [[ ",$TARGETS," == *",$1,"* ]]; }

command -v sipp >/dev/null || die "sipp not found (apt-get install sip-tester)"
command -v python3 >/dev/null || die "python3 not found"
if has kamailio; then
    command -v kamailio >/dev/null || die "kamailio not found (apt-get install kamailio)"
fi
mkdir -p "$OUT/run"
# SIPp warns when -l (all calls of a step may be up at once) exceeds the open-file limit
ulimit -n 65536 2>/dev/null || true

# the binary under test: a copy, so a rebuild during the run cannot change it
if has tollswitch || has tollswitch-nobill; then
    if [[ -z "${TOLLSWITCH:-}" ]]; then
        (cd "$ROOT" && nice -n 5 cargo build --release -q -p tollswitch) || die "cargo build failed"
        TOLLSWITCH=${CARGO_TARGET_DIR:-$ROOT/target}/release/tollswitch
    fi
    [[ -x "$TOLLSWITCH" ]] || die "no tollswitch binary at $TOLLSWITCH"
    cp "$TOLLSWITCH" "$OUT/run/tollswitch"
    sed "s/port = 5080/port = $UAS_PORT/" "$HERE/provisioning.toml" > "$OUT/run/provisioning.toml"
fi

targets=()
for t in ${TARGETS//,/ }; do
    case $t in
        sipp) targets+=(--target "sipp@$UAS_PORT") ;;
        kamailio) targets+=(--target "kamailio@$KAM_PORT=kamailio -f $HERE/kamailio.cfg -DD -E \
-m $KAM_SHM_MB -M 32 -n $KAM_WORKERS -x $KAM_ALLOC -X $KAM_ALLOC -Y $OUT/run \
-A KAM_PORT=$KAM_PORT -A 'UAS_URI=\"sip:127.0.0.1:$UAS_PORT\"'") ;;
        tollswitch) targets+=(--target "tollswitch@$TS_PORT=$OUT/run/tollswitch serve \
--sip 127.0.0.1:$TS_PORT --http off --data $OUT/run/data --provisioning $OUT/run/provisioning.toml $TS_ARGS") ;;
        tollswitch-nobill) targets+=(--target "tollswitch-nobill@$TS_PORT=$OUT/run/tollswitch serve \
--sip 127.0.0.1:$TS_PORT --http off --data $OUT/run/data-nobill --no-billing \
--provisioning $OUT/run/provisioning.toml $TS_ARGS") ;;
        *) die "unknown target $t" ;;
    esac
done
common=(--uac-port "$UAC_PORT" --uas-port "$UAS_PORT" --secs "$SECS" --storm-pct "$STORM_PCT"
        --out "$OUT/steps.tsv")
[[ "${KEEP_GOING:-0}" = 1 ]] && common+=(--keep-going)

{
    echo "# cps.sh run $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "host: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GB", $2/1048576}' /proc/meminfo), kernel $(uname -r)"
    echo "tollswitch: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')" \
         "($(git -C "$ROOT" --no-optional-locks status --short 2>/dev/null | wc -l) uncommitted paths in the tree)"
    echo "sipp: $(sipp -v 2>&1 | grep -o 'v[0-9][^ ]*' | head -1)"
    has kamailio && echo "kamailio: $(kamailio -v | head -1)"
    echo "RATES=$RATES HOLD_RATES=$HOLD_RATES HOLD_MS=$HOLD_MS SECS=$SECS STORM_PCT=$STORM_PCT TARGETS=$TARGETS"
    echo "KAM_WORKERS=$KAM_WORKERS KAM_SHM_MB=$KAM_SHM_MB KAM_ALLOC=$KAM_ALLOC TS_ARGS=$TS_ARGS"
    echo "net.core.rmem_default=$(cat /proc/sys/net/core/rmem_default) rmem_max=$(cat /proc/sys/net/core/rmem_max)"
    echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT/env.txt"

echo "== sweep 1: hold 0 s, rates $RATES"
timeout --kill-after=30 "$SWEEP_TIMEOUT" \
    python3 "$HERE/loadstep.py" sweep "${targets[@]}" --rates "$RATES" --hold-ms 0 "${common[@]}" \
    || echo "sweep 1 ended with status $?"
echo "== sweep 2: hold $((HOLD_MS / 1000)) s, rates $HOLD_RATES"
timeout --kill-after=30 "$SWEEP_TIMEOUT" \
    python3 "$HERE/loadstep.py" sweep "${targets[@]}" --rates "$HOLD_RATES" --hold-ms "$HOLD_MS" "${common[@]}" \
    || echo "sweep 2 ended with status $?"
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/env.txt"

echo
python3 "$HERE/loadstep.py" report "$OUT/steps.tsv" | tee "$OUT/report.md"
echo
echo "raw rows: $OUT/steps.tsv; per step SIPp stats, screens, error logs and commands: $OUT/<target>_h<hold>_r<rate>/"
