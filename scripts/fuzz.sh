#!/bin/sh
# fuzz.sh TARGET SECONDS [TARGET_DIR [LIBQIO]]: builds the libFuzzer target TARGET and
# runs it for SECONDS from the seed inputs in fuzz/seeds/TARGET (if any; a target whose
# inputs need structure to get past a checksum has some), or until FUZZ_RUNS executions
# if that is set. Fails on any panic, crash, leak, undefined behaviour or timeout,
# leaving the input in TARGET_DIR/fuzz-artifacts. A Rust target,
# fuzz/fuzz_targets/TARGET.rs, is built with coverage instrumentation on stable Rust; a
# C target, fuzz/c/TARGET.c, with clang (libFuzzer, ASan, UBSan) together with the
# sources its "fuzz.sh sources:" comment line names (paths in the source tree, whose
# directories join the include path), linked with LIBQIO, the path of a built
# libqio.so. TARGET_DIR (cargo's target directory; the C targets go to its fuzz-c/)
# defaults to target/ in the source tree; meson passes its own, so the source may be
# read-only.
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
target=$1 seconds=$2 target_dir=${3:-$src/target}
harness=$src/fuzz/c/$target.c
if [ -f "$harness" ]; then
    libqio=${4:?fuzz.sh: the C target $target needs LIBQIO, the path of a built libqio.so}
    set -- "$harness"
    for source in $(sed -n 's|^ \* fuzz\.sh sources: \(.*\) \*/$|\1|p' "$harness"); do
        set -- "$@" "$src/$source" "-I$src/$(dirname "$source")"
    done
    binary=$target_dir/fuzz-c/$target
    mkdir -p "$target_dir/fuzz-c"
    clang -std=c11 -Wall -Wextra -Werror -g -O1 -fsanitize=fuzzer,address,undefined \
        -fno-sanitize-recover=all -I"$src/include" $(pkg-config --cflags glib-2.0) "$@" \
        "$libqio" -Wl,-rpath,"$(cd "$(dirname "$libqio")" && pwd)" $(pkg-config --libs glib-2.0) \
        -o "$binary"
else
    triple=$(rustc -vV | sed -n 's/^host: //p')
    # The instrumentation applies to the target only (--target), not to build scripts.
    RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks \
--cfg fuzzing" \
        cargo build --locked --release --manifest-path "$src/fuzz/Cargo.toml" --target "$triple" \
        --target-dir "$target_dir" --bin "$target"
    binary=$target_dir/$triple/release/$target
fi
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
mkdir -p "$target_dir/fuzz-artifacts"
if [ -d "$src/fuzz/seeds/$target" ]; then
    cp "$src/fuzz/seeds/$target"/* "$corpus"/
fi
"$binary" -max_total_time="$seconds" -runs="${FUZZ_RUNS:--1}" \
    -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$target_dir/fuzz-artifacts/" "$corpus"
