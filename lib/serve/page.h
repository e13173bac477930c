/* page.h - the status page: HTML rendered from the status, history and
 * silences JSON, as pure functions (data in, a new string out) */
#ifndef ALERTQ_SERVE_PAGE_H
#define ALERTQ_SERVE_PAGE_H

#include <jansson.h>

/* How many checks (and, separately, alerts and transitions) a page lists at
 * most; the rest are counted ("N more not shown"). */
#define AQ_PAGE_MAX_ROWS 2000
/* The hard cap of one page's HTML; rows stop well before it, so a page is
 * always whole (closed tags) rather than cut. */
#define AQ_PAGE_MAX_BYTES (8u * 1024 * 1024)

/* What the page needs beyond the data: who looks and what they may do. The
 * strings are borrowed for the duration of the call. */
struct aq_page_ctx {
	const char *csrf; /* the token every form carries (hidden input "csrf"); NULL: no forms */
	int can_operate;  /* 1: show ack/unack/silence forms */
	const char *who;  /* who is looking (token name), shown in the header; may be NULL */
	int refresh_s;    /* seconds between self-refreshes; 0: none */
};

/* The index page: alerts first (the checks that are not OK, by severity),
 * then every check in a filterable table, then the active silences.
 * checks: the JSON array `alertq status --json` prints (objects: check,
 * severity, since, value, last_seen, acked, acked_by, silenced,
 * escalation_level, message, labels, stale, undeliverable,
 * pending_notifications, plus optional annotations, inhibited_by,
 * flapping); silences: the array of `alertq silences --json` (may be NULL);
 * filter: the page's text filter or NULL (rows not containing it, case
 * insensitive, are left out). Forms (ack, unack, silence; POST with the
 * hidden input csrf) appear only when ctx->can_operate and ctx->csrf.
 * Every text from the data is escaped for where it lands. Returns a new
 * NUL-terminated string the caller frees; NULL only when memory ran out. */
char *aq_page_index(json_t *checks, json_t *silences, const char *filter, const struct aq_page_ctx *ctx);

/* One check's page: its state, its history (transitions with the
 * notifications each caused, then escalations and repeats) and the forms as
 * on the index. check: one object of the status array; history: the object
 * `alertq history CHECK --json` prints (may be NULL). Returns as
 * aq_page_index. */
char *aq_page_check(json_t *check, json_t *history, const struct aq_page_ctx *ctx);

/* A small HTML error page saying status and message (may be NULL). Returns
 * as aq_page_index. */
char *aq_page_error(int status, const char *message);

#endif
