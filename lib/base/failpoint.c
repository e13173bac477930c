/* failpoint.c - named points where a test can make a process pause, stop,
 * crash or fail (see failpoint.h) */
#include "base/failpoint.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FAILPOINTS_MAX 16
#define FAILPOINT_NAME_MAX 64

enum failpoint_action {
	FP_CRASH,
	FP_ABORT,
	FP_STOP,
	FP_SLEEP,
	FP_ERROR
};

struct failpoint {
	char name[FAILPOINT_NAME_MAX];
	enum failpoint_action action;
	long sleep_ms;
	long due;  /* fires on this hit */
	long hits; /* reached so far */
};

int aq_failpoints_armed;
static struct failpoint points[FAILPOINTS_MAX];
static int npoints;

/* Parses one NAME=[N*]ACTION entry of len bytes. Returns 0 or -1. */
static int parse_entry(const char *s, size_t len)
{
	char entry[128];
	if (len == 0)
		return 0;
	if (len >= sizeof(entry) || npoints == FAILPOINTS_MAX)
		return -1;
	memcpy(entry, s, len);
	entry[len] = '\0';
	char *eq = strchr(entry, '=');
	if (!eq || eq == entry || (size_t)(eq - entry) >= FAILPOINT_NAME_MAX)
		return -1;
	struct failpoint *fp = &points[npoints];
	memset(fp, 0, sizeof(*fp));
	memcpy(fp->name, entry, (size_t)(eq - entry));
	char *action = eq + 1;
	fp->due = 1;
	char *star = strchr(action, '*');
	if (star) {
		char *end;
		fp->due = strtol(action, &end, 10);
		if (end != star || fp->due < 1)
			return -1;
		action = star + 1;
	}
	if (strcmp(action, "crash") == 0) {
		fp->action = FP_CRASH;
	} else if (strcmp(action, "abort") == 0) {
		fp->action = FP_ABORT;
	} else if (strcmp(action, "stop") == 0) {
		fp->action = FP_STOP;
	} else if (strcmp(action, "error") == 0) {
		fp->action = FP_ERROR;
	} else if (strncmp(action, "sleep(", 6) == 0) {
		char *end;
		fp->action = FP_SLEEP;
		fp->sleep_ms = strtol(action + 6, &end, 10);
		if (end == action + 6 || strcmp(end, ")") != 0 || fp->sleep_ms < 0)
			return -1;
	} else {
		return -1;
	}
	npoints++;
	return 0;
}

int aq_failpoints_init(void)
{
	const char *spec = getenv("ALERTQ_FAILPOINTS");
	if (!spec || !*spec)
		return 0;
	const char *p = spec;
	while (*p) {
		size_t len = strcspn(p, ";");
		if (parse_entry(p, len) != 0) {
			fprintf(stderr,
				"alertq: ALERTQ_FAILPOINTS: cannot read '%.*s' "
				"(NAME=[N*]crash|abort|stop|sleep(MS)|error)\n",
				(int)len, p);
			aq_failpoints_reset(); /* nothing half-read stays armed */
			return -1;
		}
		p += len;
		if (*p == ';')
			p++;
	}
	aq_failpoints_armed = npoints > 0;
	return 0;
}

void aq_failpoints_reset(void)
{
	aq_failpoints_armed = 0;
	npoints = 0;
	memset(points, 0, sizeof(points));
}

int aq_failpoint_hit(const char *name)
{
	/* every entry of the name counts the hit, the first that is due acts:
	 * "P=1*sleep(9);P=2*sleep(9)" pauses the first two times */
	struct failpoint *due = NULL;
	for (int i = 0; i < npoints; i++) {
		struct failpoint *fp = &points[i];
		if (strcmp(fp->name, name) == 0 &&
		    __atomic_add_fetch(&fp->hits, 1, __ATOMIC_SEQ_CST) == fp->due && !due)
			due = fp;
	}
	if (!due)
		return 0;
	char line[160];
	int n = snprintf(line, sizeof(line), "alertq: failpoint %s fires\n", name);
	ssize_t unused = write(STDERR_FILENO, line, n > 0 && n < (int)sizeof(line) ? (size_t)n : 0);
	(void)unused;
	switch (due->action) {
	case FP_CRASH:
		_exit(137);
	case FP_ABORT:
		abort();
	case FP_STOP:
		raise(SIGSTOP);
		return 0;
	case FP_SLEEP: {
		struct timespec ts = { due->sleep_ms / 1000, (due->sleep_ms % 1000) * 1000000L };
		while (nanosleep(&ts, &ts) != 0)
			;
		return 0;
	}
	case FP_ERROR:
		return -1;
	}
	return 0;
}
