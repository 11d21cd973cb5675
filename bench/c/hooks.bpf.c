// SPDX-License-Identifier: GPL-2.0
/*
 * The exec storm's floor: programs that do nothing, attached where er-shell's command capture
 * attaches (bpf/er_shell.bpf.c): the execve and execveat syscall tracepoints, entry and exit, and
 * the fork, exec and exit BTF tracepoints. What the storm pays with these is the kernel's own cost of
 * those hooks (every syscall takes the traced path, each hook is dispatched), which any recorder
 * on tracepoints pays; er-shell's cost above it is its programs and its user space.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tracepoint/syscalls/sys_enter_execve")
int floor_execve_enter(void *ctx) {
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_execve")
int floor_execve_exit(void *ctx) {
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_execveat")
int floor_execveat_enter(void *ctx) {
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_execveat")
int floor_execveat_exit(void *ctx) {
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(floor_fork, struct task_struct *parent, struct task_struct *child) {
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(floor_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm) {
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(floor_exit, struct task_struct *p) {
	return 0;
}
