/* ceiling.c - the benchmark's ceiling: a minimal librdkafka producer and
 * consumer on the topic alertq uses, doing nothing with the events, so that
 * every alertq figure can be read against what Kafka alone gives here.
 *
 *   bench_ceiling produce  BROKERS TOPIC COUNT CHECKS   COUNT real events, keys over CHECKS names
 *   bench_ceiling consume  BROKERS TOPIC COUNT [decode] reads COUNT from the start (decode: and decodes)
 *   bench_ceiling latency  BROKERS TOPIC RATE SECONDS   produce -> consume latency at RATE/s (TOPIC empty)
 *   bench_ceiling marks    BROKERS TOPIC                sums of low and high watermarks
 *   bench_ceiling http     URL COUNT CONCURRENCY        COUNT notification-sized POSTs over
 *                                                       CONCURRENCY kept-alive connections
 *   bench_ceiling applied  DSN COUNT SECONDS            waits until the worker's stored offsets
 *                                                       sum to COUNT, polling on one connection
 *
 * Each prints one line of `key=value` pairs for bench/run.sh. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>

#include "alertq/event.h"
#include "alertq/kafka.h"

#define POOL 4096
#define LATENCY_MAX 100000

/* Microseconds of the realtime clock (the sink and the driver use it too). */
static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "bench_ceiling: %s: %s\n", what, detail);
	exit(1);
}

static void set(rd_kafka_conf_t *conf, const char *key, const char *value)
{
	char errstr[512];
	if (rd_kafka_conf_set(conf, key, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
		die(key, errstr);
}

/* A producer configured as alertq's own (idempotent, acks=all, zstd;
 * linger.ms as a bulk producer's, or 0 as one that sends results one at a
 * time): the ceiling differs from alertq only in doing no work. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque);

static rd_kafka_t *producer_new(const char *brokers, int bulk)
{
	char errstr[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	set(conf, "bootstrap.servers", brokers);
	set(conf, "enable.idempotence", "true");
	set(conf, "acks", "all");
	set(conf, "linger.ms", bulk ? AQ_KAFKA_BULK_LINGER_MS : "0");
	set(conf, "compression.type", "zstd");
	set(conf, "queue.buffering.max.messages", "1000000");
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (!rk)
		die("cannot create the producer", errstr);
	return rk;
}

/* A consumer without a group (no join to wait for) reading every partition
 * of topic from offset (RD_KAFKA_OFFSET_BEGINNING or _END). Returns the
 * partition count in *nparts. */
static rd_kafka_t *consumer_new(const char *brokers, const char *topic, int64_t offset, int *nparts)
{
	char errstr[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	set(conf, "bootstrap.servers", brokers);
	set(conf, "group.id", "bench-ceiling");
	set(conf, "enable.auto.commit", "false");
	set(conf, "fetch.wait.max.ms", AQ_KAFKA_FETCH_WAIT_MS);
	set(conf, "queued.min.messages", "1000000");
	set(conf, "enable.partition.eof", "false");
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	if (!rk)
		die("cannot create the consumer", errstr);
	rd_kafka_poll_set_consumer(rk);
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
	rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, t, &md, 10000);
	if (e || md->topic_cnt != 1 || md->topics[0].partition_cnt < 1)
		die("no metadata for the topic", e ? rd_kafka_err2str(e) : topic);
	*nparts = md->topics[0].partition_cnt;
	rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(t);
	rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(*nparts);
	for (int p = 0; p < *nparts; p++)
		rd_kafka_topic_partition_list_add(parts, topic, p)->offset = offset;
	e = rd_kafka_assign(rk, parts);
	rd_kafka_topic_partition_list_destroy(parts);
	if (e)
		die("cannot assign partitions", rd_kafka_err2str(e));
	return rk;
}

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = 0;
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "VmRSS:", 6) == 0)
			kib = strtol(line + 6, NULL, 10);
	if (f)
		fclose(f);
	return kib;
}

/* Encodes POOL real events for check names bench.NNNNNN (i % checks). */
static void make_pool(unsigned char **bufs, size_t *lens, char (*keys)[32], long checks)
{
	char err[512];
	aq_codec_t *codec = aq_codec_new(err, sizeof(err));
	if (!codec)
		die("codec", err);
	for (int i = 0; i < POOL; i++) {
		struct aq_result r;
		memset(&r, 0, sizeof(r));
		snprintf(keys[i], sizeof(keys[i]), "bench.%06ld", (long)i % checks);
		aq_uuid4(r.event_id);
		r.check = keys[i];
		r.source = "bench";
		r.observed_at_ms = aq_now_ms();
		r.has_value = 1;
		r.value = 10;
		r.status = AQ_STATUS_NONE;
		r.message = "";
		r.interval_ms = 60000;
		unsigned char buf[1024];
		size_t len = sizeof(buf);
		if (aq_codec_encode(codec, &r, buf, &len, err, sizeof(err)) != 0)
			die("encode", err);
		bufs[i] = malloc(len);
		memcpy(bufs[i], buf, len);
		lens[i] = len;
	}
	aq_codec_free(codec);
}

static long delivered, failed;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	if (m->err)
		failed++;
	else
		delivered++;
}

static int cmd_produce(const char *brokers, const char *topic, long count, long checks)
{
	static unsigned char *bufs[POOL];
	static size_t lens[POOL];
	static char keys[POOL][32];
	make_pool(bufs, lens, keys, checks);
	rd_kafka_t *rk = producer_new(brokers, 1);
	/* the topic's metadata first, so the timing is of producing only */
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
	if (rd_kafka_metadata(rk, 0, t, &md, 10000) == 0)
		rd_kafka_metadata_destroy(md);
	int64_t start = now_us();
	for (long i = 0; i < count; i++) {
		int k = (int)(i % POOL);
		while (rd_kafka_produce(t, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, bufs[k], lens[k],
					keys[k], strlen(keys[k]), NULL) != 0) {
			if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL)
				die("produce", rd_kafka_err2str(rd_kafka_last_error()));
			rd_kafka_poll(rk, 1);
		}
		if ((i & 1023) == 0)
			rd_kafka_poll(rk, 0);
	}
	rd_kafka_flush(rk, 60000);
	int64_t end = now_us();
	printf("produced=%ld failed=%ld seconds=%.3f rate=%.0f\n", delivered, failed, (end - start) / 1e6,
	       delivered / ((end - start) / 1e6));
	rd_kafka_topic_destroy(t);
	rd_kafka_destroy(rk);
	for (int i = 0; i < POOL; i++)
		free(bufs[i]);
	return delivered == count ? 0 : 1;
}

static int cmd_consume(const char *brokers, const char *topic, long count, int decode)
{
	int nparts;
	char err[512];
	aq_codec_t *codec = decode ? aq_codec_new(err, sizeof(err)) : NULL;
	if (decode && !codec)
		die("codec", err);
	rd_kafka_t *rk = consumer_new(brokers, topic, RD_KAFKA_OFFSET_BEGINNING, &nparts);
	long got = 0;
	long bad = 0;
	int64_t first = 0;
	int64_t last = 0;
	int64_t idle_since = now_us();
	while (got < count && now_us() - idle_since < 10000000) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
		if (!m)
			continue;
		if (!m->err) {
			if (!first)
				first = now_us();
			got++;
			if (codec) {
				struct aq_result r;
				memset(&r, 0, sizeof(r));
				if (aq_codec_decode(codec, m->payload, m->len, &r, err, sizeof(err)) != 0)
					bad++;
				else
					aq_result_release(&r);
			}
			idle_since = last = now_us();
		}
		rd_kafka_message_destroy(m);
	}
	double secs = (last - first) / 1e6;
	printf("consumed=%ld bad=%ld seconds=%.3f rate=%.0f rss_kib=%ld\n", got, bad, secs,
	       secs > 0 ? got / secs : 0, rss_kib());
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	aq_codec_free(codec);
	return got == count && bad == 0 ? 0 : 1;
}

struct pace {
	rd_kafka_t *rk;
	rd_kafka_topic_t *topic;
	double rate;
	double seconds;
	volatile int done;
	long sent;
};

/* Produces the send time as the payload, RATE times a second. */
static void *pace_main(void *arg)
{
	struct pace *p = arg;
	int64_t start = now_us();
	long total = (long)(p->rate * p->seconds);
	for (long i = 0; i < total; i++) {
		int64_t due = start + (int64_t)(i * 1e6 / p->rate);
		int64_t wait = due - now_us();
		if (wait > 0) {
			struct timespec ts = { .tv_sec = wait / 1000000, .tv_nsec = (wait % 1000000) * 1000 };
			nanosleep(&ts, NULL);
		}
		char key[32];
		int64_t sent = now_us();
		snprintf(key, sizeof(key), "lat.%03ld", i % 100);
		if (rd_kafka_produce(p->topic, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, &sent,
				     sizeof(sent), key, strlen(key), NULL) == 0)
			p->sent++;
		rd_kafka_poll(p->rk, 0);
	}
	/* a live consumer of the dev broker can miss the last messages of a
	 * burst until more follow: a second of padding, not measured */
	char pad = 0;
	for (long i = 0; i < (long)p->rate; i++) {
		struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)(1e9 / p->rate) };
		nanosleep(&ts, NULL);
		rd_kafka_produce(p->topic, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, &pad, 1, "pad", 3,
				 NULL);
		rd_kafka_poll(p->rk, 0);
	}
	rd_kafka_flush(p->rk, 10000);
	p->done = 1;
	return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a;
	int64_t y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static int cmd_latency(const char *brokers, const char *topic, double rate, double seconds)
{
	int nparts;
	rd_kafka_t *consumer = consumer_new(brokers, topic, RD_KAFKA_OFFSET_BEGINNING, &nparts);
	/* let the consumer reach the end before anything is sent */
	for (int i = 0; i < 20; i++) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(consumer, 100);
		if (m)
			rd_kafka_message_destroy(m);
	}
	struct pace p = { .rate = rate, .seconds = seconds };
	p.rk = producer_new(brokers, 0);
	p.topic = rd_kafka_topic_new(p.rk, topic, NULL);
	static int64_t lat[LATENCY_MAX];
	long n = 0;
	pthread_t th;
	pthread_create(&th, NULL, pace_main, &p);
	int64_t idle_since = 0;
	while (!p.done || (n < p.sent && now_us() - idle_since < 3000000)) {
		if (p.done && !idle_since)
			idle_since = now_us();
		rd_kafka_message_t *m = rd_kafka_consumer_poll(consumer, 50);
		if (!m)
			continue;
		if (!m->err && m->len == sizeof(int64_t) && n < LATENCY_MAX) {
			int64_t sent;
			memcpy(&sent, m->payload, sizeof(sent));
			lat[n++] = now_us() - sent;
		}
		rd_kafka_message_destroy(m);
	}
	pthread_join(th, NULL);
	qsort(lat, (size_t)n, sizeof(lat[0]), cmp_i64);
	printf("sent=%ld received=%ld p50_us=%" PRId64 " p99_us=%" PRId64 " max_us=%" PRId64 "\n", p.sent, n,
	       n ? lat[n / 2] : 0, n ? lat[(n * 99) / 100] : 0, n ? lat[n - 1] : 0);
	rd_kafka_topic_destroy(p.topic);
	rd_kafka_destroy(p.rk);
	rd_kafka_consumer_close(consumer);
	rd_kafka_destroy(consumer);
	return n == p.sent ? 0 : 1;
}

static int cmd_marks(const char *brokers, const char *topic)
{
	int nparts;
	rd_kafka_t *rk = consumer_new(brokers, topic, RD_KAFKA_OFFSET_END, &nparts);
	int64_t lows = 0;
	int64_t highs = 0;
	for (int p = 0; p < nparts; p++) {
		int64_t lo = 0;
		int64_t hi = 0;
		rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 10000);
		if (e)
			die("watermarks", rd_kafka_err2str(e));
		lows += lo;
		highs += hi;
	}
	printf("low=%" PRId64 " high=%" PRId64 " partitions=%d\n", lows, highs, nparts);
	rd_kafka_destroy(rk);
	return 0;
}

static size_t discard(char *data, size_t size, size_t nitems, void *userdata)
{
	return size * nitems;
}

/* The webhook ceiling: what libcurl alone posts to the receiver, with as
 * many connections as the channel uses and a body of a notification's size. */
static int cmd_http(const char *url, long count, long concurrency)
{
	static const char body[] =
		"{\"notification_id\": \"00000000-0000-4000-8000-000000000000\", \"check\": \"bench.000001\","
		" \"status\": \"firing\", \"severity\": \"CRITICAL\", \"previous_severity\": \"OK\", "
		"\"value\": 95,"
		" \"message\": \"\", \"labels\": {}, \"observed_at\": \"2026-11-27T17:00:00Z\","
		" \"since\": \"2026-11-27T17:00:00Z\", \"escalation_level\": 0,"
		" \"event_id\": \"00000000-0000-4000-8000-000000000000\"}";
	curl_global_init(CURL_GLOBAL_DEFAULT);
	CURLM *multi = curl_multi_init();
	curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, concurrency);
	struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
	headers = curl_slist_append(headers, "Idempotency-Key: 00000000-0000-4000-8000-000000000000");
	CURL **easy = calloc((size_t)concurrency, sizeof(*easy));
	long started = 0;
	long done = 0;
	long failed = 0;
	int64_t start = now_us();
	for (long i = 0; i < concurrency && started < count; i++, started++) {
		easy[i] = curl_easy_init();
		curl_easy_setopt(easy[i], CURLOPT_URL, url);
		curl_easy_setopt(easy[i], CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(easy[i], CURLOPT_HTTPHEADER, headers);
		curl_easy_setopt(easy[i], CURLOPT_WRITEFUNCTION, discard);
		curl_multi_add_handle(multi, easy[i]);
	}
	while (done < count) {
		int running;
		curl_multi_perform(multi, &running);
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			long code = 0;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
			if (msg->data.result != CURLE_OK || code != 200)
				failed++;
			done++;
			CURL *e = msg->easy_handle;
			curl_multi_remove_handle(multi, e);
			if (started < count) {
				started++;
				curl_multi_add_handle(multi, e);
			}
		}
		if (done < count)
			curl_multi_poll(multi, NULL, 0, 100, NULL);
	}
	int64_t end = now_us();
	printf("posted=%ld failed=%ld seconds=%.3f rate=%.0f\n", done, failed, (end - start) / 1e6,
	       done / ((end - start) / 1e6));
	for (long i = 0; i < concurrency; i++)
		if (easy[i]) {
			curl_multi_remove_handle(multi, easy[i]);
			curl_easy_cleanup(easy[i]);
		}
	free(easy);
	curl_slist_free_all(headers);
	curl_multi_cleanup(multi);
	return failed ? 1 : 0;
}

/* Polls the sum of alertq_offsets every 20 ms on one connection (a psql
 * per poll would take CPU from what is measured). */
static int cmd_applied(const char *dsn, long count, double seconds)
{
	PGconn *conn = PQconnectdb(dsn);
	if (PQstatus(conn) != CONNECTION_OK)
		die("cannot connect", PQerrorMessage(conn));
	int64_t deadline = now_us() + (int64_t)(seconds * 1e6);
	long applied = 0;
	while (now_us() < deadline) {
		PGresult *res = PQexec(
			conn, "SELECT coalesce(sum(greatest(next_offset, 0)), 0) FROM alertq_offsets");
		if (PQresultStatus(res) == PGRES_TUPLES_OK)
			applied = atol(PQgetvalue(res, 0, 0));
		PQclear(res);
		if (applied >= count) {
			printf("applied=%ld at_us=%" PRId64 "\n", applied, now_us());
			PQfinish(conn);
			return 0;
		}
		struct timespec ts = { .tv_sec = 0, .tv_nsec = 20 * 1000000L };
		nanosleep(&ts, NULL);
	}
	printf("applied=%ld at_us=0\n", applied);
	PQfinish(conn);
	return 1;
}

int main(int argc, char **argv)
{
	if (argc >= 5 && strcmp(argv[1], "applied") == 0)
		return cmd_applied(argv[2], atol(argv[3]), atof(argv[4]));
	if (argc >= 5 && strcmp(argv[1], "http") == 0)
		return cmd_http(argv[2], atol(argv[3]), atol(argv[4]));
	if (argc >= 6 && strcmp(argv[1], "produce") == 0)
		return cmd_produce(argv[2], argv[3], atol(argv[4]), atol(argv[5]));
	if (argc >= 5 && strcmp(argv[1], "consume") == 0)
		return cmd_consume(argv[2], argv[3], atol(argv[4]),
				   argc > 5 && strcmp(argv[5], "decode") == 0);
	if (argc >= 6 && strcmp(argv[1], "latency") == 0)
		return cmd_latency(argv[2], argv[3], atof(argv[4]), atof(argv[5]));
	if (argc >= 4 && strcmp(argv[1], "marks") == 0)
		return cmd_marks(argv[2], argv[3]);
	fprintf(stderr,
		"usage: bench_ceiling produce BROKERS TOPIC COUNT CHECKS | consume BROKERS TOPIC COUNT "
		"[decode]"
		" | latency BROKERS TOPIC RATE SECONDS | marks BROKERS TOPIC | http URL COUNT CONCURRENCY | "
		"applied DSN COUNT SECONDS\n");
	return 2;
}
