/* kafka_probe.c - a minimal Kafka client for the end-to-end tests: metadata, produce, consume */

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

enum {
	EXIT_OK = 0,
	EXIT_FAILED = 1,
	EXIT_USAGE = 2
};

/* Prints how to call the probe to stderr. */
static void usage(void)
{
	fprintf(stderr,
		"usage: kafka_probe metadata BOOTSTRAP TOPIC\n"
		"       kafka_probe produce BOOTSTRAP TOPIC COUNT\n"
		"       kafka_probe consume BOOTSTRAP TOPIC GROUP COUNT TIMEOUT_SECONDS\n"
		"       kafka_probe produce-file BOOTSTRAP TOPIC FILE\n"
		"       kafka_probe dump BOOTSTRAP TOPIC COUNT TIMEOUT_SECONDS\n"
		"\n"
		"produce-file sends one message per line of FILE, \"KEYHEX VALUEHEX\" (\"-\" for\n"
		"no key or an empty value), in order, and waits for each to be acknowledged.\n"
		"dump reads TOPIC from the beginning without a group and prints one line per\n"
		"message: \"PARTITION OFFSET KEYHEX VALUEHEX NAME=VALUEHEX...\" (headers last).\n");
}

/* Parses a non-negative decimal integer; returns it, or -1 when text is not one. */
static long parse_count(const char *text)
{
	char *end = NULL;
	long value = strtol(text, &end, 10);
	if (end == text || *end != '\0' || value < 0)
		return -1;
	return value;
}

/* One client property; an array of them ends with a NULL key. */
struct property {
	const char *key;
	const char *value;
};

/* Sets each of props on conf. Returns 0, or -1 after printing which property
 * was refused. */
static int set_properties(rd_kafka_conf_t *conf, const struct property *props)
{
	char errstr[512];
	for (size_t i = 0; props[i].key; i++) {
		if (rd_kafka_conf_set(conf, props[i].key, props[i].value, errstr, sizeof(errstr)) !=
		    RD_KAFKA_CONF_OK) {
			fprintf(stderr, "kafka_probe: %s: %s\n", props[i].key, errstr);
			return -1;
		}
	}
	return 0;
}

/* Creates a client of the given type from props. Returns it, or NULL after
 * printing why. */
static rd_kafka_t *new_client(rd_kafka_type_t type, const struct property *props)
{
	char errstr[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	if (set_properties(conf, props) != 0) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));
	if (!rk) {
		fprintf(stderr, "kafka_probe: cannot create a client: %s\n", errstr);
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	return rk;
}

/* Prints "partitions N" for topic. Returns an exit code. */
static int probe_metadata(const char *bootstrap, const char *topic)
{
	const struct property props[] = { { "bootstrap.servers", bootstrap }, { NULL, NULL } };
	rd_kafka_t *rk = new_client(RD_KAFKA_PRODUCER, props);
	if (!rk)
		return EXIT_FAILED;

	int code = EXIT_FAILED;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	if (!rkt) {
		fprintf(stderr, "kafka_probe: topic '%s': %s\n", topic,
			rd_kafka_err2str(rd_kafka_last_error()));
		rd_kafka_destroy(rk);
		return EXIT_FAILED;
	}
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		fprintf(stderr, "kafka_probe: metadata: %s\n", rd_kafka_err2str(err));
	} else if (md->topic_cnt != 1 || md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		fprintf(stderr, "kafka_probe: topic '%s' is unknown\n", topic);
		rd_kafka_metadata_destroy(md);
	} else {
		printf("partitions %d\n", md->topics[0].partition_cnt);
		rd_kafka_metadata_destroy(md);
		code = EXIT_OK;
	}
	rd_kafka_topic_destroy(rkt);
	rd_kafka_destroy(rk);
	return code;
}

/* Counts the messages the broker acknowledged, from the delivery report callback. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
	(void)rk;
	long *delivered = opaque;
	if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR)
		(*delivered)++;
	else
		fprintf(stderr, "kafka_probe: delivery failed: %s\n", rd_kafka_err2str(msg->err));
}

/* Produces count messages "probe-I" keyed "check-I" and waits until each is
 * acknowledged; prints "delivered N". Returns an exit code. */
static int probe_produce(const char *bootstrap, const char *topic, long count)
{
	char errstr[512];
	long delivered = 0;
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	const struct property props[] = { { "bootstrap.servers", bootstrap },
					  { "linger.ms", "0" },
					  { NULL, NULL } };
	if (set_properties(conf, props) != 0) {
		rd_kafka_conf_destroy(conf);
		return EXIT_FAILED;
	}
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rd_kafka_conf_set_opaque(conf, &delivered);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (!rk) {
		fprintf(stderr, "kafka_probe: cannot create a producer: %s\n", errstr);
		rd_kafka_conf_destroy(conf);
		return EXIT_FAILED;
	}

	for (long i = 0; i < count; i++) {
		char key[32];
		char value[32];
		snprintf(key, sizeof(key), "check-%ld", i);
		snprintf(value, sizeof(value), "probe-%ld", i);
		rd_kafka_resp_err_t err = rd_kafka_producev(
			rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, strlen(key)),
			RD_KAFKA_V_VALUE(value, strlen(value)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
			RD_KAFKA_V_END);
		if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
			fprintf(stderr, "kafka_probe: produce: %s\n", rd_kafka_err2str(err));
	}
	rd_kafka_resp_err_t err = rd_kafka_flush(rk, 15000);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
		fprintf(stderr, "kafka_probe: flush: %s\n", rd_kafka_err2str(err));
	rd_kafka_destroy(rk);

	printf("delivered %ld\n", delivered);
	return delivered == count ? EXIT_OK : EXIT_FAILED;
}

/* Joins group, reads topic from the beginning until count messages arrived or
 * timeout_s passed, commits and leaves; prints "consumed N". Returns an exit code. */
static int probe_consume(const char *bootstrap, const char *topic, const char *group, long count,
			 long timeout_s)
{
	const struct property props[] = {
		{ "bootstrap.servers", bootstrap },
		{ "group.id", group },
		{ "auto.offset.reset", "earliest" },
		{ "enable.auto.commit", "false" },
		{ "session.timeout.ms", "6000" },
		{ "fetch.wait.max.ms", "10" },
		{ NULL, NULL },
	};
	rd_kafka_t *rk = new_client(RD_KAFKA_CONSUMER, props);
	if (!rk)
		return EXIT_FAILED;
	rd_kafka_poll_set_consumer(rk);

	rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(topics, topic, RD_KAFKA_PARTITION_UA);
	rd_kafka_resp_err_t err = rd_kafka_subscribe(rk, topics);
	rd_kafka_topic_partition_list_destroy(topics);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		fprintf(stderr, "kafka_probe: subscribe: %s\n", rd_kafka_err2str(err));
		rd_kafka_destroy(rk);
		return EXIT_FAILED;
	}

	long consumed = 0;
	time_t deadline = time(NULL) + timeout_s;
	while (consumed < count && time(NULL) < deadline) {
		rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk, 100);
		if (!msg)
			continue;
		if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR)
			consumed++;
		else if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
			fprintf(stderr, "kafka_probe: consume: %s\n", rd_kafka_message_errstr(msg));
		rd_kafka_message_destroy(msg);
	}
	if (consumed > 0) {
		err = rd_kafka_commit(rk, NULL, 0);
		if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
			fprintf(stderr, "kafka_probe: commit: %s\n", rd_kafka_err2str(err));
	}
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);

	printf("consumed %ld\n", consumed);
	return consumed == count ? EXIT_OK : EXIT_FAILED;
}

#define LINE_MAX_BYTES (4 * 1024 * 1024)

/* Decodes hex text of len characters into out (capacity cap). Returns the
 * byte count, or -1 when text is not even-length hex or does not fit. */
static long unhex(const char *text, size_t len, unsigned char *out, size_t cap)
{
	if (len % 2 != 0 || len / 2 > cap)
		return -1;
	for (size_t i = 0; i < len; i += 2) {
		char pair[3] = { text[i], text[i + 1], '\0' };
		if (!isxdigit((unsigned char)pair[0]) || !isxdigit((unsigned char)pair[1]))
			return -1;
		out[i / 2] = (unsigned char)strtoul(pair, NULL, 16);
	}
	return (long)(len / 2);
}

/* Prints len bytes of data as lower-case hex, or "-" for none. */
static void print_hex(const void *data, size_t len)
{
	const unsigned char *p = data;
	if (!p || len == 0) {
		fputs("-", stdout);
		return;
	}
	for (size_t i = 0; i < len; i++)
		printf("%02x", p[i]);
}

/* Produces one message per "KEYHEX VALUEHEX" line of path, one at a time so
 * the order on each partition is the file's; prints "delivered N". Returns an
 * exit code. */
static int probe_produce_file(const char *bootstrap, const char *topic, const char *path)
{
	char errstr[512];
	long delivered = 0;
	long sent = 0;
	int code = EXIT_FAILED;
	FILE *in = fopen(path, "r");
	if (!in) {
		fprintf(stderr, "kafka_probe: cannot open '%s'\n", path);
		return EXIT_FAILED;
	}
	char *line = malloc(LINE_MAX_BYTES + 2);
	unsigned char *key = malloc(LINE_MAX_BYTES / 2);
	unsigned char *value = malloc(LINE_MAX_BYTES / 2);
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	const struct property props[] = { { "bootstrap.servers", bootstrap },
					  { "linger.ms", "0" },
					  { NULL, NULL } };
	rd_kafka_t *rk = NULL;
	if (!line || !key || !value || set_properties(conf, props) != 0) {
		rd_kafka_conf_destroy(conf);
		goto out;
	}
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rd_kafka_conf_set_opaque(conf, &delivered);
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (!rk) {
		fprintf(stderr, "kafka_probe: cannot create a producer: %s\n", errstr);
		rd_kafka_conf_destroy(conf);
		goto out;
	}
	long lineno = 0;
	while (fgets(line, LINE_MAX_BYTES + 2, in)) {
		lineno++;
		size_t len = strcspn(line, "\r\n");
		line[len] = '\0';
		if (len == 0)
			continue;
		char *space = strchr(line, ' ');
		if (!space) {
			fprintf(stderr, "kafka_probe: %s:%ld: expected \"KEYHEX VALUEHEX\"\n", path, lineno);
			goto out;
		}
		*space = '\0';
		const char *vtext = space + 1;
		long klen = strcmp(line, "-") == 0 ? 0 : unhex(line, strlen(line), key, LINE_MAX_BYTES / 2);
		long vlen = strcmp(vtext, "-") == 0 ? 0
						    : unhex(vtext, strlen(vtext), value, LINE_MAX_BYTES / 2);
		if (klen < 0 || vlen < 0) {
			fprintf(stderr, "kafka_probe: %s:%ld: not hex\n", path, lineno);
			goto out;
		}
		rd_kafka_resp_err_t err = rd_kafka_producev(
			rk, RD_KAFKA_V_TOPIC(topic),
			RD_KAFKA_V_KEY(strcmp(line, "-") == 0 ? NULL : key, (size_t)klen),
			RD_KAFKA_V_VALUE(vlen ? value : NULL, (size_t)vlen),
			RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
		if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
			fprintf(stderr, "kafka_probe: %s:%ld: produce: %s\n", path, lineno,
				rd_kafka_err2str(err));
			goto out;
		}
		sent++;
		/* one in flight at a time keeps the file's order */
		if (rd_kafka_flush(rk, 15000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
			fprintf(stderr, "kafka_probe: %s:%ld: not acknowledged in 15 s\n", path, lineno);
			goto out;
		}
	}
	code = delivered == sent ? EXIT_OK : EXIT_FAILED;
	printf("delivered %ld\n", delivered);
out:
	if (rk)
		rd_kafka_destroy(rk);
	free(line);
	free(key);
	free(value);
	fclose(in);
	return code;
}

/* Reads every partition of topic from the beginning, without a group, until
 * count messages arrived or timeout_s passed; prints each message as
 * "PARTITION OFFSET KEYHEX VALUEHEX NAME=VALUEHEX..." and then "dumped N".
 * Returns an exit code. */
static int probe_dump(const char *bootstrap, const char *topic, long count, long timeout_s)
{
	const struct property props[] = {
		{ "bootstrap.servers", bootstrap },
		{ "group.id", "kafka-probe-dump" },
		{ "enable.auto.commit", "false" },
		{ "fetch.wait.max.ms", "10" },
		{ "enable.partition.eof", "false" },
		{ NULL, NULL },
	};
	rd_kafka_t *rk = new_client(RD_KAFKA_CONSUMER, props);
	if (!rk)
		return EXIT_FAILED;
	rd_kafka_poll_set_consumer(rk);
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t err = rkt ? rd_kafka_metadata(rk, 0, rkt, &md, 10000) : rd_kafka_last_error();
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR || md->topic_cnt != 1 || md->topics[0].err) {
		fprintf(stderr, "kafka_probe: metadata of '%s': %s\n", topic,
			rd_kafka_err2str(err ? err : md->topics[0].err));
		if (md)
			rd_kafka_metadata_destroy(md);
		if (rkt)
			rd_kafka_topic_destroy(rkt);
		rd_kafka_destroy(rk);
		return EXIT_FAILED;
	}
	rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(
		md->topics[0].partition_cnt);
	for (int i = 0; i < md->topics[0].partition_cnt; i++)
		rd_kafka_topic_partition_list_add(parts, topic, md->topics[0].partitions[i].id)->offset =
			RD_KAFKA_OFFSET_BEGINNING;
	rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(rkt);
	err = rd_kafka_assign(rk, parts);
	rd_kafka_topic_partition_list_destroy(parts);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		fprintf(stderr, "kafka_probe: assign: %s\n", rd_kafka_err2str(err));
		rd_kafka_destroy(rk);
		return EXIT_FAILED;
	}
	long dumped = 0;
	time_t deadline = time(NULL) + timeout_s;
	while (dumped < count && time(NULL) < deadline) {
		rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk, 100);
		if (!msg)
			continue;
		if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
			fprintf(stderr, "kafka_probe: consume: %s\n", rd_kafka_message_errstr(msg));
			rd_kafka_message_destroy(msg);
			continue;
		}
		printf("%d %lld ", (int)msg->partition, (long long)msg->offset);
		print_hex(msg->key, msg->key_len);
		fputs(" ", stdout);
		print_hex(msg->payload, msg->len);
		rd_kafka_headers_t *headers = NULL;
		if (rd_kafka_message_headers(msg, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
			const char *name;
			const void *value;
			size_t size;
			for (size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) ==
			     RD_KAFKA_RESP_ERR_NO_ERROR;
			     i++) {
				printf(" %s=", name);
				print_hex(value, size);
			}
		}
		fputs("\n", stdout);
		dumped++;
		rd_kafka_message_destroy(msg);
	}
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	printf("dumped %ld\n", dumped);
	return dumped == count ? EXIT_OK : EXIT_FAILED;
}

/* Runs the one probe named on the command line. */
int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "metadata") == 0)
		return probe_metadata(argv[2], argv[3]);
	if (argc == 5 && strcmp(argv[1], "produce") == 0) {
		long count = parse_count(argv[4]);
		if (count >= 0)
			return probe_produce(argv[2], argv[3], count);
	}
	if (argc == 7 && strcmp(argv[1], "consume") == 0) {
		long count = parse_count(argv[5]);
		long timeout_s = parse_count(argv[6]);
		if (count >= 0 && timeout_s >= 0)
			return probe_consume(argv[2], argv[3], argv[4], count, timeout_s);
	}
	if (argc == 5 && strcmp(argv[1], "produce-file") == 0)
		return probe_produce_file(argv[2], argv[3], argv[4]);
	if (argc == 6 && strcmp(argv[1], "dump") == 0) {
		long count = parse_count(argv[4]);
		long timeout_s = parse_count(argv[5]);
		if (count >= 0 && timeout_s >= 0)
			return probe_dump(argv[2], argv[3], count, timeout_s);
	}
	usage();
	return EXIT_USAGE;
}
