/* http.h - what the HTTP server gives its handlers: the request, the
 * answer, the caller's role and a state database connection (internal to
 * lib/serve) */
#ifndef ALERTQ_SERVE_HTTP_H
#define ALERTQ_SERVE_HTTP_H

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stddef.h>

#include "alertq/config.h"
#include "alertq/store.h"

/* Request bodies above this are refused with 413 and never buffered. */
#define AQ_HTTP_BODY_MAX (1024 * 1024)

/* What a route needs of its caller. */
enum aq_http_need {
	AQ_NEED_NONE,
	AQ_NEED_READ,    /* read or operate */
	AQ_NEED_OPERATE, /* operate */
	AQ_NEED_INGEST,  /* ingest */
	AQ_NEED_METRICS  /* none on loopback, else read */
};

struct aq_http_server;

struct aq_http_request {
	struct aq_http_server *server;
	const struct aq_config *cfg;
	void *conn;         /* the struct MHD_Connection, for query arguments */
	const char *method; /* "GET", "POST", ... */
	const char *param;  /* the route's NAME or ID, percent-decoded, valid UTF-8; NULL when none */
	const char *body;   /* NUL-terminated; "" when there is none */
	size_t body_len;
	const char *who;    /* the token's name, or "loopback" */
	const char *csrf;   /* the token this caller's forms carry (hex); "" when none */
	int can_operate;    /* the caller may ack, unack and silence */
	rd_kafka_t *rk;     /* the server's Kafka producer (thread-safe) */
	int64_t started_ms; /* when the server started */
	aq_store_t *store;  /* the server's: use aq_http_store */
};

struct aq_http_response {
	int status;
	char *body;               /* owned; freed by the server */
	const char *content_type; /* static text */
	char location[1024];      /* a Location header when not "" (redirects after a form) */
};

/* The value of query argument key, percent-decoded into buf (len bytes);
 * NULL when absent. Returns -1 in *bad when it is not valid UTF-8 or too
 * long. */
const char *aq_http_query(struct aq_http_request *req, const char *key, char *buf, size_t len, int *bad);

/* The value of field key of a form body (application/x-www-form-urlencoded),
 * decoded into buf (len bytes); NULL when absent; -1 in *bad when it is not
 * valid UTF-8 or too long. */
const char *aq_http_form(const struct aq_http_request *req, const char *key, char *buf, size_t len, int *bad);

/* 1 when the request comes from a page of this server (its Origin header,
 * when a browser sent one, names the Host it was sent to), else 0. */
int aq_http_same_origin(const struct aq_http_request *req);

/* A state database connection for this request (from the server's pool);
 * NULL with a 500 already set in resp when none can be had. The server
 * takes it back after the handler. */
aq_store_t *aq_http_store(struct aq_http_request *req, struct aq_http_response *resp);

/* resp answers status with json (a reference this takes). Returns 0. */
int aq_http_json(struct aq_http_response *resp, int status, json_t *json);

/* resp answers status with {"error": text}, text cleaned and bounded. Returns 0. */
int aq_http_error(struct aq_http_response *resp, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* resp answers status with plain text (copied). Returns 0. */
int aq_http_text(struct aq_http_response *resp, int status, const char *text);

/* The API's handlers (api.c): each fills resp and returns 0. */
typedef int (*aq_http_handler)(struct aq_http_request *req, struct aq_http_response *resp);
int aq_api_alerts(struct aq_http_request *req, struct aq_http_response *resp);
int aq_api_check(struct aq_http_request *req, struct aq_http_response *resp);
int aq_api_ack(struct aq_http_request *req, struct aq_http_response *resp);
int aq_api_unack(struct aq_http_request *req, struct aq_http_response *resp);
int aq_api_silences(struct aq_http_request *req, struct aq_http_response *resp);
int aq_api_silence_add(struct aq_http_request *req, struct aq_http_response *resp);
int aq_api_unsilence(struct aq_http_request *req, struct aq_http_response *resp);
int aq_api_healthy(struct aq_http_request *req, struct aq_http_response *resp);
int aq_api_ready(struct aq_http_request *req, struct aq_http_response *resp);
int aq_api_am_status(struct aq_http_request *req, struct aq_http_response *resp);
int aq_api_not_yet(struct aq_http_request *req, struct aq_http_response *resp);

/* The status page and its forms (web.c). */
int aq_web_index(struct aq_http_request *req, struct aq_http_response *resp);
int aq_web_check(struct aq_http_request *req, struct aq_http_response *resp);
int aq_web_ack(struct aq_http_request *req, struct aq_http_response *resp);
int aq_web_unack(struct aq_http_request *req, struct aq_http_response *resp);
int aq_web_silence(struct aq_http_request *req, struct aq_http_response *resp);

/* Ingest and metrics (intake.c). */
int aq_intake_results(struct aq_http_request *req, struct aq_http_response *resp);
int aq_intake_alerts(struct aq_http_request *req, struct aq_http_response *resp);
int aq_intake_metrics(struct aq_http_request *req, struct aq_http_response *resp);
/* Frees what intake keeps between requests (its publishers); at shutdown. */
void aq_intake_close(void);

#endif
