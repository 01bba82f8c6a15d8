/*
 * wakelat: a periodic sleeper measuring its own wakeup latency.
 *
 *   wakelat INTERVAL_US COUNT
 *
 * Sleeps until absolute deadlines INTERVAL_US apart (clock_nanosleep,
 * CLOCK_MONOTONIC) and prints, one per line, how late each wakeup ran
 * (now - deadline, in microseconds). It runs a few microseconds per
 * period, so a scheduler sees a short-running, frequently waking task.
 * Like cyclictest with SCHED_OTHER, but raw samples for the caller to
 * take percentiles of. Run it under `nice -n N` for a priority.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long long ns(const struct timespec *t)
{
	return (long long)t->tv_sec * 1000000000LL + t->tv_nsec;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s INTERVAL_US COUNT\n", argv[0]);
		return 2;
	}
	long interval = atol(argv[1]) * 1000L;
	long count = atol(argv[2]);
	long long *lat = calloc(count, sizeof(*lat));
	struct timespec next, now;

	if (!lat || interval <= 0 || count <= 0)
		return 2;
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (long i = 0; i < count; i++) {
		next.tv_nsec += interval;
		while (next.tv_nsec >= 1000000000L) {
			next.tv_nsec -= 1000000000L;
			next.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
		clock_gettime(CLOCK_MONOTONIC, &now);
		lat[i] = ns(&now) - ns(&next);
		/* Late by more than a period: skip the missed deadlines. */
		if (lat[i] > interval) {
			next = now;
		}
	}
	for (long i = 0; i < count; i++)
		printf("%lld\n", lat[i] / 1000);
	return 0;
}
