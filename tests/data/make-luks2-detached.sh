#!/bin/sh
# Makes luks2-detached.img, the LUKS2 header the unit tests open
# (src/crypto/block/luks2/tests.rs), with cryptsetup 2.6: a detached header whose
# volume key is bytes 0..15, aes-cbc-essiv:sha256 in 4096-byte sectors, and three
# keyslots of the cheapest costs cryptsetup allows: 0 argon2i, 1 argon2id (2 lanes),
# 2 pbkdf2-sha1. Key material is random, so each run makes a different file.
set -eu
out=${1:-$(dirname "$0")/luks2-detached.img}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '\000\001\002\003\004\005\006\007\010\011\012\013\014\015\016\017' >"$tmp/key"
truncate -s 1M "$tmp/data"
rm -f "$out"
# Key files are taken whole: no newline may end a passphrase.
printf argon2i-pass >"$tmp/first"
cryptsetup luksFormat -q --type luks2 --header "$out" --volume-key-file "$tmp/key" \
    --key-size 128 --cipher aes-cbc-essiv:sha256 --sector-size 4096 \
    --luks2-metadata-size 16k --luks2-keyslots-size 192k \
    --pbkdf argon2i --pbkdf-memory 32 --pbkdf-force-iterations 4 --pbkdf-parallel 1 \
    --key-file "$tmp/first" "$tmp/data"
add() {
    printf '%s' "$1" >"$tmp/new"
    shift
    cryptsetup luksAddKey -q --header "$out" --volume-key-file "$tmp/key" "$@" \
        "$tmp/data" "$tmp/new"
}
add argon2id-pass --pbkdf argon2id --pbkdf-memory 64 --pbkdf-force-iterations 4 \
    --pbkdf-parallel 2
add pbkdf2-pass --pbkdf pbkdf2 --hash sha1 --pbkdf-force-iterations 1000
