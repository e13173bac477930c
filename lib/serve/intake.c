/* intake.c - results and Alertmanager alerts taken in over HTTP and
 * published to Kafka (answered only once Kafka has them all), and /metrics */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alertq/publisher.h"
#include "alertq/util.h"
#include "base/buf.h"
#include "serve/http.h"
#include "serve/ingest.h"
#include "serve/metrics.h"

/* Publishers kept between requests: a request holds one for as long as it
 * publishes, so that "every result of this request is acknowledged" is
 * exactly "this publisher has nothing pending". */
#define PUBLISHERS_MAX 4
/* How long a request waits for Kafka's acknowledgements. */
#define PUBLISH_WAIT_MS 15000
/* The most bytes /metrics may take. */
#define METRICS_MAX ((size_t)4 * 1024 * 1024)

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_free = PTHREAD_COND_INITIALIZER;
static aq_publisher_t *pool[PUBLISHERS_MAX];
static int busy[PUBLISHERS_MAX];

/* A publisher no other request uses, made on first use; NULL with err. */
static aq_publisher_t *take_publisher(const struct aq_config *cfg, int *slot, char *err, size_t errlen)
{
	pthread_mutex_lock(&pool_lock);
	for (;;) {
		for (int i = 0; i < PUBLISHERS_MAX; i++) {
			if (busy[i])
				continue;
			if (!pool[i])
				pool[i] = aq_publisher_new(cfg, err, errlen);
			if (!pool[i])
				continue;
			busy[i] = 1;
			*slot = i;
			pthread_mutex_unlock(&pool_lock);
			return pool[i];
		}
		int any_busy = 0;
		for (int i = 0; i < PUBLISHERS_MAX; i++)
			any_busy |= busy[i];
		if (!any_busy) {
			pthread_mutex_unlock(&pool_lock);
			return NULL; /* none could be made: err says why */
		}
		pthread_cond_wait(&pool_free, &pool_lock);
	}
}

/* Puts a publisher back; one that still has results in flight (Kafka did
 * not answer in time) is retired instead, so that a late acknowledgement is
 * never counted for the next request. */
static void give_publisher(int slot, int in_flight)
{
	aq_publisher_t *retired = NULL;
	pthread_mutex_lock(&pool_lock);
	if (in_flight) {
		retired = pool[slot];
		pool[slot] = NULL;
	}
	busy[slot] = 0;
	pthread_cond_signal(&pool_free);
	pthread_mutex_unlock(&pool_lock);
	aq_publisher_free(retired);
}

void aq_intake_close(void)
{
	pthread_mutex_lock(&pool_lock);
	for (int i = 0; i < PUBLISHERS_MAX; i++) {
		aq_publisher_free(pool[i]);
		pool[i] = NULL;
		busy[i] = 0;
	}
	pthread_mutex_unlock(&pool_lock);
}

static void release_results(struct aq_result *results, size_t n)
{
	for (size_t i = 0; i < n; i++)
		aq_result_release(&results[i]);
	free(results);
}

/* Publishes n results and answers 200 {"accepted": n} once Kafka has every
 * one, 503 when it has not (some may have gone: results carry their event
 * id, so a retried request is applied once per result it really adds). */
static int publish(struct aq_http_request *req, struct aq_http_response *resp, struct aq_result *results,
		   size_t n)
{
	char err[512];
	int slot;
	aq_publisher_t *pub = take_publisher(req->cfg, &slot, err, sizeof(err));
	if (!pub) {
		release_results(results, n);
		return aq_http_error(resp, 503, "cannot publish: %s", err);
	}
	size_t delivered_before = aq_publisher_delivered(pub);
	size_t sent = 0;
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (aq_publisher_send(pub, &results[i], err, sizeof(err)) != 0)
			rc = -1;
		else
			sent++;
	}
	size_t in_flight = aq_publisher_flush(pub, PUBLISH_WAIT_MS);
	size_t delivered = aq_publisher_delivered(pub) - delivered_before;
	give_publisher(slot, in_flight > 0);
	release_results(results, n);
	if (rc != 0)
		return aq_http_error(resp, 503, "Kafka did not take result %zu: %s", sent, err);
	if (delivered < n)
		return aq_http_error(resp, 503, "Kafka acknowledged %zu of %zu result(s)", delivered, n);
	json_t *ok = json_pack("{s:I}", "accepted", (json_int_t)n);
	return aq_http_json(resp, 200, ok);
}

/* 400 with every bad item: {"error": ..., "items": [{index, error}...]}. */
static int refuse(struct aq_http_response *resp, json_t *errors)
{
	json_t *body = json_pack("{s:s,s:o}", "error", "the request holds bad items; nothing was published",
				 "items", errors ? errors : json_array());
	return aq_http_json(resp, 400, body);
}

int aq_intake_results(struct aq_http_request *req, struct aq_http_response *resp)
{
	struct aq_result *results = NULL;
	size_t n = 0;
	json_t *errors = NULL;
	if (aq_ingest_results(req->body, req->body_len, &results, &n, &errors) != 0)
		return refuse(resp, errors);
	return publish(req, resp, results, n);
}

int aq_intake_alerts(struct aq_http_request *req, struct aq_http_response *resp)
{
	struct aq_result *results = NULL;
	size_t n = 0;
	json_t *errors = NULL;
	if (aq_ingest_alertmanager(req->body, req->body_len, aq_now_ms(), &results, &n, &errors) != 0)
		return refuse(resp, errors);
	return publish(req, resp, results, n);
}

int aq_intake_metrics(struct aq_http_request *req, struct aq_http_response *resp)
{
	aq_store_t *store = aq_http_store(req, resp);
	if (!store)
		return 0;
	struct aq_buf b;
	char err[512];
	aq_buf_init(&b, METRICS_MAX);
	if (aq_metrics_render(store, req->rk, req->cfg, &b, err, sizeof(err)) != 0) {
		aq_buf_release(&b);
		return aq_http_error(resp, 500, "metrics: %s", err);
	}
	char *text = aq_buf_take(&b);
	if (!text)
		return aq_http_error(resp, 500, "metrics: out of memory");
	free(resp->body);
	resp->status = 200;
	resp->body = text;
	resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
	return 0;
}
