#!/usr/bin/env bash
# `npm run test:kernels`: the whole kernel matrix — Debian's 5.10, 6.1 and 6.12 amd64 kernels (also
# part of every `npm test`) and Debian's arm64 kernel (too slow under emulation for every run) —
# then writes the results to test/acceptance/kernels/RESULTS.md, which is committed: the arm64 row is the
# record of the last real arm64 run.
#
# Usage: scripts/kernels/matrix.sh [NAME...]   (default: 5.10 6.1 6.12 arm64)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source scripts/lib.sh
source scripts/kernels/lib.sh

build_if_needed
names=("$@")
((${#names[@]})) || names=("${KERNELS_AMD64[@]}" arm64)
set +e
ER_SHELL_KERNEL_MATRIX="${names[*]}" node --test --test-reporter=spec dist/test/acceptance/kernels/matrix.test.js
status=$?
set -e
node scripts/kernels/results.mjs "$KCACHE/results" test/acceptance/kernels/RESULTS.md
exit "$status"
