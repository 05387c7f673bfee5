#!/bin/sh
# fuzz.sh TARGET SECONDS: builds the libFuzzer target fuzz/fuzz_targets/TARGET.rs with
# coverage instrumentation on stable Rust and runs it for SECONDS from an empty corpus.
# Fails on any panic, crash, leak or timeout, leaving the input in target/fuzz-artifacts.
set -eu
cd "$(dirname "$0")/.."
target=$1 seconds=$2
triple=$(rustc -vV | sed -n 's/^host: //p')
# The instrumentation applies to the target only (--target), not to build scripts.
RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks \
--cfg fuzzing" \
    cargo build --locked --release --manifest-path fuzz/Cargo.toml --target "$triple" \
    --target-dir target --bin "$target"
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
mkdir -p target/fuzz-artifacts
"target/$triple/release/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix=target/fuzz-artifacts/ "$corpus"
