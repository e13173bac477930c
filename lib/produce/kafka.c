/* kafka.c - librdkafka configuration for alertq's producers and consumers */
#include "alertq/kafka.h"

#include <stdio.h>

int aq_kafka_set(rd_kafka_conf_t *conf, const char *key, const char *value, char *err, size_t errlen)
{
	char errstr[512];
	if (rd_kafka_conf_set(conf, key, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
		snprintf(err, errlen, "kafka property '%s': %s", key, errstr);
		return -1;
	}
	return 0;
}

struct property {
	const char *key;
	const char *value;
};

/* Defaults chosen for alerting: a result leaves at once (linger.ms=0: under
 * load librdkafka still batches what queues while requests are in flight),
 * and a group notices a dead member within seconds. Bulk producers (`submit
 * --file`) linger to fill batches. Against the development broker
 * (librdkafka's mock cluster) session.timeout.ms=6000 keeps a rebalance from
 * pausing the group for ~44 s, and fetch.wait.max.ms is what a result waits
 * for at worst, because the mock does not wake a waiting fetch when data
 * arrives (a real broker answers as soon as there is data, so there the
 * value only paces the fetches of an idle consumer). */
static const struct property producer_defaults[] = {
	{ "enable.idempotence", "true" },
	{ "acks", "all" },
	{ "linger.ms", "0" },
	{ "compression.type", "zstd" },
	{ "message.timeout.ms", "30000" },
	{ NULL, NULL },
};

static const struct property bulk_producer_defaults[] = {
	{ "enable.idempotence", "true" },         { "acks", "all" },
	{ "linger.ms", AQ_KAFKA_BULK_LINGER_MS }, { "compression.type", "zstd" },
	{ "message.timeout.ms", "30000" },        { NULL, NULL },
};

static const struct property consumer_defaults[] = {
	{ "enable.auto.commit", "false" },   { "enable.auto.offset.store", "false" },
	{ "auto.offset.reset", "earliest" }, { "session.timeout.ms", "6000" },
	{ "heartbeat.interval.ms", "1000" }, { "fetch.wait.max.ms", AQ_KAFKA_FETCH_WAIT_MS },
	{ "queued.min.messages", "200000" }, { "queued.max.messages.kbytes", "32768" },
	{ "enable.partition.eof", "false" }, { NULL, NULL },
};

rd_kafka_conf_t *aq_kafka_conf(const struct aq_config *cfg, enum aq_kafka_role role, char *err, size_t errlen)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	int producing = role == AQ_KAFKA_PRODUCER || role == AQ_KAFKA_PRODUCER_BULK;
	const struct property *defaults = role == AQ_KAFKA_PRODUCER ? producer_defaults
		: role == AQ_KAFKA_PRODUCER_BULK                    ? bulk_producer_defaults
								    : consumer_defaults;

	if (aq_kafka_set(conf, "bootstrap.servers", cfg->brokers, err, errlen) != 0)
		goto err;
	if (aq_kafka_set(conf, "client.id", producing ? "alertq-producer" : "alertq-worker", err, errlen) !=
	    0)
		goto err;
	for (const struct property *p = defaults; p->key; p++)
		if (aq_kafka_set(conf, p->key, p->value, err, errlen) != 0)
			goto err;
	if (role == AQ_KAFKA_CONSUMER && aq_kafka_set(conf, "group.id", cfg->group, err, errlen) != 0)
		goto err;
	for (size_t i = 0; i < cfg->nproperties; i++)
		if (aq_kafka_set(conf, cfg->properties[i].key, cfg->properties[i].value, err, errlen) != 0)
			goto err;
	return conf;
err:
	rd_kafka_conf_destroy(conf);
	return NULL;
}
