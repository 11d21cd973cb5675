#!/usr/bin/env bash
# What `npm test` runs: `npm run lint`, build when sources changed, make sure the kernel tests can
# run, then every dist/test/**/*.test.js with node's test runner (one file at a time: they share
# cgroups and BPF).
#
# Lint findings fail the run under CI=true; otherwise they are reported and the tests run anyway.
# Kernel tests need root on a host that can record. When it cannot, they are skipped with the
# reason — except under CI=true, where a host that cannot record, or any skipped test, fails the run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh

ci=false
[[ ${CI:-} == true || ${CI:-} == 1 ]] && ci=true

if ! bash scripts/lint.sh; then
	if $ci; then
		echo "test: CI=true and npm run lint found problems" >&2
		exit 1
	fi
	echo "test: npm run lint found problems (CI would stop here); running the tests anyway" >&2
fi

build_if_needed

if [[ $(id -u) -eq 0 ]] && node bin/run.js check-kernel --json >/dev/null 2>/tmp/er-shell-check.$$; then
	export ER_SHELL_KERNEL_TESTS=1
	echo "test: this host can record: kernel tests run"
else
	reason=$([[ $(id -u) -eq 0 ]] && cat /tmp/er-shell-check.$$ || echo "not running as root")
	if $ci; then
		echo "test: CI=true but this host cannot record, so the kernel tests cannot run: $reason" >&2
		rm -f /tmp/er-shell-check.$$
		exit 1
	fi
	export ER_SHELL_KERNEL_TESTS=0
	echo "test: kernel tests will be SKIPPED: $reason" >&2
fi
rm -f /tmp/er-shell-check.$$

# The test files of the source tree (not whatever else dist/test holds: files of a former layout
# linger there after a move). Each module's tests first, then the end-to-end ones (test/acceptance/),
# then the kernel matrix (minutes of emulation) last, on a quiet machine.
# node --test sorts the files it is given, so each group is its own run.
matrix=test/acceptance/kernels/matrix.test.ts
to_dist() { sed 's#^test/#dist/test/#; s#\.ts$#.js#'; }
mapfile -t modules < <(find test -name '*.test.ts' -not -path 'test/acceptance/*' | LC_ALL=C sort | to_dist)
mapfile -t acceptance < <(find test/acceptance -name '*.test.ts' -not -path "$matrix" | LC_ALL=C sort | to_dist)
mapfile -t kernels < <([[ -f $matrix ]] && echo "$matrix" | to_dist)
if ((${#modules[@]} + ${#acceptance[@]} == 0)); then
	echo "test: no test files under test/" >&2
	exit 1
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
run_group() { # name files...
	local name=$1 group_status
	shift
	(($# == 0)) && return 0
	echo "test: $name ($# files)"
	set +e
	node --test --test-concurrency=1 --test-reporter=tap "$@" | tee -a "$log"
	group_status=${PIPESTATUS[0]}
	set -e
	if ((group_status != 0 && status == 0)); then status=$group_status; fi
}
run_group modules "${modules[@]}"
run_group acceptance "${acceptance[@]}"
run_group kernels "${kernels[@]}"

# Skipped tests and skipped suites: "# skipped N" at the end counts only the tests, not a describe()
# skipped as a whole.
skipped=$(grep -cE '^ *ok [0-9]+ - .* # SKIP' "$log" || true)
if $ci && [[ $status -eq 0 && ${skipped:-0} -gt 0 ]]; then
	echo "test: CI=true and $skipped test(s) were skipped: every test must run in CI" >&2
	exit 1
fi
exit "$status"
