/* gen.c - the benchmark's load generator: publishes check results through
 * alertq's own publisher (the producer alertq-producer uses), either as fast
 * as it can or paced, recording when each paced result was sent.
 *
 *   bench_gen CONFIG load COUNT CHECKS FIRST FLIP_PERMILLE
 *       COUNT results for checks bench.NNNNNN, (FIRST + i) % CHECKS; each
 *       check starts OK (value 10) and flips between OK and CRITICAL (95)
 *       with a chance of FLIP_PERMILLE/1000 a result; 1000 = every result
 *       of a check after its first is a transition, -1 = all CRITICAL
 *   bench_gen CONFIG pace RATE SECONDS CHECKS OUT
 *       RATE results a second over checks lat.NNN, every one a transition
 *       (CRITICAL, then OK, ...); writes "event_id send_us" lines to OUT;
 *       then a second of OK results for checks pad.NNN, not recorded
 *
 * Prints one line of `key=value` pairs for bench/run.sh. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alertq/config.h"
#include "alertq/publisher.h"

#define VALUE_OK 10.0
#define VALUE_CRITICAL 95.0

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Fills r for check with value; the strings are borrowed. */
static void result_for(struct aq_result *r, char *check, double value)
{
	memset(r, 0, sizeof(*r));
	aq_uuid4(r->event_id);
	r->check = check;
	r->source = "bench";
	r->observed_at_ms = aq_now_ms();
	r->has_value = 1;
	r->value = value;
	r->status = AQ_STATUS_NONE;
	r->message = "";
}

static int cmd_load(aq_publisher_t *pub, long count, long checks, long first, long flip)
{
	unsigned char *critical = calloc((size_t)checks, 1);
	char err[512];
	char check[32];
	long failed = 0;
	if (!critical)
		return 1;
	srand(7);
	int64_t start = now_us();
	for (long i = 0; i < count; i++) {
		long c = (first + i) % checks;
		if (flip < 0)
			critical[c] = 1;
		else if (flip > 0 && rand() % 1000 < flip)
			critical[c] = !critical[c];
		snprintf(check, sizeof(check), "bench.%06ld", c);
		struct aq_result r;
		result_for(&r, check, critical[c] ? VALUE_CRITICAL : VALUE_OK);
		if (aq_publisher_send(pub, &r, err, sizeof(err)) != 0) {
			fprintf(stderr, "bench_gen: %s\n", err);
			failed++;
		}
	}
	size_t left = aq_publisher_flush(pub, 60000);
	int64_t end = now_us();
	printf("start_us=%" PRId64 " end_us=%" PRId64 " sent=%zu failed=%ld rate=%.0f\n", start, end,
	       aq_publisher_delivered(pub), failed + (long)left,
	       aq_publisher_delivered(pub) / ((end - start) / 1e6));
	free(critical);
	return failed || left ? 1 : 0;
}

static int cmd_pace(aq_publisher_t *pub, double rate, double seconds, long checks, const char *out_path)
{
	FILE *out = fopen(out_path, "w");
	char err[512];
	char check[32];
	long total = (long)(rate * seconds);
	unsigned char *critical = calloc((size_t)checks, 1);
	if (!out || !critical)
		return 1;
	int64_t start = now_us();
	for (long i = 0; i < total; i++) {
		int64_t due = start + (int64_t)(i * 1e6 / rate);
		while (now_us() < due) {
			int64_t wait = due - now_us();
			aq_publisher_poll(pub, 0);
			if (wait > 1000)
				wait = 1000;
			if (wait > 0) {
				struct timespec ts = { .tv_sec = 0, .tv_nsec = wait * 1000 };
				nanosleep(&ts, NULL);
			}
		}
		long c = i % checks;
		critical[c] = !critical[c];
		snprintf(check, sizeof(check), "lat.%03ld", c);
		struct aq_result r;
		result_for(&r, check, critical[c] ? VALUE_CRITICAL : VALUE_OK);
		int64_t sent = now_us();
		if (aq_publisher_send(pub, &r, err, sizeof(err)) != 0) {
			fprintf(stderr, "bench_gen: %s\n", err);
			continue;
		}
		fprintf(out, "%s %" PRId64 "\n", r.event_id, sent);
	}
	/* a live consumer of the dev broker can miss the last messages of a
	 * burst until more follow: a second of results that change nothing */
	for (long i = 0; i < (long)rate; i++) {
		struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)(1e9 / rate) };
		nanosleep(&ts, NULL);
		snprintf(check, sizeof(check), "pad.%03ld", i % checks);
		struct aq_result r;
		result_for(&r, check, VALUE_OK);
		if (aq_publisher_send(pub, &r, err, sizeof(err)) != 0)
			fprintf(stderr, "bench_gen: %s\n", err);
	}
	size_t left = aq_publisher_flush(pub, 30000);
	fclose(out);
	free(critical);
	printf("sent=%zu failed=%zu\n", aq_publisher_delivered(pub), left);
	return left ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct aq_config cfg;
	char err[8192];
	if (argc < 3) {
		fprintf(stderr,
			"usage: bench_gen CONFIG load COUNT CHECKS FIRST FLIP_PERMILLE"
			" | CONFIG pace RATE SECONDS CHECKS OUT\n");
		return 2;
	}
	memset(&cfg, 0, sizeof(cfg));
	if (aq_config_load(&cfg, argv[1], err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	/* load is bulk; pace sends one result at a time, as a probe does */
	int bulk = argc >= 3 && strcmp(argv[2], "load") == 0;
	aq_publisher_t *pub = bulk ? aq_publisher_new_bulk(&cfg, err, sizeof(err))
				   : aq_publisher_new(&cfg, err, sizeof(err));
	if (!pub) {
		fprintf(stderr, "bench_gen: %s\n", err);
		return 1;
	}
	int rc = 2;
	if (argc >= 7 && strcmp(argv[2], "load") == 0)
		rc = cmd_load(pub, atol(argv[3]), atol(argv[4]), atol(argv[5]), atol(argv[6]));
	else if (argc >= 7 && strcmp(argv[2], "pace") == 0)
		rc = cmd_pace(pub, atof(argv[3]), atof(argv[4]), atol(argv[5]), argv[6]);
	else
		fprintf(stderr, "bench_gen: unknown command or missing arguments\n");
	aq_publisher_free(pub);
	aq_config_release(&cfg);
	return rc;
}
