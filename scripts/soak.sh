#!/usr/bin/env bash
# Soak test: runs infermux for a long while under mixed load with faults and samples its
# memory, file descriptors and answers; prints a summary and exits non-zero when memory
# keeps growing or a request gets an answer it should not.
#
#   scripts/soak.sh [DURATION]        # DURATION: 60m (default), 10m, 90s, 2h
#
# The load (scripts/soak.py): chat requests (half streamed) and embeddings from 16 clients,
# 1 in 3 with an invented caller drawn from a pool of 5,000 (bounded, as a deployment's
# callers are, so that memory that keeps growing means a leak), against a fault-injecting
# OpenAI-shaped upstream (5% HTTP 500, 3% 429 with a Retry-After of up to a day, 3% streams
# cut half-way, slow streams) with the built-in mock provider as fail-over; plus slowloris
# connections that send their headers a byte at a time and clients that open a connection and say nothing.
#
# INFERMUX_BIN picks the binary (default target/release/infermux, built when missing).
set -euo pipefail

cd "$(dirname "$0")/.."
duration="${1:-60m}"
bin="${INFERMUX_BIN:-target/release/infermux}"
if [ ! -x "$bin" ]; then
    cargo build --release --bin infermux
fi
exec python3 scripts/soak.py --bin "$bin" --duration "$duration"
