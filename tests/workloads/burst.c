/*
 * burst: a task that alternates CPU bursts and short sleeps.
 *
 *   burst RUN_US SLEEP_US SECONDS
 *
 * Spins for RUN_US of wall-clock time, sleeps SLEEP_US, and so on for
 * SECONDS. Unlike a pure hog it leaves its CPU now and then, so a task
 * that must wait for it (rather than preempt it) still runs.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <time.h>

static long long now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char **argv)
{
	if (argc != 4)
		return 2;
	long long run = atoll(argv[1]) * 1000LL, end = now_ns() + (long long)(atof(argv[3]) * 1e9);
	struct timespec nap = { .tv_sec = 0, .tv_nsec = atol(argv[2]) * 1000L };

	while (now_ns() < end) {
		long long stop = now_ns() + run;

		while (now_ns() < stop)
			;
		nanosleep(&nap, NULL);
	}
	return 0;
}
