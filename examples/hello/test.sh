#!/usr/bin/env bash
# The example's test: the service greets the name it is given.
set -euo pipefail
got="$(./hello.sh "$1")"
case "$got" in
  *", $1!") echo "ok: $got" ;;
  *) echo "unexpected greeting: $got" >&2; exit 1 ;;
esac
