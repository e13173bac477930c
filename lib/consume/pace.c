/* pace.c - waiting between attempts: sleeps that survive signals, and
 * exponential backoff with jitter */
#include "consume/pace.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

void aq_sleep_ms(int64_t ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int64_t aq_backoff_ms(int attempt, int64_t base, int64_t cap)
{
	int64_t ms = base;
	for (int i = 0; i < attempt && ms < cap; i++)
		ms *= 2;
	if (ms > cap)
		ms = cap;
	return ms / 2 + (int64_t)rand() % (ms / 2 + 1);
}
