// Event-throughput load: COUNT open()+close() of PATH, paced at RATE per second (0 = as fast as
// possible). Prints one line: OPENER {"opens":N,"failed":F,"ns":elapsed,"rate":achieved}.
// Usage: opener COUNT RATE PATH
#define _GNU_SOURCE
#include <fcntl.h>
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
	if (argc != 4) {
		fprintf(stderr, "usage: opener COUNT RATE PATH\n");
		return 2;
	}
	long long count = atoll(argv[1]);
	double rate = atof(argv[2]);
	const char *path = argv[3];
	long long failed = 0, done = 0;
	long long start = now_ns();
	while (done < count) {
		long long burst = count - done;
		if (rate > 0) {
			// Catch up with the schedule, in bursts of at most 1 ms worth of opens.
			double due = (double)(now_ns() - start) * rate / 1e9;
			burst = (long long)due - done;
			long long cap = (long long)(rate / 1000) + 1;
			if (burst > cap)
				burst = cap;
			if (burst <= 0) {
				struct timespec pause = {0, 100000};
				nanosleep(&pause, NULL);
				continue;
			}
			if (burst > count - done)
				burst = count - done;
		}
		for (long long i = 0; i < burst; i++) {
			int fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				failed++;
			else
				close(fd);
		}
		done += burst;
	}
	long long ns = now_ns() - start;
	printf("OPENER {\"opens\":%lld,\"failed\":%lld,\"ns\":%lld,\"rate\":%.0f}\n", done, failed, ns,
	       done / (ns / 1e9));
	return failed ? 1 : 0;
}
