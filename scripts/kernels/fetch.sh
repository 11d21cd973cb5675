#!/usr/bin/env bash
# Usage: scripts/kernels/fetch.sh NAME...   (NAME: 5.10, 6.1, 6.12; default: all of them)
#
# Makes .cache/kernels/<NAME>/ ready to boot: Debian's kernel package for NAME, downloaded with a
# scratch apt configuration and extracted (never installed), reduced to its vmlinuz, plus a busybox
# initramfs holding the package's own modules that the guest needs (virtio PCI, 9p over virtio,
# overlayfs) and the guest's /init (scripts/kernels/init.sh). Idempotent: a kernel whose directory
# is complete is left as it is.
set -euo pipefail
here=$(dirname "${BASH_SOURCE[0]}")
source "$here/lib.sh"

# The modules the guest loads, in this order (with whatever they depend on, found by modprobe).
GUEST_MODULES=(virtio_pci 9pnet_virtio 9p overlay)
# The directories init.sh mounts on in the initramfs.
INITRAMFS_DIRS=(dev proc sys host newroot xfer)

# Downloads and extracts the kernel package: vmlinuz, config, and the modules the guest loads.
fetch_one() {
	local name=$1 dir=$KCACHE/$1
	local pattern=${KERNEL_PACKAGE[$name]:-}
	[[ -n $pattern ]] || { echo "fetch: unknown kernel '$name' (known: ${!KERNEL_PACKAGE[*]})" >&2; return 2; }
	if [[ ! -f $dir/ready ]]; then
		kapt_update amd64
		local pkg
		pkg=$(newest_package amd64 "$pattern")
		[[ -n $pkg ]] || { echo "fetch: no Debian package matches $pattern" >&2; return 1; }
		echo "fetch: $name: $pkg"
		local tmp deb release
		tmp=$(mktemp -d "$KCACHE/.fetch.XXXXXX")
		kapt_download amd64 "$tmp" "$pkg"
		deb=$(compgen -G "$tmp/*.deb")
		unpack_kernel "$deb" "$tmp/x"
		release=$(kernel_release "$tmp/x")

		rm -rf "$dir"
		mkdir -p "$dir"
		collect_modules "$tmp/x" "$dir/modules" "${GUEST_MODULES[@]}"
		cp "$tmp"/x/boot/vmlinuz-* "$dir/vmlinuz"
		cp "$tmp"/x/boot/config-* "$dir/config"
		echo "$pkg $(dpkg-deb -f "$deb" Version)" >"$dir/package"
		echo "$release" >"$dir/release"
		rm -rf "$tmp"
		touch "$dir/ready"
		echo "fetch: $name: kernel $release, $(wc -l <"$dir/modules/order") modules for the initramfs"
	fi
	# Remade whenever init.sh, busybox or the modules changed.
	make_initramfs "$dir/initramfs.cpio.gz" /bin/busybox "$here/init.sh" "$dir/modules" "${INITRAMFS_DIRS[@]}"
}

mkdir -p "$KCACHE"
names=("$@")
((${#names[@]})) || names=("${KERNELS_AMD64[@]}")
for name in "${names[@]}"; do
	fetch_one "$name"
done
