// SPDX-License-Identifier: GPL-2.0
/*
 * probe.bpf.c — the small BPF object behind `er-shell check-kernel`.
 *
 * Whether recording works is decided by loading er_shell.bpf.c itself (native/src/engine.cc,
 * captureObject). This object proves, by loading and attaching for real, the rest: a
 * cgroup-attached program, and that bpf_get_current_cgroup_id() inside a fresh cgroup equals the
 * cgroup's inode (Teleport #3212).
 * The kprobe/fentry/LSM programs are informational: user space turns autoload on for one at a
 * time to learn whether this kernel offers them; er-shell never depends on them.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

/* Set by user space before load: only children of this process are recorded in `seen`. */
const volatile __u32 parent_tgid = 0;

/* Keyed by tgid: the cgroup id the process had at its latest execve. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} seen SEC(".maps");

/* Proves a ring buffer can be created alongside the programs (never written to). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} ring SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_execve")
int probe_execve(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 ppid = BPF_CORE_READ(task, real_parent, tgid);
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 cgid;

	if (ppid != parent_tgid)
		return 0;
	cgid = bpf_get_current_cgroup_id();
	bpf_map_update_elem(&seen, &tgid, &cgid, BPF_ANY);
	return 0;
}

/* Allows every IPv4 connect: loading and attaching it is the whole test. */
SEC("cgroup/connect4")
int probe_connect4(struct bpf_sock_addr *ctx)
{
	return 1;
}

/* Informational probes (autoload off unless user space asks for one). */
SEC("kprobe/security_bprm_check")
int BPF_KPROBE(probe_kprobe)
{
	return 0;
}

SEC("fentry/security_bprm_check")
int BPF_PROG(probe_fentry, struct linux_binprm *bprm)
{
	return 0;
}

SEC("lsm/bprm_check_security")
int BPF_PROG(probe_lsm, struct linux_binprm *bprm, int ret)
{
	return ret;
}
