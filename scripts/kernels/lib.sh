# shellcheck shell=bash disable=SC2034 # (the variables are for the scripts that source this)
# Shared by the kernel matrix scripts (sourced, not run): where kernels are cached, how Debian's
# packages are found and downloaded without touching the system's apt configuration (for amd64 and
# arm64), how a kernel package's guest modules are collected, how an initramfs is packed, and the
# amd64 kernels.
#
# Everything lives under .cache/kernels/ in the checkout (ER_SHELL_KERNEL_CACHE overrides it), so a
# clean clone recreates it with no manual step.

KERNEL_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
KCACHE=${ER_SHELL_KERNEL_CACHE:-$KERNEL_ROOT/.cache/kernels}

# The kernels of the matrix: name, what Debian suite it comes from, and the package name pattern
# (the newest package matching it is taken). The families are the ones README's Requirements table
# names: 5.10 (Debian 11, Amazon Linux 2, Flatcar), 6.1 (Debian 12, Amazon Linux 2023), 6.12.
declare -A KERNEL_PACKAGE=(
	[5.10]='^linux-image-5\.10\.0-[0-9]+-amd64$'
	[6.1]='^linux-image-6\.1\.0-[0-9]+-amd64$'
	[6.12]='^linux-image-6\.12\.[0-9]+\+(deb12|bpo)[.0-9]*-amd64$'
)
KERNELS_AMD64=(5.10 6.1 6.12)

# --- scratch apt -----------------------------------------------------------------------------------
# One scratch apt configuration per architecture: its own sources, lists and cache, an empty dpkg
# status and no preferences, so the system's sources, pins and package state are never read or
# changed. Where each architecture's lives (arm64.sh points arm64's into its own cache directory).
declare -A KAPT_DIR=([amd64]=$KCACHE/apt [arm64]=$KCACHE/arm64/apt)
# The suites each architecture's configuration lists: amd64 the matrix's kernels (Debian 11's
# 5.10, 12's 6.1, bookworm-backports' 6.12); arm64 bookworm's kernel and the guest root's packages.
declare -A KAPT_SUITES=(
	[amd64]='bullseye bookworm bookworm-updates bookworm-backports bullseye-security bookworm-security'
	[arm64]='bookworm bookworm-updates bookworm-security'
)
KAPT_KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

# kapt ARCH apt-get|apt-cache ARG...: runs the apt tool with ARCH's scratch configuration.
kapt() {
	local arch=$1 tool=$2 d=${KAPT_DIR[$1]:?"kapt: unknown architecture '$1'"}
	shift 2
	"$tool" -o "Dir::Etc::SourceList=$d/sources.list" -o "Dir::Etc::SourceParts=$d/parts" \
		-o Dir::Etc::Preferences=/dev/null -o "Dir::Etc::PreferencesParts=$d/parts" \
		-o "Dir::State::Lists=$d/lists" -o "Dir::Cache=$d/cache" -o Dir::State::status=/dev/null \
		-o "APT::Architecture=$arch" -o "APT::Architectures=$arch" \
		-o Debug::NoLocking=1 -o APT::Sandbox::User=root "$@"
}

# The Debian mirror the system uses (the first deb.debian.org-like URI), so a machine behind a
# local mirror fetches kernels from that mirror too.
debian_mirror() {
	local uri
	uri=$(sed -n 's/^URIs: *\([^ ]*debian\)\/\?$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
	[[ -n $uri ]] || uri=$(sed -n 's/^deb \+\(http[^ ]*debian\)\/\? .*/\1/p' /etc/apt/sources.list 2>/dev/null | head -1)
	echo "${uri:-http://deb.debian.org/debian}"
}

# kapt_update ARCH [--refresh]: updates ARCH's scratch package lists when they are missing, older
# than a day, made from other sources, or --refresh is given.
kapt_update() {
	local arch=$1 refresh=${2:-} d=${KAPT_DIR[$1]:?"kapt_update: unknown architecture '$1'"} mirror suite want=
	mkdir -p "$d/lists/partial" "$d/cache/archives/partial" "$d/parts"
	mirror=$(debian_mirror)
	local opts="arch=$arch"
	[[ -f $KAPT_KEYRING ]] && opts+=" signed-by=$KAPT_KEYRING"
	for suite in ${KAPT_SUITES[$arch]}; do
		if [[ $suite == *-security ]]; then
			want+="deb [$opts] ${mirror%/debian}/debian-security $suite main"$'\n'
		else
			want+="deb [$opts] $mirror $suite main"$'\n'
		fi
	done
	if [[ $refresh != --refresh && -f $d/sources.list && $(<"$d/sources.list")$'\n' == "$want" ]] &&
		[[ -n $(find "$d/lists" -maxdepth 1 -name '*_Packages*' -mmin -1440 2>/dev/null | head -1) ]]; then
		return 0
	fi
	echo "apt-get update ($arch, scratch configuration)" >&2
	printf '%s' "$want" >"$d/sources.list"
	kapt "$arch" apt-get -qq update
}

# newest_package ARCH PATTERN: the newest package in ARCH's lists whose name matches PATTERN.
newest_package() {
	kapt "$1" apt-cache search --names-only "$2" | cut -d' ' -f1 | sort -V | tail -1
}

# kapt_download ARCH DIR PACKAGE...: downloads the packages' .debs into DIR.
kapt_download() {
	local arch=$1 dir=$2
	shift 2
	(cd "$dir" && kapt "$arch" apt-get -qq download "$@")
}

# --- kernel packages -------------------------------------------------------------------------------
# The directory of an extracted kernel package that holds lib/modules (/usr on merged-/usr packages).
kernel_modroot() {
	if [[ -d $1/lib/modules ]]; then echo "$1"; else echo "$1/usr"; fi
}

# The kernel release of an extracted kernel package (its lib/modules/<release>).
kernel_release() {
	local m
	m=$(compgen -G "$(kernel_modroot "$1")/lib/modules/*" | head -1)
	basename "$m"
}

# unpack_kernel DEB DIR: extracts the kernel package DEB into DIR (emptied first, never installed)
# and makes its module dependency files, for collect_modules.
unpack_kernel() {
	local deb=$1 dir=$2
	rm -rf "$dir" && mkdir -p "$dir"
	dpkg-deb -x "$deb" "$dir"
	depmod -b "$(kernel_modroot "$dir")" "$(kernel_release "$dir")"
}

# collect_modules KDIR DEST MODULE...: puts the modules an initramfs loads into DEST (emptied
# first): the named modules with whatever they depend on, in the order modprobe resolves them
# (built-ins need nothing), decompressed (busybox's insmod takes plain .ko files), and their load
# order, one file name a line, in DEST/order. KDIR: an extracted kernel package (unpack_kernel).
collect_modules() {
	local kdir=$1 dest=$2 m line ko base modroot release
	shift 2
	modroot=$(kernel_modroot "$kdir")
	release=$(kernel_release "$kdir")
	rm -rf "$dest" && mkdir -p "$dest"
	: >"$dest/order"
	for m in "$@"; do
		while read -r line; do
			[[ $line == insmod\ * ]] || continue # "builtin <name>"
			ko=$(echo "$line" | cut -d' ' -f2)
			base=$(basename "$ko")
			base=${base%.xz}; base=${base%.zst}; base=${base%.gz}
			grep -qx "$base" "$dest/order" && continue
			case $ko in
			*.xz) xz -dc "$ko" >"$dest/$base" ;;
			*.zst) zstd -qdc "$ko" >"$dest/$base" ;;
			*.gz) gzip -dc "$ko" >"$dest/$base" ;;
			*) cp "$ko" "$dest/$base" ;;
			esac
			echo "$base" >>"$dest/order"
		done < <(modprobe -d "$modroot" -S "$release" --show-depends "$m")
	done
}

# make_initramfs OUT BUSYBOX INIT MODULES [DIR...]: packs OUT, a gzip'ed cpio: BUSYBOX as
# /bin/busybox, INIT as /init, the directory MODULES (collect_modules's) as /modules, and the empty
# directories DIR... . Remade only when one of those changed (their hash is kept in the .sum file
# next to OUT: initramfs.cpio.gz's is initramfs.sum).
make_initramfs() {
	local out=$1 busybox=$2 init=$3 modules=$4 want stage sum=${1%.cpio.gz}.sum
	shift 4
	want=$( { cat "$busybox" "$init" "$modules/order"; sed "s|^|$modules/|" "$modules/order" | xargs -d '\n' cat; echo "$*"; } |
		sha256sum | cut -d' ' -f1)
	[[ -f $out && -f $sum && $(<"$sum") == "$want" ]] && return 0
	stage=$(mktemp -d "$(dirname "$out")/.initramfs.XXXXXX")
	mkdir -p "$stage/bin"
	if (($#)); then (cd "$stage" && mkdir -p "$@"); fi
	cp "$busybox" "$stage/bin/busybox"
	install -m 0755 "$init" "$stage/init"
	cp -r "$modules" "$stage/modules"
	(cd "$stage" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 | gzip -1) >"$out.tmp"
	mv "$out.tmp" "$out"
	echo "$want" >"$sum"
	rm -rf "$stage"
}
