#!/bin/sh
# Builds qio and runs every check: formatting, clippy, the Rust tests, the meson build
# and test suite (C tests, header freshness, exported symbols, versions, Rust tests),
# the C tests again under valgrind and in an AddressSanitizer/UBSan build, and an
# install whose pkg-config module is used to build and run a consumer, as well as the
# uninstalled module from the build tree.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
build=${QIO_BUILD_DIR:-build}

step() { printf '\n== %s\n' "$*"; }

step "cargo fmt --check (and the fuzz crate's lock file is current)"
cargo fmt --all --check
cargo fmt --manifest-path fuzz/Cargo.toml --check
# The fuzz crate depends on qio: a new qio dependency must reach fuzz/Cargo.lock too.
cargo metadata --locked --manifest-path fuzz/Cargo.toml --format-version 1 >/dev/null

step "cargo clippy"
cargo clippy --locked --workspace --all-targets -- -D warnings

step "cargo test"
cargo test --locked --workspace

step "meson setup + compile ($build)"
if [ -d "$build" ]; then
    meson setup --reconfigure "$build"
else
    meson setup "$build"
fi
meson compile -C "$build"

step "meson test"
meson test -C "$build" --print-errorlogs

step "meson test --setup valgrind (C tests)"
meson test -C "$build" --setup valgrind --suite c --print-errorlogs

step "meson test: C tests built with AddressSanitizer and UBSan ($build-asan)"
[ -d "$build-asan" ] ||
    meson setup "$build-asan" -Db_sanitize=address,undefined -Db_lundef=false
meson compile -C "$build-asan"
meson test -C "$build-asan" --suite c --print-errorlogs

step "install into a DESTDIR and build a consumer with pkg-config"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
meson install -C "$build" --destdir "$scratch/root" --quiet
pc=$(find "$scratch/root" -name qio.pc)
libdir=$(dirname "$(find "$scratch/root" -name 'libqio.so.0')")
for f in "$pc" "$libdir/libqio.so.0" "$(find "$scratch/root" -name qio.h)"; do
    [ -f "$f" ] || { echo "install is missing qio.pc, libqio.so.0 or qio.h" >&2; exit 1; }
done
printf 'The quick brown fox jumps over the lazy dog\n' > "$scratch/input"
consumer() { # consumer NAME: builds examples/qio-hashsum.c with the current PKG_CONFIG_*
    flags=$(pkg-config --cflags --libs qio)
    echo "pkg-config --cflags --libs qio: $flags"
    cc -std=c11 -Wall -Wextra -Werror -o "$scratch/$1" examples/qio-hashsum.c $flags
    got=$(LD_LIBRARY_PATH="$2" "$scratch/$1" -a sha256 "$scratch/input" | cut -d' ' -f1)
    want=$(sha256sum "$scratch/input" | cut -d' ' -f1)
    [ "$got" = "$want" ] || { echo "consumer $1: digest $got, expected $want" >&2; exit 1; }
    echo "consumer $1: sha256 matches sha256sum"
}
# The installed qio.pc names its final prefix; relocate a copy into the DESTDIR.
mkdir "$scratch/pc"
sed "s|^prefix=|prefix=$scratch/root|" "$pc" > "$scratch/pc/qio.pc"
PKG_CONFIG_PATH="$scratch/pc" consumer installed "$libdir"
PKG_CONFIG_PATH="$root/$build/meson-uninstalled" consumer uninstalled "$root/$build"

step "all checks passed"
