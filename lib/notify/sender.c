/* sender.c - a sender per channel: drives the channel's type through its
 * table of operations, and web and mail requests with one curl multi handle */
#include "alertq/notify.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notify/channel.h"

/* Requests in flight per sender, whatever the configuration asks. */
#define MAX_CONCURRENCY 64
#define DEFAULT_CONCURRENCY 4
#define DEFAULT_TIMEOUT_MS 10000
/* How long one wait for socket activity lasts before curl's timers run again. */
#define POLL_WAIT_MS 1000

struct aq_sender {
	const struct aq_channel *ch;
	const struct aq_channel_ops *ops;
	void *state;  /* the channel type's own, from ops->open */
	CURLM *multi; /* request channels */
	struct aq_transfer *slots;
	size_t nslots;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result = CURLE_FAILED_INIT;

/* Initialises libcurl for the whole process; run through pthread_once. */
static void curl_init(void)
{
	curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Frees what one request of slot t owned and makes it ready for the next. */
static void transfer_clear(struct aq_transfer *t)
{
	free(t->payload);
	curl_slist_free_all(t->list);
	CURL *easy = t->easy;
	memset(t, 0, sizeof(*t));
	t->easy = easy;
}

/* Sets the options every request of ch shares on slot t for item, then the
 * channel's own. Returns 0 to run it, -1 when the item has its result. */
static int transfer_start(aq_sender_t *s, struct aq_transfer *t, struct aq_delivery *item)
{
	const struct aq_channel *ch = s->ch;
	long timeout_ms = ch->timeout_ms > 0 ? (long)ch->timeout_ms : DEFAULT_TIMEOUT_MS;
	curl_easy_reset(t->easy);
	t->item = item;
	curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
	curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, t->errbuf);
	curl_easy_setopt(t->easy, CURLOPT_TCP_KEEPALIVE, 1L);
	return s->ops->prepare(ch, t);
}

/* Returns an idle slot, or NULL when all are busy. */
static struct aq_transfer *idle_slot(aq_sender_t *s)
{
	for (size_t i = 0; i < s->nslots; i++)
		if (!s->slots[i].item)
			return &s->slots[i];
	return NULL;
}

/* Takes every finished transfer off the multi handle and records its result.
 * Returns how many finished. */
static size_t collect_finished(aq_sender_t *s)
{
	size_t finished = 0;
	int left;
	CURLMsg *msg = curl_multi_info_read(s->multi, &left);
	while (msg) {
		if (msg->msg == CURLMSG_DONE) {
			struct aq_transfer *t = NULL;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
			CURLcode rc = msg->data.result;
			curl_multi_remove_handle(s->multi, msg->easy_handle);
			s->ops->finish(s->ch, t, rc);
			transfer_clear(t);
			finished++;
		}
		msg = curl_multi_info_read(s->multi, &left);
	}
	return finished;
}

/* Marks every request still in flight RETRY with reason and drops it; used
 * when the multi handle itself fails. */
static void abandon_in_flight(aq_sender_t *s, const char *reason)
{
	for (size_t i = 0; i < s->nslots; i++) {
		struct aq_transfer *t = &s->slots[i];
		if (!t->item)
			continue;
		curl_multi_remove_handle(s->multi, t->easy);
		aq_delivery_set(t->item, AQ_DELIVERY_RETRY, "request failed: %s", reason);
		transfer_clear(t);
	}
}

/* Runs the items as web or mail requests, at most nslots at once. */
static void deliver_transfers(aq_sender_t *s, struct aq_delivery *items, size_t n)
{
	size_t next = 0, active = 0;
	while (next < n || active > 0) {
		struct aq_transfer *t = idle_slot(s);
		while (t && next < n) {
			if (transfer_start(s, t, &items[next]) < 0) {
				transfer_clear(t);
			} else if (curl_multi_add_handle(s->multi, t->easy) != CURLM_OK) {
				aq_delivery_set(&items[next], AQ_DELIVERY_RETRY, "cannot start a request");
				transfer_clear(t);
			} else {
				active++;
			}
			next++;
			t = idle_slot(s);
		}
		if (active == 0)
			continue;
		int running = 0;
		CURLMcode mc = curl_multi_perform(s->multi, &running);
		if (mc == CURLM_OK)
			active -= collect_finished(s);
		if (mc == CURLM_OK && active > 0)
			mc = curl_multi_poll(s->multi, NULL, 0, POLL_WAIT_MS, NULL);
		if (mc != CURLM_OK) {
			abandon_in_flight(s, curl_multi_strerror(mc));
			active = 0;
		}
	}
}

/* The operations of a channel type, or NULL for a type there is none of. */
static const struct aq_channel_ops *channel_ops(enum aq_channel_type type)
{
	switch (type) {
	case AQ_CHANNEL_LOGFILE:
		return &aq_logfile_ops;
	case AQ_CHANNEL_SYSLOG:
		return &aq_syslog_ops;
	case AQ_CHANNEL_WEBHOOK:
		return &aq_webhook_ops;
	case AQ_CHANNEL_EMAIL:
		return &aq_email_ops;
	}
	return NULL;
}

aq_sender_t *aq_sender_new(const struct aq_channel *ch, const char *log_dir, char *err, size_t errlen)
{
	aq_sender_t *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->ch = ch;
	s->ops = channel_ops(ch->type);
	if (!s->ops) {
		snprintf(err, errlen, "channel '%s': unknown channel type %d", ch->name ? ch->name : "",
			 (int)ch->type);
		goto err;
	}
	if (s->ops->open && s->ops->open(ch, log_dir, &s->state, err, errlen) < 0)
		goto err;
	if (s->ops->deliver)
		return s;

	pthread_once(&curl_once, curl_init);
	if (curl_init_result != CURLE_OK) {
		snprintf(err, errlen, "cannot initialise libcurl: %s", curl_easy_strerror(curl_init_result));
		goto err;
	}
	int concurrency = ch->concurrency > 0 ? ch->concurrency : DEFAULT_CONCURRENCY;
	if (concurrency > MAX_CONCURRENCY)
		concurrency = MAX_CONCURRENCY;
	s->multi = curl_multi_init();
	s->slots = calloc((size_t)concurrency, sizeof(*s->slots));
	if (!s->multi || !s->slots) {
		snprintf(err, errlen, "out of memory");
		goto err;
	}
	s->nslots = (size_t)concurrency;
	for (size_t i = 0; i < s->nslots; i++) {
		s->slots[i].easy = curl_easy_init();
		if (!s->slots[i].easy) {
			snprintf(err, errlen, "cannot create a curl handle");
			goto err;
		}
	}
	curl_multi_setopt(s->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)concurrency);
	curl_multi_setopt(s->multi, CURLMOPT_MAXCONNECTS, (long)concurrency);
	return s;
err:
	aq_sender_free(s);
	return NULL;
}

void aq_sender_free(aq_sender_t *s)
{
	if (!s)
		return;
	if (s->ops && s->ops->close)
		s->ops->close(s->state);
	for (size_t i = 0; i < s->nslots; i++) {
		if (s->slots[i].item)
			curl_multi_remove_handle(s->multi, s->slots[i].easy);
		transfer_clear(&s->slots[i]);
		curl_easy_cleanup(s->slots[i].easy);
	}
	free(s->slots);
	if (s->multi)
		curl_multi_cleanup(s->multi);
	free(s);
}

void aq_sender_deliver(aq_sender_t *s, struct aq_delivery *items, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		items[i].result = AQ_DELIVERED;
		items[i].retry_after_ms = 0;
		items[i].error[0] = '\0';
	}
	if (s->ops->deliver)
		s->ops->deliver(s->state, s->ch, items, n);
	else
		deliver_transfers(s, items, n);
}
