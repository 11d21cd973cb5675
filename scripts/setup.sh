#!/usr/bin/env bash
# Sets up a Debian machine (as root) to build, run and test er-shell: the Debian packages that are
# missing, `npm ci` when node_modules is missing or stale, then the build. Idempotent, and fast
# (about a second) when everything is already in place.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh

# Build: clang llvm (llvm-strip) libbpf-dev libelf-dev zlib1g-dev bpftool make g++ python3 pkg-config.
# Lint: clang-format (C, C++ and BPF C; `npm run lint`).
# Tests and docs: tmux (interactive sessions), mandoc (man page lint), man-db (man), util-linux (setpriv, flock),
# iproute2 (ip netns for the network tests), perl, procps, ca-certificates (node-gyp fetches Node
# headers over https), liburing-dev (test/helpers/netprobe.c's io_uring connect), chromium (the
# HTML player's tests load the page in headless Chromium), asciinema (plays the asciicast export).
# The fleet store's tests and benchmarks: postgresql (Debian's, 15 on bookworm: initdb, pg_ctl,
# postgres, pg_trgm; each test starts its own cluster, test/helpers/postgres.ts).
# The kernel matrix (scripts/kernels/): qemu-system-x86, busybox-static (also the smoke suite's exec
# storm), cpio, kmod (depmod, modprobe), xz-utils and zstd (compressed modules).
PACKAGES=(clang llvm libbpf-dev libelf-dev zlib1g-dev bpftool make g++ python3 pkg-config clang-format
	tmux mandoc man-db util-linux iproute2 perl procps ca-certificates liburing-dev chromium asciinema postgresql
	qemu-system-x86 busybox-static cpio kmod xz-utils zstd)

missing=()
for pkg in "${PACKAGES[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
	[[ $status == installed ]] || missing+=("$pkg")
done
if ((${#missing[@]} > 0)); then
	if [[ $(id -u) -ne 0 ]]; then
		echo "setup: these Debian packages are missing and installing them needs root: ${missing[*]}" >&2
		echo "setup: run: sudo bash scripts/setup.sh" >&2
		exit 1
	fi
	echo "setup: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
	echo "setup: Debian packages present"
fi

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	echo "setup: Node.js 20 or newer with npm is required (https://nodejs.org, or NodeSource packages)" >&2
	exit 1
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if ((node_major < 20)); then
	echo "setup: Node.js $(node --version) is too old: er-shell needs Node.js 20 or newer" >&2
	exit 1
fi

# npm ci only when node_modules is missing or was installed from another package-lock.json.
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
stamp=node_modules/.er-shell-lock
if [[ -d node_modules && -f $stamp && $(<"$stamp") == "$lock_hash" ]]; then
	echo "setup: node_modules up to date"
else
	echo "setup: npm ci"
	# npm ci also runs `node-gyp rebuild` for this package (it has a binding.gyp), and the addon
	# includes the BPF skeletons: build those first. Both under the build lock.
	if command -v flock >/dev/null; then
		flock "$ER_SHELL_BUILD_LOCK" sh -c 'make -s -C bpf && npm ci --no-audit --no-fund'
	else
		make -s -C bpf && npm ci --no-audit --no-fund
	fi
	echo "$lock_hash" >"$stamp"
fi

build_if_needed
echo "setup: done"
