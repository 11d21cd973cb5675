#!/usr/bin/env bash
# What `npm run lint` runs: eslint, prettier --check, clang-format --dry-run --Werror and mandoc -Tlint,
# each of them even when one before failed (so one run shows every finding); exits 1 when any failed.
# With --fix (`npm run format`): rewrites the TypeScript, JavaScript and JSON with prettier and the
# C, C++ and BPF C with clang-format instead; eslint's findings are left to be fixed by hand.
#
# Configuration: eslint.config.js, .prettierrc and .prettierignore, .clang-format in the top
# directory (native/src, native/test, test/helpers) and in bpf/ and bench/c/. Generated files (dist, build,
# bpf/.output with vmlinux.h and the skeletons) are never checked.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

fix=false
[[ ${1:-} == --fix ]] && fix=true

if ! command -v clang-format >/dev/null; then
	echo "lint: clang-format is missing (Debian package clang-format): run scripts/setup.sh as root" >&2
	exit 1
fi

# The C, C++ and BPF C sources.
mapfile -t c_sources < <(find native/src native/test test/helpers bpf bench/c -path bpf/.output -prune -o -type f \
	\( -name '*.c' -o -name '*.cc' -o -name '*.h' \) -print | LC_ALL=C sort)

bin=node_modules/.bin
# What prettier reads: the source tree by name, not `.`, which would also walk .cache/ (prettier
# lists a directory before it applies .prettierignore, and an unreadable one there, such as the arm64
# guest's /root, stops an unprivileged run).
prettier_paths=(bin bench docs man native scripts src test ./*.js ./*.json)
if $fix; then
	"$bin/prettier" --write --log-level warn "${prettier_paths[@]}" && clang-format -i "${c_sources[@]}"
	exit
fi

failed=()
run() {
	local name=$1
	shift
	"$@" || failed+=("$name")
}
# No --cache: a cache written by root would make an unprivileged `npm test` fail.
run eslint "$bin/eslint" .
run prettier "$bin/prettier" --check --log-level warn "${prettier_paths[@]}"
run clang-format clang-format --dry-run --Werror "${c_sources[@]}"
run mandoc mandoc -Tlint -Wwarning man/*.1

if ((${#failed[@]} > 0)); then
	echo "lint: ${failed[*]} found problems (npm run format fixes prettier's and clang-format's)" >&2
	exit 1
fi
echo "lint: eslint, prettier, clang-format and mandoc found nothing"
