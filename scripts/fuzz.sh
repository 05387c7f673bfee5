#!/bin/sh
# fuzz.sh TARGET SECONDS [TARGET_DIR]: builds the libFuzzer target
# fuzz/fuzz_targets/TARGET.rs with coverage instrumentation on stable Rust and runs it
# for SECONDS from the seed inputs in fuzz/seeds/TARGET (if any; a target whose inputs
# need structure to get past a checksum has some), or until FUZZ_RUNS executions if
# that is set. Fails on any panic, crash, leak or timeout, leaving
# the input in TARGET_DIR/fuzz-artifacts. TARGET_DIR (cargo's target directory) defaults
# to target/ in the source tree; meson passes its own, so the source may be read-only.
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
target=$1 seconds=$2 target_dir=${3:-$src/target}
triple=$(rustc -vV | sed -n 's/^host: //p')
# The instrumentation applies to the target only (--target), not to build scripts.
RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks \
--cfg fuzzing" \
    cargo build --locked --release --manifest-path "$src/fuzz/Cargo.toml" --target "$triple" \
    --target-dir "$target_dir" --bin "$target"
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
mkdir -p "$target_dir/fuzz-artifacts"
if [ -d "$src/fuzz/seeds/$target" ]; then
    cp "$src/fuzz/seeds/$target"/* "$corpus"/
fi
"$target_dir/$triple/release/$target" -max_total_time="$seconds" -runs="${FUZZ_RUNS:--1}" \
    -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$target_dir/fuzz-artifacts/" "$corpus"
