// Terminal-throughput consumer: reads stdin to EOF, counting bytes. Prints one JSON line to
// stderr with CLOCK_MONOTONIC stamps (ns) of the first byte, of the moment EXPECTED bytes had
// arrived, and of EOF: {"bytes":N,"first_ns":..,"full_ns":..,"eof_ns":..}.
// Usage: consumer EXPECTED
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
	long long expected = argc > 1 ? atoll(argv[1]) : -1;
	static char buf[1 << 20];
	long long total = 0, first = 0, full = 0;
	for (;;) {
		ssize_t n = read(0, buf, sizeof buf);
		if (n < 0) {
			perror("read");
			return 1;
		}
		if (n == 0)
			break;
		if (total == 0)
			first = now_ns();
		total += n;
		if (!full && expected >= 0 && total >= expected)
			full = now_ns();
	}
	long long eof = now_ns();
	fprintf(stderr, "{\"bytes\":%lld,\"first_ns\":%lld,\"full_ns\":%lld,\"eof_ns\":%lld}\n", total, first, full,
	        eof);
	return 0;
}
