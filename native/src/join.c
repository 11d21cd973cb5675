/*
 * er-shell-join — join a cgroup v2 first, then exec: the program is inside the cgroup before it
 * runs a single instruction of its own (writing the pid after a spawn loses that race).
 *
 *   er-shell-join [--user NAME] CGROUP_DIR PROG [ARGS...]
 *
 * Writes its own pid to CGROUP_DIR/cgroup.procs, optionally becomes NAME (initgroups, setgid,
 * setuid; HOME, USER, LOGNAME, SHELL from passwd; chdir HOME, or / when it is missing), then execvp(PROG, [PROG, ARGS...]).
 * Exit status: 125 when it cannot join or switch user, 126 when PROG is not executable, 127 when
 * PROG cannot be run; otherwise PROG's own. Every failure is one line on stderr.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXIT_JOIN 125
#define EXIT_NOEXEC 126
#define EXIT_NOTFOUND 127

static void usage(void) {
	fputs("usage: er-shell-join [--user NAME] CGROUP_DIR PROG [ARGS...]\n", stderr);
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
	if (fd < 0)
		return -1;
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

/* Becomes `name` for good: supplementary groups, gid, then uid (the order matters). */
static void become(const char *name) {
	errno = 0;
	struct passwd *pw = getpwnam(name);
	if (!pw) {
		fprintf(stderr, "er-shell-join: cannot switch to user %s: %s\n", name,
			errno ? strerror(errno) : "no such user");
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
	if (setenv("HOME", home, 1) != 0 || setenv("USER", pw->pw_name, 1) != 0 ||
	    setenv("LOGNAME", pw->pw_name, 1) != 0 || setenv("SHELL", shell, 1) != 0) {
		fprintf(stderr, "er-shell-join: cannot switch to user %s: %s\n", name, strerror(errno));
		exit(EXIT_JOIN);
	}
}

int main(int argc, char **argv) {
	int i = 1;
	const char *user = NULL;
	if (i < argc && strcmp(argv[i], "--user") == 0) {
		if (i + 1 >= argc)
			usage();
		user = argv[i + 1];
		i += 2;
	}
	if (i < argc && strcmp(argv[i], "--") == 0)
		i++;
	if (argc - i < 2)
		usage();
	const char *dir = argv[i];
	char **prog = &argv[i + 1];

	if (join_cgroup(dir) != 0) {
		fprintf(stderr, "er-shell-join: cannot join cgroup %s: %s\n", dir, strerror(errno));
		return EXIT_JOIN;
	}
	if (user)
		become(user);
	execvp(prog[0], prog);
	int err = errno;
	fprintf(stderr, "er-shell-join: cannot run %s: %s\n", prog[0], strerror(err));
	return err == EACCES ? EXIT_NOEXEC : EXIT_NOTFOUND;
}
