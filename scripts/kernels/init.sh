#!/bin/busybox sh
# shellcheck shell=dash
# /init of the kernel matrix's guests (the initramfs made by scripts/kernels/fetch.sh).
#
# Loads the kernel package's own modules, mounts the host's root (shared read-only over virtio-9p,
# tag "host") under a tmpfs overlay so that the guest can write anywhere without touching the host,
# mounts what a recording host has (proc, sys, dev, tracefs, cgroup2), then runs /xfer/cmd (the
# "xfer" share, read-write: the host's boot.sh writes the command there and reads the status back)
# in a chroot into that root. The last console line is "ER_GUEST_EXIT=<status>".
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null

fail() {
	echo "guest: $*"
	echo "ER_GUEST_EXIT=125"
	poweroff -f
}

while read -r m; do
	insmod "/modules/$m" || fail "insmod $m failed"
done </modules/order

mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=262144 host /host || fail "cannot mount the host's root"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 xfer /xfer || fail "cannot mount the xfer share"
mkdir -p /upper
mount -t tmpfs -o mode=0755 upper /upper
mkdir -p /upper/u /upper/w
mount -t overlay -o lowerdir=/host,upperdir=/upper/u,workdir=/upper/w overlay /newroot || fail "cannot mount the overlay"

r=/newroot
mount -t proc proc $r/proc
mount -t sysfs sys $r/sys
mount -t devtmpfs dev $r/dev
mkdir -p $r/dev/pts $r/dev/shm
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts $r/dev/pts
[ -e $r/dev/ptmx ] || ln -s pts/ptmx $r/dev/ptmx
mount -t tmpfs tmpfs $r/dev/shm
# /tmp stays the host's, seen through the overlay (writes stay in the guest): the checkout that
# runs in the guest may well live there (a CI clone, say).
mount -t tmpfs -o mode=0755 tmpfs $r/run
mount -t tracefs tracefs $r/sys/kernel/tracing 2>/dev/null
mount -t debugfs debugfs $r/sys/kernel/debug 2>/dev/null
mount -t securityfs securityfs $r/sys/kernel/security 2>/dev/null
mount -t cgroup2 cgroup2 $r/sys/fs/cgroup 2>/dev/null
# The host's own mount points show their contents through 9p: /cgroup2 (where er-shell mounts
# cgroup2 on the host) would be a directory full of files here, which er-shell rightly refuses to
# mount over. The guest mounts cgroup2 there as the host has it; where the host has no /cgroup2,
# neither has the guest, and er-shell makes and mounts it itself.
[ -d $r/cgroup2 ] && mount -t cgroup2 cgroup2 $r/cgroup2
mkdir -p $r/xfer
mount --bind /xfer $r/xfer
ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up

echo "guest: up in $(cut -d' ' -f1 /proc/uptime) s, kernel $(uname -r)"
chroot $r /bin/sh /xfer/cmd </dev/console >/dev/console 2>&1
st=$?
echo $st >/xfer/status
sync
echo "ER_GUEST_EXIT=$st"
poweroff -f
