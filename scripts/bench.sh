#!/usr/bin/env bash
# What `npm run bench` runs (not part of `npm test`): installs what er-shell is compared against
# when missing (bpftrace, auditd, script(1), GNU time), builds when sources changed, compiles the C
# load helpers, then runs dist/bench/run.js: interleaved side-by-side comparisons, a markdown table
# plus JSON on stdout, JSON in bench/results/<timestamp>.json and the table in bench/RESULTS.md.
#
# Needs root (BPF, cgroups, auditd). Environment: BENCH_RUNS (rounds, default 5), BENCH_ONLY
# (comma list of storm,throughput,terminal,fixed,memory,replay,storage,udp,fleet,search). Whatever happens, the
# auditd rule is removed, an auditd we started is stopped, bpftrace is stopped and the scratch
# directory is removed (trap below; dist/bench/run.js also cleans up after itself).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh

if [[ $(id -u) -ne 0 ]]; then
	echo "bench: needs root (BPF, cgroups, auditd): run it as \`sudo npm run bench\`" >&2
	exit 77
fi

# ---- packages compared against (and used to measure): install only what is missing
need=()
for pkg in bpftrace auditd util-linux time gcc libc6-dev; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
	[[ $status == installed ]] || need+=("$pkg")
done
if ((${#need[@]} > 0)); then
	echo "bench: installing ${need[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

build_if_needed

WORK=$(mktemp -d /tmp/er-bench.XXXXXX)
export BENCH_WORK=$WORK BENCH_BIN=$WORK/bin BENCH_STATE=$WORK/state
mkdir -p "$BENCH_BIN" "$BENCH_STATE"

cleanup() {
	local status=$? st=$BENCH_STATE pid enabled backlog
	set +e # every step runs, whatever failed before
	# auditd rule first (it costs every exec on the host), then a daemon we started, then the
	# kernel audit settings we changed.
	if [[ -f $st/audit.rule ]] || [[ -f $st/auditd.pid ]]; then
		auditctl -d always,exit -F arch=b64 -S execve -k erbench >/dev/null 2>&1 || true
	fi
	if [[ -f $st/auditd.pid ]]; then
		pid=$(<"$st/auditd.pid")
		if [[ $(cat "/proc/$pid/comm" 2>/dev/null) == auditd ]]; then
			kill -TERM "$pid" 2>/dev/null || true
			for _ in $(seq 50); do [[ -e /proc/$pid ]] || break; sleep 0.1; done
		fi
	fi
	if [[ -f $st/audit.orig ]]; then
		read -r enabled backlog <"$st/audit.orig" || true
		[[ $(auditctl -s 2>/dev/null | sed -n 's/^pid //p') == 0 ]] && auditctl -e "$enabled" >/dev/null 2>&1 || true
		auditctl -b "$backlog" >/dev/null 2>&1 || true
	fi
	if [[ -f $st/bpf-stats.orig ]]; then
		cat "$st/bpf-stats.orig" >/proc/sys/kernel/bpf_stats_enabled 2>/dev/null || true
	fi
	if [[ -f $st/bpftrace.pid ]]; then
		pid=$(<"$st/bpftrace.pid")
		[[ $(cat "/proc/$pid/comm" 2>/dev/null) == bpftrace ]] && kill -KILL "$pid" 2>/dev/null || true
	fi
	if [[ -f $st/hooks.pid ]]; then
		pid=$(<"$st/hooks.pid")
		[[ $(cat "/proc/$pid/comm" 2>/dev/null) == hooks ]] && kill -TERM "$pid" 2>/dev/null || true
	fi
	rm -rf "$WORK"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

gcc -O2 -Wall -o "$BENCH_BIN/opener" bench/c/opener.c
gcc -O2 -Wall -o "$BENCH_BIN/consumer" bench/c/consumer.c
# The exec storm's floor: do-nothing programs on er-shell's command hooks (vmlinux.h from the build).
clang -g -O2 -Wall -Werror -target bpf -D__TARGET_ARCH_"$(uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')" \
	-Ibpf/.output -c bench/c/hooks.bpf.c -o "$BENCH_BIN/hooks.bpf.o"
gcc -O2 -Wall -o "$BENCH_BIN/hooks" bench/c/hooks.c -lbpf

node dist/bench/run.js
