/*
 * spin: a CPU hog that records where it ran.
 *
 *   spin SECONDS
 *
 * Yields once (so that a scheduler classifies it again under the name it
 * was exec'd with), then spins for SECONDS of wall-clock time, calling
 * sched_getcpu() every iteration, and prints one line per CPU it was seen
 * on: "cpu N COUNT". Compile it under the name a policy's rule matches
 * (comm is the executable's base name).
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define MAX_CPUS 512

static long long now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char **argv)
{
	static unsigned long long seen[MAX_CPUS];
	double secs = argc > 1 ? atof(argv[1]) : 1.0;
	long long end;

	sched_yield();
	end = now_ns() + (long long)(secs * 1e9);
	for (unsigned long i = 0;; i++) {
		int cpu = sched_getcpu();

		if (cpu >= 0 && cpu < MAX_CPUS)
			seen[cpu]++;
		if ((i & 1023) == 0 && now_ns() >= end)
			break;
	}
	for (int c = 0; c < MAX_CPUS; c++)
		if (seen[c])
			printf("cpu %d %llu\n", c, seen[c]);
	return 0;
}
