#!/usr/bin/env bash
# End-to-end load bench: infermux against a bare hyper reverse proxy, both in front of the same
# static upstream.
#
#   wrk (CPU 1) --> proxy under test (CPU 0) --> nginx (CPU 1), POST /v1/chat/completions
#
# The upstream is nginx answering a fixed OpenAI chat.completion JSON, or (on a second port) a
# fixed 24-event OpenAI stream (22 deltas, the last one, the usage chunk), with `return 200`. The proxies are, in turn:
#   baseline           benches/e2e/baseline_proxy.rs: hyper-util server + pooled client, forwards
#                      bytes, no parsing, no logging
#   infermux           the release binary, one openai_compatible provider pointing at nginx
#   infermux_full      a realistic config: three priced providers in a cost_weighted route group,
#                      circuit breakers, and a hard_stop budget for the caller (state file on)
#   baseline_stream    the baseline in front of the event-stream upstream, `stream: true`
#   infermux_stream    infermux_full's config in front of the event-stream upstream
# Each is driven by wrk at each concurrency for DURATION seconds after a short warm-up. We record
# req/s, p50/p99 latency, peak RSS (VmHWM, after that run), and the proxy's CPU time per request,
# then print the figures and the infermux / baseline ratios as markdown (also written to OUT).
# For streams the upstream sends its whole event stream at once, so the latency of a streamed
# request bounds its time to first token.
#
# Two memory phases follow (set to 0 to skip):
#   IDLE_STREAMS=10000  streams held open at once through infermux_full's config against an
#                       upstream that sends one chunk and then idles; infermux's RSS is recorded
#   SOAK=600            seconds of wrk -c64 load on infermux_full, RSS sampled every 10 s
#
# Usage: bash benches/e2e/run.sh
# Knobs (environment): DURATION=10 CONCURRENCY="1 16 64" WARMUP=2 PROXY_CPU=0 LOAD_CPU=1
#   VARIANTS="baseline infermux infermux_full baseline_stream infermux_stream"
#   OUT=target/e2e/results.md SKIP_BUILD=0
#   REPEAT=3 (rounds; each round restarts every proxy, rounds interleave the variants, and the
#   report shows, per proxy and concurrency, the round with the median req/s and the highest
#   peak RSS of all rounds; with more than one round, a second table pairs each round's
#   infermux with that round's baseline, since a noisy machine moves both together)
#   KEEP_WORK=0 (1 keeps the temp dir with the configs, logs and raw wrk output)
#   CALLERS=1 (N > 1: the requests' X-Infermux-Caller takes turns among bench, bench-1, ...,
#   bench-(N-1), as a gateway's many applications do; the budget is bench's alone)
#   PROMPT_KIB=0 (N > 0: the user's message is N KiB of English words instead of "hi", as an
#   agent's long prompt)
#   INFERMUX_BIN=target/release/infermux; BEFORE_BIN=<an earlier build> adds the variants
#   before, before_full and before_stream (the same configs as infermux, infermux_full and
#   infermux_stream, run by that binary) to VARIANTS' choices, so one run compares both builds
# Needs nginx, wrk and taskset; installs nginx and wrk with apt-get when missing and run as root.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DURATION=${DURATION:-10}
CONCURRENCY=${CONCURRENCY:-"1 16 64"}
WARMUP=${WARMUP:-2}
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
VARIANTS=${VARIANTS:-"baseline infermux infermux_full baseline_stream infermux_stream"}
IDLE_STREAMS=${IDLE_STREAMS:-10000}
SOAK=${SOAK:-600}
OUT=${OUT:-$ROOT/target/e2e/results.md}
SKIP_BUILD=${SKIP_BUILD:-0}
REPEAT=${REPEAT:-3}
CALLERS=${CALLERS:-1}
PROMPT_KIB=${PROMPT_KIB:-0}
MODEL=gpt-4o-mini

WORK=$(mktemp -d "${TMPDIR:-/tmp}/infermux-e2e.XXXXXX")
PIDS=()

log() { printf '== %s\n' "$*" >&2; }
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# Kills every process this script started (and only those), then removes the temp dir.
cleanup() {
  local status=$?
  local pid
  for pid in ${PIDS[@]+"${PIDS[@]}"}; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in ${PIDS[@]+"${PIDS[@]}"}; do
    wait "$pid" 2>/dev/null || true
  done
  if [ "${KEEP_WORK:-0}" = 1 ]; then
    printf 'kept %s\n' "$WORK" >&2
  else
    rm -rf "$WORK"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Stops one process started here and forgets it.
stop() {
  local pid=$1 kept=() p
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  for p in ${PIDS[@]+"${PIDS[@]}"}; do
    [ "$p" = "$pid" ] || kept+=("$p")
  done
  PIDS=(${kept[@]+"${kept[@]}"})
}

# === tools ===

have() { command -v "$1" >/dev/null 2>&1; }
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
if [ ! -x "$NGINX" ] || ! have wrk; then
  if [ "$(id -u)" = 0 ] && have apt-get; then
    log "installing nginx and wrk"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx wrk >/dev/null
    NGINX=$(command -v nginx || echo /usr/sbin/nginx)
  else
    die "nginx and wrk are needed (apt-get install -y nginx wrk)"
  fi
fi
have taskset || die "taskset is needed (util-linux)"
[ "$(nproc --all)" -ge 2 ] || die "needs 2 CPUs: the proxy on one, the load generator on another"
[[ "$CALLERS" =~ ^[1-9][0-9]*$ ]] || die "CALLERS=$CALLERS: give a whole number of callers, 1 or more"
[[ "$PROMPT_KIB" =~ ^[0-9]+$ ]] || die "PROMPT_KIB=$PROMPT_KIB: give a whole number of KiB (0 for \"hi\")"

# === ports ===

TAKEN=""
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Sets the variable named $1 to a port nothing listens on and that this script has not handed
# out yet (not run in a subshell, so that TAKEN is kept). Ports come from below Linux's
# ephemeral range (32768 and up), which the idle-stream phase's clients can exhaust.
free_port() {
  local candidate _
  for _ in $(seq 200); do
    candidate=$((10000 + RANDOM % 22000))
    case " $TAKEN " in *" $candidate "*) continue ;; esac
    if ! port_open "$candidate"; then
      TAKEN="$TAKEN $candidate"
      printf -v "$1" '%s' "$candidate"
      return 0
    fi
  done
  die "no free port found"
}

# Waits until `pid` listens on `port`, or fails naming `what` and its log.
wait_listening() {
  local pid=$1 port=$2 what=$3 logfile=$4 _
  for _ in $(seq 200); do
    kill -0 "$pid" 2>/dev/null || { cat "$logfile" >&2 || true; die "$what exited at start-up"; }
    port_open "$port" && return 0
    sleep 0.05
  done
  cat "$logfile" >&2 || true
  die "$what is not listening on $port after 10s"
}

# === build ===

if [ "$SKIP_BUILD" != 1 ]; then
  log "building infermux and the baseline proxy (release)"
  (cd "$ROOT" && cargo build --release --locked --bin infermux --example baseline_proxy \
    --example idle_streams)
fi
INFERMUX_BIN=${INFERMUX_BIN:-$ROOT/target/release/infermux}
BASELINE_BIN=$ROOT/target/release/examples/baseline_proxy
IDLE_BIN=$ROOT/target/release/examples/idle_streams
[ -x "$INFERMUX_BIN" ] || die "$INFERMUX_BIN is missing"
if [ -n "${BEFORE_BIN:-}" ]; then
  [ -x "$BEFORE_BIN" ] || die "BEFORE_BIN=$BEFORE_BIN is missing"
fi
[ -x "$BASELINE_BIN" ] || die "$BASELINE_BIN is missing"
[ -x "$IDLE_BIN" ] || die "$IDLE_BIN is missing"

# === upstream: nginx answering a fixed chat.completion ===

COMPLETION='{"id":"chatcmpl-e2e","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Hello from the static upstream."},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":8,"completion_tokens":6,"total_tokens":14}}'
CHUNK='{"id":"chatcmpl-e2e","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"role":"assistant","content":"Hello"},"finish_reason":null}]}'
LAST='{"id":"chatcmpl-e2e","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":" from the static upstream."},"finish_reason":"stop"}]}'
USAGE='{"id":"chatcmpl-e2e","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":8,"completion_tokens":6,"total_tokens":14}}'
free_port UPSTREAM_PORT
free_port STREAM_UPSTREAM_PORT
mkdir -p "$WORK/nginx/logs" "$WORK/nginx/static/v1/chat"
# The stream: 22 content deltas, the last delta with its finish_reason, the usage chunk, [DONE].
{
  for _ in $(seq 22); do printf 'data: %s\n\n' "$CHUNK"; done
  printf 'data: %s\n\ndata: %s\n\ndata: [DONE]\n\n' "$LAST" "$USAGE"
} >"$WORK/nginx/static/v1/chat/completions"
# nginx's workers drop root: let them read the stream file.
chmod -R a+rX "$WORK"
cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx/client_body;
  proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi;
  uwsgi_temp_path $WORK/nginx/uwsgi;
  scgi_temp_path $WORK/nginx/scgi;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  server {
    listen 127.0.0.1:$UPSTREAM_PORT;
    location = /v1/chat/completions {
      default_type application/json;
      return 200 '$COMPLETION';
    }
  }
  server {
    listen 127.0.0.1:$STREAM_UPSTREAM_PORT;
    # The stream is longer than an nginx string may be: it is a file, served to the POST by
    # the 405 of the static module turning into an internal GET of the same path.
    root $WORK/nginx/static;
    location = /v1/chat/completions {
      default_type text/event-stream;
      error_page 405 =200 \$uri;
    }
  }
}
EOF
log "nginx on 127.0.0.1:$UPSTREAM_PORT (CPU $LOAD_CPU)"
taskset -c "$LOAD_CPU" "$NGINX" -p "$WORK/nginx" -e "$WORK/nginx/logs/error.log" \
  -c "$WORK/nginx/nginx.conf" -g 'daemon off;' 2>>"$WORK/nginx/logs/error.log" &
NGINX_PID=$!
PIDS+=("$NGINX_PID")
wait_listening "$NGINX_PID" "$UPSTREAM_PORT" nginx "$WORK/nginx/logs/error.log"
smoke_upstream() {
  local status
  status=$(curl -s -o "$WORK/upstream.json" -w '%{http_code}' -d '{}' \
    "http://127.0.0.1:$UPSTREAM_PORT/v1/chat/completions") || die "nginx: request failed"
  [ "$status" = 200 ] || die "nginx answered $status"
}
smoke_upstream

# === load generator ===

# The user's message: "hi", or PROMPT_KIB KiB of English words (an agent's long prompt).
PROMPT=hi
if [ "$PROMPT_KIB" -gt 0 ]; then
  PROMPT=""
  while [ "${#PROMPT}" -lt $((PROMPT_KIB * 1024)) ]; do
    PROMPT+="the agent reads the failing test, opens the module it names and edits the function "
  done
  PROMPT=${PROMPT:0:$((PROMPT_KIB * 1024))}
fi
BODY='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"'$PROMPT'"}]}'
STREAM_BODY='{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"'$PROMPT'"}]}'
for kind in post stream; do
  if [ "$kind" = post ]; then body=$BODY; else body=$STREAM_BODY; fi
  cat >"$WORK/$kind.lua" <<EOF
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Infermux-Caller"] = "bench"

-- With CALLERS > 1 each request names the next caller in turn; the requests are formatted
-- once, so that the load generator does no more work per request than with one caller.
local callers = $CALLERS
local formatted = {}
local turn = 0
if callers > 1 then
  init = function(args)
    for i = 0, callers - 1 do
      wrk.headers["X-Infermux-Caller"] = i == 0 and "bench" or ("bench-" .. i)
      formatted[i] = wrk.format()
    end
  end
  request = function()
    turn = (turn + 1) % callers
    return formatted[turn]
  end
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
EOF
done

# Checks that one POST of `body` through `port` answers 200 with `expect` in the body.
smoke() {
  local port=$1 what=$2 body=$3 expect=$4 status
  status=$(curl -s -o "$WORK/smoke.json" -w '%{http_code}' -H 'Content-Type: application/json' \
    -H 'X-Infermux-Caller: bench' -d "$body" "http://127.0.0.1:$port/v1/chat/completions") ||
    die "$what: request failed"
  [ "$status" = 200 ] && grep -q -- "$expect" "$WORK/smoke.json" ||
    die "$what answered $status: $(cat "$WORK/smoke.json")"
}

# utime + stime of `pid`, in clock ticks (all threads).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
peak_rss_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
CLK_TCK=$(getconf CLK_TCK)

RESULTS=$WORK/results.tsv
: >"$RESULTS"

# Drives the proxy `pid` on `port` at each concurrency; appends one TSV row per run.
drive() {
  local variant=$1 pid=$2 port=$3 round=$4 c out line t0 t1 lua=post
  local url="http://127.0.0.1:$port/v1/chat/completions"
  case $variant in
    *_stream)
      lua=stream
      smoke "$port" "$variant" "$STREAM_BODY" 'data: \[DONE\]'
      ;;
    *) smoke "$port" "$variant" "$BODY" '"chat.completion"' ;;
  esac
  taskset -c "$LOAD_CPU" wrk -t1 -c16 -d"${WARMUP}s" -s "$WORK/$lua.lua" "$url" >/dev/null
  for c in $CONCURRENCY; do
    out=$WORK/wrk-$variant-c$c-r$round.txt
    t0=$(cpu_ticks "$pid")
    taskset -c "$LOAD_CPU" wrk -t1 -c"$c" -d"${DURATION}s" --timeout 5s --latency \
      -s "$WORK/$lua.lua" "$url" >"$out"
    t1=$(cpu_ticks "$pid")
    kill -0 "$pid" 2>/dev/null || die "$variant died under load"
    line=$(grep '^RESULT ' "$out") || { cat "$out" >&2; die "no wrk result for $variant c=$c"; }
    # variant c requests duration_us p50_us p99_us errors rss_kib cpu_ticks round
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$variant" "$c" \
      "$(sed -E 's/RESULT requests=([0-9]+) duration_us=([0-9]+) p50_us=([0-9]+) p99_us=([0-9]+) errors=([0-9]+)/\1\t\2\t\3\t\4\t\5/' <<<"$line")" \
      "$(peak_rss_kib "$pid")" "$((t1 - t0))" "$round" >>"$RESULTS"
    log "$variant c=$c round $round: $(sed 's/^RESULT //' <<<"$line")"
  done
}

# Each start_* sets STARTED_PID and STARTED_PORT.
start_baseline() {
  local upstream=$1 port
  free_port port
  taskset -c "$PROXY_CPU" "$BASELINE_BIN" "127.0.0.1:$port" "127.0.0.1:$upstream" \
    2>"$WORK/baseline.log" &
  STARTED_PID=$!
  STARTED_PORT=$port
  PIDS+=("$STARTED_PID")
  wait_listening "$STARTED_PID" "$port" baseline "$WORK/baseline.log"
}

# Writes infermux's minimal config (one provider) to $WORK/$name.yml.
minimal_config() {
  local name=$1 port=$2 mport=$3 upstream=$4
  cat >"$WORK/$name.yml" <<EOF
listen: "127.0.0.1:$port"
management_listen: "127.0.0.1:$mport"
providers:
  - name: upstream
    type: openai_compatible
    base_url: "http://127.0.0.1:$upstream/v1"
    models: [$MODEL]
request_log:
  path: "$WORK/$name-requests.db"
log:
  level: info
EOF
}

# Writes the realistic config to $WORK/$name.yml: three priced providers (the dearest first in
# declared order, the cheapest last), a cost_weighted route group, breakers, and a hard_stop
# budget for the caller `bench` large enough never to refuse.
full_config() {
  local name=$1 port=$2 mport=$3 upstream=$4 p
  {
    cat <<EOF
listen: "127.0.0.1:$port"
management_listen: "127.0.0.1:$mport"
providers:
EOF
    for p in premium standard budget; do
      cat <<EOF
  - name: $p
    type: openai_compatible
    base_url: "http://127.0.0.1:$upstream/v1"
    models: [$MODEL, gpt-4o]
    circuit_breaker: {window: 30s, min_requests: 10, error_rate: 0.5, p95_latency: 10s, recovery: 30s}
EOF
    done
    cat <<EOF
routing:
  strategy: priority
  groups:
    - name: fast
      models: [$MODEL]
      strategy: cost_weighted
      providers: [premium, standard, budget]
pricing:
  - {provider: premium, model: $MODEL, input: 0.30, output: 1.20}
  - {provider: standard, model: $MODEL, input: 0.20, output: 0.80}
  - {provider: budget, model: $MODEL, input: 0.15, output: 0.60}
budgets:
  state_file: "$WORK/$name-budgets.json"
  callers:
    - {caller: bench, monthly_usd: 1000000, action: hard_stop}
request_log:
  path: "$WORK/$name-requests.db"
log:
  level: info
EOF
  } >"$WORK/$name.yml"
}

# Starts infermux (the binary `bin`, default INFERMUX_BIN) as `name` with the config `shape`
# (minimal | full) in front of `upstream`, and appends its idle RSS, read once it is serving,
# to $IDLE_RSS.
start_infermux() {
  local name=$1 shape=$2 upstream=$3 bin=${4:-$INFERMUX_BIN} port mport _
  free_port port
  free_port mport
  # Each start begins with no spend and an empty request log, whatever ran before it.
  rm -f "$WORK/$name-budgets.json"* "$WORK/$name-requests.db"*
  "${shape}_config" "$name" "$port" "$mport" "$upstream"
  taskset -c "$PROXY_CPU" "$bin" serve --config "$WORK/$name.yml" 2>"$WORK/$name.log" &
  STARTED_PID=$!
  STARTED_PORT=$port
  PIDS+=("$STARTED_PID")
  wait_listening "$STARTED_PID" "$port" "$name" "$WORK/$name.log"
  for _ in $(seq 100); do
    grep -q 'infermux serving' "$WORK/$name.log" && break
    sleep 0.1
  done
  sleep 1
  printf '%s\t%s\n' "$name" "$(awk '/^VmRSS:/ {print $2}' "/proc/$STARTED_PID/status")" >>"$IDLE_RSS"
}
IDLE_RSS=$WORK/idle-rss.tsv
: >"$IDLE_RSS"

for round in $(seq "$REPEAT"); do
  for variant in $VARIANTS; do
    case $variant in
      baseline) start_baseline "$UPSTREAM_PORT" ;;
      baseline_stream) start_baseline "$STREAM_UPSTREAM_PORT" ;;
      infermux) start_infermux infermux minimal "$UPSTREAM_PORT" ;;
      infermux_full) start_infermux infermux_full full "$UPSTREAM_PORT" ;;
      infermux_stream) start_infermux infermux_stream full "$STREAM_UPSTREAM_PORT" ;;
      before) start_infermux before minimal "$UPSTREAM_PORT" "$BEFORE_BIN" ;;
      before_full) start_infermux before_full full "$UPSTREAM_PORT" "$BEFORE_BIN" ;;
      before_stream) start_infermux before_stream full "$STREAM_UPSTREAM_PORT" "$BEFORE_BIN" ;;
      *) die "unknown variant $variant" ;;
    esac
    log "$variant on 127.0.0.1:$STARTED_PORT (pid $STARTED_PID, CPU $PROXY_CPU)"
    drive "$variant" "$STARTED_PID" "$STARTED_PORT" "$round"
    stop "$STARTED_PID"
  done
done

# === memory: idle streams and soak ===

MEMORY=$WORK/memory.md
: >"$MEMORY"
if [ "$IDLE_STREAMS" -gt 0 ]; then
  # infermux holds two sockets per stream (client and upstream side).
  hard=$(ulimit -Hn)
  if [ "$hard" != unlimited ] && [ "$hard" -lt $((IDLE_STREAMS * 2 + 512)) ]; then
    IDLE_STREAMS=$(((hard - 512) / 2))
    log "the open-file limit is $hard: holding $IDLE_STREAMS idle streams instead"
  fi
  ulimit -n "$hard"
  free_port IDLE_UPSTREAM_PORT
  taskset -c "$LOAD_CPU" "$IDLE_BIN" upstream "127.0.0.1:$IDLE_UPSTREAM_PORT" 2>"$WORK/idle-upstream.log" &
  IDLE_UPSTREAM_PID=$!
  PIDS+=("$IDLE_UPSTREAM_PID")
  wait_listening "$IDLE_UPSTREAM_PID" "$IDLE_UPSTREAM_PORT" "idle upstream" "$WORK/idle-upstream.log"
  start_infermux infermux_idle full "$IDLE_UPSTREAM_PORT"
  idle_pid=$STARTED_PID
  # Start-up work (the tokenizer tables) ends with the "infermux serving" line: measure after.
  for _ in $(seq 100); do
    grep -q 'infermux serving' "$WORK/infermux_idle.log" && break
    sleep 0.1
  done
  rss_before=$(awk '/^VmRSS:/ {print $2}' "/proc/$idle_pid/status")
  log "holding $IDLE_STREAMS idle streams open through infermux (pid $idle_pid)"
  mkfifo "$WORK/idle-hold"
  taskset -c "$LOAD_CPU" "$IDLE_BIN" clients "http://127.0.0.1:$STARTED_PORT/v1/chat/completions" \
    "$IDLE_STREAMS" <"$WORK/idle-hold" >"$WORK/idle-clients.out" 2>"$WORK/idle-clients.log" &
  IDLE_CLIENTS_PID=$!
  PIDS+=("$IDLE_CLIENTS_PID")
  exec 4>"$WORK/idle-hold"
  for _ in $(seq 1200); do
    grep -q '^ready' "$WORK/idle-clients.out" 2>/dev/null && break
    kill -0 "$IDLE_CLIENTS_PID" 2>/dev/null || { cat "$WORK/idle-clients.log" >&2; die "idle stream clients failed"; }
    sleep 0.1
  done
  grep -q '^ready' "$WORK/idle-clients.out" || die "the idle streams did not all open in 120 s"
  rss_held=$(awk '/^VmRSS:/ {print $2}' "/proc/$idle_pid/status")
  exec 4>&-
  stop "$IDLE_CLIENTS_PID"
  stop "$idle_pid"
  stop "$IDLE_UPSTREAM_PID"
  {
    echo "### Idle streams"
    echo
    echo "| streams held open | infermux RSS before (MiB) | RSS with every stream open (MiB) | per stream (KiB) |"
    echo "| ---: | ---: | ---: | ---: |"
    awk -v n="$IDLE_STREAMS" -v a="$rss_before" -v b="$rss_held" \
      'BEGIN { printf "| %d | %.1f | %.1f | %.1f |\n", n, a / 1024, b / 1024, (b - a) / n }'
    echo
  } >>"$MEMORY"
fi
if [ "$SOAK" -gt 0 ]; then
  start_infermux infermux_soak full "$UPSTREAM_PORT"
  soak_pid=$STARTED_PID
  url="http://127.0.0.1:$STARTED_PORT/v1/chat/completions"
  log "soak: wrk -c64 for ${SOAK}s on infermux_full (pid $soak_pid)"
  taskset -c "$LOAD_CPU" wrk -t1 -c64 -d"${SOAK}s" --timeout 5s -s "$WORK/post.lua" "$url" \
    >"$WORK/soak-wrk.txt" &
  soak_wrk=$!
  PIDS+=("$soak_wrk")
  : >"$WORK/soak-rss.tsv"
  elapsed=0
  while kill -0 "$soak_wrk" 2>/dev/null; do
    printf '%s\t%s\n' "$elapsed" "$(awk '/^VmRSS:/ {print $2}' "/proc/$soak_pid/status")" \
      >>"$WORK/soak-rss.tsv"
    sleep 10
    elapsed=$((elapsed + 10))
  done
  wait "$soak_wrk" 2>/dev/null || true
  stop "$soak_pid"
  {
    echo "### Soak: RSS under ${SOAK} s of load (wrk -c64, infermux_full)"
    echo
    echo "$(grep '^RESULT' "$WORK/soak-wrk.txt" | sed 's/^RESULT //')"
    echo
    echo "| second | RSS (MiB) |"
    echo "| ---: | ---: |"
    awk -F'\t' 'NR == 1 || NR % 6 == 1 { printf "| %d | %.1f |\n", $1, $2 / 1024 }' "$WORK/soak-rss.tsv"
    echo
  } >>"$MEMORY"
fi

# === report ===

mkdir -p "$(dirname "$OUT")"
awk -F'\t' -v tck="$CLK_TCK" '
  function ms(us) { return sprintf("%.2f", us / 1000) }
  # The median of a[1..n] (for even n, the mean of the two middle values).
  function middle(a, n,    s, i, j, t) {
    for (i = 1; i <= n; i++) s[i] = a[i]
    for (i = 2; i <= n; i++)
      for (j = i; j > 1 && s[j - 1] > s[j]; j--) { t = s[j]; s[j] = s[j - 1]; s[j - 1] = t }
    return (s[int((n + 1) / 2)] + s[int(n / 2) + 1]) / 2
  }
  function mib(kib) { return sprintf("%.1f", kib / 1024) }
  {
    v = $1; c = $2; key = v SUBSEP c; i = ++runs[key]
    r_rps[key, i] = $3 / ($4 / 1e6); r_p50[key, i] = $5; r_p99[key, i] = $6; r_err[key, i] = $7
    cpu_s = $9 / tck
    r_cpu_pct[key, i] = 100 * cpu_s / ($4 / 1e6)
    r_cpu_us[key, i] = ($3 > 0) ? 1e6 * cpu_s / $3 : 0
    if (!(key in rss) || $8 > rss[key]) rss[key] = $8
    if (!(v in seen)) { seen[v] = 1; order[++nv] = v }
    if (!(c in cseen)) { cseen[c] = 1; conc[++nc] = c }
  }
  END {
    # Per proxy and concurrency, keep the round with the median req/s.
    for (key in runs) {
      n = runs[key]
      for (i = 1; i <= n; i++) idx[i] = i
      for (i = 2; i <= n; i++)
        for (j = i; j > 1 && r_rps[key, idx[j - 1]] > r_rps[key, idx[j]]; j--) {
          t = idx[j]; idx[j] = idx[j - 1]; idx[j - 1] = t
        }
      m = idx[int((n + 1) / 2)]
      rps[key] = r_rps[key, m]; p50[key] = r_p50[key, m]; p99[key] = r_p99[key, m]
      err[key] = r_err[key, m]; cpu_pct[key] = r_cpu_pct[key, m]; cpu_us[key] = r_cpu_us[key, m]
      if (n > nrounds) nrounds = n
    }
    # Each infermux variant against the bare proxy of its kind: median rounds, then (with
    # more than one round) each round against the same round.
    paired = ""; by_round = ""
    for (i = 1; i <= nv; i++) {
      v = order[i]; if (v ~ /^baseline/) continue
      base = (v ~ /_stream$/) ? "baseline_stream" : "baseline"
      for (j = 1; j <= nc; j++) {
        k = v SUBSEP conc[j]; b = base SUBSEP conc[j]
        if (!(k in rps) || !(b in rps)) continue
        r = rps[k] / rps[b]; d = (p99[k] - p99[b]) / 1000
        paired = paired sprintf("| %s | %s | %.2f | %.2f | %.2f | %+.2f | %.2f | %.2f | %s | %s | %s |\n", v, conc[j], r, \
          p50[k] / p50[b], p99[k] / p99[b], d, rss[k] / rss[b], \
          (cpu_us[b] > 0 ? cpu_us[k] / cpu_us[b] : 0), \
          (r >= 0.9 ? "yes" : "**no**"), (d <= 1 ? "yes" : "**no**"), (rss[k] < 50 * 1024 ? "yes" : "**no**"))
        n = (runs[k] < runs[b]) ? runs[k] : runs[b]
        split("", q); split("", u); ql = ""; ul = ""
        for (r = 1; r <= n; r++) {
          q[r] = r_rps[k, r] / r_rps[b, r]
          u[r] = (r_cpu_us[b, r] > 0) ? r_cpu_us[k, r] / r_cpu_us[b, r] : 0
          ql = ql (r > 1 ? ", " : "") sprintf("%.2f", q[r])
          ul = ul (r > 1 ? ", " : "") sprintf("%.2f", u[r])
        }
        by_round = by_round sprintf("| %s | %s | %s | %.2f | %s | %.2f |\n", v, conc[j], ql, middle(q, n), ul, middle(u, n))
      }
    }
    if (paired != "") {
      print "### infermux ÷ baseline"
      print ""
      print "| variant | concurrency | req/s ratio | p50 ratio | p99 ratio | Δp99 (ms) | peak RSS ratio | CPU/req ratio | ≥ 0.9× req/s | Δp99 ≤ 1 ms | RSS < 50 MiB |"
      print "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | :-: | :-: | :-: |"
      printf "%s\n", paired
    }
    if (paired != "" && nrounds > 1) {
      print "### Round by round: infermux ÷ the baseline of the same round"
      print ""
      print "| variant | concurrency | req/s ratio, rounds 1, 2, … | median | CPU/req ratio, rounds 1, 2, … | median |"
      print "| --- | ---: | --- | ---: | --- | ---: |"
      printf "%s\n", by_round
    }
    print "### Figures"
    print ""
    print "| proxy | concurrency | req/s | p50 (ms) | p99 (ms) | peak RSS (MiB) | proxy CPU (%) | proxy CPU per request (µs) | errors |"
    print "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    for (i = 1; i <= nv; i++) {
      for (j = 1; j <= nc; j++) {
        k = order[i] SUBSEP conc[j]
        if (!(k in rps)) continue
        printf "| %s | %s | %.0f | %s | %s | %s | %.0f | %.1f | %d |\n", order[i], conc[j], rps[k], \
          ms(p50[k]), ms(p99[k]), mib(rss[k]), cpu_pct[k], cpu_us[k], err[k]
      }
    }
  }' "$RESULTS" >"$OUT.tmp"

{
  echo "### Idle RSS (MiB), one second after the \"infermux serving\" line"
  echo
  echo "| proxy | lowest | highest |"
  echo "| --- | ---: | ---: |"
  awk -F'\t' '{ if (!($1 in lo) || $2 < lo[$1]) lo[$1] = $2; if ($2 > hi[$1]) hi[$1] = $2 }
    END { for (v in lo) printf "| %s | %.1f | %.1f |\n", v, lo[v] / 1024, hi[v] / 1024 }' "$IDLE_RSS" | sort
  echo
} >>"$MEMORY"
{
  echo "<!-- bash benches/e2e/run.sh; $(date -u '+%Y-%m-%d %H:%M:%SZ') -->"
  echo "Commit: $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)."
  echo "Machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')), kernel $(uname -r)."
  echo "wrk -t1 -cN -d${DURATION}s on CPU $LOAD_CPU (with nginx), proxy on CPU $PROXY_CPU; ${WARMUP}s warm-up at -c16 per proxy start; peak RSS is VmHWM after the run; $REPEAT round(s), median round by req/s shown; requests from $CALLERS caller(s), prompt of ${PROMPT_KIB} KiB (0: \"hi\")."
  echo
  cat "$OUT.tmp"
  echo
  cat "$MEMORY"
} >"$OUT"
rm -f "$OUT.tmp"
cat "$OUT"
log "written to $OUT"
