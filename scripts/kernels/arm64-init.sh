#!/bin/busybox sh
# shellcheck shell=dash
# /init of the arm64 guest's initramfs (built by scripts/kernels/arm64.sh, which copies this file
# in): loads the kernel package's own modules for 9p/virtio/overlay, mounts the arm64 root and the
# app tree that the host shares over 9p (read-only) under tmpfs-backed overlays, mounts what
# er-shell expects (proc, sys, devtmpfs, devpts, tracefs, debugfs, cgroup2, bpffs), switch_roots into
# the root and runs the command the host wrote to the "run" share, then prints
# ER_GUEST_EXIT=<status> and powers off. Runs under busybox only (nothing else is in the initramfs).
/bin/busybox mkdir -p /proc /sys /dev /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

say() { echo "er-guest: $*" >/dev/console; }
fail() {
	say "$*"
	echo "ER_GUEST_EXIT=255" >/dev/console
	poweroff -f
	sleep 5
}

while read -r m; do
	[ -n "$m" ] && { insmod "/modules/$m" || say "insmod $m failed"; }
done </modules/order

P9='trans=virtio,version=9p2000.L,msize=524288'
mkdir -p /lower/root /lower/app /lower/src /rw /newroot /run9
mount -t 9p -o "$P9" run /run9 || fail "cannot mount the run share"
mount -t 9p -o "$P9,cache=loose,ro" root /lower/root || fail "cannot mount the root share"
mount -t 9p -o "$P9,cache=loose,ro" app /lower/app || fail "cannot mount the app share"
mount -t 9p -o "$P9,ro" src /lower/src 2>/dev/null || true
mount -t tmpfs -o mode=0755 tmpfs /rw
mkdir -p /rw/root.up /rw/root.work /rw/app.up /rw/app.work
if mount -t overlay overlay -o lowerdir=/lower/root,upperdir=/rw/root.up,workdir=/rw/root.work /newroot; then
	mkdir -p /newroot/app
	mount -t overlay overlay -o lowerdir=/lower/app,upperdir=/rw/app.up,workdir=/rw/app.work /newroot/app ||
		fail "cannot overlay the app tree"
else
	# No overlay: the read-only root with tmpfs where programs write.
	say "overlay failed; read-only root with tmpfs mounts"
	mount --bind /lower/root /newroot
	mount --bind /lower/app /newroot/app
	for d in tmp root var/tmp var/log run; do mount -t tmpfs tmpfs "/newroot/$d"; done
fi

R=/newroot
mkdir -p $R/proc $R/sys $R/dev $R/tmp $R/run $R/src
mount -t proc proc $R/proc
mount -t sysfs sysfs $R/sys
mount -t devtmpfs devtmpfs $R/dev
mkdir -p $R/dev/pts $R/dev/shm
mount -t devpts -o gid=5,mode=0620,ptmxmode=0666 devpts $R/dev/pts
mount -t tmpfs -o mode=1777 tmpfs $R/dev/shm
mount -t tmpfs -o mode=1777 tmpfs $R/tmp
mount -t tmpfs -o mode=0755 tmpfs $R/run
mount -t tracefs tracefs $R/sys/kernel/tracing 2>/dev/null || say "no tracefs"
mount -t debugfs debugfs $R/sys/kernel/debug 2>/dev/null || true
mount -t securityfs securityfs $R/sys/kernel/security 2>/dev/null || true
mount -t cgroup2 -o nsdelegate cgroup2 $R/sys/fs/cgroup 2>/dev/null || say "no cgroup2"
mount -t bpf bpf $R/sys/fs/bpf 2>/dev/null || true
grep -q " /lower/src " /proc/mounts && mount --bind /lower/src $R/src
mkdir -p $R/run/er-guest
mount --bind /run9 $R/run/er-guest
ip link set lo up 2>/dev/null || true
hostname er-arm64

# Stage 2 runs as PID 1 in the new root after switch_root (not a chroot: BPF programs that walk a
# path up to the root of the mount tree would otherwise see /newroot/... for every file).
cat >$R/run/er-stage2 <<'EOF2'
B=/bin/busybox
read -r up _ </proc/uptime
echo "ER_GUEST_READY uptime=$up" >/dev/console
# The command: /run/er-guest/cmd, a bash script the host wrote (cd /app, env, then the command).
$B env -i HOME=/root TERM=$TERM LANG=C.UTF-8 \
	PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/lib/busybox \
	/bin/bash /run/er-guest/cmd </dev/console >/dev/console 2>&1
status=$?
read -r up _ </proc/uptime
echo "$status" >/run/er-guest/status
$B sync
echo "ER_GUEST_DONE uptime=$up" >/dev/console
echo "ER_GUEST_EXIT=$status" >/dev/console
$B poweroff -f
$B sleep 5
EOF2
[ -n "$TERM" ] || export TERM=vt100
umount /proc /sys 2>/dev/null
umount -l /dev 2>/dev/null
# shellcheck disable=SC2093 # (reached only when switch_root cannot be run)
exec switch_root $R /bin/busybox sh /run/er-stage2
fail "switch_root failed"
