#!/bin/sh
# check-symbols.sh LIBRARY SYMBOLS_FILE: the library's exported symbols must be exactly
# the list in SYMBOLS_FILE (one per line, sorted), no more and no fewer.
set -eu
lib=$1 expected=$2
actual=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ { sub(/@.*/, "", $3); print $3 }' | sort -u)
if ! printf '%s\n' "$actual" | diff -u "$expected" -; then
    echo "exported symbols of $lib differ from $expected (+ exported, - expected)" >&2
    exit 1
fi
echo "$(printf '%s\n' "$actual" | wc -l) symbols exported, as listed"
