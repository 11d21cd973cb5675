/*
 * er-shell-join — join a cgroup v2 first, then exec: the program is inside the cgroup before it
 * runs a single instruction of its own (writing the pid after a spawn loses that race).
 *
 *   er-shell-join [--allow-io-uring] [--keep-env NAME]... [--user NAME] CGROUP_DIR PROG [ARGS...]
 *
 * Writes its own pid to CGROUP_DIR/cgroup.procs, denies io_uring (unless --allow-io-uring; see
 * deny_io_uring), optionally becomes NAME (initgroups, setgid, setuid; a login environment, see
 * login_environment; chdir HOME, or / when it is missing), closes every descriptor but 0, 1 and 2,
 * then execvp(PROG, [PROG, ARGS...]).
 * Exit status: 125 when it cannot join, deny io_uring or switch user, 126 when PROG is not executable, 127 when
 * PROG cannot be run; otherwise PROG's own. Every failure is one line on stderr.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#define EXIT_JOIN 125
#define EXIT_NOEXEC 126
#define EXIT_NOTFOUND 127

static void usage(void) {
  fputs("usage: er-shell-join [--allow-io-uring] [--keep-env NAME]... [--user NAME] CGROUP_DIR PROG [ARGS...]\n",
        stderr);
  exit(EXIT_JOIN);
}

static int join_cgroup(const char *dir) {
  char path[4096], pid[32];
  int n = snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
  if (n < 0 || (size_t)n >= sizeof(path)) {
    errno = ENAMETOOLONG;
    return -1;
  }
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  int len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
  ssize_t w = write(fd, pid, (size_t)len);
  int saved = errno;
  if (close(fd) != 0 && w == len) {
    saved = errno;
    w = -1;
  }
  if (w != len) {
    errno = w < 0 ? saved : EIO;
    return -1;
  }
  return 0;
}

/*
 * io_uring does opens, connects and more from the kernel's own workers, past the syscall
 * tracepoints that record them: a session with a ring could open files and connect unseen, with
 * the summary saying nothing was lost. So the session gets io_uring_setup, io_uring_enter and
 * io_uring_register denied with EPERM (what a kernel with io_uring disabled answers), by a seccomp
 * filter that every process of the session inherits and none can remove.
 *
 * The numbers are 425-427 on every ABI such a host runs (x86_64, x32, i386, aarch64, arm: they
 * were added after the syscall tables were unified), but a filter sees the raw number of whichever
 * ABI the caller used, so it checks the ABI first: x32 numbers carry __X32_SYSCALL_BIT on the
 * x86_64 ABI and are masked. No other ABI reaches a kernel of these architectures.
 *
 * Installed while still root: root (CAP_SYS_ADMIN) may do so without no_new_privs, so setuid
 * programs in the session (sudo, su) keep working. Failing closed: a session that cannot be denied
 * io_uring is not started.
 */
#define NR_IO_URING_SETUP 425
#define NR_IO_URING_ENTER 426
#define NR_IO_URING_REGISTER 427
#define X32_SYSCALL_BIT 0x40000000U

static int deny_io_uring(void) {
#if !defined(__x86_64__) && !defined(__i386__) && !defined(__aarch64__) && !defined(__arm__)
  errno = ENOSYS; /* an ABI whose numbers this filter does not know */
  return -1;
#else
  struct sock_filter filter[] = {
      /* 0 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      /* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 6, 0),  /* to 8 */
      /* 2 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_I386, 3, 0),    /* to 6 */
      /* 3 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_AARCH64, 2, 0), /* to 6 */
      /* 4 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_ARM, 1, 0),     /* to 6 */
      /* 5 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),                  /* no other ABI on these kernels */
      /* 6 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      /* 7 */ BPF_STMT(BPF_JMP | BPF_JA | BPF_K, 2), /* to 10 */
      /* 8 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      /* 9 */ BPF_STMT(BPF_ALU | BPF_AND | BPF_K, ~X32_SYSCALL_BIT),
      /* 10 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NR_IO_URING_SETUP, 2, 0),    /* to 13 */
      /* 11 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NR_IO_URING_ENTER, 1, 0),    /* to 13 */
      /* 12 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NR_IO_URING_REGISTER, 0, 1), /* to 13, else 14 */
      /* 13 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
      /* 14 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {.len = sizeof(filter) / sizeof(filter[0]), .filter = filter};
  return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
#endif
}

/* login(1)'s defaults (ENV_SUPATH and ENV_PATH of Debian's /etc/login.defs). */
#define LOGIN_SUPATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define LOGIN_PATH "/usr/local/bin:/usr/bin:/bin:/usr/local/games:/usr/games"

static int kept(const char *entry, char **keep, int nkeep) {
  size_t len = strcspn(entry, "=");
  if (entry[len] != '=') return 0;
  if ((len == 4 && strncmp(entry, "TERM", 4) == 0) || (len == 4 && strncmp(entry, "LANG", 4) == 0) ||
      strncmp(entry, "LC_", 3) == 0)
    return 1;
  for (int i = 0; i < nkeep; i++)
    if (strlen(keep[i]) == len && strncmp(entry, keep[i], len) == 0) return 1;
  return 0;
}

/*
 * The session of another account starts with a login environment, as after su - or login(1): the
 * recorder's environment is root's, with its secrets (cloud keys, the ssh agent's socket), its
 * PATH, maybe an LD_PRELOAD, none of which is the session user's to see or to run with. Kept:
 * TERM, LANG and LC_*, and the variables named by --keep-env (a root PATH too, when named). Set:
 * login's default PATH, then HOME, USER, LOGNAME and SHELL of the account, whatever was kept.
 */
static int login_environment(const struct passwd *pw, const char *home, const char *shell, char **keep, int nkeep) {
  extern char **environ;
  size_t n = 0;
  for (char **e = environ; e && *e; e++) n++;
  char **carry = calloc(n + 1, sizeof(char *));
  if (!carry) return -1;
  size_t c = 0;
  for (char **e = environ; e && *e; e++)
    if (kept(*e, keep, nkeep) && !(carry[c++] = strdup(*e))) return -1;
  if (clearenv() != 0) return -1;
  for (size_t i = 0; i < c; i++)
    if (putenv(carry[i]) != 0) return -1;
  if (setenv("PATH", pw->pw_uid == 0 ? LOGIN_SUPATH : LOGIN_PATH, 0) != 0) return -1;
  if (setenv("HOME", home, 1) != 0 || setenv("USER", pw->pw_name, 1) != 0 || setenv("LOGNAME", pw->pw_name, 1) != 0 ||
      setenv("SHELL", shell, 1) != 0)
    return -1;
  return 0;
}

/* Becomes `name` for good: supplementary groups, gid, then uid (the order matters). */
static void become(const char *name, char **keep, int nkeep) {
  errno = 0;
  struct passwd *pw = getpwnam(name);
  if (!pw) {
    fprintf(stderr, "er-shell-join: cannot switch to user %s: %s\n", name, errno ? strerror(errno) : "no such user");
    exit(EXIT_JOIN);
  }
  if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
    fprintf(stderr, "er-shell-join: cannot switch to user %s: %s\n", name, strerror(errno));
    exit(EXIT_JOIN);
  }
  /* setuid to a non-root account must be irreversible. */
  if (pw->pw_uid != 0 && setuid(0) == 0) {
    fprintf(stderr, "er-shell-join: cannot switch to user %s: privileges could be regained\n", name);
    exit(EXIT_JOIN);
  }
  const char *shell = pw->pw_shell && *pw->pw_shell ? pw->pw_shell : "/bin/sh";
  const char *home = pw->pw_dir && *pw->pw_dir ? pw->pw_dir : "/";
  /* Like login(1) with DEFAULT_HOME: a missing home directory starts the session in /. */
  if (chdir(home) != 0) {
    fprintf(stderr, "er-shell-join: cannot enter home directory %s (%s): starting in /\n", home, strerror(errno));
    home = "/";
    if (chdir(home) != 0) {
      fprintf(stderr, "er-shell-join: cannot enter /: %s\n", strerror(errno));
      exit(EXIT_JOIN);
    }
  }
  if (login_environment(pw, home, shell, keep, nkeep) != 0) {
    fprintf(stderr, "er-shell-join: cannot switch to user %s: %s\n", name, strerror(errno));
    exit(EXIT_JOIN);
  }
}

/*
 * The session gets the terminal on 0, 1 and 2 and nothing else: whatever else the recorder had
 * open without close-on-exec (a descriptor its caller redirected, `200</root/secret`, one that
 * node-pty or a library leaked, the NSS lookup's socket) would otherwise be the session's to read
 * or write, with root's access checked when it was opened. close_range(2) (Linux 5.9) does it in
 * one call; without it, the descriptors listed in /proc/self/fd, else every one below the limit.
 */
static void close_inherited(void) {
#ifdef SYS_close_range
  if (syscall(SYS_close_range, 3U, ~0U, 0U) == 0) return;
#endif
  DIR *d = opendir("/proc/self/fd");
  if (d) {
    int own = dirfd(d);
    /* Closing while reading the directory is fine: an entry already closed fails with EBADF. */
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      char *end;
      long fd = strtol(e->d_name, &end, 10);
      if (*end == '\0' && end != e->d_name && fd >= 3 && fd != own) close((int)fd);
    }
    closedir(d);
    return;
  }
  struct rlimit rl;
  long max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ? (long)rl.rlim_cur : 65536;
  for (long fd = 3; fd < max; fd++) close((int)fd);
}

int main(int argc, char **argv) {
  int i = 1;
  const char *user = NULL;
  int allow_io_uring = 0;
  /* --keep-env names: at most one per argument, so argc bounds them. */
  char **keep = calloc((size_t)argc, sizeof(char *));
  int nkeep = 0;
  if (!keep) {
    perror("er-shell-join");
    return EXIT_JOIN;
  }
  for (;;) {
    if (i < argc && strcmp(argv[i], "--allow-io-uring") == 0) {
      allow_io_uring = 1;
      i++;
    } else if (i < argc && strcmp(argv[i], "--keep-env") == 0) {
      if (i + 1 >= argc) usage();
      keep[nkeep++] = argv[i + 1];
      i += 2;
    } else if (i < argc && strcmp(argv[i], "--user") == 0) {
      if (i + 1 >= argc) usage();
      user = argv[i + 1];
      i += 2;
    } else {
      break;
    }
  }
  if (i < argc && strcmp(argv[i], "--") == 0) i++;
  if (argc - i < 2) usage();
  const char *dir = argv[i];
  char **prog = &argv[i + 1];

  if (join_cgroup(dir) != 0) {
    fprintf(stderr, "er-shell-join: cannot join cgroup %s: %s\n", dir, strerror(errno));
    return EXIT_JOIN;
  }
  if (!allow_io_uring && deny_io_uring() != 0) {
    fprintf(stderr,
            "er-shell-join: cannot deny io_uring to the session (seccomp: %s); --allow-io-uring runs it anyway, its "
            "io_uring I/O unrecorded\n",
            strerror(errno));
    return EXIT_JOIN;
  }
  if (user) become(user, keep, nkeep);
  close_inherited();
  execvp(prog[0], prog);
  int err = errno;
  fprintf(stderr, "er-shell-join: cannot run %s: %s\n", prog[0], strerror(err));
  return err == EACCES ? EXIT_NOEXEC : EXIT_NOTFOUND;
}
