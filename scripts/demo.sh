#!/bin/sh
# The demo: builds qio (release) and installs it into ./_install, builds
# examples/secure-console.c against the installed library through `pkg-config qio`, as
# any hypervisor would, then runs a console server and its clients on loopback with
# freshly made certificates: TLS with client certificates, a websocket inside it.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
build=build-demo
prefix="$root/_install"

[ -d "$build" ] || meson setup "$build" --buildtype=release --prefix="$prefix" >/dev/null
meson compile -C "$build" >/dev/null
meson install -C "$build" --quiet

pcdir=$(dirname "$(find "$prefix" -name qio.pc)")
export PKG_CONFIG_PATH="$pcdir"
libdir=$(pkg-config --variable=libdir qio)
console="$build/secure-console"
cc -std=c11 -Wall -Wextra -Werror -o "$console" examples/secure-console.c \
    $(pkg-config --cflags --libs qio) -Wl,-rpath,"$libdir"

work=$(mktemp -d)
server_pid=
cleanup() {
    [ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

echo "qio $(pkg-config --modversion qio) installed in $prefix"
echo "secure-console built with: cc examples/secure-console.c \$(pkg-config --cflags --libs qio)"

echo
echo "== 1. fresh credentials (examples/secure-console-certs.sh, gnutls' certtool)"
examples/secure-console-certs.sh "$work/pki"
for who in server client mallory; do
    cert=$(find "$work/pki/$who" -name '*-cert.pem' ! -name 'ca-cert.pem')
    subject=$(certtool -i --infile "$cert" | sed -n 's/^[[:space:]]*Subject: //p')
    echo "  $who: $subject"
done

echo
echo "== 2. the server: a console (here \`cat\`, an echoing serial line) behind TLS that"
echo "      requires client certificates, inside a websocket, letting in console-user only"
allow='C=GB,O=qio demo,CN=console-user'
echo "  secure-console server --listen 127.0.0.1:0 --creds pki/server --websock --allow '$allow' -- cat"
"$console" server --listen 127.0.0.1:0 --creds "$work/pki/server" --websock --allow "$allow" \
    -- cat >"$work/server.out" 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 100); do
    grep -q '^listening on' "$work/server.out" && break
    sleep 0.1
done
address=$(sed -n 's/^listening on //p' "$work/server.out")
[ -n "$address" ] || { echo "the server did not start" >&2; cat "$work/server.log" >&2; exit 1; }
echo "  listening on $address"
client() { # client CREDS [OPTIONS]: a client of the server, its stderr indented
    creds=$1
    shift
    "$console" client --connect "$address" --hostname localhost --creds "$work/pki/$creds" --websock "$@" 2>&1 |
        sed 's/^/  /'
}

echo
echo "== 3. console-user types a line; the console echoes it"
printf 'hello from the other side of an untrusted network\n' | client client

echo
echo "== 4. console-user measures the console: round trips, then 256 MiB streamed through it"
client client --measure 256

echo
echo "== 5. mallory's certificate comes from the same CA, but mallory is not let in"
client mallory </dev/null || true

echo
echo "== what the server logged"
sleep 0.2
sed 's/^/  /' "$work/server.log"
grep -q 'CN=console-user, websocket protocol binary' "$work/server.log"
grep -q 'refused: TLS x509 authz check for C=GB,O=qio demo,CN=mallory is denied' "$work/server.log"
echo
echo "demo done: try $console --help, or serve a shell: ... server ... -- /bin/sh -i"
