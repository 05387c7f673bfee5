#!/bin/sh
# The demo: builds and installs qio into ./_install, builds examples/qio-hashsum.c
# against the installed library through `pkg-config qio` (as any C program would),
# and hashes a few files with every algorithm and backend, checked against coreutils.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
build=build-demo
prefix="$root/_install"

[ -d "$build" ] || meson setup "$build" --prefix="$prefix" >/dev/null
meson compile -C "$build" >/dev/null
meson install -C "$build" --quiet

pcdir=$(dirname "$(find "$prefix" -name qio.pc)")
export PKG_CONFIG_PATH="$pcdir"
libdir=$(pkg-config --variable=libdir qio)
cc -std=c11 -Wall -Wextra -Werror -o "$build/qio-hashsum" examples/qio-hashsum.c \
    $(pkg-config --cflags --libs qio) -Wl,-rpath,"$libdir"
hashsum="$build/qio-hashsum"

echo "qio $(pkg-config --modversion qio) installed in $prefix"
echo "consumer built with: cc examples/qio-hashsum.c \$(pkg-config --cflags --libs qio)"
echo
echo "== sha256 of some files, default backend, beside coreutils' sha256sum"
"$hashsum" -v README.md COPYING
sha256sum README.md COPYING
[ "$("$hashsum" README.md COPYING)" = "$(sha256sum README.md COPYING)" ]
echo
echo "== every algorithm on every backend that has it (COPYING)"
for algo in md5 sha1 sha224 sha256 sha384 sha512 ripemd160 sm3; do
    for backend in builtin nettle gnutls; do
        "$hashsum" -a "$algo" -b "$backend" -v COPYING 2>&1 | sed 's/^/  /'
    done
done
echo
echo "== md5 and sha512 agree with coreutils"
[ "$("$hashsum" -a md5 COPYING)" = "$(md5sum COPYING)" ] && echo "  md5: same as md5sum"
[ "$("$hashsum" -a sha512 COPYING)" = "$(sha512sum COPYING)" ] && echo "  sha512: same as sha512sum"
echo
echo "demo done: try $hashsum --help"
