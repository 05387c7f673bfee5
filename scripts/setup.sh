#!/bin/sh
# Installs the Debian 12 packages qio needs to build, test, benchmark and run its demo.
# Safe to run again: it only calls apt-get when a package is missing.
set -eu

packages="
  build-essential pkg-config meson ninja-build
  libglib2.0-dev libgnutls28-dev nettle-dev libgmp-dev libssl-dev
  clang libclang-dev libclang-rt-14-dev
  valgrind openssl gnutls-bin python3 python3-cryptography python3-websockets
  chromium novnc libnss3-tools gvncviewer qemu-utils cryptsetup-bin nbdkit libnbd-bin
"

missing=""
for p in $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
        missing="$missing $p"
done
if [ -n "$missing" ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    echo "setup: installing$missing"
    $sudo apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
fi

# The Rust toolchain comes from rustup (Debian 12's rustc 1.63 is too old for the
# RustCrypto crates); cargo fetches the crates themselves from crates.io.
need_rust=1.89
if ! command -v cargo >/dev/null 2>&1; then
    echo "setup: cargo not found: install Rust $need_rust or newer with rustup" >&2
    exit 1
fi
have_rust=$(rustc --version | awk '{print $2}')
if [ "$(printf '%s\n%s\n' "$need_rust" "$have_rust" | sort -V | head -n1)" != "$need_rust" ]; then
    echo "setup: rustc $have_rust is older than $need_rust: update it with rustup" >&2
    exit 1
fi
for tool in fmt clippy; do
    cargo "$tool" --version >/dev/null 2>&1 || {
        echo "setup: cargo $tool missing: run rustup component add rustfmt clippy" >&2
        exit 1
    }
done
echo "setup: system packages and Rust $have_rust ready"
