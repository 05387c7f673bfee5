#!/bin/sh
# Runs Debian 12's qemu-system-x86_64 (QEMU 7.2), the VNC benchmark's reference, from
# DIR, first fetching it there when it is not: `apt-get download` of the packages and
# the libraries it lacks on a system with the project's build dependencies, unpacked
# with `dpkg-deb -x` and never installed (installing qemu-system-x86 would replace the
# newer qemu-utils of bookworm-backports that other tests use).
#
#   qemu-system.sh DIR [QEMU ARGUMENTS...]
set -eu
dir=$1
shift
root=$dir/root
if [ ! -x "$root/usr/bin/qemu-system-x86_64" ]; then
    rm -rf "$dir/debs" "$root.tmp"
    mkdir -p "$dir/debs" "$root.tmp"
    (cd "$dir/debs" && apt-get download -q \
        qemu-system-x86 qemu-system-common qemu-system-data seabios \
        libcapstone4 libfdt1 libpmem1 librdmacm1 libibverbs1 libslirp0 libvdeplug2 \
        libndctl6 libdaxctl1 libnl-3-200 libnl-route-3-200 >&2)
    for deb in "$dir"/debs/*.deb; do
        dpkg-deb -x "$deb" "$root.tmp"
    done
    mv "$root.tmp" "$root"
fi
libs=$root/usr/lib/x86_64-linux-gnu:$root/lib/x86_64-linux-gnu
export LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
exec "$root/usr/bin/qemu-system-x86_64" -L "$root/usr/share/qemu" -L "$root/usr/share/seabios" "$@"
