#!/bin/sh
# Builds the qio-capi staticlib for meson: cargo-build.sh CARGO TARGET_DIR PROFILE OUTPUT.
# cargo itself decides what to rebuild; the archive is then copied where meson wants it.
set -eu
cargo=$1 target_dir=$2 profile=$3 output=$4
set -- build --locked -p qio-capi --lib --target-dir "$target_dir"
[ "$profile" = release ] && set -- "$@" --release
"$cargo" "$@"
built="$target_dir/$profile/libqio_capi.a"
cp "$built" "$output"
