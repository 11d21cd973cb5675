// Attaches bench/c/hooks.bpf.c's do-nothing programs, prints "attached", and holds them until
// SIGINT or SIGTERM, then detaches and exits. Usage: hooks OBJECT [PROGRAM...] (default: all)
#include <bpf/libbpf.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_signal(int sig) {
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv) {
	if (argc < 2) {
		fprintf(stderr, "usage: hooks OBJECT [PROGRAM...]\n");
		return 2;
	}
	struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
	struct bpf_program *prog;
	if (obj && argc > 2) {
		bpf_object__for_each_program(prog, obj) {
			int wanted = 0;
			for (int i = 2; i < argc; i++)
				wanted |= strcmp(argv[i], bpf_program__name(prog)) == 0;
			bpf_program__set_autoload(prog, wanted);
		}
	}
	if (!obj || bpf_object__load(obj)) {
		fprintf(stderr, "hooks: cannot load %s\n", argv[1]);
		return 1;
	}
	bpf_object__for_each_program(prog, obj) {
		if (!bpf_program__autoload(prog))
			continue;
		if (!bpf_program__attach(prog)) {
			fprintf(stderr, "hooks: cannot attach %s\n", bpf_program__name(prog));
			return 1;
		}
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	printf("attached\n");
	fflush(stdout);
	while (!stop)
		pause();
	bpf_object__close(obj);
	return 0;
}
