#!/bin/sh
# Builds the qio-capi staticlib for meson:
#   cargo-build.sh CARGO MANIFEST TARGET_DIR PROFILE OUTPUT
# cargo itself decides what to rebuild; the archive is then copied where meson wants it.
# Nothing is written beside MANIFEST: the build directory may be anywhere, and the
# source tree read-only.
set -eu
cargo=$1 manifest=$2 target_dir=$3 profile=$4 output=$5
set -- build --locked --manifest-path "$manifest" -p qio-capi --lib --target-dir "$target_dir"
[ "$profile" = release ] && set -- "$@" --release
"$cargo" "$@"
cp "$target_dir/$profile/libqio_capi.a" "$output"
