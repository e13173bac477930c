/* kafka_probe.c - a minimal Kafka client for the end-to-end tests: metadata, produce, consume */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2 };

/* Prints how to call the probe to stderr. */
static void usage(void)
{
	fprintf(stderr, "usage: kafka_probe metadata BOOTSTRAP TOPIC\n"
	                "       kafka_probe produce BOOTSTRAP TOPIC COUNT\n"
	                "       kafka_probe consume BOOTSTRAP TOPIC GROUP COUNT TIMEOUT_SECONDS\n");
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
	const struct property props[] = {{"bootstrap.servers", bootstrap}, {NULL, NULL}};
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
	const struct property props[] = {{"bootstrap.servers", bootstrap}, {"linger.ms", "0"}, {NULL, NULL}};
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
		rd_kafka_resp_err_t err =
		    rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, strlen(key)),
		                      RD_KAFKA_V_VALUE(value, strlen(value)),
		                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
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
	    {"bootstrap.servers", bootstrap},
	    {"group.id", group},
	    {"auto.offset.reset", "earliest"},
	    {"enable.auto.commit", "false"},
	    {"session.timeout.ms", "6000"},
	    {"fetch.wait.max.ms", "10"},
	    {NULL, NULL},
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
	usage();
	return EXIT_USAGE;
}
