/* replay.c - re-reading the checks topic: what the rules (or other rules)
 * would have done, and rebuilding alert state from it.
 *
 * The topic is read by a consumer of its own: every partition is assigned
 * from the metadata, never subscribed, and nothing is committed, so the
 * workers' group and their stored offsets never move. Results are evaluated
 * in the order of each partition, which is the order each check's results
 * were produced in (the key is the check). */
#include "alertq/replay.h"

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alertq/kafka.h"
#include "alertq/store.h"
#include "base/terminal.h"

#define PARTITIONS_MAX 4096
#define STALL_MS 30000   /* no message for this long while some are due: give up */
#define WRITE_CHUNK 5000 /* rows per statement of a rebuild */

/* --- reading the topic --- */

enum bound_kind {
	BOUND_NONE,
	BOUND_BEGINNING,
	BOUND_OFFSET,
	BOUND_TIME
};

struct bound {
	enum bound_kind kind;
	int64_t value; /* offset or epoch ms */
};

/* Parses "beginning", an offset or an RFC 3339 time. Returns 0 or -1. */
static int parse_bound(const char *text, int beginning_ok, struct bound *b, const char *what, char *err,
		       size_t errlen)
{
	char terr[256];
	b->kind = BOUND_NONE;
	if (!text)
		return 0;
	if (beginning_ok && strcmp(text, "beginning") == 0) {
		b->kind = BOUND_BEGINNING;
		return 0;
	}
	if (*text && strspn(text, "0123456789") == strlen(text) && strlen(text) < 19) {
		b->kind = BOUND_OFFSET;
		b->value = strtoll(text, NULL, 10);
		return 0;
	}
	if (aq_parse_time(text, &b->value, terr, sizeof(terr)) == 0) {
		b->kind = BOUND_TIME;
		return 0;
	}
	snprintf(err, errlen, "%s: '%s' is no offset or RFC 3339 time (%s)%s", what, text, terr,
		 beginning_ok ? ", nor 'beginning'" : "");
	return -1;
}

struct partition {
	int32_t id;
	int64_t low;
	int64_t high;
	int64_t start; /* first offset to read */
	int64_t end;   /* read up to, not including */
	int64_t next;  /* the next offset expected */
};

struct reader {
	const struct aq_config *cfg;
	rd_kafka_t *rk;
	struct partition *parts;
	size_t nparts;
	int filter_from; /* drop messages with a timestamp before from_ms */
	int64_t from_ms;
	int filter_to; /* drop messages with a timestamp at or after to_ms */
	int64_t to_ms;
	const volatile sig_atomic_t *stop; /* borrowed; NULL: never stops early */
};

static void reader_close(struct reader *rd)
{
	if (rd->rk) {
		rd_kafka_assign(rd->rk, NULL);
		rd_kafka_consumer_close(rd->rk);
		rd_kafka_destroy(rd->rk);
	}
	free(rd->parts);
	rd->rk = NULL;
	rd->parts = NULL;
}

/* A consumer of its own, and every partition of the topic with its
 * watermarks. Returns 0 or -1. */
static int reader_open(struct reader *rd, const struct aq_config *cfg, char *err, size_t errlen)
{
	char errstr[512];
	char group[96];
	memset(rd, 0, sizeof(*rd));
	rd->cfg = cfg;
	rd_kafka_conf_t *conf = aq_kafka_conf(cfg, AQ_KAFKA_READER, err, errlen);
	if (!conf)
		return -1;
	/* the consumer API wants a group; it is never joined (assign only) and
	 * nothing is committed to it */
	char uuid[37];
	aq_uuid4(uuid);
	snprintf(group, sizeof(group), "alertq-replay-%s", uuid);
	if (aq_kafka_set(conf, "group.id", group, err, errlen) != 0 ||
	    aq_kafka_set(conf, "enable.auto.commit", "false", err, errlen) != 0 ||
	    aq_kafka_set(conf, "client.id", "alertq-replay", err, errlen) != 0) {
		rd_kafka_conf_destroy(conf);
		return -1;
	}
	rd->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	if (!rd->rk) {
		rd_kafka_conf_destroy(conf);
		snprintf(err, errlen, "cannot create the consumer: %s", errstr);
		return -1;
	}
	conf = NULL; /* owned by the consumer now */
	rd_kafka_poll_set_consumer(rd->rk);

	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rd->rk, cfg->topic, NULL);
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t e = rkt ? rd_kafka_metadata(rd->rk, 0, rkt, &md, 10000) : RD_KAFKA_RESP_ERR__FAIL;
	if (rkt)
		rd_kafka_topic_destroy(rkt);
	if (e) {
		snprintf(err, errlen, "cannot read the metadata of topic '%s' from %s: %s", cfg->topic,
			 cfg->brokers, rd_kafka_err2str(e));
		return -1;
	}
	const struct rd_kafka_metadata_topic *t = NULL;
	for (int i = 0; i < md->topic_cnt; i++)
		if (strcmp(md->topics[i].topic, cfg->topic) == 0)
			t = &md->topics[i];
	if (!t || t->err || t->partition_cnt == 0) {
		snprintf(err, errlen, "topic '%s' not found on %s: %s", cfg->topic, cfg->brokers,
			 t && t->err ? rd_kafka_err2str(t->err) : "no partitions");
		rd_kafka_metadata_destroy(md);
		return -1;
	}
	if (t->partition_cnt > PARTITIONS_MAX) {
		snprintf(err, errlen, "topic '%s' has %d partitions, more than %d", cfg->topic,
			 t->partition_cnt, PARTITIONS_MAX);
		rd_kafka_metadata_destroy(md);
		return -1;
	}
	rd->parts = calloc((size_t)t->partition_cnt, sizeof(*rd->parts));
	if (!rd->parts) {
		rd_kafka_metadata_destroy(md);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (int i = 0; i < t->partition_cnt; i++)
		rd->parts[rd->nparts++].id = t->partitions[i].id;
	rd_kafka_metadata_destroy(md);
	for (size_t i = 0; i < rd->nparts; i++) {
		struct partition *p = &rd->parts[i];
		e = rd_kafka_query_watermark_offsets(rd->rk, cfg->topic, p->id, &p->low, &p->high, 10000);
		if (e) {
			snprintf(err, errlen, "cannot read the offsets of %s [%d]: %s", cfg->topic,
				 (int)p->id, rd_kafka_err2str(e));
			return -1;
		}
	}
	return 0;
}

/* Looks up the first offset at or after ms in each partition (into *out, one
 * per partition; -1 where the broker has none). Returns 0, or -1 when the
 * broker cannot answer at all. */
static int offsets_for_time(struct reader *rd, int64_t ms, int64_t *out)
{
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)rd->nparts);
	for (size_t i = 0; i < rd->nparts; i++)
		rd_kafka_topic_partition_list_add(list, rd->cfg->topic, rd->parts[i].id)->offset = ms;
	rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(rd->rk, list, 10000);
	for (size_t i = 0; i < rd->nparts; i++) {
		rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_find(list, rd->cfg->topic,
										    rd->parts[i].id);
		out[i] = !e && tp && !tp->err ? tp->offset : -1;
	}
	rd_kafka_topic_partition_list_destroy(list);
	return e ? -1 : 0;
}

/* Decides each partition's start and end. Returns 0, 1 (runtime failure)
 * with the reason in err. */
static int plan_reading(struct reader *rd, const struct bound *from, const struct bound *to, char *err,
			size_t errlen)
{
	int64_t *found = calloc(rd->nparts, sizeof(*found));
	if (!found) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	int fallback = 0;
	for (size_t i = 0; i < rd->nparts; i++) {
		struct partition *p = &rd->parts[i];
		p->start = p->low;
		p->end = p->high;
	}
	if (from->kind == BOUND_OFFSET) {
		for (size_t i = 0; i < rd->nparts; i++) {
			struct partition *p = &rd->parts[i];
			if (from->value < p->low) {
				snprintf(err, errlen,
					 "offset %lld of %s [%d] is gone: retention removed everything "
					 "before %lld"
					 " (use --from %lld or later, or --from beginning)",
					 (long long)from->value, rd->cfg->topic, (int)p->id,
					 (long long)p->low, (long long)p->low);
				free(found);
				return -1;
			}
			p->start = from->value < p->high ? from->value : p->high;
		}
	} else if (from->kind == BOUND_TIME) {
		rd->filter_from = 1;
		rd->from_ms = from->value;
		int failed = offsets_for_time(rd, from->value, found);
		for (size_t i = 0; i < rd->nparts; i++) {
			struct partition *p = &rd->parts[i];
			if (found[i] >= p->low && found[i] <= p->high) {
				p->start = found[i];
			} else if (p->high > p->low) {
				/* -1 is "after the end" to the broker, and all some
				 * brokers (the development one) ever say: read it
				 * all and look at each message's time instead */
				fallback++;
			}
		}
		if (fallback)
			fprintf(stderr,
				"alertq: replay: the broker %s for --from in %d partition(s); reading them "
				"from the"
				" beginning and keeping messages whose timestamp is at or after it\n",
				failed ? "cannot look offsets up by time" : "found no offset at that time",
				fallback);
	}
	if (to->kind == BOUND_OFFSET) {
		for (size_t i = 0; i < rd->nparts; i++)
			if (to->value < rd->parts[i].end)
				rd->parts[i].end = to->value;
	} else if (to->kind == BOUND_TIME) {
		rd->filter_to = 1;
		rd->to_ms = to->value;
		offsets_for_time(rd, to->value, found);
		for (size_t i = 0; i < rd->nparts; i++) {
			struct partition *p = &rd->parts[i];
			/* where the broker knows, stop there; elsewhere the
			 * timestamps decide */
			if (found[i] >= p->low && found[i] < p->end)
				p->end = found[i];
		}
	}
	for (size_t i = 0; i < rd->nparts; i++) {
		struct partition *p = &rd->parts[i];
		if (p->start > p->end)
			p->start = p->end;
		p->next = p->start;
	}
	free(found);
	return 0;
}

/* What the reading found; the sink sees each usable result. */
struct reading {
	uint64_t read;
	uint64_t used;
	uint64_t unusable; /* undecodable or not a usable result */
	uint64_t filtered; /* outside the --from/--to times */
	char first_unusable[512];
};

typedef int (*result_fn)(void *opaque, const struct aq_result *r, char *err, size_t errlen);

/* Checks what the codec cannot judge, as the worker does (it sends such
 * results to the dead-letter topic). Returns 0 or -1 with the reason. */
static int usable(const rd_kafka_message_t *m, const struct aq_result *r, char *why, size_t whylen)
{
	return aq_result_accept(r, m->key, m->key_len, aq_now_ms(), why, whylen);
}

static void show_progress(const struct reader *rd, const struct reading *rg, uint64_t total,
			  int64_t started_ms, int done)
{
	uint64_t position = 0;
	for (size_t i = 0; i < rd->nparts; i++)
		position += (uint64_t)(rd->parts[i].next - rd->parts[i].start);
	double seconds = (double)(aq_monotonic_ms() - started_ms) / 1000.0;
	double rate = seconds > 0 ? (double)position / seconds : 0;
	double left = rate > 0 ? (double)(total - position) / rate : 0;
	fprintf(stderr, "\ralertq: replay: %llu/%llu messages (%.0f%%), %.0f/s, %.0fs left   %s",
		(unsigned long long)position, (unsigned long long)total,
		total ? 100.0 * (double)position / (double)total : 100.0, rate, left, done ? "\n" : "");
}

/* Reads every planned partition from start to end, handing each usable
 * result to fn in each partition's order. Returns 0 or -1. */
static int read_all(struct reader *rd, result_fn fn, void *opaque, struct reading *rg, char *err,
		    size_t errlen)
{
	char why[256];
	uint64_t total = 0;
	size_t open = 0;
	memset(rg, 0, sizeof(*rg));
	aq_codec_t *codec = aq_codec_new(err, errlen);
	if (!codec)
		return -1;
	rd_kafka_topic_partition_list_t *assign = rd_kafka_topic_partition_list_new((int)rd->nparts);
	for (size_t i = 0; i < rd->nparts; i++) {
		struct partition *p = &rd->parts[i];
		if (p->start >= p->end)
			continue;
		total += (uint64_t)(p->end - p->start);
		rd_kafka_topic_partition_list_add(assign, rd->cfg->topic, p->id)->offset = p->start;
		open++;
	}
	rd_kafka_resp_err_t e = open ? rd_kafka_assign(rd->rk, assign) : RD_KAFKA_RESP_ERR_NO_ERROR;
	rd_kafka_topic_partition_list_destroy(assign);
	if (e) {
		snprintf(err, errlen, "cannot assign the partitions of '%s': %s", rd->cfg->topic,
			 rd_kafka_err2str(e));
		aq_codec_free(codec);
		return -1;
	}

	int tty = isatty(STDERR_FILENO);
	int64_t started = aq_monotonic_ms();
	int64_t last_shown = started;
	int64_t last_message = started;
	int rc = 0;
	while (open > 0) {
		if (rd->stop && *rd->stop) {
			snprintf(err, errlen, "interrupted");
			rc = -1;
			break;
		}
		if (tty && aq_monotonic_ms() - last_shown >= 1000) {
			show_progress(rd, rg, total, started, 0);
			last_shown = aq_monotonic_ms();
		}
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rd->rk, 100);
		if (!m) {
			if (aq_monotonic_ms() - last_message > STALL_MS) {
				snprintf(err, errlen,
					 "no message from %s for %ds while %zu partition(s) are not read to"
					 " the end",
					 rd->cfg->brokers, STALL_MS / 1000, open);
				rc = -1;
				break;
			}
			continue;
		}
		last_message = aq_monotonic_ms();
		if (m->err) {
			int fatal = m->err == RD_KAFKA_RESP_ERR__FATAL ||
				m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE;
			if (fatal || m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
				fprintf(stderr, "alertq: replay: %s\n", rd_kafka_message_errstr(m));
			rd_kafka_message_destroy(m);
			if (fatal) {
				snprintf(err, errlen, "reading '%s' failed", rd->cfg->topic);
				rc = -1;
				break;
			}
			continue;
		}
		struct partition *p = NULL;
		for (size_t i = 0; i < rd->nparts && !p; i++)
			if (rd->parts[i].id == m->partition)
				p = &rd->parts[i];
		if (!p || m->offset < p->next || p->next >= p->end) {
			rd_kafka_message_destroy(m);
			continue;
		}
		if (m->offset >= p->end) {
			p->next = p->end;
			open--;
			rd_kafka_message_destroy(m);
			continue;
		}
		p->next = m->offset + 1;
		rg->read++;
		rd_kafka_timestamp_type_t tstype;
		int64_t ts = rd_kafka_message_timestamp(m, &tstype);
		if ((rd->filter_from && ts < rd->from_ms) || (rd->filter_to && ts >= rd->to_ms)) {
			rg->filtered++;
		} else {
			struct aq_result r;
			memset(&r, 0, sizeof(r));
			if (aq_codec_decode(codec, m->payload, m->len, &r, why, sizeof(why)) != 0) {
				rg->unusable++;
			} else if (usable(m, &r, why, sizeof(why)) != 0) {
				rg->unusable++;
				aq_result_release(&r);
			} else {
				rg->used++;
				rc = fn(opaque, &r, err, errlen);
				aq_result_release(&r);
				why[0] = '\0';
			}
			if (why[0] && !rg->first_unusable[0])
				snprintf(rg->first_unusable, sizeof(rg->first_unusable),
					 "%s [%d] offset %lld: %s", rd->cfg->topic, (int)m->partition,
					 (long long)m->offset, why);
		}
		rd_kafka_message_destroy(m);
		if (rc != 0)
			break;
		if (p->next >= p->end)
			open--;
	}
	if (tty && total > 0 && rc == 0)
		show_progress(rd, rg, total, started, 1);
	aq_codec_free(codec);
	return rc;
}

/* --- the dry run --- */

struct dry_run {
	FILE *out;
	int json;
	size_t shown;
};

static int print_transition(void *opaque, const struct aq_state *st, const struct aq_transition *tr,
			    const struct aq_plan *plan)
{
	struct dry_run *dr = opaque;
	char when[40];
	aq_format_time(tr->observed_at_ms, when, sizeof(when));
	if (dr->json) {
		json_t *o = json_object();
		json_object_set_new(o, "check", json_string(st->check));
		json_object_set_new(o, "from", json_string(aq_status_name(tr->from)));
		json_object_set_new(o, "to", json_string(aq_status_name(tr->to)));
		json_object_set_new(o, "value", tr->has_value ? json_real(tr->value) : json_null());
		json_object_set_new(o, "observed_at", json_string(when));
		if (tr->stale || tr->expired)
			json_object_set_new(o, "cause", json_string(aq_transition_cause(tr)));
		if (tr->flap != AQ_FLAP_SAME || tr->flapping)
			json_object_set_new(o, "flapping", json_string(aq_transition_flapping(tr)));
		char *text = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
		json_decref(o);
		if (!text)
			return -1;
		fprintf(dr->out, "%s\n    %s", dr->shown ? "," : "", text);
		free(text);
	} else {
		char value[64] = "-";
		if (tr->has_value)
			snprintf(value, sizeof(value), "%.17g", tr->value);
		char name[4 * AQ_CHECK_NAME_MAX + 1];
		fprintf(dr->out, "%s  %s  %s -> %s  value %s%s", when,
			aq_terminal_text(name, sizeof(name), st->check), aq_status_name(tr->from),
			aq_status_name(tr->to), value,
			tr->stale             ? "  (stale)"
				: tr->expired ? "  (expired)"
					      : "");
		for (size_t i = 0; i < plan->n; i++)
			fprintf(dr->out, "%s%s%s", i ? ", " : "  notify ", plan->items[i].channel,
				plan->items[i].resolved ? " (resolved)" : "");
		fputc('\n', dr->out);
	}
	dr->shown++;
	return ferror(dr->out) ? -1 : 0;
}

static int eval_result(void *opaque, const struct aq_result *r, char *err, size_t errlen)
{
	return aq_replay_eval_apply(opaque, r, err, errlen);
}

static void print_totals(FILE *out, int json, const aq_replay_eval_t *ev, const struct reading *rg,
			 const struct reader *rd)
{
	if (json) {
		fprintf(out, "%s],\n  \"notifications\": {", aq_replay_eval_transitions(ev) ? "\n  " : "");
		for (size_t i = 0; i < aq_replay_eval_channels(ev); i++) {
			const char *name;
			long count = aq_replay_eval_channel(ev, i, &name);
			json_t *s = json_string(name);
			char *text = json_dumps(s, JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
			fprintf(out, "%s%s: %ld", i ? ", " : "", text ? text : "\"?\"", count);
			free(text);
			json_decref(s);
		}
		fprintf(out, "},\n  \"results\": %llu,\n  \"unusable\": %llu,\n  \"checks\": %zu\n}\n",
			(unsigned long long)rg->used, (unsigned long long)rg->unusable,
			aq_replay_eval_checks(ev));
		return;
	}
	fprintf(out,
		"%llu result(s) of %zu check(s) from %zu partition(s); %llu unusable; %zu transition(s)\n",
		(unsigned long long)rg->used, aq_replay_eval_checks(ev), rd->nparts,
		(unsigned long long)rg->unusable, aq_replay_eval_transitions(ev));
	fprintf(out, "notifications:");
	for (size_t i = 0; i < aq_replay_eval_channels(ev); i++) {
		const char *name;
		long count = aq_replay_eval_channel(ev, i, &name);
		fprintf(out, " %s %ld%s", name, count, i + 1 < aq_replay_eval_channels(ev) ? "," : "");
	}
	fputc('\n', out);
}

static void report_unusable(const struct reading *rg)
{
	char shown[4 * sizeof(rg->first_unusable)];
	if (rg->unusable > 0)
		fprintf(stderr,
			"alertq: replay: %llu message(s) could not be used and were skipped; the first: %s\n",
			(unsigned long long)rg->unusable,
			aq_terminal_text(shown, sizeof(shown), rg->first_unusable));
}

/* --- the rebuild --- */

struct rebuild {
	aq_store_t *store;
	aq_writes_t *writes;
	size_t queued;
	int failed;
	char err[1024];
};

static int flush_writes(struct rebuild *rb)
{
	if (rb->queued == 0)
		return 0;
	if (aq_store_write(rb->store, rb->writes, rb->err, sizeof(rb->err)) != 0)
		return -1;
	aq_writes_clear(rb->writes);
	rb->queued = 0;
	return 0;
}

static int record_transition(void *opaque, const struct aq_state *st, const struct aq_transition *tr,
			     const struct aq_plan *plan)
{
	struct rebuild *rb = opaque;
	char ref[37];
	(void)plan; /* notifications are suppressed */
	aq_writes_transition(rb->writes, st->check, tr, ref);
	if (++rb->queued >= WRITE_CHUNK && flush_writes(rb) != 0) {
		rb->failed = 1;
		return -1;
	}
	return 0;
}

/* The rebuild after the lock is taken and the topic planned: one
 * transaction. Returns 0 or -1. */
static int rebuild_state(const struct aq_config *cfg, struct reader *rd, aq_store_t *store, FILE *out,
			 char *err, size_t errlen)
{
	struct rebuild rb;
	struct reading rg;
	memset(&rb, 0, sizeof(rb));
	rb.store = store;
	rb.writes = aq_writes_new();
	aq_replay_eval_t *ev = aq_replay_eval_new(cfg, record_transition, &rb);
	if (!rb.writes || !ev) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (aq_store_begin(store, err, errlen) != 0 ||
	    aq_store_exec(store, "DELETE FROM alertq_transitions", err, errlen) != 0 ||
	    aq_store_exec(store, "DELETE FROM alertq_checks", err, errlen) != 0)
		goto rollback;
	if (read_all(rd, eval_result, ev, &rg, err, errlen) != 0 ||
	    aq_replay_eval_settle(ev, aq_now_ms(), err, errlen) != 0) {
		if (rb.failed)
			snprintf(err, errlen, "%s", rb.err);
		goto rollback;
	}
	for (size_t i = 0; i < aq_replay_eval_checks(ev); i++) {
		aq_writes_state(rb.writes, aq_replay_eval_state(ev, i));
		if (++rb.queued >= WRITE_CHUNK && flush_writes(&rb) != 0) {
			snprintf(err, errlen, "%s", rb.err);
			goto rollback;
		}
	}
	/* the workers go on from where the replay ended */
	for (size_t i = 0; i < rd->nparts; i++) {
		aq_writes_offset(rb.writes, cfg->topic, rd->parts[i].id, rd->parts[i].end);
		rb.queued++;
	}
	if (flush_writes(&rb) != 0) {
		snprintf(err, errlen, "%s", rb.err);
		goto rollback;
	}
	if (aq_store_commit(store, err, errlen) != 0)
		goto fail;
	report_unusable(&rg);
	fprintf(out,
		"rebuilt the state of %zu check(s) from %llu result(s) (%llu unusable): %zu transition(s),"
		" no notifications; workers go on from the end of the replay\n",
		aq_replay_eval_checks(ev), (unsigned long long)rg.used, (unsigned long long)rg.unusable,
		aq_replay_eval_transitions(ev));
	aq_replay_eval_free(ev);
	aq_writes_free(rb.writes);
	return 0;
rollback:
	aq_store_rollback(store);
fail:
	aq_replay_eval_free(ev);
	aq_writes_free(rb.writes);
	return -1;
}

int aq_replay_check(const struct aq_config *cfg, const struct aq_replay_options *opt, char *err,
		    size_t errlen)
{
	struct bound from, to;
	if (!opt->from) {
		snprintf(err, errlen, "replay needs --from beginning|OFFSET|TIME");
		return -1;
	}
	if (parse_bound(opt->from, 1, &from, "--from", err, errlen) != 0 ||
	    parse_bound(opt->to, 0, &to, "--to", err, errlen) != 0)
		return -1;
	if (opt->rules_path) {
		struct aq_config rules;
		memset(&rules, 0, sizeof(rules));
		if (aq_config_load_rules(&rules, opt->rules_path, cfg, err, errlen) != 0)
			return -1;
		aq_config_release(&rules);
	}
	return 0;
}

int aq_replay_run(const struct aq_config *cfg, const struct aq_replay_options *opt, FILE *out, char *err,
		  size_t errlen)
{
	struct bound from, to;
	struct reader rd;
	struct aq_config rules;
	const struct aq_config *use = cfg;
	aq_store_t *store = NULL;
	int rc = -1;

	memset(&rd, 0, sizeof(rd));
	memset(&rules, 0, sizeof(rules));
	if (aq_replay_check(cfg, opt, err, errlen) != 0)
		return -1;
	parse_bound(opt->from, 1, &from, "--from", err, errlen);
	parse_bound(opt->to, 0, &to, "--to", err, errlen);
	if (opt->rules_path) {
		if (aq_config_load_rules(&rules, opt->rules_path, cfg, err, errlen) != 0)
			return -1;
		use = &rules;
	}

	if (opt->rebuild) {
		store = aq_store_connect(cfg->state_dsn, err, errlen);
		if (!store)
			goto out;
		int applied = 0;
		if (aq_store_migrate(store, &applied, err, errlen) != 0)
			goto out;
		int held = aq_store_worker_lock(store, 1, err, errlen);
		if (held != 0) {
			if (held == 1)
				snprintf(err, errlen,
					 "refusing to rebuild: workers are running on %s (stop every "
					 "alertq-worker"
					 " first; they continue from the end of the replay)",
					 cfg->topic);
			goto out;
		}
	}
	if (reader_open(&rd, cfg, err, errlen) != 0)
		goto out;
	rd.stop = opt->stop;
	if (plan_reading(&rd, &from, &to, err, errlen) != 0)
		goto out;
	if (opt->rebuild) {
		rc = rebuild_state(cfg, &rd, store, out, err, errlen) == 0 ? 0 : -1;
		goto out;
	}

	struct dry_run dr = { out, opt->json, 0 };
	struct reading rg;
	aq_replay_eval_t *ev = aq_replay_eval_new(use, print_transition, &dr);
	if (!ev) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (opt->json)
		fprintf(out, "{\n  \"transitions\": [");
	if (read_all(&rd, eval_result, ev, &rg, err, errlen) != 0) {
		aq_replay_eval_free(ev);
		goto out;
	}
	aq_replay_eval_finish(ev);
	print_totals(out, opt->json, ev, &rg, &rd);
	report_unusable(&rg);
	aq_replay_eval_free(ev);
	rc = fflush(out) == 0 ? 0 : -1;
	if (rc)
		snprintf(err, errlen, "writing the report failed");
out:
	reader_close(&rd);
	aq_store_free(store);
	if (opt->rules_path)
		aq_config_release(&rules);
	return rc;
}
