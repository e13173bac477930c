/* fuzz_apply.c - libFuzzer target: the whole apply path for events, as a
 * worker takes them (decode, accept, rules, escalation by time) and every
 * notification planned rendered in each channel's format, each output
 * checked for valid UTF-8, its bound and its syntax
 *
 * Input: one flags byte, then up to STEPS_MAX steps separated by SEPARATOR.
 * A step is a control byte, a variation byte and the body of a CheckResult
 * (what follows the single-object header, which is put in front here so
 * that the body decoder is reached). Each step's event is applied one to
 * four times, its observed_at and value varied from the variation byte, with
 * the ticker run up to each one's time; one state per check persists across
 * the steps, and the clock runs on past the last for stale checks and
 * escalation levels. */
#include <jansson.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alertq/config.h"
#include "alertq/event.h"
#include "alertq/notify.h"
#include "alertq/rules.h"
#include "consume/plan.h"
#include "notify/format.h"
#include "fuzz_common.h"

#define V2_SCHEMA ALERTQ_SOURCE_DIR "/tests/data/check_result_v2.avsc"

#define SEPARATOR "\xa9" \
		  "AQ\x1e"
#define SEPARATOR_LEN 4
#define STEPS_MAX 4
#define CHECKS_MAX STEPS_MAX
/* ticker passes between two results, and after the last: as replay's clock */
#define TICKS_MAX 32
/* a fixed wall clock for the flag that does not follow the events: 2030-01-01 */
#define FIXED_NOW_MS 1893456000000LL

/* Bounds of each rendering, from what the limits of event.h allow. JSON
 * escapes a control character in six bytes; every other byte is one. */
#define JSON_MAX                                                                                                  \
	(6 * (AQ_CHECK_NAME_MAX + AQ_MESSAGE_MAX + AQ_LABELS_MAX * (AQ_LABEL_KEY_MAX + AQ_LABEL_VALUE_MAX + 6)) + \
	 1024)
/* the summary: a check name, 1 KiB of message, 512 bytes of labels, the rest */
#define SUMMARY_MAX 2048
/* Slack's escapes make a byte five at most (format.c's SLACK_TEXT_MAX) */
#define SLACK_TEXT_MAX (5 * 4096)
#define SLACK_BODY_MAX (6 * SLACK_TEXT_MAX + 16)
/* the whole mail message, as format.c caps it (128 KiB) */
#define EMAIL_MAX (128 * 1024)
/* RFC 5322 2.1.1: a line is at most 998 characters, its CRLF not counted */
#define EMAIL_LINE_MAX 998
/* RFC 5322 2.1.1 should: format.c folds the subject to stay within it */
#define HEADER_LINE_SOFT 78
/* RFC 2047 2: an encoded word is at most 75 characters */
#define ENCODED_WORD_MAX 75

static const char config_text[] =
	"rules:\n"
	"  - match: \"disk.*\"\n"
	"    warning: \"> 80\"\n"
	"    critical: \">= 90\"\n"
	"    for: 2\n"
	"    escalation: pager\n"
	"    stale_after: 10m\n"
	"    stale_severity: CRITICAL\n"
	"  - match: \"quiet.*\"\n"
	"    critical: \"< 0\"\n"
	"    escalation: quiet\n"
	"  - match: \"*\"\n"
	"    escalation: pager\n"
	"escalations:\n"
	"  pager:\n"
	"    CRITICAL:\n"
	"      levels:\n"
	"        - { after: 0s, notify: [log, sys, hook] }\n"
	"        - { after: 15m, notify: [mail, slack] }\n"
	"      repeat: 1h\n"
	"    WARNING:\n"
	"      levels:\n"
	"        - { after: 0s, notify: [log, slack] }\n"
	"        - { after: 30m, notify: [mail] }\n"
	"      repeat: 4h\n"
	"    UNKNOWN:\n"
	"      levels:\n"
	"        - { after: 5m, notify: [hook, mail, sys] }\n"
	"    resolved: yes\n"
	"  quiet:\n"
	"    CRITICAL:\n"
	"      levels:\n"
	"        - { after: 0s, notify: [mail, slack] }\n"
	"    resolved: no\n"
	"channels:\n"
	"  log: { type: logfile }\n"
	"  sys: { type: syslog }\n"
	"  hook: { type: webhook, url: \"http://127.0.0.1:9/hook\", format: json }\n"
	"  slack: { type: webhook, url: \"http://127.0.0.1:9/slack\", format: slack }\n"
	"  mail: { type: email, url: \"smtp://127.0.0.1:9\", from: alerts@example.org,\n"
	"          to: [ops@example.org, \"Bereitschaft <bereit@example.org>\"] }\n";

static aq_codec_t *codec;
static uint64_t fp_v1, fp_v2;
static struct aq_config cfg;
static const struct aq_channel *mail;

/* Time an advance index stands for: from nothing to past every deadline. */
static const int64_t advance_ms[16] = {
	0,
	1000,
	30 * 1000,
	60 * 1000,
	5 * 60 * 1000,
	10 * 60 * 1000,
	15 * 60 * 1000,
	30 * 60 * 1000,
	3600 * 1000,
	2 * 3600 * 1000,
	4 * 3600 * 1000,
	12 * 3600 * 1000LL,
	86400 * 1000LL,
	2 * 86400 * 1000LL,
	366 * 86400 * 1000LL,
	-60 * 1000,
};

static void fail_if(int bad, const char *what, const char *detail)
{
	if (bad) {
		fprintf(stderr, "fuzz_apply: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
		abort();
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[2048];
	char *v2 = read_text(V2_SCHEMA);
	fail_if(!v2, "cannot read", V2_SCHEMA);
	codec = aq_codec_new(err, sizeof(err));
	fail_if(!codec, "codec", err);
	fail_if(aq_codec_add_writer_schema(codec, v2, err, sizeof(err)) != 0 ||
			aq_schema_fingerprint(v2, &fp_v2, err, sizeof(err)) != 0,
		"v2 schema", err);
	free(v2);
	fp_v1 = aq_codec_writer_fingerprint(codec);
	fail_if(aq_config_parse(&cfg, "fuzz_apply.yaml", config_text, strlen(config_text), err, sizeof(err)) !=
			0,
		"config", err);
	mail = aq_config_channel(&cfg, "mail");
	fail_if(!mail, "config", "no mail channel");
	return 0;
}

/* Text for a line of its own (a syslog line, a chat message): valid UTF-8,
 * no control character, at most max bytes. */
static void check_line(const char *what, const char *s, size_t max)
{
	fail_if(!s, what, "not written");
	size_t len = strlen(s);
	fail_if(len > max, what, "over its bound");
	fail_if(!utf8_ok(s, len), what, "not valid utf-8");
	for (size_t i = 0; i < len; i++)
		fail_if((unsigned char)s[i] < 0x20 || s[i] == 0x7f, what, "control character");
}

static int same_string(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

/* The notification as JSON (the webhook body, the logfile line, the outbox
 * payload): one line of valid UTF-8 within JSON_MAX that jansson reads as an
 * object with the contract's keys; read back by the dispatcher into back,
 * with the same facts. */
static void check_json(const struct aq_notification *n, struct aq_notification *back)
{
	char err[512];
	char *json = aq_notification_to_json(n);
	fail_if(!json, "json", "not written");
	size_t len = strlen(json);
	fail_if(len > JSON_MAX, "json", "over its bound");
	fail_if(!utf8_ok(json, len), "json", "not valid utf-8");
	fail_if(memchr(json, '\n', len) != NULL, "json", "a line break in the logfile line");
	json_error_t jerr;
	json_t *root = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
	fail_if(!root || !json_is_object(root), "json", root ? "not an object" : jerr.text);
	static const char *const keys[] = { "notification_id", "check", "status", "severity",
					    "previous_severity", "value", "message", "labels",
					    "observed_at", "since", "escalation_level",
					    "event_id", "annotations" };
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		fail_if(!json_object_get(root, keys[i]), "json: missing key", keys[i]);
	/* "flapping": true only on what a flapping check sends */
	json_t *flapping = json_object_get(root, "flapping");
	fail_if(flapping && !json_is_true(flapping), "json", "flapping present but not true");
	fail_if(!flapping != !(n->flapping || n->flapping_started), "json", "flapping key and state disagree");
	fail_if(json_object_size(root) != sizeof(keys) / sizeof(keys[0]) + (flapping ? 1 : 0), "json",
		"unexpected keys");
	fail_if(json_object_size(json_object_get(root, "labels")) != n->nlabels, "json", "labels lost");
	json_decref(root);

	fail_if(aq_notification_from_json(back, json, err, sizeof(err)) != 0, "json does not read back", err);
	fail_if(!same_string(back->check, n->check) || !same_string(back->message, n->message) ||
			back->resolved != n->resolved || back->severity != n->severity ||
			back->previous_severity != n->previous_severity || back->has_value != n->has_value ||
			(n->has_value && back->value != n->value) || back->observed_at_ms != n->observed_at_ms ||
			back->since_ms != n->since_ms || back->escalation_level != n->escalation_level ||
			strcmp(back->event_id, n->event_id) != 0 ||
			strcmp(back->notification_id, n->notification_id) != 0 || back->nlabels != n->nlabels,
		"json", "read back with other facts");
	for (size_t i = 0; i < n->nlabels; i++) {
		fail_if(!same_string(back->labels[i].key, n->labels[i].key) ||
				!same_string(back->labels[i].value, n->labels[i].value),
			"json", "a label read back changed");
	}
	free(json);
}

/* The Slack body: a JSON object {"text": ...} whose text is the summary with
 * '&', '<' and '>' escaped, and no other markup. */
static void check_slack(const struct aq_notification *n, const char *summary)
{
	char *body = aq_format_slack(n);
	fail_if(!body, "slack", "not written");
	size_t len = strlen(body);
	fail_if(len > SLACK_BODY_MAX, "slack body", "over its bound");
	fail_if(!utf8_ok(body, len), "slack body", "not valid utf-8");
	json_error_t jerr;
	json_t *root = json_loads(body, JSON_REJECT_DUPLICATES, &jerr);
	fail_if(!root || !json_is_object(root) || json_object_size(root) != 1, "slack body",
		root ? "not one member" : jerr.text);
	const char *text = json_string_value(json_object_get(root, "text"));
	fail_if(!text, "slack body", "no text");
	check_line("slack text", text, SLACK_TEXT_MAX);
	/* undo the escapes: what is left must be the summary */
	char *plain = malloc(strlen(text) + 1);
	fail_if(!plain, "slack", "out of memory");
	size_t k = 0;
	for (const char *p = text; *p; p++) {
		fail_if(*p == '<' || *p == '>', "slack text", "raw angle bracket");
		if (*p != '&') {
			plain[k++] = *p;
		} else if (strncmp(p, "&amp;", 5) == 0) {
			plain[k++] = '&';
			p += 4;
		} else if (strncmp(p, "&lt;", 4) == 0) {
			plain[k++] = '<';
			p += 3;
		} else if (strncmp(p, "&gt;", 4) == 0) {
			plain[k++] = '>';
			p += 3;
		} else {
			fail_if(1, "slack text", "raw ampersand");
		}
	}
	plain[k] = '\0';
	fail_if(strcmp(plain, summary) != 0, "slack text", "not the summary");
	free(plain);
	json_decref(root);
	free(body);
}

/* The subject unfolded (folds are CRLF and one space), as len bytes at
 * text: "[SEVERITY] " or "[RESOLVED] ", then the check name as it is or as
 * RFC 2047 base64 encoded words separated by spaces, each whole characters
 * of UTF-8. Their text together must be the check's name. */
static void check_subject(const struct aq_notification *n, const char *text, size_t len)
{
	char tag[32], check[4 * AQ_CHECK_NAME_MAX + 1];
	size_t checklen = 0;
	snprintf(tag, sizeof(tag), "[%s] ", n->resolved ? "RESOLVED" : aq_severity_name(n->severity));
	fail_if(len < strlen(tag) || memcmp(text, tag, strlen(tag)) != 0, "email subject", "no severity tag");
	text += strlen(tag);
	len -= strlen(tag);
	if (len < 2 || memcmp(text, "=?", 2) != 0) {
		fail_if(len != strlen(n->check) || memcmp(text, n->check, len) != 0, "email subject",
			"not the check's name");
		return;
	}
	while (len > 0) {
		static const char open[] = "=?UTF-8?B?";
		size_t word = 0;
		while (word < len && text[word] != ' ')
			word++;
		fail_if(word > ENCODED_WORD_MAX, "email subject", "encoded word longer than 75");
		fail_if(word < sizeof(open) + 1 || memcmp(text, open, sizeof(open) - 1) != 0 ||
				memcmp(text + word - 2, "?=", 2) != 0,
			"email subject", "not an encoded word");
		size_t b64 = word - (sizeof(open) - 1) - 2;
		unsigned char decoded[ENCODED_WORD_MAX];
		int got = EVP_DecodeBlock(decoded, (const unsigned char *)text + sizeof(open) - 1, (int)b64);
		fail_if(got < 0 || b64 % 4 != 0, "email subject", "bad base64");
		/* EVP_DecodeBlock counts the bytes '=' padding stands for */
		size_t bytes = (size_t)got - (text[word - 3] == '=') - (text[word - 4] == '=');
		fail_if(!utf8_ok((const char *)decoded, bytes), "email subject",
			"an encoded word splits a character");
		fail_if(checklen + bytes >= sizeof(check), "email subject", "too long");
		memcpy(check + checklen, decoded, bytes);
		checklen += bytes;
		text += word;
		len -= word;
		if (len > 0) {
			text++;
			len--;
		}
	}
	fail_if(checklen != strlen(n->check) || memcmp(check, n->check, checklen) != 0, "email subject",
		"does not decode to the check's name");
}

/* The mail message: CRLF lines of at most EMAIL_LINE_MAX bytes, headers in
 * ASCII within HEADER_LINE_SOFT where format.c folds them, a blank line,
 * a body of valid UTF-8; at most EMAIL_MAX bytes in all. */
static void check_email(const struct aq_notification *n)
{
	size_t len = 0;
	char *msg = aq_format_email(mail, n, &len);
	fail_if(!msg, "email", "not written");
	fail_if(len != strlen(msg), "email", "length is not the text's");
	fail_if(len > EMAIL_MAX, "email", "over its bound");
	fail_if(!utf8_ok(msg, len), "email", "not valid utf-8");
	fail_if(len < 2 || msg[len - 2] != '\r' || msg[len - 1] != '\n', "email", "does not end in CRLF");
	int in_headers = 1, seen_subject = 0, in_subject = 0, blank = 0;
	char subject[4096];
	size_t subject_len = 0;
	size_t start = 0;
	while (start < len) {
		const char *line = msg + start;
		const char *cr = memchr(line, '\r', len - start);
		const char *lf = memchr(line, '\n', len - start);
		fail_if(!cr || !lf || lf != cr + 1, "email", "a line not ended by CRLF");
		size_t line_len = (size_t)(cr - line);
		fail_if(line_len > EMAIL_LINE_MAX, "email", "line longer than 998 bytes");
		if (in_headers && line_len == 0) {
			in_headers = 0;
			blank = 1;
		} else if (in_headers) {
			for (size_t i = 0; i < line_len; i++)
				fail_if((unsigned char)line[i] >= 0x80 || (unsigned char)line[i] < 0x20 ||
						line[i] == 0x7f,
					"email header", "not printable ascii");
			int folded = line[0] == ' ' || line[0] == '\t';
			if (!folded)
				in_subject = strncmp(line, "Subject: ", 9) == 0;
			seen_subject |= in_subject;
			fail_if(in_subject && line_len > HEADER_LINE_SOFT, "email subject", "line over 78");
			if (in_subject) {
				/* unfolded: the CRLF before a fold goes, its space stays */
				size_t skip = folded ? 0 : strlen("Subject: ");
				fail_if(subject_len + line_len - skip > sizeof(subject), "email subject", "too long");
				memcpy(subject + subject_len, line + skip, line_len - skip);
				subject_len += line_len - skip;
			}
		} else {
			for (size_t i = 0; i < line_len; i++)
				fail_if((unsigned char)line[i] < 0x20 && line[i] != '\t', "email body",
					"control character");
		}
		start += line_len + 2;
	}
	fail_if(!seen_subject || !blank, "email", "no subject or no body");
	check_subject(n, subject, subject_len);
	free(msg);
}

/* Renders one notification in every format and checks each. */
static void check_notification(const struct aq_notification *n)
{
	struct aq_notification back;
	memset(&back, 0, sizeof(back));
	check_json(n, &back);
	/* the senders get what the dispatcher read back from the outbox */
	char *summary = aq_notification_summary(&back);
	check_line("summary (syslog line)", summary, SUMMARY_MAX);
	fail_if(summary[0] != '[', "summary", "no severity tag");
	check_slack(&back, summary);
	check_email(&back);
	free(summary);
	aq_notification_release(&back);
}

/* What a rendering depends on besides the state's texts: a notification
 * like one already rendered since the texts last changed (a repeat, the same
 * level for another channel) is not rendered again, for speed. */
struct rendered {
	const struct aq_state *st;
	unsigned texts; /* texts_changed when it was rendered */
	int level, resolved, severity, previous, has_value;
	double value;
	int64_t observed_at_ms, since_ms;
	char event_id[37];
};
#define RENDERED_MAX 64
static struct rendered rendered[RENDERED_MAX];
static size_t nrendered;
static unsigned texts_changed; /* bumped whenever a state's message or labels may change */

/* Whether n (for st) was rendered already; remembers it when not. */
static int seen_before(const struct aq_state *st, const struct aq_notification *n)
{
	struct rendered r;
	memset(&r, 0, sizeof(r));
	r.st = st;
	r.texts = texts_changed;
	r.level = n->escalation_level;
	r.resolved = n->resolved;
	r.severity = n->severity;
	r.previous = n->previous_severity;
	r.has_value = n->has_value;
	r.value = n->value;
	r.observed_at_ms = n->observed_at_ms;
	r.since_ms = n->since_ms;
	memcpy(r.event_id, n->event_id, sizeof(r.event_id));
	for (size_t i = 0; i < nrendered; i++)
		if (memcmp(&rendered[i], &r, sizeof(r)) == 0)
			return 1;
	if (nrendered == RENDERED_MAX)
		nrendered = 0;
	rendered[nrendered++] = r;
	return 0;
}

/* Builds each planned notification as the worker queues it and checks it. */
static void render_plan(const struct aq_state *st, const struct aq_transition *tr, const struct aq_plan *plan)
{
	static unsigned counter;
	fail_if(plan->n > AQ_PLAN_MAX, "plan", "too many items");
	for (size_t i = 0; i < plan->n; i++) {
		const struct aq_planned *p = &plan->items[i];
		fail_if(!aq_config_channel(&cfg, p->channel), "plan: unknown channel", p->channel);
		fail_if(p->level < 0 || p->level >= 2, "plan", "a level the policy does not have");
		fail_if(p->resolved != (st->severity == AQ_OK), "plan",
			p->resolved ? "resolved while it fires" : "firing while it is OK");
		struct aq_notification n;
		aq_notification_for(&n, st, tr, p);
		/* a fixed id rather than aq_uuid4, so that a run can be repeated */
		snprintf(n.notification_id, sizeof(n.notification_id), "00000000-0000-4000-8000-%012x",
			 counter++);
		if (!seen_before(st, &n))
			check_notification(&n);
	}
}

/* What a state may hold under the configuration, whatever it went through. */
static void check_state(const struct aq_state *st)
{
	fail_if(st->severity < AQ_OK || st->severity > AQ_UNKNOWN, "state", "severity");
	fail_if(st->previous_severity < AQ_OK || st->previous_severity > AQ_UNKNOWN, "state",
		"previous severity");
	fail_if(st->escalation_level < -1 || st->escalation_level >= 2, "state", "escalation level");
	fail_if(st->next_action_ms < 0 || st->stale_at_ms < 0, "state", "a time before 1970");
	fail_if(st->severity == AQ_OK && st->next_action_ms != 0 && !st->suppressed, "state",
		"an action due while OK");
	for (size_t i = 0; i < st->ntold; i++)
		fail_if(!aq_config_channel(&cfg, st->told[i]), "state: told an unknown channel", st->told[i]);
	fail_if(!st->message || !utf8_ok(st->message, strlen(st->message)), "state", "message");
}

/* The worker's ticker, at every due time up to now: staleness, levels,
 * repeats, the end of a silence. */
static void run_ticker(struct aq_state *st, int64_t now_ms, int silenced)
{
	const struct aq_rule *rule = aq_config_rule_for(&cfg, st->check, st->labels, st->nlabels);
	const struct aq_escalation *policy = aq_rule_policy(&cfg, rule);
	for (int step = 0; step < TICKS_MAX; step++) {
		int64_t at = 0;
		if (st->stale_at_ms > 0)
			at = st->stale_at_ms;
		if (st->next_action_ms > 0 && (at == 0 || st->next_action_ms < at))
			at = st->next_action_ms;
		if (at == 0 || at > now_ms)
			break;
		struct aq_plan plan;
		struct aq_transition tr;
		texts_changed += st->stale_at_ms > 0 && st->stale_at_ms <= at;
		if (st->stale_at_ms > 0 && st->stale_at_ms <= at && aq_state_go_stale(st, rule, at, &tr)) {
			aq_plan_transition(st, policy, &tr, at, silenced, &plan);
			render_plan(st, &tr, &plan);
		}
		aq_plan_tick(st, policy, at, silenced, &plan);
		render_plan(st, NULL, &plan);
		check_state(st);
	}
	struct aq_plan plan;
	aq_plan_tick(st, policy, now_ms, silenced, &plan);
	render_plan(st, NULL, &plan);
	check_state(st);
}

struct run {
	struct aq_state states[CHECKS_MAX];
	size_t nstates;
	int64_t now_ms;
	int follow_events; /* 0: the clock is FIXED_NOW_MS on, whatever the events say */
};

static struct aq_state *state_for(struct run *run, const char *check)
{
	for (size_t i = 0; i < run->nstates; i++)
		if (strcmp(run->states[i].check, check) == 0)
			return &run->states[i];
	if (run->nstates == CHECKS_MAX)
		return NULL;
	aq_state_init(&run->states[run->nstates], check);
	return &run->states[run->nstates++];
}

/* Moves the clock on by ms, never back and never past the year 9999. */
static void clock_advance(struct run *run, int64_t ms)
{
	if (ms > 0)
		run->now_ms = run->now_ms > AQ_OBSERVED_AT_MAX_MS - ms ? AQ_OBSERVED_AT_MAX_MS : run->now_ms + ms;
}

/* One result as the worker applies it: refused, or applied to its check's
 * state with the transition's notifications rendered. */
static void apply_one(struct run *run, const struct aq_result *r, int silenced, int ack)
{
	char err[512];
	if (run->follow_events && r->observed_at_ms > run->now_ms)
		run->now_ms = r->observed_at_ms <= AQ_OBSERVED_AT_MAX_MS ? r->observed_at_ms : run->now_ms;
	if (aq_result_accept(r, r->check, strlen(r->check), run->now_ms, err, sizeof(err)) != 0) {
		check_line("refusal", err, 512);
		return;
	}
	struct aq_state *st = state_for(run, r->check);
	if (!st)
		return;
	run_ticker(st, run->now_ms, silenced);
	if (ack)
		aq_state_ack(st);
	const struct aq_rule *rule = aq_config_rule_for(&cfg, st->check, st->labels, st->nlabels);
	struct aq_transition tr;
	texts_changed++;
	if (!aq_state_apply(st, rule, r, &tr))
		return;
	fail_if(tr.to == tr.from, "transition", "to its own severity");
	struct aq_plan plan;
	aq_plan_transition(st, aq_rule_policy(&cfg, rule), &tr, run->now_ms, silenced, &plan);
	render_plan(st, &tr, &plan);
	check_state(st);
}

/* One step: decodes the body behind a header and applies the event one to
 * four times, varied. */
static void run_step(struct run *run, int v2, const uint8_t *data, size_t size)
{
	static uint8_t msg[1 << 17];
	char err[512];
	if (size < 2 || size > sizeof(msg) - 10)
		return;
	uint8_t control = data[0], variation = data[1];
	data += 2;
	size -= 2;
	uint64_t fp = v2 ? fp_v2 : fp_v1;
	msg[0] = 0xC3;
	msg[1] = 0x01;
	for (int i = 0; i < 8; i++)
		msg[2 + i] = (uint8_t)(fp >> (8 * i));
	memcpy(msg + 10, data, size);
	struct aq_result r;
	memset(&r, 0, sizeof(r));
	if (aq_codec_decode(codec, msg, size + 10, &r, err, sizeof(err)) != 0)
		return;

	clock_advance(run, advance_ms[control & 15]);
	int silenced = (control >> 4) & 1;
	int ack = (control >> 5) & 1;
	int times = 1 + (control >> 6);
	int64_t observed = r.observed_at_ms;
	double value = r.value;
	for (int i = 0; i < times; i++) {
		/* later copies: observed_at moves on, the value steps by a multiple */
		r.observed_at_ms = observed + i * advance_ms[variation & 15];
		if (r.has_value)
			r.value = value + (double)i * (double)((int8_t)(variation & 0xf0) / 16) * 7.5;
		apply_one(run, &r, silenced, ack && i == 0);
		if (i + 1 < times)
			clock_advance(run, advance_ms[variation & 15]);
	}
	aq_result_release(&r);
}

/* flags: bit 0, the events are written with the v2 schema; bit 1, the clock
 * follows the events (else it is fixed); bits 4-7, how far it runs on after
 * the last step. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t flags = data[0];
	data++;
	size--;
	struct run run;
	memset(&run, 0, sizeof(run));
	nrendered = 0;
	run.follow_events = (flags >> 1) & 1;
	run.now_ms = run.follow_events ? AQ_OBSERVED_AT_MIN_MS : FIXED_NOW_MS;

	for (int step = 0; step < STEPS_MAX && size > 0; step++) {
		const uint8_t *end = step + 1 < STEPS_MAX ? memmem(data, size, SEPARATOR, SEPARATOR_LEN) : NULL;
		size_t len = end ? (size_t)(end - data) : size;
		run_step(&run, flags & 1, data, len);
		if (!end)
			break;
		data += len + SEPARATOR_LEN;
		size -= len + SEPARATOR_LEN;
	}
	/* the clock runs on: levels, repeats and staleness past the last result */
	clock_advance(&run, advance_ms[flags >> 4]);
	for (size_t i = 0; i < run.nstates; i++) {
		run_ticker(&run.states[i], run.now_ms, 0);
		aq_state_release(&run.states[i]);
	}
	return 0;
}
