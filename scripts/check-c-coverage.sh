#!/bin/sh
# check-c-coverage.sh SYMBOLS_FILE CTEST_SOURCES...: every exported function must be
# called by at least one C test.
set -eu
symbols=$1
shift
missing=0
while read -r symbol; do
    if ! grep -qw "$symbol" "$@"; then
        echo "no C test calls $symbol" >&2
        missing=1
    fi
done < "$symbols"
[ "$missing" -eq 0 ] && echo "every symbol in $(basename "$symbols") is called from ctests/"
exit "$missing"
