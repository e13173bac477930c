/* metrics.c - the Prometheus text (format 0.0.4) of GET /metrics, from the
 * state database's counts and Kafka's high watermarks */
#include "serve/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alertq/event.h"
#include "alertq/version.h"
#include "base/strmap.h"
#include "base/utf8.h"

/* Longest label value written, in bytes before escaping. */
#define LABEL_VALUE_MAX 1024

void aq_metrics_label_value(struct aq_buf *b, const char *value)
{
	char *clean = aq_text_clean(value, LABEL_VALUE_MAX, AQ_TEXT_NEWLINES);
	if (!clean) {
		b->failed = 1;
		return;
	}
	for (const char *p = clean; *p; p++) {
		if (*p == '\\')
			aq_buf_puts(b, "\\\\");
		else if (*p == '"')
			aq_buf_puts(b, "\\\"");
		else if (*p == '\n')
			aq_buf_puts(b, "\\n");
		else
			aq_buf_add(b, p, 1);
	}
	free(clean);
}

static void header(struct aq_buf *b, const char *name, const char *type, const char *help)
{
	aq_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{label="value"} n */
static void sample(struct aq_buf *b, const char *name, const char *label, const char *value, long long n)
{
	aq_buf_printf(b, "%s{%s=\"", name, label);
	aq_metrics_label_value(b, value);
	aq_buf_printf(b, "\"} %lld\n", n);
}

static int compare_channels(const void *a, const void *b)
{
	return strcmp(((const struct aq_store_channel_metrics *)a)->channel,
		      ((const struct aq_store_channel_metrics *)b)->channel);
}

/* Adds the configured channels the outbox does not name yet, at zero, so
 * that each series exists before its first notification; sorts by name. */
static int add_configured_channels(struct aq_store_metrics *m, const struct aq_config *cfg)
{
	if (!cfg || cfg->nchannels == 0)
		return 0;
	struct aq_store_channel_metrics *all = realloc(
		m->channels, (m->nchannels + cfg->nchannels) * sizeof(*m->channels));
	if (!all)
		return -1;
	m->channels = all;
	struct aq_strmap known;
	aq_strmap_init(&known);
	int rc = 0;
	for (size_t i = 0; i < m->nchannels && rc == 0; i++)
		rc = aq_strmap_put(&known, m->channels[i].channel, i, NULL) < 0 ? -1 : 0;
	for (size_t i = 0; i < cfg->nchannels && rc == 0; i++) {
		const char *name = cfg->channels[i].name;
		size_t at;
		if (!name || aq_strmap_get(&known, name, &at))
			continue;
		struct aq_store_channel_metrics *c = &m->channels[m->nchannels];
		memset(c, 0, sizeof(*c));
		c->channel = strdup(name);
		if (!c->channel || aq_strmap_put(&known, c->channel, m->nchannels, NULL) < 0) {
			free(c->channel);
			rc = -1;
			break;
		}
		m->nchannels++;
	}
	aq_strmap_release(&known);
	if (m->nchannels > 1)
		qsort(m->channels, m->nchannels, sizeof(*m->channels), compare_channels);
	return rc;
}

static void render_store(struct aq_buf *b, const struct aq_store_metrics *m)
{
	header(b, "alertq_checks", "gauge", "Checks the state holds, by current severity.");
	for (int sev = AQ_OK; sev <= AQ_UNKNOWN; sev++)
		sample(b, "alertq_checks", "severity", aq_status_name(sev), (long long)m->checks[sev]);

	header(b, "alertq_notifications_pending", "gauge", "Notifications waiting to be sent, by channel.");
	for (size_t i = 0; i < m->nchannels; i++)
		sample(b, "alertq_notifications_pending", "channel", m->channels[i].channel,
		       (long long)m->channels[i].pending);

	header(b, "alertq_notifications_oldest_pending_seconds", "gauge",
	       "Seconds the oldest notification waiting to be sent has waited, by channel; 0 when none "
	       "waits.");
	for (size_t i = 0; i < m->nchannels; i++)
		sample(b, "alertq_notifications_oldest_pending_seconds", "channel", m->channels[i].channel,
		       (long long)m->channels[i].oldest_pending_s);

	header(b, "alertq_notifications_total", "counter",
	       "Notifications delivered (outcome sent) or given up (outcome undeliverable) still in the "
	       "outbox,"
	       " by channel; pruning past state.retention lowers it.");
	for (size_t i = 0; i < m->nchannels; i++) {
		const struct aq_store_channel_metrics *c = &m->channels[i];
		static const char *const outcomes[] = { "sent", "undeliverable" };
		const int64_t counts[] = { c->sent, c->undeliverable };
		for (int o = 0; o < 2; o++) {
			aq_buf_puts(b, "alertq_notifications_total{channel=\"");
			aq_metrics_label_value(b, c->channel);
			aq_buf_printf(b, "\",outcome=\"%s\"} %lld\n", outcomes[o], (long long)counts[o]);
		}
	}

	header(b, "alertq_dead_letters_total", "counter", "Events set aside as dead letters.");
	aq_buf_printf(b, "alertq_dead_letters_total %lld\n", (long long)m->dead_letters);
}

/* The stored next offset of partition, or -1 when none is stored. */
static int64_t stored_offset(const struct aq_store_metrics *m, int32_t partition)
{
	for (size_t i = 0; i < m->noffsets; i++)
		if (m->offsets[i].partition == partition)
			return m->offsets[i].next_offset;
	return -1;
}

/* Appends the lag of every partition of cfg->topic into lag (a buffer of
 * its own, so that a failure halfway leaves nothing). Returns 0, or -1 with
 * why in reason. */
static int render_lag(struct aq_buf *lag, rd_kafka_t *rk, const struct aq_config *cfg,
		      const struct aq_store_metrics *m, char *reason, size_t reasonlen)
{
	if (!rk || !cfg || !cfg->topic) {
		snprintf(reason, reasonlen, "no Kafka connection");
		return -1;
	}
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, cfg->topic, NULL);
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t e = rkt ? rd_kafka_metadata(rk, 0, rkt, &md, AQ_METRICS_KAFKA_TIMEOUT_MS)
				    : RD_KAFKA_RESP_ERR__FAIL;
	if (rkt)
		rd_kafka_topic_destroy(rkt);
	if (e) {
		snprintf(reason, reasonlen, "no metadata of topic %s: %s", cfg->topic, rd_kafka_err2str(e));
		return -1;
	}
	const struct rd_kafka_metadata_topic *t = NULL;
	for (int i = 0; i < md->topic_cnt; i++)
		if (strcmp(md->topics[i].topic, cfg->topic) == 0)
			t = &md->topics[i];
	if (!t || t->err || t->partition_cnt == 0) {
		snprintf(reason, reasonlen, "topic %s not found: %s", cfg->topic,
			 t && t->err ? rd_kafka_err2str(t->err) : "no partitions");
		rd_kafka_metadata_destroy(md);
		return -1;
	}
	int rc = 0;
	for (int i = 0; i < t->partition_cnt && rc == 0; i++) {
		int32_t partition = t->partitions[i].id;
		int64_t low = 0, high = 0;
		e = rd_kafka_query_watermark_offsets(rk, cfg->topic, partition, &low, &high,
						     AQ_METRICS_KAFKA_TIMEOUT_MS);
		if (e) {
			snprintf(reason, reasonlen, "no high watermark of %s [%d]: %s", cfg->topic,
				 (int)partition, rd_kafka_err2str(e));
			rc = -1;
			break;
		}
		int64_t next = stored_offset(m, partition);
		int64_t behind = high - (next >= 0 ? next : low);
		aq_buf_printf(lag, "alertq_consumer_lag{partition=\"%d\"} %lld\n", (int)partition,
			      (long long)(behind > 0 ? behind : 0));
	}
	rd_kafka_metadata_destroy(md);
	return rc;
}

int aq_metrics_render(aq_store_t *s, rd_kafka_t *rk, const struct aq_config *cfg, struct aq_buf *b, char *err,
		      size_t errlen)
{
	struct aq_store_metrics m;
	if (aq_store_metrics(s, cfg ? cfg->topic : NULL, &m, err, errlen) != 0) {
		aq_store_metrics_release(&m);
		return -1;
	}
	if (add_configured_channels(&m, cfg) != 0) {
		aq_store_metrics_release(&m);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	render_store(b, &m);

	header(b, "alertq_consumer_lag", "gauge",
	       "Results on the checks topic the workers have not applied yet, by partition.");
	struct aq_buf lag;
	aq_buf_init(&lag, b->max);
	char reason[512];
	if (render_lag(&lag, rk, cfg, &m, reason, sizeof(reason)) == 0 && !lag.failed) {
		if (lag.len > 0)
			aq_buf_add(b, lag.data, lag.len);
	} else {
		char clean[512];
		aq_text_clean_into(clean, sizeof(clean), reason, strlen(reason), AQ_TEXT_SPACES);
		aq_buf_printf(b, "# alertq_consumer_lag left out: %s\n",
			      lag.failed ? "out of memory" : clean);
	}
	aq_buf_release(&lag);
	aq_store_metrics_release(&m);

	header(b, "alertq_build_info", "gauge", "The version of alertq serving this, always 1.");
	aq_buf_puts(b, "alertq_build_info{version=\"");
	aq_metrics_label_value(b, ALERTQ_VERSION);
	aq_buf_puts(b, "\"} 1\n");
	if (b->failed) {
		snprintf(err, errlen, "the metrics text is longer than %zu bytes", b->max);
		return -1;
	}
	return 0;
}
