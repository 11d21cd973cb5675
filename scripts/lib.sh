# Shared by scripts/setup.sh and scripts/test.sh (sourced, not run): build only when sources changed.

# Serialise builds with other builds on the same machine (node-gyp rebuild wipes build/).
ER_SHELL_BUILD_LOCK=${ER_SHELL_BUILD_LOCK:-/tmp/er-build.lock}
BUILD_STAMP=dist/.build-stamp

# A hash of everything `npm run build` reads; cheap (a few ms).
source_hash() {
	{
		find bpf native src test bench -type f \( -name '*.c' -o -name '*.h' -o -name '*.cc' -o -name '*.ts' -o -name 'Makefile' \) \
			-not -path 'bpf/.output/*' 2>/dev/null | LC_ALL=C sort | xargs -r sha256sum
		sha256sum binding.gyp tsconfig.json package.json package-lock.json
		uname -r
	} | sha256sum | cut -d' ' -f1
}

build_outputs_present() {
	[[ -f build/Release/er_shell.node && -x build/Release/er-shell-join && -f dist/src/commands/check-kernel.js ]] &&
		compgen -G 'bpf/.output/*.skel.h' >/dev/null
}

# Runs `npm run build` unless the outputs exist and were built from these exact sources.
build_if_needed() {
	local want
	want=$(source_hash)
	if build_outputs_present && [[ -f $BUILD_STAMP && $(<"$BUILD_STAMP") == "$want" ]]; then
		echo "build: up to date"
		return 0
	fi
	echo "build: npm run build"
	if command -v flock >/dev/null; then
		flock "$ER_SHELL_BUILD_LOCK" npm run --silent build
	else
		npm run --silent build
	fi
	mkdir -p dist && echo "$want" >"$BUILD_STAMP"
}
