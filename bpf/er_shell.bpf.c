// SPDX-License-Identifier: GPL-2.0
/*
 * er_shell.bpf.c — kernel side of er-shell's capture engine.
 *
 * Scope: a process belongs to the session when it is in the session cgroup or a descendant of it
 * (bpf_get_current_ancestor_cgroup_id at the session's level), or when it is in `tracked`: every
 * session process seen at fork or exec is added there, so one that writes itself into another
 * cgroup stays recorded, and the move itself is reported (ER_REC_MIGRATE).
 *
 * Only stable hooks: syscall tracepoints for the syscalls, and BTF tracepoints (tp_btf: the raw
 * tracepoint with typed arguments) for fork, exit, a successful exec's new image, TCP state
 * changes and cgroup moves. No kprobes, no fentry. The network beyond TCP connects is seen by
 * cgroup programs attached to the session cgroup itself: cgroup_skb/egress for UDP sends and DNS
 * queries, and, with a network policy, cgroup/connect4|6 and cgroup/sendmsg4|6, which deny what
 * the policy does not allow (EPERM) and record the attempt.
 *
 * An exec: its syscall's entry remembers the caller's pointers and flags (exec_pending); a
 * successful one is recorded at sched_process_exec from the kernel's own copies (the path, the new
 * image's argument block and file), a failed one at the syscall's exit from the caller's memory.
 *
 * Linux 5.8 or newer: a program that walks a path or an argument list comes in two variants with one
 * body (see STEPS), NAME with bpf_loop (5.17+; the verifier checks one step, so the object loads 2-3x
 * faster) and NAME_noloop with plain bounded loops (5.3+) and the same limits; user space loads one
 * of the two after a feature probe. Helpers newer than 5.8 are only called behind a read-only
 * constant that user space sets from a probe (ancestor_helper): the verifier never visits a branch
 * a known constant rules out, so an older kernel never sees the call.
 *
 * Every program checks "is this my session?" first. Records go to one ring per kind; a failed
 * reserve/output is counted in `lost` per kind, never ignored. Consumers are woken only when a
 * ring is a quarter full; otherwise the user-space poll thread collects batches on its own timer.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "er_shell.h"

char LICENSE[] SEC("license") = "GPL";

#define AF_INET  2
#define AF_INET6 10
#define AT_FDCWD -100

/* The session cgroup, written by user space (.bss, mapped into user space) once it exists: `record`
 * loads and attaches the programs while the rest of er-shell starts, and until then they match
 * nothing. User space writes the level first and the id last: an id of 0 means "not yet". */
volatile __u64 session_cgid = 0;
volatile __u32 session_level = 0;

/* The cgroup id check (Teleport #3212): while user space runs one program in the session cgroup as
 * its own child before the session starts, check_parent is that user space's tgid, and
 * on_cgroup_check remembers the cgroup id BPF sees at the child's exec. 0 otherwise. */
volatile __u32 check_parent = 0;

/* Sizes are set by user space before load (bpf_map__set_max_entries). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 * 4096);
} rb_command SEC(".maps");
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 128 * 4096);
} rb_disk SEC(".maps");
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 * 4096);
} rb_network SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, ER_NKINDS);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

/* tgid -> 1: processes that belong to the session wherever their cgroup is now. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u32);
} tracked SEC(".maps");

/* An exec between its entry and its outcome, keyed by tgid: a non-main thread that execs takes
 * the leader's pid during de_thread, so its tid changes but its tgid does not. Small on purpose
 * (no strings): a successful exec's record is made from the kernel's own copy of the path
 * (bprm->filename, in on_exec_image), a failed exec's from the caller's memory, which is still
 * there at the syscall's exit. */
struct exec_pending {
	__u64 argv;     /* the caller's argv (user pointer) */
	__u64 filename; /* the caller's path (user pointer) */
	__s32 dirfd;
	__u32 at_flags;
	__u32 syscall;
	__u32 argc;        /* the caller's argc; ER_ARGC_COUNT + 1 when more (not counted) */
	__u32 fd_relative; /* execveat with a dirfd and a path not starting with '/': the kernel
	                    * names the file "/dev/fd/<dirfd>[/<path>]" */
	__u32 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, struct exec_pending);
} exec_pending SEC(".maps");

/* An open between its entry and its exit, keyed by pid_tgid (no tid change for opens). */
struct open_pending {
	__u64 path;
	__u64 flags;
	__u32 mode;
	__s32 dirfd;
	__u32 syscall;
	__u32 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct open_pending);
} open_pending SEC(".maps");

/* tgid -> the cgroup id bpf_get_current_cgroup_id() returned at its execve (see check_parent). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} check_seen SEC(".maps");

/* Scratch space to assemble variable-length records: one slot per CPU (max_entries = number of
 * possible CPUs, set by user space); a plain array because per-CPU values are capped at 32 KiB. */
#define SCRATCH_SIZE 65536
#define DATA_MASK    0x7fff /* offsets into the data part stay below 32 KiB */
struct scratch {
	char buf[SCRATCH_SIZE];
};
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

/* Buffer for resolving a path from its leaf upwards: the path ends at ER_PATH_MAX - 1, and the
 * second half only absorbs the worst-case write so that masked offsets stay in bounds. */
struct pathbuf {
	char buf[ER_PATH_MAX * 2];
	__u32 pos; /* kept in map memory, not a register, so that the walk's branches converge */
	__u32 done;
	__u32 root_pos; /* pos when the walk passed the process's root directory; ROOT_NOT_SEEN before */
	__u32 _pad;
};
#define ROOT_NOT_SEEN 0xffffffffu
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pathbuf);
} pathbuf SEC(".maps");

static __always_inline void count_lost(__u32 kind)
{
	__u64 *v = bpf_map_lookup_elem(&lost, &kind);
	if (v)
		*v += 1;
}

/* Whether a session process's end is recorded (ER_REC_EXIT): with the command kind. Set before load. */
const volatile bool record_exits = false;

/* Tracing programs may call bpf_get_current_ancestor_cgroup_id() since Linux 5.14. Set by user space
 * before load from a feature probe; where it is false the call is never verified (see above) and
 * ancestor_cgroup_id() reads the same id from the task's cgroup. */
const volatile bool ancestor_helper = true;

/* Before Linux 6.1 a cgroup held the ids of its ancestors; since then, pointers to them. */
struct cgroup___ids {
	int level;
	__u64 ancestor_ids[];
} __attribute__((preserve_access_index));

/* The id of the current task's cgroup v2 ancestor at `level` (its own cgroup at its own level), 0
 * when its cgroup is not that deep: what bpf_get_current_ancestor_cgroup_id() returns. */
static __always_inline __u64 ancestor_cgroup_id(__u32 level)
{
	if (ancestor_helper)
		return bpf_get_current_ancestor_cgroup_id(level);

	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct cgroup *cgrp = BPF_CORE_READ(task, cgroups, dfl_cgrp);
	__u64 id = 0;

	if (!cgrp || level > (__u32)BPF_CORE_READ(cgrp, level) || level > 1023)
		return 0;
	if (bpf_core_field_exists(struct cgroup___ids, ancestor_ids)) {
		__u64 off = bpf_core_field_offset(struct cgroup___ids, ancestor_ids);
		bpf_probe_read_kernel(&id, sizeof(id), (char *)cgrp + off + level * sizeof(__u64));
	} else {
		__u64 off = bpf_core_field_offset(struct cgroup, ancestors);
		struct cgroup *anc = NULL;
		bpf_probe_read_kernel(&anc, sizeof(anc), (char *)cgrp + off + level * sizeof(anc));
		if (anc)
			id = BPF_CORE_READ(anc, kn, id);
	}
	return id;
}

/* 0 when the current process is not part of the session, else ER_SCOPE_*. */
static __always_inline __u32 session_scope(__u32 tgid)
{
	__u64 cgid = session_cgid;

	if (!cgid)
		return 0; /* no session yet (and the tracking map is still empty) */
	if (ancestor_cgroup_id(session_level) == cgid)
		return ER_SCOPE_CGROUP;
	if (bpf_map_lookup_elem(&tracked, &tgid))
		return ER_SCOPE_TRACKED;
	return 0;
}

static __always_inline void track(__u32 tgid)
{
	__u32 one = 1;

	/* Most calls find the process tracked already (at its fork): a lookup takes no lock, an
	 * update takes the bucket's lock even when it fails with EEXIST. */
	if (bpf_map_lookup_elem(&tracked, &tgid))
		return;
	long err = bpf_map_update_elem(&tracked, &tgid, &one, BPF_NOEXIST);
	if (err && err != -17 /* EEXIST */)
		count_lost(ER_KIND_TRACKING);
}

/* The task's fields, read from its task_struct: also where a program type has no
 * bpf_get_current_pid_tgid() and friends (cgroup_skb before Linux 6.10). */
static __always_inline void fill_task_of(struct task_struct *task, struct er_task *t, __u32 scope)
{
	t->cgroup_id = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, id);
	t->pid = BPF_CORE_READ(task, tgid);
	t->tid = BPF_CORE_READ(task, pid);
	t->ppid = BPF_CORE_READ(task, real_parent, tgid);
	t->uid = BPF_CORE_READ(task, cred, uid.val);
	if (bpf_core_field_exists(task->loginuid)) {
		t->loginuid = BPF_CORE_READ(task, loginuid.val);
		t->audit_session_id = BPF_CORE_READ(task, sessionid);
	} else {
		t->loginuid = (__u32)-1;
		t->audit_session_id = (__u32)-1;
	}
	t->scope = scope;
	t->_pad = 0;
	BPF_CORE_READ_INTO(&t->comm, task, comm);
}

static __always_inline void fill_task(struct er_task *t, __u32 scope)
{
	fill_task_of((struct task_struct *)bpf_get_current_task(), t, scope);
}

static __always_inline __u64 wakeup_flags(void *rb)
{
	__u64 avail = bpf_ringbuf_query(rb, BPF_RB_AVAIL_DATA);
	__u64 size = bpf_ringbuf_query(rb, BPF_RB_RING_SIZE);
	return avail > size / 4 ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

static __always_inline char *scratch_buf(void)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct scratch *s = bpf_map_lookup_elem(&scratch, &cpu);
	return s ? s->buf : NULL;
}

/*
 * Runs step(i, ctx) for i = 0 .. n - 1 until it returns non-zero: with bpf_loop when `use_loop`, else
 * as a plain bounded loop, which the verifier walks iteration by iteration. `use_loop` is a
 * compile-time constant, so each variant holds only its own branch: the bounded-loop programs never
 * reference a bpf_loop callback (an ld_imm64 that verifiers before 5.13 refuse even in dead code),
 * and libbpf copies into a program only the subprograms it calls. Not formatted: clang-format
 * would join _Pragma and the loop it applies to onto one line.
 */
/* clang-format off */
#define STEPS(n, step, ctx, use_loop)                                                    \
	do {                                                                             \
		if (use_loop) {                                                          \
			bpf_loop((n), (step), (ctx), 0);                                 \
		} else {                                                                 \
			_Pragma("clang loop unroll(disable)")                            \
			for (__u32 _i = 0; _i < (n); _i++)                              \
				if ((step)(_i, (ctx)))                                   \
					break;                                           \
		}                                                                        \
	} while (0)
/* clang-format on */

/* The recorder's root directory (dentry, struct mount *), noted by on_cgroup_check from the check's
 * helper, a child of the recorder: walks stop there, so the host's view of a path is the
 * recorder's. 0 until then (walks go on to the root of the mount tree). */
volatile __u64 recorder_root = 0;
volatile __u64 recorder_root_mnt = 0;
volatile __u64 recorder_mnt_ns = 0; /* its mount namespace: another one's paths have no host view */

/* The state of a path walk between its steps. */
struct walk_state {
	__u64 dentry;
	__u64 mnt; /* struct mount * */
	__u64 mnt_root;
	__u64 root;     /* the process's root directory (chroot): dentry ... */
	__u64 root_mnt; /* ... and its struct mount * */
};

/* One step up: prepends the dentry's name to this CPU's pathbuf, or crosses to the mount's parent
 * mount. Returns 1 to stop the walk (at the root of the mount tree; pathbuf.done set). Passing the
 * process's root directory notes where (root_pos): below it is the path the process sees. */
static long walk_step(__u64 i, void *ctx)
{
	struct walk_state *w = ctx;
	struct dentry *dentry = (struct dentry *)w->dentry;
	struct mount *mnt = (struct mount *)w->mnt;
	__u32 zero = 0;

	struct pathbuf *b = bpf_map_lookup_elem(&pathbuf, &zero);
	if (!b)
		return 1;
	char *pb = b->buf;
	/* The process's root, where d_path() stops: inside a chroot or a container's root the path
	 * the process itself uses ends here (found by the kernel matrix, whose guests chroot); the
	 * walk goes on for the host's view of it. */
	if ((__u64)dentry == w->root && (__u64)mnt == w->root_mnt && b->root_pos == ROOT_NOT_SEEN)
		b->root_pos = b->pos;
	/* The recorder's own root: the host's view ends there (in a chrooted recorder too). */
	if ((__u64)dentry == recorder_root && (__u64)mnt == recorder_root_mnt) {
		b->done = 1;
		return 1;
	}
	struct dentry *parent = BPF_CORE_READ(dentry, d_parent);

	if ((__u64)dentry == w->mnt_root || dentry == parent) {
		struct mount *mparent = BPF_CORE_READ(mnt, mnt_parent);
		if (mnt == mparent) {
			b->done = 1;
			return 1;
		}
		w->dentry = (__u64)BPF_CORE_READ(mnt, mnt_mountpoint);
		w->mnt = (__u64)mparent;
		w->mnt_root = (__u64)BPF_CORE_READ(mparent, mnt.mnt_root);
		return 0;
	}
	struct qstr q;
	if (bpf_core_read(&q, sizeof(q), &dentry->d_name))
		return 1;
	__u32 len = q.len;
	if (len > ER_NAME_MAX)
		len = ER_NAME_MAX;
	__u32 pos = b->pos;
	if (pos > ER_PATH_MAX - 1 || pos < len + 1)
		return 1;
	pos -= len;
	bpf_probe_read_kernel(pb + (pos & (ER_PATH_MAX - 1)), len & ER_NAME_MAX, q.name);
	pos -= 1;
	pb[pos & (ER_PATH_MAX - 1)] = '/';
	b->pos = pos;
	w->dentry = (__u64)parent;
	return 0;
}

/*
 * Writes the absolute path of (dentry, vfsmnt) into this CPU's pathbuf so that it ends at
 * buf[ER_PATH_MAX - 1] (the NUL). Returns the start offset, ORed with WALK_TRUNCATED when the
 * depth ran out; the path is buf[start .. ER_PATH_MAX - 1]. Crosses mount points up to the current
 * process's root directory (or the root of the mount tree for a file outside it). With bpf_loop the verifier checks one step, not ER_PATH_DEPTH of them (the
 * bounded loop makes each program that calls it ~14k instructions to verify, ~12 ms of loading).
 */
#define WALK_TRUNCATED 0x10000
static __always_inline int resolve_path_steps(__u64 dentry_p, __u64 vfsmnt_p, const bool use_loop)
{
	struct vfsmount *vfsmnt = (struct vfsmount *)vfsmnt_p;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 mnt_off = bpf_core_field_offset(struct mount, mnt);
	struct walk_state w = {
		.dentry = dentry_p,
		.mnt = vfsmnt_p - mnt_off,
		.mnt_root = (__u64)BPF_CORE_READ(vfsmnt, mnt_root),
		.root = (__u64)BPF_CORE_READ(task, fs, root.dentry),
		.root_mnt = (__u64)BPF_CORE_READ(task, fs, root.mnt) - mnt_off,
	};
	__u32 zero = 0;

	struct pathbuf *b = bpf_map_lookup_elem(&pathbuf, &zero);
	if (!b)
		return -1;
	char *pb = b->buf;
	pb[ER_PATH_MAX - 1] = 0;
	b->pos = ER_PATH_MAX - 1;
	b->done = 0;
	b->root_pos = ROOT_NOT_SEEN;
	STEPS(ER_PATH_DEPTH, walk_step, &w, use_loop);
	__u32 pos = b->pos & (ER_PATH_MAX - 1);
	if (pos == ER_PATH_MAX - 1) {
		pos -= 1;
		pb[pos] = '/';
	}
	return pos | (b->done ? 0 : WALK_TRUNCATED);
}

/* Global functions (verified once per program, whatever the number of calls), one per variant. */
__noinline int resolve_path(__u64 dentry_p, __u64 vfsmnt_p)
{
	return resolve_path_steps(dentry_p, vfsmnt_p, true);
}

__noinline int resolve_path_noloop(__u64 dentry_p, __u64 vfsmnt_p)
{
	return resolve_path_steps(dentry_p, vfsmnt_p, false);
}

/* Resolves (dentry, mnt) and copies the path to dst; returns its length including the NUL. *root
 * gets how many of its bytes lie above the process's root directory (0 unless it is chrooted):
 * dst + *root is the path the process sees. */
static __always_inline __u32 copy_resolved(char *dst, struct dentry *dentry, struct vfsmount *mnt, __u32 *flags,
                                           __u32 *root, const bool use_loop)
{
	__u32 zero = 0;
	int walk = use_loop ? resolve_path((__u64)dentry, (__u64)mnt) : resolve_path_noloop((__u64)dentry, (__u64)mnt);
	struct pathbuf *b = bpf_map_lookup_elem(&pathbuf, &zero);

	if (walk < 0 || !b)
		return 0;
	if (walk & WALK_TRUNCATED)
		*flags |= ER_F_RES_TRUNCATED;
	const char *pb = b->buf;
	__u32 start = walk & (ER_PATH_MAX - 1);
	__u32 len = ER_PATH_MAX - start;
	if (len > ER_PATH_MAX)
		return 0;
	__u32 root_pos = b->root_pos;
	*root = root_pos != ROOT_NOT_SEEN && root_pos > start && root_pos < ER_PATH_MAX ? root_pos - start : 0;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	if (*root && recorder_mnt_ns && (__u64)BPF_CORE_READ(task, nsproxy, mnt_ns) != recorder_mnt_ns)
		*flags |= ER_F_OTHER_MNTNS;
	if (bpf_probe_read_kernel(dst, len & (ER_PATH_MAX * 2 - 1), pb + (start & (ER_PATH_MAX - 1))))
		return 0;
	return len;
}

static __always_inline struct file *fd_file(struct task_struct *task, long fd)
{
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds = BPF_CORE_READ(fdt, fd);
	__u32 max = BPF_CORE_READ(fdt, max_fds);
	struct file *f = NULL;

	if (fd < 0 || fd >= max)
		return NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

/* ------------------------------------------------------------------------------ cgroup id check */

/* Attached only for the check, before the session's own programs. */
SEC("tracepoint/syscalls/sys_enter_execve")
int on_cgroup_check(void *ctx)
{
	__u32 parent = check_parent;

	if (!parent)
		return 0;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	if (BPF_CORE_READ(task, real_parent, tgid) != parent)
		return 0;
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 cgid = bpf_get_current_cgroup_id();
	bpf_map_update_elem(&check_seen, &tgid, &cgid, BPF_ANY);
	if (!recorder_root) {
		recorder_mnt_ns = (__u64)BPF_CORE_READ(task, nsproxy, mnt_ns);
		recorder_root_mnt = (__u64)BPF_CORE_READ(task, fs, root.mnt) - bpf_core_field_offset(struct mount, mnt);
		recorder_root = (__u64)BPF_CORE_READ(task, fs, root.dentry);
	}
	return 0;
}

/* ---------------------------------------------------------------------------------- process tree */

SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = parent->tgid;
	__u32 scope = session_scope(ptgid);

	if (!scope)
		return 0;
	if (child->pid != child->tgid)
		return 0; /* a new thread: its process is tracked already */
	track(child->tgid);
	if (scope == ER_SCOPE_CGROUP)
		track(ptgid);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *p)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;

	if (!bpf_map_lookup_elem(&tracked, &tgid))
		return 0;
	/* The pending entries are looked up before they are deleted: they are almost never there
	 * (their syscall's exit removed them), and a delete takes the bucket's lock even for a
	 * missing key (~0.4 us per exit here). Only this task inserts under its own key, so nothing
	 * can appear between the two. */
	if (bpf_map_lookup_elem(&open_pending, &id))
		bpf_map_delete_elem(&open_pending, &id);
	/* Only when the whole thread group is gone: during an exec from a non-main thread the
	 * old leader exits while the exec is still in flight. */
	if (BPF_CORE_READ(p, signal, live.counter) != 0)
		return 0;
	bpf_map_delete_elem(&tracked, &tgid);
	if (bpf_map_lookup_elem(&exec_pending, &tgid))
		bpf_map_delete_elem(&exec_pending, &tgid);
	if (!record_exits || !session_cgid)
		return 0;

	/* How the process ended: the last thread's exit code is the group's (do_exit). */
	struct er_exit *x = bpf_ringbuf_reserve(&rb_command, sizeof(*x), 0);
	if (!x) {
		count_lost(ER_KIND_COMMAND);
		return 0;
	}
	x->hdr.type = ER_REC_EXIT;
	x->hdr.size = sizeof(*x);
	x->hdr.ktime_ns = bpf_ktime_get_ns();
	fill_task_of(p, &x->task, ER_SCOPE_TRACKED);
	x->exit_code = BPF_CORE_READ(p, exit_code);
	x->_pad = 0;
	x->start_ns = BPF_CORE_READ(p, start_time);
	bpf_ringbuf_submit(x, wakeup_flags(&rb_command));
	return 0;
}

/* BTF tracepoints (raw, typed arguments) for moves and connects: the kernel neither formats a
 * trace record for them nor waits a grace period per link when they are detached (~70 ms each for
 * a perf-event tracepoint on this kernel, in the background process that releases them). */
SEC("tp_btf/cgroup_attach_task")
int BPF_PROG(on_cgroup_attach, struct cgroup *dst_cgrp, const char *dst_path, struct task_struct *task,
             bool threadgroup)
{
	__u32 moved = BPF_CORE_READ(task, pid);

	if (BPF_CORE_READ(dst_cgrp, root, hierarchy_id) != 0) /* cgroup v1 hierarchies are not ours */
		return 0;
	if (!bpf_map_lookup_elem(&tracked, &moved))
		return 0;

	char *buf = scratch_buf();
	if (!buf)
		return 0;
	struct er_migrate *m = (struct er_migrate *)buf;
	m->hdr.type = ER_REC_MIGRATE;
	m->hdr.ktime_ns = bpf_ktime_get_ns();
	fill_task(&m->task, session_scope(bpf_get_current_pid_tgid() >> 32));
	m->dst_cgroup_id = BPF_CORE_READ(dst_cgrp, kn, id);
	m->moved_pid = moved;
	m->dst_level = BPF_CORE_READ(dst_cgrp, level);
	m->_pad = 0;

	long n = dst_path ? bpf_probe_read_kernel_str(buf + sizeof(*m), ER_PATH_MAX, dst_path) : 0;
	m->path_len = n > 0 ? n : 0;
	__u32 size = sizeof(*m) + m->path_len;
	m->hdr.size = size;
	if (bpf_ringbuf_output(&rb_command, buf, size & (SCRATCH_SIZE - 1), BPF_RB_FORCE_WAKEUP))
		count_lost(ER_KIND_CONTROL);
	return 0;
}

/* ------------------------------------------------------------------------------------ commands */

struct count_state {
	__u64 argv;
	__u32 n; /* non-NULL pointers seen so far */
};

static long count_step(__u64 i, void *ctx)
{
	struct count_state *c = ctx;
	const char *arg = NULL;

	if (bpf_probe_read_user(&arg, sizeof(arg), (const char *const *)c->argv + i) || !arg)
		return 1;
	c->n = i + 1;
	return 0;
}

/* Counts the caller's arguments (up to ER_ARGC_COUNT; ER_ARGC_COUNT + 1 means more). With bpf_loop
 * the verifier checks one step (the bounded loop is ~18k instructions, ~15 ms of loading). */
static __always_inline __u32 count_argv_steps(__u64 argv_p, const bool use_loop)
{
	struct count_state c = {.argv = argv_p, .n = 0};

	if (!argv_p)
		return 0;
	STEPS(ER_ARGC_COUNT, count_step, &c, use_loop);
	return c.n >= ER_ARGC_COUNT ? ER_ARGC_COUNT + 1 : c.n;
}

__noinline __u32 count_argv(__u64 argv_p)
{
	return count_argv_steps(argv_p, true);
}

__noinline __u32 count_argv_noloop(__u64 argv_p)
{
	return count_argv_steps(argv_p, false);
}

static __always_inline int exec_enter(__u32 sys, __s32 dirfd, const char *filename, const char *const *argv,
                                      __u32 at_flags, const bool use_loop)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u32 scope = session_scope(tgid);

	if (!scope)
		return 0;
	if (scope == ER_SCOPE_CGROUP)
		track(tgid);

	struct exec_pending p = {
		.argv = (__u64)argv,
		.filename = (__u64)filename,
		.dirfd = dirfd,
		.at_flags = at_flags,
		.syscall = sys,
		.argc = use_loop ? count_argv((__u64)argv) : count_argv_noloop((__u64)argv),
	};
	if (sys == ER_SYS_EXECVEAT && dirfd != AT_FDCWD) {
		char c = 0;
		bpf_probe_read_user(&c, 1, filename);
		p.fd_relative = c != '/';
	}
	if (bpf_map_update_elem(&exec_pending, &tgid, &p, BPF_ANY))
		count_lost(ER_KIND_PENDING);
	return 0;
}

struct argv_state {
	__u64 argv;
	__u32 off;  /* where the arguments start in the record's data part */
	__u32 aoff; /* bytes written so far */
	__u32 n;    /* arguments read so far */
	__u32 truncated;
};

static long argv_step(__u64 i, void *ctx)
{
	struct argv_state *a = ctx;
	const char *arg = NULL;
	__u32 cpu = bpf_get_smp_processor_id();

	struct scratch *s = bpf_map_lookup_elem(&scratch, &cpu);
	if (!s || bpf_probe_read_user(&arg, sizeof(arg), (const char *const *)a->argv + i) || !arg)
		return 1;
	if (a->aoff > ER_ARGS_MAX - ER_ARG_MAX_FAIL) {
		a->truncated = 1;
		return 1;
	}
	char *data = s->buf + sizeof(struct er_exec);
	long n = bpf_probe_read_user_str(data + ((a->off + a->aoff) & DATA_MASK), ER_ARG_MAX_FAIL, arg);
	if (n <= 0)
		return 1;
	a->aoff += n & (ER_ARG_MAX_FAIL * 2 - 1);
	a->n = i + 1;
	return 0;
}

/* Reads the argument vector of a failed exec from the caller's memory (still mapped) into this
 * CPU's scratch record at data offset `off`. Returns the bytes written, ORed with ARGV_TRUNCATED.
 * An argument longer than ER_ARG_MAX_FAIL - 1 bytes is cut there (user space flags it). With
 * bpf_loop the verifier checks one argument. */
#define ARGV_TRUNCATED 0x10000
static __always_inline int read_argv_user_steps(__u64 argv_p, __u32 off, const bool use_loop)
{
	struct argv_state a = {.argv = argv_p, .off = off & (ER_PATH_MAX * 2 - 1)};

	if (!argv_p)
		return 0;
	STEPS(ER_ARGC_MAX_FAIL, argv_step, &a, use_loop);
	if (a.truncated)
		return a.aoff | ARGV_TRUNCATED;
	if (a.n == ER_ARGC_MAX_FAIL) {
		const char *more = NULL;
		if (!bpf_probe_read_user(&more, sizeof(more), (const char *const *)argv_p + ER_ARGC_MAX_FAIL) && more)
			return a.aoff | ARGV_TRUNCATED;
	}
	return a.aoff;
}

__noinline int read_argv_user(__u64 argv_p, __u32 off)
{
	return read_argv_user_steps(argv_p, off, true);
}

__noinline int read_argv_user_noloop(__u64 argv_p, __u32 off)
{
	return read_argv_user_steps(argv_p, off, false);
}

/* The record's common part, in this CPU's scratch buffer. */
static __always_inline struct er_exec *exec_record(const struct exec_pending *p, __u32 tgid, long ret)
{
	char *buf = scratch_buf();
	if (!buf)
		return NULL;
	struct er_exec *e = (struct er_exec *)buf;
	__u32 scope = session_scope(tgid);

	e->hdr.type = ER_REC_EXEC;
	e->hdr.ktime_ns = bpf_ktime_get_ns();
	fill_task(&e->task, scope ? scope : ER_SCOPE_TRACKED);
	e->retval = ret;
	e->syscall = p->syscall;
	e->dirfd = p->dirfd;
	e->at_flags = p->at_flags;
	e->flags = 0;
	e->argv_skip = 1;
	e->exe_len = 0;
	e->exe_root = 0;
	return e;
}

static __always_inline void exec_submit(struct er_exec *e)
{
	__u32 size = sizeof(*e) + e->path_len + e->args_len + e->exe_len;

	e->hdr.size = size;
	if (bpf_ringbuf_output(&rb_command, e, size & (SCRATCH_SIZE - 1), wakeup_flags(&rb_command)))
		count_lost(ER_KIND_COMMAND);
}

/* A successful exec, past its point of no return: the new image is in place (its argument block,
 * its file), and bprm->filename is the kernel's copy of the path as passed, or
 * "/dev/fd/<dirfd>[/<path>]" for execveat with a dirfd and a relative (or empty) path. Fires
 * before the syscall's exit, which then finds no pending entry. */
static __always_inline int exec_image(struct task_struct *task, struct linux_binprm *bprm, const bool use_loop)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct exec_pending *p = bpf_map_lookup_elem(&exec_pending, &tgid);

	if (!p)
		return 0;
	struct er_exec *e = exec_record(p, tgid, 0);
	if (!e) {
		count_lost(ER_KIND_COMMAND);
		goto out;
	}
	char *data = (char *)(e + 1);

	/* The path as passed. */
	const char *filename = bprm->filename;
	__u32 skip = 0;
	if (p->fd_relative) {
		char pre[8] = {};
		bpf_probe_read_kernel(pre, sizeof(pre), filename);
		if (pre[0] == '/' && pre[1] == 'd' && pre[2] == 'e' && pre[3] == 'v' && pre[4] == '/' &&
		    pre[5] == 'f' && pre[6] == 'd' && pre[7] == '/') {
			__u32 fd = p->dirfd, digits = 1;
			for (int i = 0; i < 10 && fd >= 10; i++, fd /= 10)
				digits++;
			skip = 8 + digits;
			char c = 0;
			bpf_probe_read_kernel(&c, 1, filename + skip);
			if (c == '/')
				skip++;
		}
	}
	long n = bpf_probe_read_kernel_str(data, ER_PATH_MAX, filename + skip);
	__u32 plen = n > 0 ? n : 0;
	if (plen == ER_PATH_MAX)
		e->flags |= ER_F_PATH_TRUNCATED;
	e->path_len = plen;

	/* The new image's argument block: exactly what the program received. */
	struct mm_struct *mm = task->mm;
	__u64 start = mm->arg_start;
	__u64 len = mm->arg_end - start;
	__u32 alen = 0;
	if (len > ER_ARGS_MAX) {
		len = ER_ARGS_MAX;
		e->flags |= ER_F_ARGS_TRUNCATED;
	}
	if (len && !bpf_probe_read_user(data + (plen & (ER_PATH_MAX * 2 - 1)), len, (void *)start))
		alen = len;
	e->flags |= ER_F_ARGS_FROM_MM;
	e->args_len = alen;
	/* The new image's argc sits at the top of its stack. A #! script's interpreter replaced
	 * argv[0] by [interpreter, optional argument, script path]: skip those too. */
	__u64 final_argc = 0;
	__u32 argc = p->argc;
	if (argc <= ER_ARGC_COUNT && !bpf_probe_read_user(&final_argc, sizeof(final_argc), (void *)mm->start_stack) &&
	    final_argc >= argc && final_argc - argc < ER_ARGC_COUNT)
		e->argv_skip = final_argc - argc + 1;

	/* The new image, resolved: names what ran when the path does not (fexecve, execveat with a
	 * dirfd, a symlink, a #! script's interpreter). Its dentry and mount are read through
	 * helpers: resolve_path is a global function, whose arguments must be scalars. */
	struct file *exe = bprm->file;
	if (exe)
		e->exe_len = copy_resolved(data + ((plen + alen) & DATA_MASK), BPF_CORE_READ(exe, f_path.dentry),
		                           BPF_CORE_READ(exe, f_path.mnt), &e->flags, &e->exe_root, use_loop);
	exec_submit(e);
out:
	bpf_map_delete_elem(&exec_pending, &tgid);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec_image, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	return exec_image(task, bprm, true);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec_image_noloop, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	return exec_image(task, bprm, false);
}

/* The syscall's exit: only a failed exec still has its pending entry (on_exec_image took the
 * successful ones). Its path and arguments are read from the caller's memory, still mapped. */
static __always_inline int exec_exit(long ret, const bool use_loop)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct exec_pending *p = bpf_map_lookup_elem(&exec_pending, &tgid);

	if (!p)
		return 0;
	if (ret == 0) {
		count_lost(ER_KIND_COMMAND); /* succeeded, and on_exec_image did not see it */
		goto out;
	}
	struct er_exec *e = exec_record(p, tgid, ret);
	if (!e) {
		count_lost(ER_KIND_COMMAND);
		goto out;
	}
	char *data = (char *)(e + 1);

	long n = bpf_probe_read_user_str(data, ER_PATH_MAX, (const char *)p->filename);
	__u32 plen = n > 0 ? n : 0;
	if (plen == ER_PATH_MAX)
		e->flags |= ER_F_PATH_TRUNCATED;
	e->path_len = plen;

	int r = use_loop ? read_argv_user(p->argv, plen) : read_argv_user_noloop(p->argv, plen);
	if (r & ARGV_TRUNCATED)
		e->flags |= ER_F_ARGS_TRUNCATED;
	__u32 alen = r & 0xffff;
	if (alen > ER_ARGS_MAX)
		alen = ER_ARGS_MAX;
	e->args_len = alen;
	exec_submit(e);
out:
	bpf_map_delete_elem(&exec_pending, &tgid);
	return 0;
}

/* execve and execveat share one entry program and one exit program, each attached to both
 * tracepoints (user space attaches the execveat ones): the verifier checks each once. */

/* This architecture's execveat syscall number, set by user space before load. */
const volatile __s64 execveat_nr = -1;

static __always_inline int exec_enter_ctx(struct trace_event_raw_sys_enter *ctx, const bool use_loop)
{
	/* execve(path, argv, envp) or execveat(dirfd, path, argv, envp, flags): the arguments are
	 * picked first, so that exec_enter is inlined (and verified) once. Each is loaded at its
	 * constant offset first (the verifier refuses a context pointer with a variable offset, which
	 * is what choosing between two context fields compiles to otherwise). execveat's flags lie
	 * past the end of execve's record, and the kernel refuses to attach a program whose context
	 * reads go past its tracepoint's record: they are read with a helper, for execveat only. */
	__u64 a0 = ctx->args[0], a1 = ctx->args[1], a2 = ctx->args[2], a4 = 0;
	asm volatile("" : "+r"(a0), "+r"(a1), "+r"(a2));
	/* The syscalls:sys_enter_* record has `int __syscall_nr` at offset 8, followed by 4 bytes of
	 * padding that the kernel does not clear: only the low 32 bits of `id` are the number. */
	int at = (__s32)ctx->id == execveat_nr;

	if (at)
		bpf_probe_read_kernel(&a4, sizeof(a4), &ctx->args[4]);

	return exec_enter(at ? ER_SYS_EXECVEAT : ER_SYS_EXECVE, at ? (__s32)a0 : AT_FDCWD, (const char *)(at ? a1 : a0),
	                  (const char *const *)(at ? a2 : a1), at ? (__u32)a4 : 0, use_loop);
}

SEC("tracepoint/syscalls/sys_enter_execve")
int on_exec_enter(struct trace_event_raw_sys_enter *ctx)
{
	return exec_enter_ctx(ctx, true);
}

SEC("tracepoint/syscalls/sys_enter_execve")
int on_exec_enter_noloop(struct trace_event_raw_sys_enter *ctx)
{
	return exec_enter_ctx(ctx, false);
}

SEC("tracepoint/syscalls/sys_exit_execve")
int on_exec_exit(struct trace_event_raw_sys_exit *ctx)
{
	return exec_exit(ctx->ret, true);
}

SEC("tracepoint/syscalls/sys_exit_execve")
int on_exec_exit_noloop(struct trace_event_raw_sys_exit *ctx)
{
	return exec_exit(ctx->ret, false);
}

/* ---------------------------------------------------------------------------------------- disk */

static __always_inline int open_enter(__u32 sys, __s32 dirfd, const char *path, __u64 flags, __u32 mode)
{
	__u64 id = bpf_get_current_pid_tgid();

	if (!session_scope(id >> 32))
		return 0;
	struct open_pending p = {
		.path = (__u64)path,
		.flags = flags,
		.mode = mode,
		.dirfd = dirfd,
		.syscall = sys,
	};
	if (bpf_map_update_elem(&open_pending, &id, &p, BPF_ANY))
		count_lost(ER_KIND_PENDING);
	return 0;
}

/* ------------------------------------------------------------------------------- disk filter */

/* The session's disk filter as a DFA over path bytes, compiled by user space (src/disk/filter.ts)
 * and written before the session begins: next[state * 256 + byte]; state 0 is dead (no pattern
 * can match any more), 1 the start; accept[state] bit 0: an include pattern matches, bit 1: an
 * exclude pattern does. */
struct disk_dfa {
	__u8 next[256 * 256];
	__u8 accept[256];
};
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct disk_dfa);
} disk_dfa SEC(".maps");

/* Without bpf_loop (before Linux 5.17) paths longer than this are not filtered (always recorded). */
#define DISK_FILTER_NOLOOP_MAX 1024

/* 1 once the DFA is written; disk_includes: the filter has include patterns. */
volatile __u32 disk_filter_on = 0;
volatile __u32 disk_includes = 0;

/* Opens the filter dropped, per CPU (never a silent drop: session.end reports them). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} disk_filtered SEC(".maps");

struct dfa_walk {
	__u32 pos; /* offset into this CPU's scratch buffer */
	__u32 end;
	__u32 state;
};

static long dfa_step(__u64 i, void *ctx)
{
	struct dfa_walk *d = ctx;
	__u32 zero = 0;

	if (d->pos >= d->end || d->state == 0)
		return 1;
	char *buf = scratch_buf();
	struct disk_dfa *t = bpf_map_lookup_elem(&disk_dfa, &zero);
	if (!buf || !t)
		return 1;
	__u8 c = buf[d->pos & (SCRATCH_SIZE - 1)];
	/* state * 256 + byte, masked where the verifier sees it (5.10's loses the bounds of an OR) */
	__u32 idx = (d->state << 8) + c;
	barrier_var(idx);
	d->state = t->next[idx & 0xffff];
	d->pos++;
	return 0;
}

/* The accept bits of the DFA's state after the path scratch[off, off + len) (see disk_dfa); 4 when
 * the path is too long to walk here. */
static __always_inline int disk_accept(__u32 off, __u32 len, const bool use_loop)
{
	struct dfa_walk d = {.pos = off, .end = off + len, .state = 1};
	__u32 zero = 0;

	if (len > ER_PATH_MAX)
		return 4;
	struct disk_dfa *t = bpf_map_lookup_elem(&disk_dfa, &zero);
	if (!t)
		return 4;
	if (use_loop) {
		bpf_loop(ER_PATH_MAX, dfa_step, &d, 0);
	} else {
		/* A plain loop: the verifier follows every iteration (8192 jumps at most), so it is
		 * bounded lower, and a longer path is recorded whatever the filter says. */
		char *buf = scratch_buf();
		if (!buf || len > DISK_FILTER_NOLOOP_MAX)
			return 4;
		_Pragma("clang loop unroll(disable)") for (__u32 i = 0; i < DISK_FILTER_NOLOOP_MAX; i++)
		{
			if (d.pos >= d.end || d.state == 0)
				break;
			__u8 c = buf[d.pos & (SCRATCH_SIZE - 1)];
			__u32 idx = (d.state << 8) + c;
			barrier_var(idx);
			d.state = t->next[idx & 0xffff];
			d.pos++;
		}
	}
	__u32 final = d.state;
	barrier_var(final);
	return t->accept[final & 0xff];
}

/* Global functions (verified once), one per variant, as resolve_path. */
__noinline int disk_match(__u32 off, __u32 len)
{
	return disk_accept(off, len, true);
}

__noinline int disk_match_noloop(__u32 off, __u32 len)
{
	return disk_accept(off, len, false);
}

static __always_inline int open_exit(long ret, const bool use_loop)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct open_pending *p = bpf_map_lookup_elem(&open_pending, &id);

	if (!p)
		return 0;

	char *buf = scratch_buf();
	if (!buf)
		goto out;

	struct er_open *o = (struct er_open *)buf;
	char *data = buf + sizeof(*o);
	__u32 scope = session_scope(id >> 32);

	o->hdr.type = ER_REC_OPEN;
	o->hdr.ktime_ns = bpf_ktime_get_ns();
	fill_task(&o->task, scope ? scope : ER_SCOPE_TRACKED);
	o->retval = ret;
	o->flags = p->flags;
	o->mode = p->mode;
	o->dirfd = p->dirfd;
	o->syscall = p->syscall;
	o->flags2 = 0;
	o->res_root = 0;

	long n = bpf_probe_read_user_str(data, ER_PATH_MAX, (const char *)p->path);
	__u32 plen = n > 0 ? n : 0;
	if (plen == ER_PATH_MAX)
		o->flags2 |= ER_F_PATH_TRUNCATED;
	o->path_len = plen;

	/* Resolve: the opened file itself on success; else the directory a relative path is
	 * relative to (the cwd, or dirfd). */
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct dentry *dentry = NULL;
	struct vfsmount *mnt = NULL;
	__u32 kind = ER_RES_NONE;
	if (ret >= 0) {
		struct file *f = fd_file(task, ret);
		if (f) {
			dentry = BPF_CORE_READ(f, f_path.dentry);
			mnt = BPF_CORE_READ(f, f_path.mnt);
			kind = ER_RES_FILE;
		}
	} else if (plen > 1 && data[0] != '/') {
		if (p->dirfd == AT_FDCWD) {
			dentry = BPF_CORE_READ(task, fs, pwd.dentry);
			mnt = BPF_CORE_READ(task, fs, pwd.mnt);
			kind = ER_RES_BASE;
		} else {
			struct file *f = fd_file(task, p->dirfd);
			if (f) {
				dentry = BPF_CORE_READ(f, f_path.dentry);
				mnt = BPF_CORE_READ(f, f_path.mnt);
				kind = ER_RES_BASE;
			}
		}
	}
	__u32 rlen = 0;
	if (dentry && mnt) {
		rlen = copy_resolved(data + (plen & (ER_PATH_MAX * 2 - 1)), dentry, mnt, &o->flags2, &o->res_root,
		                     use_loop);
	}
	o->res_len = rlen;
	o->res_kind = rlen ? kind : ER_RES_NONE;

	/* The session's disk filter, on the path as it will be recorded: the opened file as the
	 * process sees it, or an absolute path as passed; a relative one that could not be resolved
	 * is always recorded. A filtered open costs no ring space and no user-space work. */
	if (disk_filter_on) {
		/* Both the resolved path and an absolute path as passed are matched (a pattern for
		 * /proc/self/ meets the opens of /proc/self/status, recorded as /proc/<pid>/status); a
		 * path too long to walk is recorded. */
		int accept = 0;
		bool walked = false;
		if (o->res_kind == ER_RES_FILE && rlen > 1) {
			__u32 root = o->res_root < rlen ? o->res_root : 0;
			__u32 off = sizeof(*o) + plen + root, len = rlen - 1 - root;
			accept |= use_loop ? disk_match(off, len) : disk_match_noloop(off, len);
			walked = true;
		}
		if (plen > 1 && data[0] == '/') {
			accept |= use_loop ? disk_match(sizeof(*o), plen - 1) : disk_match_noloop(sizeof(*o), plen - 1);
			walked = true;
		}
		bool recorded = (!disk_includes || (accept & 1)) && !(accept & 2);
		if (walked && !(accept & 4) && !recorded) {
			__u32 zero = 0;
			__u64 *n = bpf_map_lookup_elem(&disk_filtered, &zero);
			if (n)
				*n += 1;
			goto out;
		}
	}

	__u32 size = sizeof(*o) + plen + rlen;
	o->hdr.size = size;
	if (bpf_ringbuf_output(&rb_disk, buf, size & (SCRATCH_SIZE - 1), wakeup_flags(&rb_disk)))
		count_lost(ER_KIND_DISK);
out:
	bpf_map_delete_elem(&open_pending, &id);
	return 0;
}

/* The open family shares one exit program (the exit records are all alike), attached by user space
 * to the exit tracepoint of each of those syscalls this architecture has: the verifier checks it
 * once, not four times. */
SEC("tracepoint/syscalls/sys_exit_openat")
int on_open_exit(struct trace_event_raw_sys_exit *ctx)
{
	return open_exit(ctx->ret, true);
}

SEC("tracepoint/syscalls/sys_exit_openat")
int on_open_exit_noloop(struct trace_event_raw_sys_exit *ctx)
{
	return open_exit(ctx->ret, false);
}

SEC("tracepoint/syscalls/sys_enter_open")
int on_open_enter(struct trace_event_raw_sys_enter *ctx)
{
	return open_enter(ER_SYS_OPEN, AT_FDCWD, (const char *)ctx->args[0], ctx->args[1], ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_enter_openat")
int on_openat_enter(struct trace_event_raw_sys_enter *ctx)
{
	return open_enter(ER_SYS_OPENAT, (__s32)ctx->args[0], (const char *)ctx->args[1], ctx->args[2], ctx->args[3]);
}

SEC("tracepoint/syscalls/sys_enter_openat2")
int on_openat2_enter(struct trace_event_raw_sys_enter *ctx)
{
	struct open_how how = {};
	bpf_probe_read_user(&how, sizeof(how), (void *)ctx->args[2]);
	return open_enter(ER_SYS_OPENAT2, (__s32)ctx->args[0], (const char *)ctx->args[1], how.flags, how.mode);
}

SEC("tracepoint/syscalls/sys_enter_creat")
int on_creat_enter(struct trace_event_raw_sys_enter *ctx)
{
	/* creat(path, mode) == open(path, O_CREAT|O_WRONLY|O_TRUNC, mode) */
	return open_enter(ER_SYS_CREAT, AT_FDCWD, (const char *)ctx->args[0], 0x241, ctx->args[1]);
}

/* ------------------------------------------------------------------------------------- network */

#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17
#define ETH_P_IP_    0x0800
#define ETH_P_IPV6_  0x86DD
#define DNS_PORT     53
#define FOLD_NS      1000000000ULL /* sends to one destination are folded to one record per second */

/* A network record as it is assembled: the record, then the DNS bytes that may follow it. */
struct net_slot {
	struct er_net rec;
	__u8 dns[ER_DNS_MAX];
};

/* One per CPU: where a network record is assembled before it is output. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct net_slot);
} net_scratch SEC(".maps");

/* Folding: the sends of one process to one destination (one DNS question, for DNS) since its last
 * record. `slot` is that last record, for the record of the remainder that user space makes from
 * it when the session ends (native/src/engine.cc). */
struct fold_key {
	__u32 tgid;
	__u16 dport;
	__u8 family;
	__u8 protocol;
	__u8 daddr[16];
	__u64 dns_hash; /* 0 for a send that is no DNS query */
};
struct fold {
	__u64 window_ns; /* when the last record was output */
	__u64 pending;   /* sends since then, not in any record yet */
	__u64 last_ns;   /* the latest send */
	struct net_slot slot;
};
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct fold_key);
	__type(value, struct fold);
} folds SEC(".maps");

/* Set by user space before load from feature probes (see ancestor_helper): whether cgroup_skb
 * programs may call bpf_get_current_pid_tgid() (Linux 6.10+; else the tgid is read from the
 * task), and whether bpf_ktime_get_coarse_ns() exists (5.11+), the cheap clock of the folded path. */
const volatile bool skb_pid_helper = false;
const volatile bool coarse_helper = false;

/* A new fold's value before it is filled in (a map value is too big for the stack). */
static const struct fold fold_zero;

/* The session's network policy, written by user space before the cgroup programs are attached
 * (native/src/engine.cc): net_rules[0, net_rule_count), net_allow_rules of them allow rules. */
struct er_net_rule net_rules[ER_NET_RULES_MAX];
volatile __u32 net_rule_count = 0;
volatile __u32 net_allow_rules = 0;

static __always_inline struct net_slot *net_slot(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&net_scratch, &zero);
}

static __always_inline void net_record(struct er_net *n, __u16 family, __u8 protocol, __u8 operation, __u8 action)
{
	n->hdr.type = ER_REC_NET;
	n->hdr.size = sizeof(*n);
	n->hdr.ktime_ns = bpf_ktime_get_ns();
	n->family = family;
	n->protocol = protocol;
	n->operation = operation;
	n->action = action;
	n->_pad[0] = n->_pad[1] = n->_pad[2] = 0;
	n->sends = 0;
	n->dns_len = 0;
	n->_pad2 = 0;
	n->sport = 0;
	__builtin_memset(n->saddr, 0, sizeof(n->saddr));
	__builtin_memset(n->daddr, 0, sizeof(n->daddr));
}

/* A TCP connect: CLOSE -> SYN_SENT (tcp_v4/v6_connect, before the source port is chosen). */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(on_sock_state, const struct sock *sk, const int oldstate, const int newstate)
{
	if (newstate != TCP_SYN_SENT || oldstate != TCP_CLOSE)
		return 0;
	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;

	__u32 scope = session_scope(bpf_get_current_pid_tgid() >> 32);
	if (!scope)
		return 0;

	struct er_net *c = bpf_ringbuf_reserve(&rb_network, sizeof(*c), 0);
	if (!c) {
		count_lost(ER_KIND_NETWORK);
		return 0;
	}
	const struct inet_sock *inet = (const struct inet_sock *)sk;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	net_record(c, family, IPPROTO_TCP_, ER_NET_CONNECT, ER_NET_OBSERVED);
	fill_task(&c->task, scope);
	/* As the sock:inet_sock_set_state trace event reports them: ports in host order. */
	c->sport = bpf_ntohs(BPF_CORE_READ(inet, inet_sport));
	c->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (family == AF_INET6) {
		BPF_CORE_READ_INTO(&c->saddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&c->daddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	} else {
		__u32 saddr = BPF_CORE_READ(inet, inet_saddr);
		__u32 daddr = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		__builtin_memcpy(c->saddr, &saddr, 4);
		__builtin_memcpy(c->daddr, &daddr, 4);
	}
	bpf_ringbuf_submit(c, wakeup_flags(&rb_network));
	return 0;
}

/* FNV-1a over the DNS question (its first 128 bytes): the fold key of a query. Never 0. */
static __always_inline __u64 dns_hash(const __u8 *dns, __u32 len)
{
	__u64 h = 0xcbf29ce484222325ULL;
	for (__u32 i = 12; i < 12 + 128 && i < ER_DNS_MAX; i++) {
		if (i >= len)
			break;
		h = (h ^ dns[i]) * 0x100000001b3ULL;
	}
	return h | 1;
}

/*
 * Every packet a socket of the session cgroup sends (attached to the session cgroup; its
 * descendants inherit it): UDP datagrams, however they were sent (sendto, sendmsg, sendmmsg, write
 * on a connected socket, io_uring), and DNS queries over TCP. Always lets the packet pass. The
 * sender is the current task: a UDP datagram leaves in its sender's syscall; a TCP segment may
 * leave from a softirq, so a TCP query counts only when the current task is in the socket's cgroup.
 */
SEC("cgroup_skb/egress")
int on_egress(struct __sk_buff *skb)
{
	__u8 protocol;
	__u16 family;
	__u32 l4, saddr4 = 0, daddr4 = 0;
	__u8 saddr[16] = {}, daddr[16] = {};

	if (!session_cgid)
		return 1;
	/* The headers are read in place (the linear part of the packet, where a sent datagram's
	 * headers are): a helper call per header cost more than the rest of a folded send. */
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	if (skb->protocol == bpf_htons(ETH_P_IP_)) {
		struct iphdr *ip = data;
		if ((void *)(ip + 1) > end)
			return 1;
		if (ip->frag_off & bpf_htons(0x1fff))
			return 1; /* not a datagram's first fragment */
		protocol = ip->protocol;
		l4 = (ip->ihl & 0xf) * 4;
		saddr4 = ip->saddr;
		daddr4 = ip->daddr;
		if (skb->family == AF_INET6) {
			/* a v6 socket's datagram to an IPv4-mapped address: shown as the program wrote it */
			family = AF_INET6;
			saddr[10] = saddr[11] = daddr[10] = daddr[11] = 0xff;
			__builtin_memcpy(saddr + 12, &saddr4, 4);
			__builtin_memcpy(daddr + 12, &daddr4, 4);
		} else {
			family = AF_INET;
			__builtin_memcpy(saddr, &saddr4, 4);
			__builtin_memcpy(daddr, &daddr4, 4);
		}
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6_)) {
		struct ipv6hdr *ip6 = data;
		if ((void *)(ip6 + 1) > end)
			return 1;
		protocol = ip6->nexthdr;
		l4 = sizeof(*ip6);
		family = AF_INET6;
		__builtin_memcpy(saddr, &ip6->saddr, 16);
		__builtin_memcpy(daddr, &ip6->daddr, 16);
	} else {
		return 1;
	}

	__u16 sport, dport;
	__u32 payload;
	if (l4 > 60)
		return 1;
	if (protocol == IPPROTO_UDP_) {
		struct udphdr *udp = data + l4;
		if ((void *)(udp + 1) > end)
			return 1;
		sport = bpf_ntohs(udp->source);
		dport = bpf_ntohs(udp->dest);
		payload = l4 + sizeof(*udp);
	} else if (protocol == IPPROTO_TCP_) {
		struct tcphdr *tcp = data + l4;
		if ((void *)(tcp + 1) > end)
			return 1;
		dport = bpf_ntohs(tcp->dest);
		if (dport != DNS_PORT)
			return 1; /* TCP is recorded at its connect (on_sock_state) */
		sport = bpf_ntohs(tcp->source);
		payload = l4 + tcp->doff * 4 + 2; /* past the message's 2-byte length */
	} else {
		return 1;
	}

	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 tgid = skb_pid_helper ? bpf_get_current_pid_tgid() >> 32 : BPF_CORE_READ(task, tgid);
	if (protocol == IPPROTO_TCP_ && BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, id) != bpf_skb_cgroup_id(skb))
		return 1;
	struct net_slot *s = net_slot();
	if (!s)
		return 1;

	/* A DNS query: the message's first bytes, kept when its header says "one question". */
	__u32 dns_len = 0;
	if (dport == DNS_PORT && payload + 17 <= skb->len) {
		__u32 n = skb->len - payload;
		if (n > ER_DNS_MAX)
			n = ER_DNS_MAX;
		/* 17..ER_DNS_MAX, computed where a verifier that does not carry bounds across register
		 * copies (before Linux 5.11) sees them on the register passed */
		barrier_var(n);
		n = ((n - 17) & 0xff) + 17;
		if (!bpf_skb_load_bytes(skb, payload, s->dns, n)) {
			/* QR 0 (a query), opcode 0, QDCOUNT 1 */
			if (!(s->dns[2] & 0xf8) && s->dns[4] == 0 && s->dns[5] == 1)
				dns_len = n;
		}
	}
	if (protocol == IPPROTO_TCP_ && !dns_len)
		return 1; /* a TCP segment that starts no DNS query */

	struct fold_key key = {
		.tgid = tgid, .dport = dport, .family = family == AF_INET6 ? 6 : 4, .protocol = protocol};
	__builtin_memcpy(key.daddr, daddr, 16);
	key.dns_hash = dns_len ? dns_hash(s->dns, dns_len) : 0;

	/* the folds' clock (window_ns, last_ns): the coarse one where there is one */
	__u64 tick = coarse_helper ? bpf_ktime_get_coarse_ns() : bpf_ktime_get_ns();
	struct fold *f = bpf_map_lookup_elem(&folds, &key);
	if (f && tick - f->window_ns < FOLD_NS) {
		__sync_fetch_and_add(&f->pending, 1);
		f->last_ns = tick;
		return 1;
	}
	__u64 now = bpf_ktime_get_ns(); /* a record's time is exact */

	struct er_net *n = &s->rec;
	net_record(n, family, protocol, ER_NET_SEND, ER_NET_OBSERVED);
	fill_task_of(task, &n->task, ER_SCOPE_CGROUP);
	__builtin_memcpy(n->saddr, saddr, 16);
	__builtin_memcpy(n->daddr, daddr, 16);
	n->sport = sport;
	n->dport = dport;
	n->dns_len = dns_len;
	n->hdr.size = sizeof(*n) + dns_len;
	n->hdr.ktime_ns = now;
	__u64 pending = f ? f->pending : 0;
	n->sends = pending + 1;

	__u32 size = sizeof(*n) + (dns_len & 0x1ff);
	if (size > sizeof(*s))
		return 1;
	if (bpf_ringbuf_output(&rb_network, s, size, wakeup_flags(&rb_network))) {
		/* The ring is full: this send waits in `pending` for the next record, or the last. */
		if (f) {
			__sync_fetch_and_add(&f->pending, 1);
			f->last_ns = tick;
		} else {
			if (bpf_map_update_elem(&folds, &key, &fold_zero, BPF_NOEXIST) == 0 &&
			    (f = bpf_map_lookup_elem(&folds, &key))) {
				__builtin_memcpy(&f->slot, s, sizeof(*s));
				__sync_fetch_and_add(&f->pending, 1);
				f->last_ns = tick;
			} else {
				count_lost(ER_KIND_NETWORK);
			}
		}
		return 1;
	}
	if (f) {
		__sync_fetch_and_add(&f->pending, -pending);
	} else {
		if (bpf_map_update_elem(&folds, &key, &fold_zero, BPF_NOEXIST))
			return 1; /* no room to fold: the next send gets a record of its own */
		f = bpf_map_lookup_elem(&folds, &key);
		if (!f)
			return 1;
	}
	f->window_ns = tick;
	f->last_ns = tick;
	__builtin_memcpy(&f->slot, s, sizeof(*s));
	return 1;
}

/* Whether a rule matches the destination (a[]: 4 words in network order, IPv4 in a[0]). */
static __always_inline bool rule_matches(const struct er_net_rule *r, __u8 family, const __u32 *a, __u16 port)
{
	if (r->family != family || port < r->port_lo || port > r->port_hi)
		return false;
	return !(((a[0] ^ r->addr[0]) & r->mask[0]) | ((a[1] ^ r->addr[1]) & r->mask[1]) |
	         ((a[2] ^ r->addr[2]) & r->mask[2]) | ((a[3] ^ r->addr[3]) & r->mask[3]));
}

/* The policy's verdict on a destination: deny wins; with allow rules, what none allows is denied. */
static __always_inline bool net_allowed(__u8 family, const __u32 *a, __u16 port)
{
	__u32 count = net_rule_count;
	bool allowed = net_allow_rules == 0;
	/* an IPv4-mapped IPv6 destination is also matched by IPv4 rules */
	bool mapped = family == 6 && a[0] == 0 && a[1] == 0 && a[2] == bpf_htonl(0xffff);
	__u32 a4[4] = {a[3], 0, 0, 0};

	for (__u32 i = 0; i < ER_NET_RULES_MAX; i++) {
		if (i >= count)
			break;
		const struct er_net_rule *r = &net_rules[i];
		if (!rule_matches(r, family, a, port) && !(mapped && rule_matches(r, 4, a4, port)))
			continue;
		if (r->deny)
			return false;
		allowed = true;
	}
	return allowed;
}

/* An attempt the policy denies: its record, and 0 (the program gets EPERM). */
static __always_inline int net_deny(struct bpf_sock_addr *ctx, __u16 family, const __u32 *a, __u16 port, __u8 operation)
{
	struct net_slot *s = net_slot();
	if (!s)
		return 0;
	struct er_net *n = &s->rec;
	net_record(n, family, ctx->protocol == IPPROTO_UDP_ ? IPPROTO_UDP_ : IPPROTO_TCP_, operation, ER_NET_DENIED);
	fill_task(&n->task, ER_SCOPE_CGROUP);
	__builtin_memcpy(n->daddr, a, 16);
	n->dport = port;
	if (bpf_ringbuf_output(&rb_network, n, sizeof(*n), wakeup_flags(&rb_network)))
		count_lost(ER_KIND_NETWORK);
	return 0;
}

static __always_inline int policy4(struct bpf_sock_addr *ctx, __u8 operation)
{
	__u32 a[4] = {ctx->user_ip4, 0, 0, 0};
	__u16 port = bpf_ntohs((__u16)ctx->user_port);
	if (!session_cgid || net_allowed(4, a, port))
		return 1;
	if (ctx->family == AF_INET6) {
		/* a v6 socket's send to an IPv4-mapped address: shown as the program wrote it */
		__u32 mapped[4] = {0, 0, bpf_htonl(0xffff), a[0]};
		return net_deny(ctx, AF_INET6, mapped, port, operation);
	}
	return net_deny(ctx, AF_INET, a, port, operation);
}

static __always_inline int policy6(struct bpf_sock_addr *ctx, __u8 operation)
{
	__u32 a[4] = {ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2], ctx->user_ip6[3]};
	__u16 port = bpf_ntohs((__u16)ctx->user_port);
	if (!session_cgid || net_allowed(6, a, port))
		return 1;
	return net_deny(ctx, AF_INET6, a, port, operation);
}

/* The session's network policy: connect() of TCP and UDP sockets (io_uring's included) and sends
 * of unconnected UDP sockets, in the session cgroup and below (attached only with a policy). */
SEC("cgroup/connect4")
int on_connect4(struct bpf_sock_addr *ctx)
{
	return policy4(ctx, ER_NET_CONNECT);
}

SEC("cgroup/connect6")
int on_connect6(struct bpf_sock_addr *ctx)
{
	return policy6(ctx, ER_NET_CONNECT);
}

SEC("cgroup/sendmsg4")
int on_sendmsg4(struct bpf_sock_addr *ctx)
{
	return policy4(ctx, ER_NET_SEND);
}

SEC("cgroup/sendmsg6")
int on_sendmsg6(struct bpf_sock_addr *ctx)
{
	return policy6(ctx, ER_NET_SEND);
}
