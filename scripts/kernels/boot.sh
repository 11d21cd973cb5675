#!/usr/bin/env bash
# Usage: scripts/kernels/boot.sh NAME [--timeout SECONDS] [--log FILE] -- CMD [ARG...]
#
# Boots the matrix kernel NAME (see fetch.sh, which this runs first) under QEMU with TCG (no KVM
# needed), with this host's root filesystem shared read-only and a tmpfs overlay on top, and runs
# CMD as root in the current directory inside it. The guest's console goes to standard output
# (and to --log). Exits with CMD's status; 124 when the guest did not finish within the timeout
# (default 900 s), 125 when it could not run CMD at all.
#
# Passed into the guest: the current directory, PATH, and the CI, NODE_OPTIONS and ER_SHELL_*
# variables. ER_GUEST_XFER names a read-write directory shared with the host, for results.
#
# -cpu qemu64: with -cpu max every exec cost about twice as much. -accel tcg,thread=single: with one
# host thread per vCPU (thread=multi, about 1.4x faster here) a guest now and then stuck one vCPU on
# a 5-byte NOP in syscall_exit_to_user_mode, the static-key site the kernel patches whenever
# syscall tracepoints are attached or detached (as every record does), until the soft lockup
# watchdog fired: code modified under a running vCPU, a hazard of multi-threaded emulation. With one
# thread the vCPUs take turns. ER_SHELL_QEMU_CPU and ER_SHELL_QEMU_TCG_THREAD override both.
set -euo pipefail
here=$(dirname "${BASH_SOURCE[0]}")
source "$here/lib.sh"

name=${1:?usage: boot.sh NAME [--timeout S] [--log FILE] -- CMD...}
shift
timeout=900 log=/dev/null
while (($#)); do
	case $1 in
	--timeout) timeout=$2; shift 2 ;;
	--log) log=$2; shift 2 ;;
	--) shift; break ;;
	*) echo "boot: unexpected argument '$1'" >&2; exit 2 ;;
	esac
done
(($#)) || { echo "boot: no command given" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "boot: must run as root (the guest shares the host's root filesystem)" >&2; exit 2; }
command -v qemu-system-x86_64 >/dev/null || { echo "boot: qemu-system-x86_64 is missing: run scripts/setup.sh" >&2; exit 2; }

"$here/fetch.sh" "$name" >&2
dir=$KCACHE/$name

xfer=$(mktemp -d /tmp/er-guest.XXXXXX)
qpid=
cleanup() {
	[[ -n $qpid ]] && kill "$qpid" 2>/dev/null && wait "$qpid" 2>/dev/null
	rm -rf "$xfer"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

{
	echo 'set -u'
	printf 'cd %q || exit 125\n' "$PWD"
	printf 'export PATH=%q HOME=/root TERM=%q ER_GUEST_XFER=/xfer\n' "$PATH" "${TERM:-dumb}"
	while IFS='=' read -r var _; do
		printf 'export %s=%q\n' "$var" "${!var}"
	done < <(env | grep -E '^(CI|NODE_OPTIONS|ER_SHELL_[A-Z0-9_]+)=' || true)
	printf '%q ' "$@"
	echo
} >"$xfer/cmd"

start=$(date +%s.%N)
qemu-system-x86_64 -machine pc -cpu "${ER_SHELL_QEMU_CPU:-qemu64}" -accel "tcg,thread=${ER_SHELL_QEMU_TCG_THREAD:-single}" -m 2048 -smp 2 -nographic -no-reboot -nic none \
	-kernel "$dir/vmlinuz" -initrd "$dir/initramfs.cpio.gz" \
	-append "console=ttyS0 quiet loglevel=3 panic=-1 softlockup_panic=1 rdinit=/init" \
	-fsdev local,id=host,path=/,security_model=none,readonly=on,multidevs=remap -device virtio-9p-pci,fsdev=host,mount_tag=host \
	-fsdev local,id=xfer,path="$xfer",security_model=none -device virtio-9p-pci,fsdev=xfer,mount_tag=xfer \
	</dev/null > >(tee -a "$log") 2>&1 &
qpid=$!

deadline=$((SECONDS + timeout))
while kill -0 "$qpid" 2>/dev/null; do
	if ((SECONDS >= deadline)); then
		echo "boot: $name: no result within ${timeout} s; stopping the guest" >&2
		exit 124
	fi
	sleep 0.2
done
wait "$qpid" || true
qpid=
elapsed=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
if [[ -f $xfer/status ]]; then
	status=$(<"$xfer/status")
	echo "boot: $name ($(<"$dir/release")): exit $status after ${elapsed} s" >&2
	exit "$status"
fi
echo "boot: $name: the guest stopped without running the command to its end" >&2
exit 125
