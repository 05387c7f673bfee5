#!/bin/sh
# Builds qio and runs every check: formatting, clippy and rustdoc, then a meson build
# made as a distribution makes it, out of tree from a read-only copy of the source, and
# its whole test suite (C tests, Rust tests, interop, fuzzing, header freshness, exported symbols,
# versions), the C tests again under valgrind and in an AddressSanitizer/UBSan build,
# and an install whose pkg-config module is used to build and run a consumer, as well
# as the uninstalled module from the build tree.
#
# Everything is written under $QIO_BUILD_DIR (default: build/): source/ is the
# read-only copy (the files git tracks or would track, with their mtimes, so cargo and
# meson rebuild only what changed), meson/ the build with cargo's target directory
# inside it, asan/ the sanitizer build sharing that target directory.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
out=${QIO_BUILD_DIR:-build}
case $out in /*) ;; *) out=$root/$out ;; esac
src=$out/source
build=$out/meson
target=$build/target

step() { printf '\n== %s\n' "$*"; }

step "cargo fmt --check (and the fuzz crate's lock file is current)"
cargo fmt --all --check
cargo fmt --manifest-path fuzz/Cargo.toml --check
# The fuzz crate depends on qio: a new qio dependency must reach fuzz/Cargo.lock too.
cargo metadata --locked --manifest-path fuzz/Cargo.toml --format-version 1 >/dev/null

step "a read-only copy of the source tree ($src)"
# Permission bits do not stop root, so for root (CI) the copy is also a read-only bind
# mount, undone when this script exits and before the copy is next replaced.
unmount_src() { ! mountpoint -q "$src" || umount "$src"; }
scratch=$(mktemp -d)
trap 'unmount_src; rm -rf "$scratch"' EXIT
trap 'exit 1' INT TERM
unmount_src
if [ -d "$src" ]; then
    chmod -R u+w "$src"
    rm -rf "$src"
fi
mkdir -p "$src"
git ls-files -z --cached --others --exclude-standard > "$scratch/files"
tar --null --no-recursion --ignore-failed-read --files-from="$scratch/files" \
    -cf "$scratch/source.tar"
tar -xf "$scratch/source.tar" -C "$src"
chmod -R a-w "$src"
if [ "$(id -u)" -eq 0 ]; then
    mount --bind "$src" "$src"
    mount -o remount,bind,ro "$src"
fi
if touch "$src/written" 2>/dev/null; then
    echo "$src is writable" >&2
    exit 1
fi
echo "$(find "$src" -type f | wc -l) files, read-only"

step "cargo clippy"
cargo clippy --locked --workspace --all-targets --manifest-path "$src/Cargo.toml" \
    --target-dir "$target" -- -D warnings

step "cargo doc -p qio (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --locked -p qio --no-deps \
    --manifest-path "$src/Cargo.toml" --target-dir "$target"

step "meson setup + compile ($build, from $src)"
if [ -f "$build/build.ninja" ]; then
    meson setup --reconfigure "$build" "$src"
else
    meson setup "$build" "$src"
fi
meson compile -C "$build"

step "meson test"
meson test -C "$build" --print-errorlogs

step "meson test --setup valgrind (C tests)"
meson test -C "$build" --setup valgrind --suite c --print-errorlogs

step "meson test: C tests built with AddressSanitizer and UBSan ($out/asan)"
[ -f "$out/asan/build.ninja" ] ||
    meson setup "$out/asan" "$src" -Db_sanitize=address,undefined -Db_lundef=false \
        -Dcargo_target_dir="$target"
meson compile -C "$out/asan"
meson test -C "$out/asan" --suite c --print-errorlogs

step "install into a DESTDIR and build a consumer with pkg-config"
meson install -C "$build" --destdir "$scratch/root" --quiet
pc=$(find "$scratch/root" -name qio.pc)
libdir=$(dirname "$(find "$scratch/root" -name 'libqio.so.0')")
for f in "$pc" "$libdir/libqio.so.0" "$(find "$scratch/root" -name qio.h)"; do
    [ -f "$f" ] || { echo "install is missing qio.pc, libqio.so.0 or qio.h" >&2; exit 1; }
done
printf 'The quick brown fox jumps over the lazy dog\n' > "$scratch/input"
consumer() { # consumer NAME LIBDIR: builds examples/qio-hashsum.c with the current PKG_CONFIG_*
    flags=$(pkg-config --cflags --libs qio)
    echo "pkg-config --cflags --libs qio: $flags"
    cc -std=c11 -Wall -Wextra -Werror -o "$scratch/$1" "$src/examples/qio-hashsum.c" $flags
    got=$(LD_LIBRARY_PATH="$2" "$scratch/$1" -a sha256 "$scratch/input" | cut -d' ' -f1)
    want=$(sha256sum "$scratch/input" | cut -d' ' -f1)
    [ "$got" = "$want" ] || { echo "consumer $1: digest $got, expected $want" >&2; exit 1; }
    echo "consumer $1: sha256 matches sha256sum"
}
# The installed qio.pc names its final prefix; relocate a copy into the DESTDIR.
mkdir "$scratch/pc"
sed "s|^prefix=|prefix=$scratch/root|" "$pc" > "$scratch/pc/qio.pc"
PKG_CONFIG_PATH="$scratch/pc" consumer installed "$libdir"
PKG_CONFIG_PATH="$build/meson-uninstalled" consumer uninstalled "$build"
# Only libqio.so.0 is installed (see the README); the private dependencies a static
# link of it would need are still listed.
static=$(PKG_CONFIG_PATH="$scratch/pc" pkg-config --static --libs qio)
for lib in -lglib-2.0 -lgnutls -lnettle -lhogweed -lgmp; do
    case " $static " in *" $lib "*) ;; *)
        echo "pkg-config --static --libs qio lacks $lib: $static" >&2; exit 1 ;;
    esac
done
echo "pkg-config --static --libs qio: $static"

step "all checks passed"
