/* channels.c - the channels and escalations sections of alertq.yaml: who
 * is told, and when */
#include "config/yaml_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alertq/event.h"
#include "notify/template.h"

/* --- template: the channel's own message (lib/notify/template.h) --- */

/* Parses the template at n into *out; what names it ("template.text").
 * A json body must render to JSON: checked with the sample alert and with
 * one whose values are all empty. */
static void load_one_template(struct loader *ld, yaml_node_t *n, const char *what, const char *where,
			      enum aq_template_target target, struct aq_template **out)
{
	const char *text = cfg_want_string(ld, n, what);
	if (!text)
		return;
	char err[PROBLEM_MAX_BYTES];
	struct aq_template *t = aq_template_parse(text, n->data.scalar.length, AQ_TEMPLATE_CHANNEL, err,
						  sizeof(err));
	if (!t) {
		cfg_problem(ld, cfg_node_line(n), "%s of %s: %s", what, where, err);
		return;
	}
	if (target == AQ_TEMPLATE_JSON) {
		struct aq_template_values sample, empty;
		aq_template_values_sample(&sample, NULL, 0, NULL, 0);
		memset(&empty, 0, sizeof(empty));
		for (int i = 0; i < 2; i++) {
			char *body = aq_template_render(t, i ? &empty : &sample, target,
							AQ_TEMPLATE_OUTPUT_MAX, 0, err, sizeof(err));
			if (!body) {
				cfg_problem(ld, cfg_node_line(n), "%s of %s, rendered for %s: %s", what,
					    where, i ? "an alert with every value empty" : "the sample alert",
					    err);
				aq_template_unref(t);
				return;
			}
			free(body);
		}
	}
	*out = t;
}

/* Reads `template:` of ch: text for a slack webhook, body for a json one,
 * subject and body for email; any other key is refused. */
static void load_template(struct loader *ld, struct aq_channel *ch, yaml_node_t *n, const char *where)
{
	static const char *const keys[] = { "text", "subject", "body" };
	enum {
		TEXT,
		SUBJECT,
		BODY
	};
	yaml_node_t *v[NELEM(keys)];
	if (ch->type != AQ_CHANNEL_WEBHOOK && ch->type != AQ_CHANNEL_EMAIL) {
		cfg_problem(ld, cfg_node_line(n),
			    "'template' in %s goes with webhook and email channels only", where);
		return;
	}
	if (cfg_take_keys(ld, n, "'template'", where, keys, NELEM(keys), v, NULL) != 0)
		return;
	int slack = ch->type == AQ_CHANNEL_WEBHOOK && ch->format == AQ_FORMAT_SLACK;
	int json = ch->type == AQ_CHANNEL_WEBHOOK && ch->format == AQ_FORMAT_JSON;
	const char *fits = slack ? "text" : json ? "body" : "subject and body";
	const char *kind = slack ? "a slack webhook" : json ? "a json webhook" : "an email channel";
	for (size_t i = 0; i < NELEM(keys); i++) {
		int ok = slack ? i == TEXT : json ? i == BODY : i != TEXT;
		if (v[i] && !ok) {
			cfg_problem(ld, cfg_node_line(v[i]),
				    "'template.%s' in %s does not fit %s (it takes template.%s)", keys[i],
				    where, kind, fits);
			v[i] = NULL;
		}
	}
	if (v[TEXT])
		load_one_template(ld, v[TEXT], "template.text", where, AQ_TEMPLATE_SLACK, &ch->template_text);
	if (v[SUBJECT])
		load_one_template(ld, v[SUBJECT], "template.subject", where, AQ_TEMPLATE_EMAIL_HEADER,
				  &ch->template_subject);
	if (v[BODY])
		load_one_template(ld, v[BODY], "template.body", where,
				  json ? AQ_TEMPLATE_JSON : AQ_TEMPLATE_EMAIL_BODY, &ch->template_body);
}

/* Reads group_by, group_wait, group_interval and max_alerts (each may be
 * NULL). The timers and max_alerts without group_by are refused: they
 * would do nothing. */
static void load_grouping(struct loader *ld, struct aq_channel *ch, yaml_node_t *by, yaml_node_t *wait,
			  yaml_node_t *interval, yaml_node_t *max, const char *where)
{
	if (by) {
		ch->grouped = 1;
		cfg_load_string_list(ld, by, "'group_by'", "each label in 'group_by'", &ch->group_by,
				     &ch->ngroup_by);
		if (ch->ngroup_by > AQ_GROUP_BY_MAX)
			cfg_problem(ld, cfg_node_line(by), "'group_by' in %s has more than %d labels", where,
				    AQ_GROUP_BY_MAX);
		for (size_t i = 0; i < ch->ngroup_by; i++) {
			for (size_t j = 0; j < i; j++)
				if (strcmp(ch->group_by[i], ch->group_by[j]) == 0) {
					struct subject s;
					cfg_problem(ld, cfg_node_line(by),
						    "label '%s' twice in 'group_by' of %s",
						    cfg_subj(&s, ch->group_by[i]), where);
				}
		}
	}
	if (wait)
		cfg_set_duration(ld, wait, "'group_wait'", &ch->group_wait_ms, 0);
	if (interval)
		cfg_set_duration(ld, interval, "'group_interval'", &ch->group_interval_ms, 1);
	if (max)
		cfg_set_int(ld, max, "'max_alerts'", 1, AQ_MAX_ALERTS_LIMIT, &ch->max_alerts);
	yaml_node_t *stray = wait ? wait : interval ? interval : max;
	if (!by && stray)
		cfg_problem(ld, cfg_node_line(stray),
			    "'group_wait', 'group_interval' and 'max_alerts' in %s need 'group_by'", where);
}

static void load_channel(struct loader *ld, struct aq_channel *ch, yaml_node_t *n)
{
	static const char *const keys[] = {
		"type",     "url",         "url_env",       "format",         "secret_env",
		"from",     "to",          "starttls",      "username_env",   "password_env",
		"timeout",  "concurrency", "give_up_after", "retry_initial",  "retry_max",
		"template", "group_by",    "group_wait",    "group_interval", "max_alerts",
	};
	enum {
		TYPE,
		URL,
		URL_ENV,
		FORMAT,
		SECRET_ENV,
		FROM,
		TO,
		STARTTLS,
		USER_ENV,
		PASS_ENV,
		TIMEOUT,
		CONC,
		GIVE_UP,
		RETRY_INITIAL,
		RETRY_MAX,
		TEMPLATE,
		GROUP_BY,
		GROUP_WAIT,
		GROUP_INTERVAL,
		MAX_ALERTS
	};
	static const char *const types[] = { "logfile", "syslog", "webhook", "email" };
	static const char *const formats[] = { "json", "slack" };
	static const char *const starttls[] = { "required", "try", "off" };
	char where[SUBJECT_MAX_BYTES + 32];
	struct subject s;
	snprintf(where, sizeof(where), "channel '%s'", cfg_subj(&s, ch->name));
	yaml_node_t *v[NELEM(keys)];
	if (cfg_take_keys(ld, n, where, where, keys, NELEM(keys), v, NULL) != 0)
		return;

	int type_ok = 0;
	if (!v[TYPE]) {
		cfg_problem(ld, cfg_node_line(n), "missing 'type' in %s", where);
	} else {
		const char *t = cfg_want_text(ld, v[TYPE], "'type'");
		for (size_t i = 0; t && i < NELEM(types); i++) {
			if (strcmp(t, types[i]) == 0) {
				ch->type = (enum aq_channel_type)i;
				type_ok = 1;
			}
		}
		if (t && !type_ok)
			cfg_problem(ld, cfg_node_line(v[TYPE]),
				    "unknown channel type '%s' in %s (use logfile, syslog, webhook or email)",
				    cfg_subj(&s, t), where);
	}
	if (v[URL] && v[URL_ENV]) {
		cfg_problem(ld, cfg_node_line(v[URL_ENV]), "both 'url' and 'url_env' in %s (give one)",
			    where);
	} else if (v[URL]) {
		cfg_set_text(ld, v[URL], "'url'", &ch->url);
	} else if (v[URL_ENV] && cfg_set_text(ld, v[URL_ENV], "'url_env'", &ch->url_env) == 0) {
		ch->url = cfg_from_env(ch->url_env);
	}
	if (v[FORMAT]) {
		const char *f = cfg_want_text(ld, v[FORMAT], "'format'");
		size_t i;
		for (i = 0; f && i < NELEM(formats); i++) {
			if (strcmp(f, formats[i]) == 0)
				break;
		}
		if (f && i == NELEM(formats))
			cfg_problem(ld, cfg_node_line(v[FORMAT]),
				    "unknown format '%s' in %s (use json or slack)", cfg_subj(&s, f), where);
		else if (f)
			ch->format = (enum aq_webhook_format)i;
	}
	if (v[SECRET_ENV] && cfg_set_text(ld, v[SECRET_ENV], "'secret_env'", &ch->secret_env) == 0)
		ch->secret = cfg_from_env(ch->secret_env);
	if (v[FROM])
		cfg_set_text(ld, v[FROM], "'from'", &ch->from);
	if (v[TO])
		cfg_load_string_list(ld, v[TO], "'to'", "each address in 'to'", &ch->to, &ch->nto);
	if (v[STARTTLS]) {
		const char *t = cfg_want_text(ld, v[STARTTLS], "'starttls'");
		size_t i;
		for (i = 0; t && i < NELEM(starttls); i++) {
			if (strcmp(t, starttls[i]) == 0)
				break;
		}
		if (t && i == NELEM(starttls))
			cfg_problem(ld, cfg_node_line(v[STARTTLS]),
				    "unknown starttls '%s' in %s (use required, try or off)", cfg_subj(&s, t),
				    where);
		else if (t)
			ch->starttls = (enum aq_starttls)i;
	}
	if (v[USER_ENV] && cfg_set_text(ld, v[USER_ENV], "'username_env'", &ch->username_env) == 0)
		ch->username = cfg_from_env(ch->username_env);
	if (v[PASS_ENV] && cfg_set_text(ld, v[PASS_ENV], "'password_env'", &ch->password_env) == 0)
		ch->password = cfg_from_env(ch->password_env);
	if (v[TIMEOUT])
		cfg_set_duration(ld, v[TIMEOUT], "'timeout'", &ch->timeout_ms, 1);
	if (v[CONC])
		cfg_set_int(ld, v[CONC], "'concurrency'", 1, 256, &ch->concurrency);
	if (v[GIVE_UP])
		cfg_set_duration(ld, v[GIVE_UP], "'give_up_after'", &ch->give_up_after_ms, 1);
	if (v[RETRY_INITIAL])
		cfg_set_duration(ld, v[RETRY_INITIAL], "'retry_initial'", &ch->retry_initial_ms, 1);
	if (v[RETRY_MAX])
		cfg_set_duration(ld, v[RETRY_MAX], "'retry_max'", &ch->retry_max_ms, 1);
	if (ch->retry_max_ms < ch->retry_initial_ms)
		cfg_problem(ld, cfg_node_line(v[RETRY_MAX] ? v[RETRY_MAX] : v[RETRY_INITIAL]),
			    "'retry_max' in %s is shorter than 'retry_initial'", where);

	load_grouping(ld, ch, v[GROUP_BY], v[GROUP_WAIT], v[GROUP_INTERVAL], v[MAX_ALERTS], where);

	if (!type_ok)
		return;
	if (v[TEMPLATE])
		load_template(ld, ch, v[TEMPLATE], where);
	int wants_url = ch->type == AQ_CHANNEL_WEBHOOK || ch->type == AQ_CHANNEL_EMAIL;
	if (wants_url && !v[URL] && !v[URL_ENV])
		cfg_problem(ld, cfg_node_line(n), "missing 'url' or 'url_env' in %s", where);
	if (ch->type == AQ_CHANNEL_EMAIL && !v[FROM])
		cfg_problem(ld, cfg_node_line(n), "missing 'from' in %s", where);
	if (ch->type == AQ_CHANNEL_EMAIL && !v[TO])
		cfg_problem(ld, cfg_node_line(n), "missing 'to' in %s", where);
	else if (ch->type == AQ_CHANNEL_EMAIL && cfg_node_count(v[TO]) == 0 &&
		 v[TO]->type != YAML_SCALAR_NODE)
		cfg_problem(ld, cfg_node_line(v[TO]), "'to' in %s is empty", where);
}

void cfg_load_channels(struct loader *ld, yaml_node_t *n)
{
	struct aq_config *cfg = ld->cfg;
	if (cfg_want_mapping(ld, n, "'channels'") != 0)
		return;
	size_t count = cfg_node_count(n);
	if (count == 0)
		return;
	cfg->channels = cfg_xcalloc(count, sizeof(*cfg->channels));
	ld->channels = cfg_xcalloc(count, sizeof(*ld->channels));
	for (yaml_node_pair_t *pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top; pair++) {
		yaml_node_t *key = cfg_get_node(ld, pair->key);
		yaml_node_t *value = cfg_get_node(ld, pair->value);
		if (!key || !value)
			continue;
		const char *name = cfg_want_name(ld, key, "a channel name");
		if (!name)
			continue;
		struct aq_channel *ch = &cfg->channels[cfg->nchannels++];
		ch->name = aq_strdup(name);
		ch->line = cfg_node_line(key);
		ch->format = AQ_FORMAT_JSON;
		ch->starttls = AQ_STARTTLS_REQUIRED;
		ch->timeout_ms = 10 * AQ_MS_PER_SECOND;
		ch->concurrency = 4;
		ch->give_up_after_ms = 24 * 3600 * AQ_MS_PER_SECOND;
		ch->retry_initial_ms = AQ_MS_PER_SECOND;
		ch->retry_max_ms = 600 * AQ_MS_PER_SECOND;
		ch->group_wait_ms = AQ_GROUP_WAIT_DEFAULT_MS;
		ch->group_interval_ms = AQ_GROUP_INTERVAL_DEFAULT_MS;
		ch->max_alerts = AQ_MAX_ALERTS_DEFAULT;
		ld->channels[ld->nchannels].name = ch->name;
		ld->channels[ld->nchannels].line = ch->line;
		ld->nchannels++;
		load_channel(ld, ch, value);
	}
	cfg_sort_names(ld, ld->channels, ld->nchannels, "channel");
}

/* Reports every name in a notify list (or single name) that is no channel. */
static void check_channels(struct loader *ld, yaml_node_t *list, const char *where)
{
	yaml_node_item_t one = 0;
	yaml_node_item_t *start = &one, *top = &one;
	if (list->type == YAML_SEQUENCE_NODE) {
		start = list->data.sequence.items.start;
		top = list->data.sequence.items.top;
	} else if (list->type == YAML_SCALAR_NODE) {
		start = &one;
		top = &one + 1;
		one = (yaml_node_item_t)(list - ld->doc->nodes.start) + 1;
	}
	for (yaml_node_item_t *it = start; it < top; it++) {
		yaml_node_t *c = cfg_get_node(ld, *it);
		if (!c || c->type != YAML_SCALAR_NODE || cfg_is_null(c) || c->data.scalar.length == 0)
			continue;
		const char *name = (const char *)c->data.scalar.value;
		if (cfg_has_name(ld->channels, ld->nchannels, name))
			continue;
		struct subject s;
		cfg_problem(ld, cfg_node_line(c), "unknown channel '%s' in %s", cfg_subj(&s, name), where);
	}
}

static void load_levels(struct loader *ld, struct aq_severity_policy *policy, yaml_node_t *n,
			const char *where)
{
	static const char *const keys[] = { "after", "notify" };
	if (cfg_want_list(ld, n, "'levels'") != 0)
		return;
	size_t count = cfg_node_count(n);
	if (count == 0)
		return;
	policy->levels = cfg_xcalloc(count, sizeof(*policy->levels));
	const char *previous = NULL;
	int64_t previous_ms = 0;
	for (yaml_node_item_t *item = n->data.sequence.items.start; item < n->data.sequence.items.top;
	     item++) {
		yaml_node_t *in = cfg_get_node(ld, *item);
		if (!in)
			continue;
		char level_where[SUBJECT_MAX_BYTES + 64];
		snprintf(level_where, sizeof(level_where), "a level of %s", where);
		yaml_node_t *v[NELEM(keys)];
		if (cfg_is_null(in)) {
			cfg_problem(ld, cfg_node_line(in), "%s is empty", level_where);
			continue;
		}
		if (cfg_take_keys(ld, in, "each level", level_where, keys, NELEM(keys), v, NULL) != 0)
			continue;
		struct aq_level *level = &policy->levels[policy->nlevels++];
		const char *after_text = "0s";
		int after_ok = 1;
		if (v[0]) {
			after_ok = cfg_set_duration(ld, v[0], "'after'", &level->after_ms, 0) == 0;
			if (after_ok)
				after_text = (const char *)v[0]->data.scalar.value;
		}
		if (after_ok) {
			struct subject s1, s2;
			if (previous && level->after_ms < previous_ms)
				cfg_problem(
					ld, cfg_node_line(v[0] ? v[0] : in),
					"'after' %s comes before the previous level's %s in %s (levels go in "
					"order)",
					cfg_subj(&s1, after_text), cfg_subj(&s2, previous), where);
			previous = after_text;
			previous_ms = level->after_ms;
		}
		if (!v[1]) {
			cfg_problem(ld, cfg_node_line(in), "missing 'notify' in %s", level_where);
			continue;
		}
		cfg_load_string_list(ld, v[1], "'notify'", "each channel in 'notify'", &level->notify,
				     &level->nnotify);
		if (level->nnotify == 0 && cfg_node_count(v[1]) == 0 && v[1]->type != YAML_SCALAR_NODE)
			cfg_problem(ld, cfg_node_line(v[1]), "'notify' in %s is empty", level_where);
		check_channels(ld, v[1], where);
	}
}

static void load_escalation(struct loader *ld, struct aq_escalation *esc, yaml_node_t *n)
{
	/* index i + 1 is the enum aq_status of keys[i] */
	static const char *const keys[] = { "WARNING", "CRITICAL", "UNKNOWN", "resolved" };
	static const char *const policy_keys[] = { "levels", "repeat" };
	char where[SUBJECT_MAX_BYTES + 32];
	struct subject s;
	snprintf(where, sizeof(where), "escalation '%s'", cfg_subj(&s, esc->name));
	yaml_node_t *v[NELEM(keys)];
	if (cfg_take_keys(ld, n, where, where, keys, NELEM(keys), v,
			  " (use CRITICAL, WARNING, UNKNOWN or resolved)") != 0)
		return;
	for (int i = 0; i < 3; i++) {
		if (!v[i])
			continue;
		char sev_where[SUBJECT_MAX_BYTES + 64];
		snprintf(sev_where, sizeof(sev_where), "%s of %s", keys[i], where);
		char what[32];
		snprintf(what, sizeof(what), "'%s'", keys[i]);
		yaml_node_t *pv[NELEM(policy_keys)];
		if (cfg_take_keys(ld, v[i], what, sev_where, policy_keys, NELEM(policy_keys), pv, NULL) != 0)
			continue;
		struct aq_severity_policy *policy = &esc->severity[i + 1];
		if (pv[0])
			load_levels(ld, policy, pv[0], where);
		if (pv[1])
			cfg_set_duration(ld, pv[1], "'repeat'", &policy->repeat_ms, 0);
	}
	if (v[3])
		cfg_set_bool(ld, v[3], "'resolved'", &esc->resolved);
}

void cfg_load_escalations(struct loader *ld, yaml_node_t *n)
{
	struct aq_config *cfg = ld->cfg;
	if (cfg_want_mapping(ld, n, "'escalations'") != 0)
		return;
	size_t count = cfg_node_count(n);
	if (count == 0)
		return;
	cfg->escalations = cfg_xcalloc(count, sizeof(*cfg->escalations));
	ld->escalations = cfg_xcalloc(count, sizeof(*ld->escalations));
	for (yaml_node_pair_t *pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top; pair++) {
		yaml_node_t *key = cfg_get_node(ld, pair->key);
		yaml_node_t *value = cfg_get_node(ld, pair->value);
		if (!key || !value)
			continue;
		const char *name = cfg_want_name(ld, key, "an escalation name");
		if (!name)
			continue;
		struct aq_escalation *esc = &cfg->escalations[cfg->nescalations++];
		esc->name = aq_strdup(name);
		esc->line = cfg_node_line(key);
		esc->resolved = 1;
		ld->escalations[ld->nescalations].name = esc->name;
		ld->escalations[ld->nescalations].line = esc->line;
		ld->nescalations++;
		load_escalation(ld, esc, value);
	}
	cfg_sort_names(ld, ld->escalations, ld->nescalations, "escalation");
}

/* A check name is a Kafka key and a word on a command line: no spaces, no
 * control characters. */

void cfg_index_channels(struct loader *ld, const struct aq_config *from)
{
	if (from->nchannels == 0)
		return;
	ld->channels = cfg_xcalloc(from->nchannels, sizeof(*ld->channels));
	for (size_t i = 0; i < from->nchannels; i++) {
		ld->channels[ld->nchannels].name = from->channels[i].name;
		ld->channels[ld->nchannels].line = from->channels[i].line;
		ld->nchannels++;
	}
	cfg_sort_names(ld, ld->channels, ld->nchannels, "channel");
}

void cfg_index_escalations(struct loader *ld, const struct aq_config *from)
{
	if (from->nescalations == 0)
		return;
	ld->escalations = cfg_xcalloc(from->nescalations, sizeof(*ld->escalations));
	for (size_t i = 0; i < from->nescalations; i++) {
		ld->escalations[ld->nescalations].name = from->escalations[i].name;
		ld->escalations[ld->nescalations].line = from->escalations[i].line;
		ld->nescalations++;
	}
	cfg_sort_names(ld, ld->escalations, ld->nescalations, "escalation");
}
