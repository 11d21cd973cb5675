/* SPDX-License-Identifier: Apache-2.0 */
/*
 * er_shell.h — the wire contract between the BPF programs and user space.
 *
 * Only fixed-width types, explicit padding, every struct a multiple of 8 bytes. Each ring record
 * starts with struct er_hdr; variable-length strings follow the fixed part, in the order given by
 * the *_len fields. The TypeScript decoder takes its offsets from native layout() (offsetof/sizeof
 * of these very structs, from the field lists below), so nothing here is mirrored by hand.
 */
#ifndef ER_SHELL_H
#define ER_SHELL_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Limits, bounded in every loop and documented in the man page. */
#define ER_PATH_MAX      4096  /* a path as passed, or a resolved path (incl. NUL) */
#define ER_ARGS_MAX      24576 /* the argument block (argv[0] included): > 20 args x 1024 bytes */
#define ER_ARG_MAX_FAIL  4096  /* one argument of a *failed* exec (read from the caller's memory) */
#define ER_ARGC_MAX_FAIL 64    /* arguments read for a failed exec */
/* arguments counted at exec entry (to tell the caller's argv from what a #! interpreter prepended) */
#define ER_ARGC_COUNT    1024
#define ER_PATH_DEPTH    48  /* path components walked when resolving a path */
#define ER_NAME_MAX      255 /* one path component */
#define ER_COMM_LEN      16
#define ER_DNS_MAX       272 /* a DNS query's bytes kept: header (12), name (<= 255), type and class */
#define ER_NET_RULES_MAX 128 /* rules of a session's network policy */

/* Record types (er_hdr.type). */
#define ER_REC_EXEC    1
#define ER_REC_OPEN    2
#define ER_REC_NET     3
#define ER_REC_MIGRATE 4
/* never made by BPF: the line type (ER_REC_LINE + it) of a network attempt the policy denied */
#define ER_REC_NET_DENIED 5
#define ER_REC_EXIT       6
/* never made by BPF: ER_REC_LINE + a record's type is the native addon's audit event line for
 * such a record (native/src/lines.h), text after er_hdr */
#define ER_REC_LINE 100

/* Event kinds: bit i of the kinds mask, index i of the lost counters. */
#define ER_KIND_COMMAND  0
#define ER_KIND_DISK     1
#define ER_KIND_NETWORK  2
#define ER_KIND_CONTROL  3 /* migration records (travel in the command ring) */
#define ER_KIND_TRACKING 4 /* a process could not be added to the tracking map */
#define ER_KIND_PENDING  5 /* a syscall entry could not be remembered until its exit */
#define ER_NKINDS        6

/* er_task.scope: how the process was found to belong to the session. */
#define ER_SCOPE_CGROUP  1 /* it is in the session cgroup or a descendant */
#define ER_SCOPE_TRACKED 2 /* it left the cgroup but descends from a session process */

/* er_exec.flags / er_open.flags2 */
#define ER_F_ARGS_TRUNCATED (1u << 0)
#define ER_F_PATH_TRUNCATED (1u << 1)
#define ER_F_RES_TRUNCATED  (1u << 2) /* resolved path cut at ER_PATH_DEPTH components */
#define ER_F_ARGS_FROM_MM   (1u << 3) /* argv read from the new image (complete block) */
#define ER_F_OTHER_MNTNS    (1u << 4) /* resolved in another mount namespace than the recorder's: no host view */

/* er_open.res_kind: what er_open's resolved string is. */
#define ER_RES_NONE 0 /* not resolved (absolute path as passed, or could not) */
#define ER_RES_FILE 1 /* absolute path of the opened file (from the returned fd) */
#define ER_RES_BASE 2 /* absolute path of the directory a relative path is relative to */

/* Syscall identifiers (er_exec.syscall / er_open.syscall). */
#define ER_SYS_EXECVE   0
#define ER_SYS_EXECVEAT 1
#define ER_SYS_OPEN     0
#define ER_SYS_OPENAT   1
#define ER_SYS_OPENAT2  2
#define ER_SYS_CREAT    3

/*
 * The record structs are written once, as field lists: ER_<NAME>_FIELDS(F, A) names every member in
 * order, F(type, name) for a scalar or struct member, A(type, name, count) for an array. The
 * structs below are made from them, and native/src/layout.cc makes from the same lists the offset
 * tables the TypeScript decoder reads (and checks at compile time that no struct has implicit
 * padding): a member added here reaches both sides. ER_STRUCTS lists every record struct.
 */
#define ER_MEMBER(type, name)       type name;
#define ER_ARRAY(type, name, count) type name[count];

#define ER_HDR_FIELDS(F, A)                                                                                            \
	F(__u32, type)     /* ER_REC_* */                                                                              \
	F(__u32, size)     /* whole record, header included */                                                         \
	F(__u64, ktime_ns) /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
struct er_hdr {
	ER_HDR_FIELDS(ER_MEMBER, ER_ARRAY)
};

#define ER_TASK_FIELDS(F, A)                                                                                           \
	F(__u64, cgroup_id) /* cgroup v2 id of the process at event time */                                            \
	F(__u32, pid)       /* tgid */                                                                                 \
	F(__u32, tid)                                                                                                  \
	F(__u32, ppid) /* tgid of the real parent */                                                                   \
	F(__u32, uid)                                                                                                  \
	F(__u32, loginuid) /* audit login uid, (u32)-1 when unset */                                                   \
	F(__u32, audit_session_id)                                                                                     \
	F(__u32, scope) /* ER_SCOPE_* */                                                                               \
	F(__u32, _pad)                                                                                                 \
	A(char, comm, ER_COMM_LEN)
struct er_task {
	ER_TASK_FIELDS(ER_MEMBER, ER_ARRAY)
};

/*
 * One record per exec. Followed by path[path_len], args[args_len], exe[exe_len]. argv_skip: the
 * strings before the caller's argv[1] in args: 1, or more when a #! interpreter (binfmt_script/misc)
 * rewrote the block; left at 1 when the caller passed more than ER_ARGC_COUNT arguments (not counted).
 */
#define ER_EXEC_FIELDS(F, A)                                                                                           \
	F(struct er_hdr, hdr)                                                                                          \
	F(struct er_task, task)                                                                                        \
	F(__s32, retval)    /* 0 or -errno */                                                                          \
	F(__u32, syscall)   /* ER_SYS_EXECVE / ER_SYS_EXECVEAT */                                                      \
	F(__s32, dirfd)     /* execveat only */                                                                        \
	F(__u32, at_flags)  /* execveat only */                                                                        \
	F(__u32, flags)     /* ER_F_* */                                                                               \
	F(__u32, path_len)  /* filename as passed, NUL included (0 when unreadable) */                                 \
	F(__u32, args_len)  /* NUL-separated argument strings, argv[0] first */                                        \
	F(__u32, exe_len)   /* resolved absolute path of the new image (successful execs) */                           \
	F(__u32, argv_skip) /* see above */                                                                            \
	F(__u32, exe_root)  /* bytes of exe above the process's root directory (chroot): exe + exe_root is its view */
struct er_exec {
	ER_EXEC_FIELDS(ER_MEMBER, ER_ARRAY)
};

/* One record per open. Followed by path[path_len], resolved[res_len]. */
#define ER_OPEN_FIELDS(F, A)                                                                                           \
	F(struct er_hdr, hdr)                                                                                          \
	F(struct er_task, task)                                                                                        \
	F(__s64, retval) /* fd or -errno */                                                                            \
	F(__u64, flags)  /* open flags (openat2: how.flags) */                                                         \
	F(__u32, mode)                                                                                                 \
	F(__s32, dirfd)                                                                                                \
	F(__u32, syscall) /* ER_SYS_OPEN... */                                                                         \
	F(__u32, flags2)  /* ER_F_* */                                                                                 \
	F(__u32, path_len)                                                                                             \
	F(__u32, res_len)                                                                                              \
	F(__u32, res_kind) /* ER_RES_* */                                                                              \
	F(__u32,                                                                                                       \
	  res_root) /* bytes of resolved above the process's root directory (chroot): resolved + res_root is its view */
struct er_open {
	ER_OPEN_FIELDS(ER_MEMBER, ER_ARRAY)
};

/* er_net.operation / .action: Teleport's session.network values. */
#define ER_NET_CONNECT  0
#define ER_NET_SEND     1
#define ER_NET_OBSERVED 0
#define ER_NET_DENIED   1

/*
 * One record per network attempt: a TCP connect (socket entering SYN_SENT), the sends of a process
 * to one UDP destination (or one DNS question) folded to one record per second (`sends` of them),
 * or an attempt the session's policy denied. Followed by dns[dns_len]: the DNS message's first
 * bytes (from its header) when the send was a query to port 53, else nothing.
 */
#define ER_NET_FIELDS(F, A)                                                                                            \
	F(struct er_hdr, hdr)                                                                                          \
	F(struct er_task, task)                                                                                        \
	A(__u8, saddr, 16) /* IPv4 in the first 4 bytes; zero when not chosen yet */                                   \
	A(__u8, daddr, 16)                                                                                             \
	F(__u16, sport)    /* host order */                                                                            \
	F(__u16, dport)    /* host order */                                                                            \
	F(__u16, family)   /* AF_INET / AF_INET6 */                                                                    \
	F(__u8, protocol)  /* IPPROTO_TCP / IPPROTO_UDP */                                                             \
	F(__u8, operation) /* ER_NET_CONNECT / ER_NET_SEND */                                                          \
	F(__u8, action)    /* ER_NET_OBSERVED / ER_NET_DENIED */                                                       \
	A(__u8, _pad, 3)                                                                                               \
	F(__u32, sends) /* sends this record stands for (ER_NET_SEND) */                                               \
	F(__u32, dns_len)                                                                                              \
	F(__u32, _pad2)
struct er_net {
	ER_NET_FIELDS(ER_MEMBER, ER_ARRAY)
};

/* One rule of the session's network policy (user space fills them in; er_shell.bpf.c applies them). */
#define ER_NET_RULE_FIELDS(F, A)                                                                                       \
	A(__u32, addr, 4) /* network order; IPv4 in addr[0] */                                                         \
	A(__u32, mask, 4) /* the prefix as a mask, network order: an address matches when (a ^ addr) & mask is 0 */    \
	F(__u8, family)   /* 4 or 6 */                                                                                 \
	F(__u8, prefix_len)                                                                                            \
	F(__u8, deny) /* 1: deny rule, 0: allow rule */                                                                \
	F(__u8, _pad)                                                                                                  \
	F(__u16, port_lo) /* host order; 0-65535 for every port */                                                     \
	F(__u16, port_hi)
struct er_net_rule {
	ER_NET_RULE_FIELDS(ER_MEMBER, ER_ARRAY)
};

/* A session process moved to another cgroup. Followed by dst_path[path_len]. */
#define ER_MIGRATE_FIELDS(F, A)                                                                                        \
	F(struct er_hdr, hdr)                                                                                          \
	F(struct er_task, task) /* the writer (current) */                                                             \
	F(__u64, dst_cgroup_id)                                                                                        \
	F(__u32, moved_pid) /* tid of the task moved */                                                                \
	F(__s32, dst_level)                                                                                            \
	F(__u32, path_len)                                                                                             \
	F(__u32, _pad)
struct er_migrate {
	ER_MIGRATE_FIELDS(ER_MEMBER, ER_ARRAY)
};

/* A session process ended (its last thread exited): one record per process, never per thread. */
#define ER_EXIT_FIELDS(F, A)                                                                                           \
	F(struct er_hdr, hdr)                                                                                          \
	F(struct er_task, task) /* the process, as it ended */                                                         \
	F(__s32, exit_code)     /* the wait status: (status << 8), or the signal | 0x80 when it dumped core */         \
	F(__u32, _pad)                                                                                                 \
	F(__u64, start_ns) /* when it was forked: CLOCK_MONOTONIC, as hdr.ktime_ns */
struct er_exit {
	ER_EXIT_FIELDS(ER_MEMBER, ER_ARRAY)
};

/* Every record struct with its field list: S(struct name, ER_<NAME>_FIELDS). */
#define ER_STRUCTS(S)                                                                                                  \
	S(er_hdr, ER_HDR_FIELDS)                                                                                       \
	S(er_task, ER_TASK_FIELDS)                                                                                     \
	S(er_exec, ER_EXEC_FIELDS)                                                                                     \
	S(er_open, ER_OPEN_FIELDS)                                                                                     \
	S(er_net, ER_NET_FIELDS)                                                                                       \
	S(er_net_rule, ER_NET_RULE_FIELDS)                                                                             \
	S(er_migrate, ER_MIGRATE_FIELDS)                                                                               \
	S(er_exit, ER_EXIT_FIELDS)

/* The constants above that user space reads by name (native layout(): layout.constants). */
/* (clang-format would pack the groups below into one paragraph) */
/* clang-format off */
#define ER_CONSTANTS(C) \
	C(ER_PATH_MAX) C(ER_ARGS_MAX) C(ER_ARG_MAX_FAIL) C(ER_ARGC_MAX_FAIL) C(ER_PATH_DEPTH) C(ER_COMM_LEN) \
	C(ER_REC_EXEC) C(ER_REC_OPEN) C(ER_REC_NET) C(ER_REC_MIGRATE) C(ER_REC_NET_DENIED) C(ER_REC_EXIT) C(ER_REC_LINE) \
	C(ER_DNS_MAX) C(ER_NET_RULES_MAX) C(ER_NET_CONNECT) C(ER_NET_SEND) C(ER_NET_OBSERVED) C(ER_NET_DENIED) \
	C(ER_KIND_COMMAND) C(ER_KIND_DISK) C(ER_KIND_NETWORK) C(ER_KIND_CONTROL) C(ER_KIND_TRACKING) \
	C(ER_KIND_PENDING) C(ER_NKINDS) \
	C(ER_SCOPE_CGROUP) C(ER_SCOPE_TRACKED) \
	C(ER_F_ARGS_TRUNCATED) C(ER_F_PATH_TRUNCATED) C(ER_F_RES_TRUNCATED) C(ER_F_ARGS_FROM_MM) C(ER_F_OTHER_MNTNS) \
	C(ER_RES_NONE) C(ER_RES_FILE) C(ER_RES_BASE) \
	C(ER_SYS_EXECVE) C(ER_SYS_EXECVEAT) C(ER_SYS_OPEN) C(ER_SYS_OPENAT) C(ER_SYS_OPENAT2) C(ER_SYS_CREAT)
/* clang-format on */

#endif /* ER_SHELL_H */
