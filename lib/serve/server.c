/* server.c - the HTTP server of alertq serve: libmicrohttpd, the routing
 * table, limits, authentication and JSON errors */
#include "alertq/serve.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alertq/kafka.h"
#include "alertq/util.h"
#include "base/buf.h"
#include "base/utf8.h"
#include "serve/http.h"

#define CONNECTION_LIMIT 256
#define CONNECTION_TIMEOUT_S 30
/* State database connections kept between requests; more requests than
 * this at once connect for themselves and close after. */
#define STORE_POOL_MAX 8
#define ERROR_TEXT_MAX 1024
#define PARAM_MAX 1024 /* a decoded NAME or ID; check names are far shorter */
#define AUTH_HEADER_MAX 4096
#define STOP_POLL_US 100000

struct route {
	const char *method;
	const char *pattern; /* "{}" stands for the one parameter */
	enum aq_http_need need;
	aq_http_handler handler;
};

static const struct route routes[] = {
	{ "GET", "/-/healthy", AQ_NEED_NONE, aq_api_healthy },
	{ "GET", "/-/ready", AQ_NEED_NONE, aq_api_ready },
	{ "GET", "/api/v1/alerts", AQ_NEED_READ, aq_api_alerts },
	{ "POST", "/api/v1/checks/{}/ack", AQ_NEED_OPERATE, aq_api_ack },
	{ "DELETE", "/api/v1/checks/{}/ack", AQ_NEED_OPERATE, aq_api_unack },
	{ "GET", "/api/v1/checks/{}", AQ_NEED_READ, aq_api_check },
	{ "GET", "/api/v1/silences", AQ_NEED_READ, aq_api_silences },
	{ "POST", "/api/v1/silences", AQ_NEED_OPERATE, aq_api_silence_add },
	{ "DELETE", "/api/v1/silences/{}", AQ_NEED_OPERATE, aq_api_unsilence },
	{ "POST", "/api/v1/results", AQ_NEED_INGEST, aq_intake_results },
	{ "POST", "/api/v2/alerts", AQ_NEED_INGEST, aq_intake_alerts },
	{ "GET", "/api/v2/status", AQ_NEED_READ, aq_api_am_status },
	{ "GET", "/metrics", AQ_NEED_METRICS, aq_intake_metrics },
	{ "GET", "/", AQ_NEED_READ, aq_web_index },
	{ "POST", "/checks/{}/ack", AQ_NEED_OPERATE, aq_web_ack },
	{ "POST", "/checks/{}/unack", AQ_NEED_OPERATE, aq_web_unack },
	{ "GET", "/checks/{}", AQ_NEED_READ, aq_web_check },
	{ "POST", "/silences", AQ_NEED_OPERATE, aq_web_silence },
};

#define NROUTES (sizeof(routes) / sizeof(routes[0]))

/* A token's SHA-256, compared in constant time with the presented one's. */
struct token {
	const char *name;
	enum aq_http_role role;
	unsigned char digest[SHA256_DIGEST_LENGTH];
	int usable;
};

struct aq_http_server {
	const struct aq_config *cfg;
	struct token *tokens;
	size_t ntokens;
	int open_loopback;          /* no tokens: loopback requests may do everything */
	unsigned char csrf_key[32]; /* open loopback's form key: random per process */
	rd_kafka_t *rk;
	int64_t started_ms;
	pthread_mutex_t pool_lock;
	aq_store_t *pool[STORE_POOL_MAX];
	size_t npool;
};

/* What one connection's request carries between libmicrohttpd's calls. */
struct pending {
	struct aq_buf body;
	int too_big;
	int answered; /* a response is queued already (413 before the body) */
	aq_store_t *store;
};

/* Caller: who is asking, as authentication found. */
struct caller {
	int known;    /* a token matched, or open loopback */
	int loopback; /* the peer is a loopback address */
	int all;      /* open loopback: every role */
	enum aq_http_role role;
	const char *who;
	const unsigned char
		*key; /* what its form token is made with: its token's digest, or the process's key */
	size_t keylen;
};

/* --- responses --- */

int aq_http_json(struct aq_http_response *resp, int status, json_t *json)
{
	free(resp->body);
	resp->status = status;
	resp->body = json ? json_dumps(json, JSON_COMPACT) : NULL;
	resp->content_type = "application/json";
	json_decref(json);
	if (!resp->body) {
		resp->status = 500;
		resp->body = aq_strdup("{\"error\": \"out of memory\"}");
	}
	return 0;
}

int aq_http_error(struct aq_http_response *resp, int status, const char *fmt, ...)
{
	char raw[ERROR_TEXT_MAX], clean[ERROR_TEXT_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	aq_text_clean_into(clean, sizeof(clean), raw, strlen(raw), AQ_TEXT_SPACES);
	return aq_http_json(resp, status, json_pack("{s:s}", "error", clean));
}

int aq_http_text(struct aq_http_response *resp, int status, const char *text)
{
	free(resp->body);
	resp->status = status;
	resp->body = aq_strdup(text);
	resp->content_type = "text/plain; charset=utf-8";
	return 0;
}

/* --- percent-decoding --- */

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes len bytes at s into out (outlen bytes, NUL-terminated); plus:
 * '+' is a space (query strings). Returns 0, or -1 when the text is too
 * long, holds a bad escape or a NUL, or is not valid UTF-8. */
static int percent_decode(const char *s, size_t len, int plus, char *out, size_t outlen)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char)s[i];
		if (c == '%') {
			if (i + 2 >= len)
				return -1;
			int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = hi * 16 + lo;
			i += 2;
		} else if (plus && c == '+') {
			c = ' ';
		}
		if (c == 0 || n + 1 >= outlen)
			return -1;
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return aq_utf8_valid(out, n) ? 0 : -1;
}

/* libmicrohttpd decodes nothing: the path is matched raw, then its one
 * parameter is decoded (a check name may hold '/' as %2F). */
static size_t unescape_nothing(void *cls, struct MHD_Connection *c, char *s)
{
	return strlen(s);
}

const char *aq_http_query(struct aq_http_request *req, const char *key, char *buf, size_t len, int *bad)
{
	const char *raw = MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
	*bad = 0;
	if (!raw)
		return NULL;
	if (percent_decode(raw, strlen(raw), 1, buf, len) != 0) {
		*bad = 1;
		return NULL;
	}
	return buf;
}

const char *aq_http_form(const struct aq_http_request *req, const char *key, char *buf, size_t len, int *bad)
{
	size_t keylen = strlen(key);
	*bad = 0;
	for (const char *p = req->body; *p;) {
		size_t n = strcspn(p, "&");
		const char *eq = memchr(p, '=', n);
		if (eq && (size_t)(eq - p) == keylen && strncmp(p, key, keylen) == 0) {
			if (percent_decode(eq + 1, n - keylen - 1, 1, buf, len) != 0) {
				*bad = 1;
				return NULL;
			}
			return buf;
		}
		p += n;
		if (*p == '&')
			p++;
	}
	return NULL;
}

int aq_http_same_origin(const struct aq_http_request *req)
{
	const char *origin = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Origin");
	const char *host = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
	if (!origin || strcmp(origin, "null") == 0)
		return origin == NULL; /* no Origin: not a browser's cross-site form */
	const char *after = strstr(origin, "://");
	return host && after && strcmp(after + 3, host) == 0;
}

/* --- the state database pool --- */

static aq_store_t *pool_take(struct aq_http_server *srv, char *err, size_t errlen)
{
	aq_store_t *s = NULL;
	pthread_mutex_lock(&srv->pool_lock);
	if (srv->npool > 0)
		s = srv->pool[--srv->npool];
	pthread_mutex_unlock(&srv->pool_lock);
	if (s)
		return s;
	return aq_store_connect(srv->cfg->state_dsn, err, errlen);
}

/* Keeps s for a later request, unless its connection was lost or the pool
 * is full. */
static void pool_give(struct aq_http_server *srv, aq_store_t *s)
{
	if (!s)
		return;
	if (!aq_store_connection_lost(s)) {
		pthread_mutex_lock(&srv->pool_lock);
		if (srv->npool < STORE_POOL_MAX) {
			srv->pool[srv->npool++] = s;
			s = NULL;
		}
		pthread_mutex_unlock(&srv->pool_lock);
	}
	aq_store_free(s);
}

aq_store_t *aq_http_store(struct aq_http_request *req, struct aq_http_response *resp)
{
	if (req->store)
		return req->store;
	char err[512];
	req->store = pool_take(req->server, err, sizeof(err));
	if (!req->store) {
		aq_log(AQ_LOG_ERROR, "state database: %s", err);
		aq_http_error(resp, 500, "state database: %s", err);
	}
	return req->store;
}

/* --- authentication --- */

static void digest_of(const char *text, size_t len, unsigned char out[SHA256_DIGEST_LENGTH])
{
	SHA256((const unsigned char *)text, len, out);
}

/* The token whose secret is secret (and, when name is not NULL, whose name
 * is name): every usable token is compared, in constant time. */
static const struct token *find_token(const struct aq_http_server *srv, const char *name, const char *secret,
				      size_t len)
{
	unsigned char presented[SHA256_DIGEST_LENGTH];
	digest_of(secret, len, presented);
	const struct token *found = NULL;
	for (size_t i = 0; i < srv->ntokens; i++) {
		const struct token *t = &srv->tokens[i];
		int same = CRYPTO_memcmp(presented, t->digest, sizeof(presented)) == 0;
		if (same && t->usable && (!name || strcmp(name, t->name) == 0) && !found)
			found = t;
	}
	return found;
}

static int is_loopback(const struct sockaddr *sa)
{
	if (!sa)
		return 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_LOOPBACK(a))
			return 1;
		return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
	}
	return 0;
}

/* Finds who is calling from the Authorization header (Bearer TOKEN, or
 * Basic NAME:TOKEN for browsers). */
static void authenticate(const struct aq_http_server *srv, struct MHD_Connection *conn, struct caller *c)
{
	memset(c, 0, sizeof(*c));
	const union MHD_ConnectionInfo *info = MHD_get_connection_info(conn,
								       MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	c->loopback = info && is_loopback(info->client_addr);
	if (srv->open_loopback && c->loopback) {
		c->known = 1;
		c->all = 1;
		c->role = AQ_ROLE_OPERATE;
		c->who = "loopback";
		c->key = srv->csrf_key;
		c->keylen = sizeof(srv->csrf_key);
		return;
	}
	const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (!h || strlen(h) > AUTH_HEADER_MAX)
		return;
	const struct token *t = NULL;
	if (strncasecmp(h, "Bearer ", 7) == 0) {
		const char *secret = h + 7;
		t = find_token(srv, NULL, secret, strlen(secret));
	} else if (strncasecmp(h, "Basic ", 6) == 0) {
		const char *b64 = h + 6;
		size_t len = strlen(b64);
		unsigned char decoded[AUTH_HEADER_MAX];
		if (len == 0 || len % 4 != 0)
			return;
		int n = EVP_DecodeBlock(decoded, (const unsigned char *)b64, (int)len);
		if (n < 0)
			return;
		/* EVP_DecodeBlock counts the padding as zero bytes */
		for (const char *p = b64 + len; p > b64 && p[-1] == '='; p--)
			n--;
		decoded[n] = '\0';
		char *colon = memchr(decoded, ':', (size_t)n);
		if (!colon)
			return;
		*colon = '\0';
		const char *pw = colon + 1;
		t = find_token(srv, (const char *)decoded, pw, (size_t)n - (size_t)(pw - (char *)decoded));
	}
	if (!t)
		return;
	c->known = 1;
	c->role = t->role;
	c->who = t->name;
	c->key = t->digest;
	c->keylen = sizeof(t->digest);
}

/* The token a caller's forms carry: HMAC-SHA256 over its name with a key
 * only the caller's credentials give, so another site cannot make one and
 * every replica computes the same. Hex into out[65]. */
static void csrf_token(const struct caller *c, char out[65])
{
	unsigned char mac[32];
	unsigned int maclen = 0;
	out[0] = '\0';
	if (!c->key ||
	    !HMAC(EVP_sha256(), c->key, (int)c->keylen, (const unsigned char *)c->who, strlen(c->who), mac,
		  &maclen))
		return;
	for (unsigned int i = 0; i < maclen && i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", mac[i]);
}

/* 0 when c may use a route that needs need, else the HTTP status to answer. */
static int authorize(const struct caller *c, enum aq_http_need need)
{
	if (need == AQ_NEED_NONE || (need == AQ_NEED_METRICS && c->loopback))
		return 0;
	if (!c->known)
		return MHD_HTTP_UNAUTHORIZED;
	if (c->all)
		return 0;
	switch (need) {
	case AQ_NEED_READ:
	case AQ_NEED_METRICS:
		return c->role == AQ_ROLE_READ || c->role == AQ_ROLE_OPERATE ? 0 : MHD_HTTP_FORBIDDEN;
	case AQ_NEED_OPERATE:
		return c->role == AQ_ROLE_OPERATE ? 0 : MHD_HTTP_FORBIDDEN;
	case AQ_NEED_INGEST:
		return c->role == AQ_ROLE_INGEST ? 0 : MHD_HTTP_FORBIDDEN;
	case AQ_NEED_NONE:
		break;
	}
	return 0;
}

/* --- routing --- */

/* Matches path against pattern; the parameter's raw text goes to
 * *param / *param_len. 1 on a match. */
static int route_matches(const char *pattern, const char *path, const char **param, size_t *param_len)
{
	const char *hole = strstr(pattern, "{}");
	*param = NULL;
	*param_len = 0;
	if (!hole)
		return strcmp(pattern, path) == 0;
	size_t pre = (size_t)(hole - pattern), post = strlen(hole + 2), len = strlen(path);
	if (len <= pre + post || strncmp(path, pattern, pre) != 0 || strcmp(path + len - post, hole + 2) != 0)
		return 0;
	*param = path + pre;
	*param_len = len - pre - post;
	return 1;
}

static enum MHD_Result send_response(struct MHD_Connection *conn, struct aq_http_response *resp)
{
	if (!resp->body)
		aq_http_error(resp, 500, "no answer");
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(resp->body), resp->body,
								 MHD_RESPMEM_MUST_FREE);
	resp->body = NULL;
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, resp->content_type);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (resp->status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Basic realm=\"alertq\"");
	if (resp->location[0])
		MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, resp->location);
	enum MHD_Result rc = MHD_queue_response(conn, (unsigned)resp->status, r);
	MHD_destroy_response(r);
	return rc;
}

/* Finds the route, checks the caller and runs the handler into resp. */
static void dispatch(struct aq_http_server *srv, struct MHD_Connection *conn, const char *method,
		     const char *url, struct pending *p, struct aq_http_response *resp)
{
	int path_known = 0;
	const struct route *route = NULL;
	const char *raw = NULL;
	size_t raw_len = 0;
	for (size_t i = 0; i < NROUTES && !route; i++) {
		if (!route_matches(routes[i].pattern, url, &raw, &raw_len))
			continue;
		path_known = 1;
		if (strcmp(routes[i].method, method) == 0)
			route = &routes[i];
	}
	if (!route) {
		if (path_known)
			aq_http_error(resp, MHD_HTTP_METHOD_NOT_ALLOWED, "method %s not allowed here",
				      method);
		else
			aq_http_error(resp, MHD_HTTP_NOT_FOUND, "no such path");
		return;
	}
	struct caller c;
	authenticate(srv, conn, &c);
	int denied = authorize(&c, route->need);
	if (denied == MHD_HTTP_UNAUTHORIZED) {
		aq_http_error(resp, denied, "missing or wrong token");
		return;
	}
	if (denied) {
		aq_http_error(resp, denied, "the token '%s' may not do this", c.who);
		return;
	}
	if (p->too_big) {
		aq_http_error(resp, MHD_HTTP_CONTENT_TOO_LARGE, "request body over %d bytes",
			      AQ_HTTP_BODY_MAX);
		return;
	}
	char param[PARAM_MAX];
	if (raw && percent_decode(raw, raw_len, 0, param, sizeof(param)) != 0) {
		aq_http_error(resp, MHD_HTTP_BAD_REQUEST,
			      "the path holds a bad escape, a NUL, or text that is "
			      "not UTF-8");
		return;
	}
	aq_buf_add(&p->body, "", 1); /* NUL-terminated for the JSON parser */
	char csrf[65];
	csrf_token(&c, csrf);
	struct aq_http_request req = {
		.server = srv,
		.cfg = srv->cfg,
		.conn = conn,
		.method = method,
		.param = raw ? param : NULL,
		.body = p->body.data ? p->body.data : "",
		.body_len = p->body.len ? p->body.len - 1 : 0,
		.who = c.who ? c.who : "anonymous",
		.csrf = csrf,
		.can_operate = c.known && (c.all || c.role == AQ_ROLE_OPERATE),
		.rk = srv->rk,
		.started_ms = srv->started_ms,
		.store = p->store,
	};
	route->handler(&req, resp);
	/* a pooled connection the database dropped: once more on a new one,
	 * for reads only (a write may have happened) */
	if (req.store && aq_store_connection_lost(req.store) && strcmp(method, "GET") == 0) {
		aq_store_free(req.store);
		req.store = NULL;
		route->handler(&req, resp);
	}
	p->store = req.store;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	struct aq_http_server *srv = cls;
	struct pending *p = *con_cls;
	if (!p) {
		p = calloc(1, sizeof(*p));
		if (!p)
			return MHD_NO;
		aq_buf_init(&p->body, AQ_HTTP_BODY_MAX + 1);
		*con_cls = p;
		const char *length = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
								 MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (length && strtoull(length, NULL, 10) > AQ_HTTP_BODY_MAX) {
			/* answered before the body is read, so none of it is kept */
			struct aq_http_response resp = { 0 };
			aq_http_error(&resp, MHD_HTTP_CONTENT_TOO_LARGE, "request body over %d bytes",
				      AQ_HTTP_BODY_MAX);
			p->too_big = 1;
			p->answered = 1;
			return send_response(conn, &resp);
		}
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		if (!p->too_big && p->body.len + *upload_data_size <= AQ_HTTP_BODY_MAX)
			aq_buf_add(&p->body, upload_data, *upload_data_size);
		else
			p->too_big = 1;
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (p->answered)
		return MHD_YES;
	struct aq_http_response resp = { 0 };
	dispatch(srv, conn, method, url, p, &resp);
	return send_response(conn, &resp);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct aq_http_server *srv = cls;
	struct pending *p = *con_cls;
	if (!p)
		return;
	pool_give(srv, p->store);
	aq_buf_release(&p->body);
	free(p);
	*con_cls = NULL;
}

/* --- the listening address --- */

/* Parses ADDR:PORT ("[v6]:PORT" for IPv6) into *addr. */
static int parse_listen(const char *listen, struct sockaddr_storage *addr, socklen_t *addrlen, char *err,
			size_t errlen)
{
	char host[256];
	const char *colon = strrchr(listen, ':');
	if (!colon || colon == listen || (size_t)(colon - listen) >= sizeof(host)) {
		snprintf(err, errlen, "listen address '%s' is not ADDR:PORT", listen);
		return -1;
	}
	memcpy(host, listen, (size_t)(colon - listen));
	host[colon - listen] = '\0';
	char *h = host;
	if (h[0] == '[' && h[strlen(h) - 1] == ']') {
		h[strlen(h) - 1] = '\0';
		h++;
	}
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
				  .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE };
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(h, colon + 1, &hints, &res);
	if (rc != 0 || !res) {
		snprintf(err, errlen, "listen address '%s': %s", listen, gai_strerror(rc));
		return -1;
	}
	memcpy(addr, res->ai_addr, res->ai_addrlen);
	*addrlen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static const char *listen_of(const struct aq_config *cfg, const struct aq_serve_options *opt)
{
	if (opt && opt->listen)
		return opt->listen;
	return cfg->http_listen ? cfg->http_listen : AQ_HTTP_LISTEN_DEFAULT;
}

int aq_serve_check(const struct aq_config *cfg, const struct aq_serve_options *opt, char *err, size_t errlen)
{
	struct sockaddr_storage addr;
	socklen_t addrlen;
	const char *listen = listen_of(cfg, opt);
	if (parse_listen(listen, &addr, &addrlen, err, errlen) != 0)
		return -1;
	if (cfg->nhttp_tokens == 0 && !is_loopback((struct sockaddr *)&addr)) {
		snprintf(err, errlen,
			 "no http tokens are configured, so serve listens only on loopback, not on '%s' "
			 "(add http.tokens)",
			 listen);
		return -1;
	}
	return 0;
}

static void server_release(struct aq_http_server *srv)
{
	aq_intake_close();
	for (size_t i = 0; i < srv->npool; i++)
		aq_store_free(srv->pool[i]);
	if (srv->rk)
		rd_kafka_destroy(srv->rk);
	free(srv->tokens);
	pthread_mutex_destroy(&srv->pool_lock);
}

static int server_init(struct aq_http_server *srv, const struct aq_config *cfg, char *err, size_t errlen)
{
	memset(srv, 0, sizeof(*srv));
	pthread_mutex_init(&srv->pool_lock, NULL);
	srv->cfg = cfg;
	srv->started_ms = aq_now_ms();
	srv->open_loopback = cfg->nhttp_tokens == 0;
	if (RAND_bytes(srv->csrf_key, sizeof(srv->csrf_key)) != 1) {
		snprintf(err, errlen, "no random bytes for the form key");
		return -1;
	}
	srv->tokens = calloc(cfg->nhttp_tokens + 1, sizeof(*srv->tokens));
	if (!srv->tokens) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	srv->ntokens = cfg->nhttp_tokens;
	for (size_t i = 0; i < cfg->nhttp_tokens; i++) {
		const struct aq_http_token *ct = &cfg->http_tokens[i];
		struct token *t = &srv->tokens[i];
		t->name = ct->name;
		t->role = ct->role;
		t->usable = ct->token != NULL;
		if (ct->token)
			digest_of(ct->token, strlen(ct->token), t->digest);
		else
			aq_log(AQ_LOG_WARN, "http token '%s' cannot be used: %s is not set", ct->name,
			       ct->token_env);
	}
	rd_kafka_conf_t *conf = aq_kafka_conf(cfg, AQ_KAFKA_PRODUCER, err, errlen);
	if (!conf)
		return -1;
	char errstr[512];
	srv->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (!srv->rk) {
		rd_kafka_conf_destroy(conf);
		snprintf(err, errlen, "kafka: %s", errstr);
		return -1;
	}
	return 0;
}

int aq_serve_run(const struct aq_config *cfg, const struct aq_serve_options *opt, char *err, size_t errlen)
{
	if (aq_serve_check(cfg, opt, err, errlen) != 0)
		return -1;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	const char *listen = listen_of(cfg, opt);
	if (parse_listen(listen, &addr, &addrlen, err, errlen) != 0)
		return -1;
	struct aq_http_server srv;
	if (server_init(&srv, cfg, err, errlen) != 0) {
		server_release(&srv);
		return -1;
	}
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG;
	if (addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	uint16_t port = addr.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&addr)->sin6_port)
						   : ntohs(((struct sockaddr_in *)&addr)->sin_port);
	struct MHD_Daemon *d = MHD_start_daemon(
		flags, port, NULL, NULL, on_request, &srv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTION_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned)CONNECTION_TIMEOUT_S, MHD_OPTION_NOTIFY_COMPLETED, on_completed, &srv,
		MHD_OPTION_UNESCAPE_CALLBACK, unescape_nothing, NULL, MHD_OPTION_END);
	if (!d) {
		snprintf(err, errlen, "cannot listen on %s (address in use or not available)", listen);
		server_release(&srv);
		return -1;
	}
	aq_log(AQ_LOG_INFO, "serving on http://%s (%zu token(s)%s)", listen, cfg->nhttp_tokens,
	       srv.open_loopback ? ", loopback may do everything" : "");
	while (!(opt && opt->stop && *opt->stop))
		usleep(STOP_POLL_US);
	aq_log(AQ_LOG_INFO, "stopping");
	MHD_stop_daemon(d);
	server_release(&srv);
	return 0;
}
