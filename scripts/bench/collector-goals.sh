#!/usr/bin/env bash
# Measures the edge collector against its two goals (docs/benchmarks.md): events per server
# CPU-second at peak, and p99 latency at half of that peak. It starts a fresh collector for every run,
# so that no run inherits another's spill log or warm caches, and with --baseline it alternates two
# builds run by run: this machine's speed swings by tens of percent within the hour, so only builds
# measured side by side can be compared.
#
# Usage: scripts/bench/collector-goals.sh [options] [-- extra collector flags]
#   --sink kafka|log|memory   where events go (default kafka; starts the dev broker if needed)
#   --runs N                  peak runs and paced runs per build (default 3)
#   -c, --connections N       loadgen connections (default 64)
#   -d, --duration SECS       seconds per run (default 10)
#   --rate EVENTS_PER_SEC     pace the latency runs at this rate instead of half of each build's peak
#   --baseline BIN            another footfall-collector binary, measured alternately with this tree's
#   --port PORT               where the collector listens (default 18080)
#   --tls                     serve and send HTTPS, with a self-signed certificate made for the run
#   --no-build                use the release binaries already built
#
# Example, a change against the build before it:
#   git stash && cargo build --release -p footfall-collector && cp "$CARGO_TARGET_DIR/release/footfall-collector" /tmp/collector-before && git stash pop
#   scripts/bench/collector-goals.sh --baseline /tmp/collector-before
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/env.sh

sink=kafka runs=3 connections=64 duration=10 rate="" baseline="" port=18080 build=1 tls=0
extra=()
while (($#)); do
  case "$1" in
    --sink) sink="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    -c | --connections) connections="$2"; shift 2 ;;
    -d | --duration) duration="$2"; shift 2 ;;
    --rate) rate="$2"; shift 2 ;;
    --baseline) baseline="$2"; shift 2 ;;
    --port) port="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    --tls) tls=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "collector-goals: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$sink" in kafka | log | memory) ;; *) echo "collector-goals: --sink must be kafka, log or memory, not $sink" >&2; exit 2 ;; esac
[[ -z "$baseline" || -x "$baseline" ]] || { echo "collector-goals: --baseline $baseline is not an executable" >&2; exit 2; }

release="$CARGO_TARGET_DIR/release"
if ((build)); then
  cargo build --release --locked -p footfall-collector -p footfall-loadgen >&2
fi
loadgen="$release/footfall-loadgen"
builds=(current)
declare -A bin=([current]="$release/footfall-collector")
if [[ -n "$baseline" ]]; then
  builds=(baseline current)
  bin[baseline]="$baseline"
fi

work="$(mktemp -d)"
collector_pid=""
stop_collector() {
  if [[ -n "$collector_pid" ]]; then
    kill "$collector_pid" 2>/dev/null || true
    wait "$collector_pid" 2>/dev/null || true
    collector_pid=""
  fi
}
trap 'stop_collector; rm -rf "$work"' EXIT

url="http://127.0.0.1:$port"
tls_flags=() ca_flags=()
if ((tls)); then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost -addext basicConstraints=critical,CA:FALSE \
    -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
  url="https://localhost:$port"
  tls_flags=(--tls-cert "$work/cert.pem" --tls-key "$work/key.pem")
  ca_flags=(--ca-cert "$work/cert.pem")
fi

broker_started=0
if [[ "$sink" == kafka ]] && ! scripts/infra/kafka.sh status >/dev/null 2>&1; then
  scripts/infra/kafka.sh start >&2
  broker_started=1
  echo "collector-goals: the broker stays up for the next run; stop it with scripts/infra/kafka.sh stop" >&2
fi

# start_collector BUILD: a fresh collector on $port, with its own directories.
start_collector() {
  local dir
  dir="$(mktemp -d -p "$work")"
  local sink_flags=()
  case "$sink" in
    kafka) sink_flags=(--sink kafka --kafka-broker "$(scripts/infra/kafka.sh bootstrap)" --kafka-spill-dir "$dir/spill") ;;
    log) sink_flags=(--sink log --log-dir "$dir/events" --dead-letter-dir "$dir/dead-letters") ;;
    memory) sink_flags=(--sink memory) ;;
  esac
  "${bin[$1]}" --listen "127.0.0.1:$port" --write-key wk_bench=bench/goals "${sink_flags[@]}" ${tls_flags[@]+"${tls_flags[@]}"} \
    ${extra[@]+"${extra[@]}"} >"$dir/collector.log" 2>&1 &
  collector_pid=$!
  for _ in $(seq 100); do
    curl -sfk "$url/ready" >/dev/null 2>&1 && return 0
    kill -0 "$collector_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "collector-goals: the $1 collector did not get ready; its log:" >&2
  cat "$dir/collector.log" >&2
  exit 1
}

# run BUILD [loadgen flags…]: one measured run; sets eps, p50, p99 and cpu (events per CPU-second).
run() {
  local build="$1"
  shift
  start_collector "$build"
  # Warm-up: connections, the producer's metadata and the allocator's pages.
  "$loadgen" --url "$url" ${ca_flags[@]+"${ca_flags[@]}"} --write-key wk_bench -c 32 -d 3 >/dev/null
  "$loadgen" --url "$url" ${ca_flags[@]+"${ca_flags[@]}"} --write-key wk_bench -c "$connections" -d "$duration" \
    --server-pid "$collector_pid" "$@" >"$work/report.md"
  stop_collector
  awk -F'|' '
    function num(s) { gsub(/[^0-9.]/, "", s); return s }
    $2 ~ /^ events\/s $/ { eps = num($3) }
    $2 ~ /^ latency p50 $/ { p50 = num($3) }
    $2 ~ /^ latency p99 $/ { p99 = num($3) }
    $2 ~ /^ events per server CPU-second $/ { cpu = num($3) }
    END { if (eps == "" || eps == 0 || cpu == "") exit 1; print eps, p50, p99, cpu }' "$work/report.md" >"$work/result" || {
    echo "collector-goals: the load generator's report has no figures:" >&2
    cat "$work/report.md" >&2
    exit 1
  }
  read -r eps p50 p99 cpu <"$work/result"
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# A broker just started runs its Java code interpreted for a while; runs right after a start were far
# slower than later ones.
if ((broker_started)); then
  echo "collector-goals: warming the new broker up for 15 s" >&2
  duration=15 run current
fi

declare -A peaks cpus p99s
rows=()
for ((i = 1; i <= runs; i++)); do
  for b in "${builds[@]}"; do
    run "$b"
    peaks[$b]+="$eps "
    cpus[$b]+="$cpu "
    rows+=("| $b | peak $i | $eps | $p50 ms | $p99 ms | $cpu |")
    echo "collector-goals: $b peak run $i: $eps events/s, $cpu events per CPU-second" >&2
  done
done
declare -A paced
for b in "${builds[@]}"; do
  peak="$(tr ' ' '\n' <<<"${peaks[$b]}" | grep . | median)"
  paced[$b]="${rate:-$(awk -v p="$peak" 'BEGIN { printf "%d", p / 2 }')}"
done
for ((i = 1; i <= runs; i++)); do
  for b in "${builds[@]}"; do
    run "$b" --rate "${paced[$b]}"
    p99s[$b]+="$p99 "
    rows+=("| $b | at ${paced[$b]} events/s, run $i | $eps | $p50 ms | $p99 ms | $cpu |")
    echo "collector-goals: $b paced run $i: p99 $p99 ms" >&2
  done
done

echo "Collector into $sink$( ((tls)) && echo " over HTTPS"), $connections connections, ${duration} s per run, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "| build | run | events/s | p50 | p99 | events per server CPU-second |"
echo "|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo
echo "| build | median events per CPU-second at peak (goal ≥ 300000) | median p99 at half of peak (goal ≤ 10 ms) |"
echo "|---|---|---|"
for b in "${builds[@]}"; do
  cpu="$(tr ' ' '\n' <<<"${cpus[$b]}" | grep . | median)"
  p99="$(tr ' ' '\n' <<<"${p99s[$b]}" | grep . | median)"
  cpu_ok="$(awk -v v="$cpu" 'BEGIN { print (v >= 300000) ? "✅" : "❌" }')"
  p99_ok="$(awk -v v="$p99" 'BEGIN { print (v <= 10) ? "✅" : "❌" }')"
  echo "| $b | $cpu $cpu_ok | $p99 ms $p99_ok |"
done
