/* submit.c - the results given to `alertq-producer submit`: on the command
 * line, or as JSON lines in a file */
#include "alertq/submit.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "produce/submit_line.h"

#define LINE_ERR_MAX 512
/* How much of the input is read at once. */
#define READ_BLOCK (256 * 1024)

enum line_outcome {
	LINE_READ,
	LINE_TOO_LONG,
	LINE_EOF,
	LINE_ERROR,
};

/* The one check every submitted result passes, from argv or a JSON line:
 * the limits a worker applies (aq_result_validate), after a long message is
 * cut as the decoder would cut it. Stamps r (event id, source, time) first,
 * so the check sees what will be published (an id made here is not checked
 * again). Returns 0 or -1 with err. */
static int submit_check(struct aq_result *r, char *err, size_t errlen)
{
	int64_t now = aq_now_ms();
	int fresh_id = r->event_id[0] == '\0';
	aq_result_bound(r);
	if (r->observed_at_ms == 0)
		r->observed_at_ms = now;
	aq_result_stamp(r);
	if (fresh_id)
		return aq_result_validate_fresh(r, now, err, errlen);
	return aq_result_validate(r, now, err, errlen);
}

/* The message of a line without one, lent to its result (see parse_line). */
static const char lent_message[] = "";

/* Takes back from r what parse_line lent it. */
static void unlend(struct aq_result *r)
{
	if (r->source == aq_source_name())
		r->source = NULL;
	if (r->message == lent_message)
		r->message = NULL;
}

static int parse_line(const char *text, size_t len, struct aq_result *r, int lend, char *err, size_t errlen);

static int add_label(struct aq_result *r, const char *kv)
{
	const char *eq = strchr(kv, '=');
	if (!eq || eq == kv)
		return -1;
	r->labels = aq_xrealloc(r->labels, (r->nlabels + 1) * sizeof(*r->labels));
	r->labels[r->nlabels].key = aq_strndup(kv, (size_t)(eq - kv));
	r->labels[r->nlabels].value = aq_strdup(eq + 1);
	r->nlabels++;
	return 0;
}

int aq_submit_args(int argc, char **argv, struct aq_submit_request *req, char *err, size_t errlen)
{
	static const struct option options[] = {
		{ "check", required_argument, NULL, 'k' },
		{ "value", required_argument, NULL, 'v' },
		{ "status", required_argument, NULL, 's' },
		{ "message", required_argument, NULL, 'm' },
		{ "label", required_argument, NULL, 'l' },
		{ "interval", required_argument, NULL, 'i' },
		{ "expires-at", required_argument, NULL, 'e' },
		{ "file", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct aq_result *r = &req->result;
	memset(req, 0, sizeof(*req));
	r->status = AQ_STATUS_NONE;
	if (errlen > 0)
		err[0] = '\0';
	optind = 0; /* 0: glibc starts over, permuting again */
	for (;;) {
		int opt = getopt_long(argc, argv, "h", options, NULL);
		if (opt == -1)
			break;
		char *end;
		char derr[256];
		switch (opt) {
		case 'k':
			free(r->check);
			r->check = aq_strdup(optarg);
			break;
		case 'v':
			r->value = strtod(optarg, &end);
			if (*optarg == '\0' || *end != '\0') {
				snprintf(err, errlen, "--value '%s' is not a number", optarg);
				return -1;
			}
			r->has_value = 1;
			break;
		case 's':
			r->status = aq_status_parse(optarg);
			if (r->status == AQ_STATUS_NONE) {
				snprintf(err, errlen, "--status must be OK, WARNING, CRITICAL or UNKNOWN");
				return -1;
			}
			break;
		case 'm':
			free(r->message);
			r->message = aq_strdup(optarg);
			break;
		case 'l':
			if (add_label(r, optarg) != 0) {
				snprintf(err, errlen, "--label expects KEY=VALUE, got '%s'", optarg);
				return -1;
			}
			break;
		case 'i':
			if (aq_duration_parse(optarg, &r->interval_ms, derr, sizeof(derr)) != 0) {
				snprintf(err, errlen, "--interval: %s", derr);
				return -1;
			}
			break;
		case 'e':
			if (aq_parse_time(optarg, &r->expires_at_ms, derr, sizeof(derr)) != 0) {
				snprintf(
					err, errlen,
					"--expires-at must be an RFC 3339 time such as 2026-11-27T17:05:00Z");
				return -1;
			}
			break;
		case 'f':
			req->file = optarg;
			break;
		case 'h':
			req->help = 1;
			return 0;
		default:
			return -1; /* getopt said why */
		}
	}
	if (optind < argc) {
		snprintf(err, errlen, "unexpected argument '%s'", argv[optind]);
		return -1;
	}
	if (!req->file && (!r->check || !*r->check)) {
		snprintf(err, errlen, "submit needs --check NAME or --file PATH");
		return -1;
	}
	if (!req->file && submit_check(r, err, errlen) != 0)
		return -1;
	return 0;
}

void aq_submit_request_release(struct aq_submit_request *req)
{
	aq_result_release(&req->result);
	memset(req, 0, sizeof(*req));
}

int aq_submit_one(aq_publisher_t *pub, struct aq_result *r, char *err, size_t errlen)
{
	aq_result_stamp(r);
	if (aq_publisher_send(pub, r, err, errlen) != 0)
		return -1;
	return aq_publisher_finish(pub, err, errlen);
}

/* The input of submit --file, read a block at a time. */
struct line_reader {
	int fd;
	char *block; /* READ_BLOCK bytes */
	size_t pos;  /* the next unread byte of block */
	size_t end;  /* how much of block holds input */
};

/* Reads one line (without its '\n') into buf, which holds cap bytes and a
 * final '\0'. A longer line is read to its end without being kept.
 * Returns LINE_READ with *len set, LINE_TOO_LONG, LINE_EOF at the end of
 * the input, or LINE_ERROR when reading failed (errno set). */
static enum line_outcome read_line(struct line_reader *rd, char *buf, size_t cap, size_t *len)
{
	size_t n = 0;
	int too_long = 0;
	int any = 0; /* a byte of this line was read, its '\n' among them */

	for (;;) {
		if (rd->pos == rd->end) {
			/* read(), not fread(): from a pipe, a line is taken as soon
			 * as it is written, not once a block has filled */
			ssize_t got = read(rd->fd, rd->block, READ_BLOCK);
			if (got < 0)
				return LINE_ERROR;
			rd->pos = 0;
			rd->end = (size_t)got;
			if (rd->end == 0) {
				if (!any)
					return LINE_EOF;
				break;
			}
		}
		any = 1;
		const char *start = rd->block + rd->pos;
		size_t avail = rd->end - rd->pos;
		const char *nl = memchr(start, '\n', avail);
		size_t take = nl ? (size_t)(nl - start) : avail;
		size_t room = cap - n;
		if (take > room) {
			too_long = 1;
			memcpy(buf + n, start, room);
			n += room;
		} else {
			memcpy(buf + n, start, take);
			n += take;
		}
		rd->pos += take;
		if (nl) {
			rd->pos++;
			break;
		}
	}
	buf[n] = '\0';
	*len = n;
	return too_long ? LINE_TOO_LONG : LINE_READ;
}

int aq_submit_file(aq_publisher_t *pub, const char *path, const volatile sig_atomic_t *stop, FILE *report,
		   char *err, size_t errlen)
{
	FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	if (!in) {
		snprintf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
		return -1;
	}
	/* input-sized, so checked rather than aborting (see util.h) */
	char *line = malloc(AQ_SUBMIT_LINE_MAX + 1);
	struct line_reader rd = { fileno(in), malloc(READ_BLOCK), 0, 0 };
	if (!line || !rd.block) {
		snprintf(err, errlen, "out of memory for a line of '%s'", path);
		free(line);
		free(rd.block);
		if (in != stdin)
			fclose(in);
		return -1;
	}
	long lineno = 0;
	size_t bad = 0;
	size_t sent = 0;
	int read_failed = 0;
	size_t len = 0;
	for (;;) {
		enum line_outcome got = read_line(&rd, line, AQ_SUBMIT_LINE_MAX, &len);
		if (got == LINE_EOF)
			break;
		if (got == LINE_ERROR) {
			snprintf(err, errlen, "cannot read '%s' after line %ld: %s", path, lineno,
				 strerror(errno));
			read_failed = 1;
			break;
		}
		lineno++;
		if (got == LINE_TOO_LONG) {
			fprintf(report, "%s:%ld: line longer than %d bytes\n", path, lineno,
				AQ_SUBMIT_LINE_MAX);
			bad++;
			continue;
		}
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		if (len == 0)
			continue;
		char lerr[LINE_ERR_MAX];
		struct aq_result r;
		/* the host name and an empty message are lent to each line's
		 * result: two copies and two frees a line fewer */
		if (parse_line(line, len, &r, 1, lerr, sizeof(lerr)) != 0) {
			fprintf(report, "%s:%ld: %s\n", path, lineno, lerr);
			bad++;
			continue;
		}
		if (aq_publisher_send_valid(pub, &r, lerr, sizeof(lerr)) != 0) {
			fprintf(report, "%s:%ld: %s\n", path, lineno, lerr);
			bad++;
		} else {
			sent++;
		}
		unlend(&r);
		aq_result_release(&r);
		if (*stop)
			break;
	}
	free(line);
	free(rd.block);
	if (in != stdin)
		fclose(in);
	char ferr[LINE_ERR_MAX];
	int rc = aq_publisher_finish(pub, ferr, sizeof(ferr));
	aq_log(AQ_LOG_INFO, "submitted %zu result(s), %zu delivered, %zu bad line(s)", sent,
	       aq_publisher_delivered(pub), bad);
	if (read_failed)
		return -1;
	if (rc != 0) {
		snprintf(err, errlen, "%s", ferr);
		return -1;
	}
	if (bad > 0) {
		snprintf(err, errlen, "%zu bad line(s) in '%s'", bad, path);
		return -1;
	}
	return 0;
}

static const char *const submit_keys[] = { "check",    "value",       "status",      "message",    "labels",
					   "interval", "interval_ms", "observed_at", "expires_at", NULL };

int aq_submit_line_json(const char *text, size_t len, struct aq_result *r, char *err, size_t errlen)
{
	json_error_t jerr;
	memset(r, 0, sizeof(*r));
	r->status = AQ_STATUS_NONE;
	json_t *obj = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!obj) {
		snprintf(err, errlen, "invalid JSON: %s", jerr.text);
		return -1;
	}
	if (!json_is_object(obj)) {
		snprintf(err, errlen, "expected a JSON object");
		goto err;
	}
	const char *key;
	json_t *value;
	json_object_foreach(obj, key, value)
	{
		int known = 0;
		for (int i = 0; submit_keys[i]; i++)
			known |= strcmp(key, submit_keys[i]) == 0;
		if (!known) {
			snprintf(err, errlen, "unknown field '%s'", key);
			goto err;
		}
	}
	json_t *check = json_object_get(obj, "check");
	if (!json_is_string(check) || json_string_length(check) == 0) {
		snprintf(err, errlen, "'check' must be a non-empty string");
		goto err;
	}
	if (json_string_length(check) > AQ_CHECK_NAME_MAX) {
		snprintf(err, errlen, "'check' is longer than %d bytes", AQ_CHECK_NAME_MAX);
		goto err;
	}
	r->check = aq_strdup(json_string_value(check));
	value = json_object_get(obj, "value");
	if (value && !json_is_null(value)) {
		if (!json_is_number(value) || !isfinite(json_number_value(value))) {
			snprintf(err, errlen, "'value' must be a number or null");
			goto err;
		}
		r->has_value = 1;
		r->value = json_number_value(value);
	}
	value = json_object_get(obj, "status");
	if (value && !json_is_null(value)) {
		r->status = json_is_string(value) ? aq_status_parse(json_string_value(value))
						  : AQ_STATUS_NONE;
		if (r->status == AQ_STATUS_NONE) {
			snprintf(err, errlen, "'status' must be one of OK, WARNING, CRITICAL, UNKNOWN");
			goto err;
		}
	}
	value = json_object_get(obj, "message");
	if (value && !json_is_null(value)) {
		if (!json_is_string(value)) {
			snprintf(err, errlen, "'message' must be a string");
			goto err;
		}
		r->message = aq_strdup(json_string_value(value));
	}
	value = json_object_get(obj, "labels");
	if (value && !json_is_null(value)) {
		if (!json_is_object(value) || json_object_size(value) > 64) {
			snprintf(err, errlen, "'labels' must be an object of at most 64 strings");
			goto err;
		}
		r->labels = aq_xcalloc(json_object_size(value) + 1, sizeof(*r->labels));
		json_t *v;
		json_object_foreach(value, key, v)
		{
			if (!json_is_string(v)) {
				snprintf(err, errlen, "label '%s' must be a string", key);
				goto err;
			}
			r->labels[r->nlabels].key = aq_strdup(key);
			r->labels[r->nlabels].value = aq_strdup(json_string_value(v));
			r->nlabels++;
		}
	}
	value = json_object_get(obj, "interval");
	if (value && !json_is_null(value)) {
		char derr[256];
		if (!json_is_string(value) ||
		    aq_duration_parse(json_string_value(value), &r->interval_ms, derr, sizeof(derr)) != 0) {
			snprintf(err, errlen, "'interval' must be a duration such as \"5m\"");
			goto err;
		}
	}
	value = json_object_get(obj, "interval_ms");
	if (value && !json_is_null(value)) {
		if (!json_is_integer(value) || json_integer_value(value) < 0) {
			snprintf(err, errlen, "'interval_ms' must be a non-negative integer");
			goto err;
		}
		r->interval_ms = json_integer_value(value);
	}
	value = json_object_get(obj, "observed_at");
	if (value && !json_is_null(value)) {
		char terr[256];
		if (!json_is_string(value) ||
		    aq_parse_time(json_string_value(value), &r->observed_at_ms, terr, sizeof(terr)) != 0) {
			snprintf(err, errlen,
				 "'observed_at' must be an RFC 3339 time such as 2026-11-27T17:00:00Z");
			goto err;
		}
	}
	value = json_object_get(obj, "expires_at");
	if (value && !json_is_null(value)) {
		char terr[256];
		if (!json_is_string(value) ||
		    aq_parse_time(json_string_value(value), &r->expires_at_ms, terr, sizeof(terr)) != 0) {
			snprintf(err, errlen,
				 "'expires_at' must be an RFC 3339 time such as 2026-11-27T17:05:00Z");
			goto err;
		}
	}
	json_decref(obj);
	return 0;
err:
	json_decref(obj);
	aq_result_release(r);
	return -1;
}

/* aq_submit_parse, with the source and an absent message lent (not copied)
 * when lend is set: the caller takes them back with unlend() before it
 * releases r. */
static int parse_line(const char *text, size_t len, struct aq_result *r, int lend, char *err, size_t errlen)
{
	if (aq_submit_line_quick(text, len, r) == 0 && aq_submit_line_json(text, len, r, err, errlen) != 0)
		return -1;
	if (lend) {
		r->source = (char *)aq_source_name();
		if (!r->message)
			r->message = (char *)lent_message;
	}
	if (submit_check(r, err, errlen) != 0) {
		if (lend)
			unlend(r);
		aq_result_release(r);
		return -1;
	}
	return 0;
}

int aq_submit_parse(const char *text, size_t len, struct aq_result *r, char *err, size_t errlen)
{
	return parse_line(text, len, r, 0, err, errlen);
}
