#!/usr/bin/env bash
# The example service: greets whoever it is asked to.
set -euo pipefail
echo "${GREETING:-Hello}, ${1:-world}!"
