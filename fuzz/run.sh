#!/usr/bin/env bash
# Runs every wire-decoder fuzz target for SECONDS each (default 60) on stable Rust
# (`--sanitizer none`: the code under test is safe Rust) and prints one summary line per
# target: executions and crashes. Needs `cargo install cargo-fuzz --version 0.13.2 --locked`.
# Usage: fuzz/run.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH="${1:-60}"
TARGETS=(wire_messages_request wire_messages_stream wire_passthrough wire_anthropic_response
  wire_ollama_response wire_openai_response)
for target in "${TARGETS[@]}"; do
  log="$(mktemp)"
  status=0
  cargo fuzz run --sanitizer none -j 1 "$target" -- -max_total_time="$SECONDS_EACH" \
    >"$log" 2>&1 || status=$?
  execs="$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || true)"
  if [ -z "$execs" ]; then
    execs="$(grep -Eo '^#[0-9]+' "$log" | tail -1 | tr -d '#')"
  fi
  crashes="$(ls "fuzz/artifacts/$target" 2>/dev/null | wc -l)"
  echo "$target: ${SECONDS_EACH}s, ${execs:-?} executions, exit $status, $crashes crash artifacts"
  if [ "$status" -ne 0 ]; then tail -40 "$log"; fi
  rm -f "$log"
done
