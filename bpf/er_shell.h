/* SPDX-License-Identifier: Apache-2.0 */
/*
 * er_shell.h — the wire contract between the BPF programs and user space.
 *
 * Only fixed-width types, explicit padding, every struct a multiple of 8 bytes. Each ring record
 * starts with struct er_hdr; variable-length strings follow the fixed part, in the order given by
 * the *_len fields. The TypeScript decoder takes its offsets from native layout() (offsetof/sizeof
 * of these very structs), and a test compares them, so nothing here is mirrored by hand.
 */
#ifndef ER_SHELL_H
#define ER_SHELL_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Limits, bounded in every loop and documented in the man page. */
#define ER_PATH_MAX      4096   /* a path as passed, or a resolved path (incl. NUL) */
#define ER_ARGS_MAX     24576   /* the argument block (argv[0] included): > 20 args x 1024 bytes */
#define ER_ARG_MAX_FAIL  4096   /* one argument of a *failed* exec (read from the caller's memory) */
#define ER_ARGC_MAX_FAIL   64   /* arguments read for a failed exec */
#define ER_ARGC_COUNT   1024   /* arguments counted at exec entry (to tell the caller's argv
                                * from what a #! interpreter prepended) */
#define ER_PATH_DEPTH      48   /* path components walked when resolving a path */
#define ER_NAME_MAX       255   /* one path component */
#define ER_COMM_LEN        16

/* Record types (er_hdr.type). */
#define ER_REC_EXEC       1
#define ER_REC_OPEN       2
#define ER_REC_CONNECT    3
#define ER_REC_MIGRATE    4
#define ER_REC_LINE     100   /* never made by BPF: the native addon's audit event line for the
                               * record before it (native/src/lines.h), text after er_hdr */

/* Event kinds: bit i of the kinds mask, index i of the lost counters. */
#define ER_KIND_COMMAND   0
#define ER_KIND_DISK      1
#define ER_KIND_NETWORK   2
#define ER_KIND_CONTROL   3     /* migration records (travel in the command ring) */
#define ER_KIND_TRACKING  4     /* a process could not be added to the tracking map */
#define ER_KIND_PENDING   5     /* a syscall entry could not be remembered until its exit */
#define ER_NKINDS         6

/* er_task.scope: how the process was found to belong to the session. */
#define ER_SCOPE_CGROUP   1     /* it is in the session cgroup or a descendant */
#define ER_SCOPE_TRACKED  2     /* it left the cgroup but descends from a session process */

/* er_exec.flags / er_open.flags2 */
#define ER_F_ARGS_TRUNCATED   (1u << 0)
#define ER_F_PATH_TRUNCATED   (1u << 1)
#define ER_F_RES_TRUNCATED    (1u << 2)   /* resolved path cut at ER_PATH_DEPTH components */
#define ER_F_ARGS_FROM_MM     (1u << 3)   /* argv read from the new image (complete block) */

/* er_open.res_kind: what er_open's resolved string is. */
#define ER_RES_NONE   0   /* not resolved (absolute path as passed, or could not) */
#define ER_RES_FILE   1   /* absolute path of the opened file (from the returned fd) */
#define ER_RES_BASE   2   /* absolute path of the directory a relative path is relative to */

/* Syscall identifiers (er_exec.syscall / er_open.syscall). */
#define ER_SYS_EXECVE    0
#define ER_SYS_EXECVEAT  1
#define ER_SYS_OPEN      0
#define ER_SYS_OPENAT    1
#define ER_SYS_OPENAT2   2
#define ER_SYS_CREAT     3

struct er_hdr {
	__u32 type;        /* ER_REC_* */
	__u32 size;        /* whole record, header included */
	__u64 ktime_ns;    /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
};

struct er_task {
	__u64 cgroup_id;   /* cgroup v2 id of the process at event time */
	__u32 pid;         /* tgid */
	__u32 tid;
	__u32 ppid;        /* tgid of the real parent */
	__u32 uid;
	__u32 loginuid;    /* audit login uid, (u32)-1 when unset */
	__u32 audit_session_id;
	__u32 scope;       /* ER_SCOPE_* */
	__u32 _pad;
	char  comm[ER_COMM_LEN];
};

/* One record per exec. Followed by path[path_len], args[args_len], exe[exe_len]. */
struct er_exec {
	struct er_hdr  hdr;
	struct er_task task;
	__s32 retval;      /* 0 or -errno */
	__u32 syscall;     /* ER_SYS_EXECVE / ER_SYS_EXECVEAT */
	__s32 dirfd;       /* execveat only */
	__u32 at_flags;    /* execveat only */
	__u32 flags;       /* ER_F_* */
	__u32 path_len;    /* filename as passed, NUL included (0 when unreadable) */
	__u32 args_len;    /* NUL-separated argument strings, argv[0] first */
	__u32 exe_len;     /* resolved absolute path of the new image (successful execs) */
	__u32 argv_skip;   /* strings before the caller's argv[1] in args: 1, or more when a #!
	                    * interpreter (binfmt_script/misc) rewrote the block; left at 1 when
	                    * the caller passed more than ER_ARGC_COUNT arguments (not counted) */
	__u32 _pad;
};

/* One record per open. Followed by path[path_len], resolved[res_len]. */
struct er_open {
	struct er_hdr  hdr;
	struct er_task task;
	__s64 retval;      /* fd or -errno */
	__u64 flags;       /* open flags (openat2: how.flags) */
	__u32 mode;
	__s32 dirfd;
	__u32 syscall;     /* ER_SYS_OPEN... */
	__u32 flags2;      /* ER_F_* */
	__u32 path_len;
	__u32 res_len;
	__u32 res_kind;    /* ER_RES_* */
	__u32 _pad;
};

/* One record per TCP connect (socket entering SYN_SENT). */
struct er_connect {
	struct er_hdr  hdr;
	struct er_task task;
	__u8  saddr[16];   /* IPv4 in the first 4 bytes */
	__u8  daddr[16];
	__u16 sport;       /* host order */
	__u16 dport;       /* host order */
	__u16 family;      /* AF_INET / AF_INET6 */
	__u16 _pad;
	__u64 _pad2;       /* explicit tail padding to a multiple of 8 */
};

/* A session process moved to another cgroup. Followed by dst_path[path_len]. */
struct er_migrate {
	struct er_hdr  hdr;
	struct er_task task;   /* the writer (current) */
	__u64 dst_cgroup_id;
	__u32 moved_pid;       /* tid of the task moved */
	__s32 dst_level;
	__u32 path_len;
	__u32 _pad;
};

#endif /* ER_SHELL_H */
