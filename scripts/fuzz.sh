#!/usr/bin/env bash
# Runs infermux's fuzz targets (fuzz/) on stable Rust, each for a while, and prints one
# summary line per target: executions, coverage, and whether it found a crash.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Defaults: 60 seconds, every target listed by `cargo fuzz list`. Needs cargo-fuzz 0.13.2
# (`cargo install cargo-fuzz --version 0.13.2 --locked`). `--sanitizer none` because the
# address sanitizer needs a nightly compiler, and the code under test is safe Rust: the
# targets look for panics, failed assertions, timeouts and runaway memory.
# A crash leaves its input in fuzz/artifacts/<target>/; replay it with
#   cargo fuzz run --sanitizer none <target> fuzz/artifacts/<target>/<file>
set -euo pipefail

cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
command -v cargo-fuzz >/dev/null || {
    echo "cargo-fuzz is not installed: cargo install cargo-fuzz --version 0.13.2 --locked" >&2
    exit 2
}
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
    mapfile -t targets < <(cargo fuzz list)
fi

status=0
for target in "${targets[@]}"; do
    log="$(mktemp)"
    mkdir -p "fuzz/corpus/$target"
    # The committed seeds (fuzz/seeds/<target>/: configs from the docs, typical requests and
    # queries) start the search; what it finds grows fuzz/corpus/<target>/.
    seeds=()
    [ -d "fuzz/seeds/$target" ] && seeds=("fuzz/seeds/$target")
    if cargo fuzz run --sanitizer none -j 1 "$target" "fuzz/corpus/$target" "${seeds[@]}" -- \
        -max_total_time="$seconds" -rss_limit_mb=4096 -timeout=10 >"$log" 2>&1; then
        outcome="ok"
    else
        outcome="FAILED (see fuzz/artifacts/$target/)"
        status=1
    fi
    # libFuzzer's last status line: "#N DONE cov: C ft: F corp: K/S exec/s: E rss: R".
    last="$(grep -E '^#[0-9]+' "$log" | tail -1 || true)"
    execs="$(sed -nE 's/^#([0-9]+).*/\1/p' <<<"$last")"
    cov="$(sed -nE 's/.*cov: ([0-9]+).*/\1/p' <<<"$last")"
    rate="$(sed -nE 's/.*exec\/s: ([0-9]+).*/\1/p' <<<"$last")"
    printf '%-18s %ss  execs=%s  exec/s=%s  cov=%s  %s\n' \
        "$target" "$seconds" "${execs:-?}" "${rate:-?}" "${cov:-?}" "$outcome"
    if [ "$outcome" != "ok" ]; then
        grep -E 'panicked|ERROR|SUMMARY' "$log" | head -5 >&2 || true
    fi
    rm -f "$log"
done
exit "$status"
