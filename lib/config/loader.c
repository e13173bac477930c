/* loader.c - the sections of alertq.yaml: kafka, state, sources, checks and
 * rules, and the root that reads every section in the order references need */
#include "config/yaml_internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alertq/event.h"
#include "config/matcher.h"
#include "notify/template.h"

static void load_kafka(struct loader *ld, yaml_node_t *n)
{
	static const char *const keys[] = { "brokers", "topic",      "dead_letter_topic",
					    "group",   "properties", "prefetch_budget_mb" };
	yaml_node_t *v[NELEM(keys)];
	struct aq_config *cfg = ld->cfg;
	if (cfg_take_keys(ld, n, "'kafka'", "kafka", keys, NELEM(keys), v, NULL) != 0)
		return;
	if (v[0])
		cfg_set_text(ld, v[0], "'brokers'", &cfg->brokers);
	if (v[1])
		cfg_set_text(ld, v[1], "'topic'", &cfg->topic);
	if (v[2])
		cfg_set_text(ld, v[2], "'dead_letter_topic'", &cfg->dead_letter_topic);
	if (v[3])
		cfg_set_text(ld, v[3], "'group'", &cfg->group);
	if (v[5])
		cfg_set_int(ld, v[5], "'prefetch_budget_mb'", 1, AQ_PREFETCH_BUDGET_MAX_MB,
			    &cfg->prefetch_budget_mb);
	if (!v[4] || cfg_want_mapping(ld, v[4], "'properties'") != 0)
		return;
	yaml_node_t *props = v[4];
	size_t count = cfg_node_count(props);
	if (count == 0)
		return;
	cfg->properties = cfg_xcalloc(count, sizeof(*cfg->properties));
	struct named *names = cfg_xcalloc(count, sizeof(*names));
	size_t nnames = 0;
	for (yaml_node_pair_t *pair = props->data.mapping.pairs.start; pair < props->data.mapping.pairs.top;
	     pair++) {
		yaml_node_t *key = cfg_get_node(ld, pair->key);
		yaml_node_t *value = cfg_get_node(ld, pair->value);
		if (!key || !value)
			continue;
		const char *k = cfg_want_name(ld, key, "a kafka property name");
		if (!k)
			continue;
		char what[SUBJECT_MAX_BYTES + 32];
		snprintf(what, sizeof(what), "kafka property '%s'", k);
		const char *text = cfg_want_string(ld, value, what);
		if (!text)
			continue;
		struct aq_kafka_property *p = &cfg->properties[cfg->nproperties++];
		p->key = aq_strdup(k);
		p->value = aq_strdup(text);
		names[nnames].name = p->key;
		names[nnames].line = cfg_node_line(key);
		nnames++;
	}
	cfg_sort_names(ld, names, nnames, "kafka property");
	free(names);
}

static void load_state(struct loader *ld, yaml_node_t *n)
{
	static const char *const keys[] = { "dsn", "max_checks", "retention", "cache_mb" };
	yaml_node_t *v[NELEM(keys)];
	if (cfg_take_keys(ld, n, "'state'", "state", keys, NELEM(keys), v, NULL) != 0)
		return;
	if (v[0])
		cfg_set_text(ld, v[0], "'dsn'", &ld->cfg->state_dsn);
	if (v[1])
		cfg_set_int(ld, v[1], "'max_checks'", 1, AQ_STATE_MAX_CHECKS_LIMIT,
			    &ld->cfg->state_max_checks);
	if (v[2])
		cfg_set_duration(ld, v[2], "'retention'", &ld->cfg->state_retention_ms, 1);
	if (v[3]) {
		cfg_set_int(ld, v[3], "'cache_mb'", 0, AQ_STATE_CACHE_MAX_MB, &ld->cfg->state_cache_mb);
		ld->cfg->state_cache_given = 1;
	}
}

static void load_sources(struct loader *ld, yaml_node_t *n)
{
	static const char *const keys[] = { "dsn", "dsn_env" };
	struct aq_config *cfg = ld->cfg;
	if (cfg_want_mapping(ld, n, "'sources'") != 0)
		return;
	size_t count = cfg_node_count(n);
	if (count == 0)
		return;
	cfg->sources = cfg_xcalloc(count, sizeof(*cfg->sources));
	ld->sources = cfg_xcalloc(count, sizeof(*ld->sources));
	for (yaml_node_pair_t *pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top; pair++) {
		yaml_node_t *key = cfg_get_node(ld, pair->key);
		yaml_node_t *value = cfg_get_node(ld, pair->value);
		if (!key || !value)
			continue;
		const char *name = cfg_want_name(ld, key, "a source name");
		if (!name)
			continue;
		struct aq_source *src = &cfg->sources[cfg->nsources++];
		src->name = aq_strdup(name);
		src->line = cfg_node_line(key);
		ld->sources[ld->nsources].name = src->name;
		ld->sources[ld->nsources].line = src->line;
		ld->nsources++;

		char where[SUBJECT_MAX_BYTES + 32];
		struct subject s;
		snprintf(where, sizeof(where), "source '%s'", cfg_subj(&s, name));
		yaml_node_t *v[NELEM(keys)];
		if (cfg_take_keys(ld, value, where, where, keys, NELEM(keys), v, NULL) != 0)
			continue;
		if (v[0] && v[1]) {
			cfg_problem(ld, cfg_node_line(value), "both 'dsn' and 'dsn_env' in %s (give one)",
				    where);
			continue;
		}
		if (!v[0] && !v[1]) {
			cfg_problem(ld, cfg_node_line(value), "missing 'dsn' or 'dsn_env' in %s", where);
			continue;
		}
		if (v[0]) {
			cfg_set_text(ld, v[0], "'dsn'", &src->dsn);
		} else {
			/* a variable not set is reported by the check that uses the source */
			if (cfg_set_text(ld, v[1], "'dsn_env'", &src->dsn_env) == 0)
				src->dsn = cfg_from_env(src->dsn_env);
		}
	}
	cfg_sort_names(ld, ld->sources, ld->nsources, "source");
}

/* Reads a list of strings, or a single string, into a new array. */

static const char *want_check_name(struct loader *ld, yaml_node_t *n)
{
	const char *name = cfg_want_string(ld, n, "'name'");
	if (!name)
		return NULL;
	struct subject s;
	if (*name == '\0') {
		cfg_problem(ld, cfg_node_line(n), "check name is empty");
		return NULL;
	}
	if (strlen(name) > CONFIG_NAME_MAX) {
		cfg_problem(ld, cfg_node_line(n), "check name '%s' is longer than %d bytes",
			    cfg_subj(&s, name), CONFIG_NAME_MAX);
		return NULL;
	}
	for (const char *p = name; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c <= 0x20 || c == 0x7f) {
			cfg_problem(ld, cfg_node_line(n),
				    "check name '%s' contains whitespace or control characters",
				    cfg_subj(&s, name));
			return NULL;
		}
	}
	return name;
}

/* Whether name can name an environment variable: a letter or '_', then
 * letters, digits and '_'. */
static int env_name_ok(const char *name)
{
	if (!(isalpha((unsigned char)name[0]) || name[0] == '_'))
		return 0;
	for (const char *p = name + 1; *p; p++)
		if (!(isalnum((unsigned char)*p) || *p == '_'))
			return 0;
	return 1;
}

static void load_check(struct loader *ld, struct aq_check *check, yaml_node_t *n, struct named *names,
		       size_t *nnames)
{
	static const char *const keys[] = { "name", "every", "timeout", "sql", "command", "labels", "env" };
	static const char *const sql_keys[] = { "source", "query" };
	enum {
		NAME,
		EVERY,
		TIMEOUT,
		SQL,
		COMMAND,
		LABELS,
		ENV
	};
	struct subject s;
	char where[SUBJECT_MAX_BYTES + 32] = "check";

	/* the name first, so that every other message can say which check */
	if (n->type == YAML_MAPPING_NODE) {
		for (yaml_node_pair_t *pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top;
		     pair++) {
			yaml_node_t *key = cfg_get_node(ld, pair->key);
			yaml_node_t *value = cfg_get_node(ld, pair->value);
			if (key && value && key->type == YAML_SCALAR_NODE &&
			    strcmp((const char *)key->data.scalar.value, "name") == 0 &&
			    value->type == YAML_SCALAR_NODE && value->data.scalar.length > 0 &&
			    !cfg_is_null(value)) {
				snprintf(where, sizeof(where), "check '%s'",
					 cfg_subj(&s, (const char *)value->data.scalar.value));
				break;
			}
		}
	}
	yaml_node_t *v[NELEM(keys)];
	if (cfg_take_keys(ld, n, "each check", where, keys, NELEM(keys), v, NULL) != 0)
		return;
	if (cfg_is_null(n)) {
		cfg_problem(ld, cfg_node_line(n), "a check is empty");
		return;
	}
	if (!v[NAME]) {
		cfg_problem(ld, cfg_node_line(n), "missing 'name' in check");
	} else {
		const char *name = want_check_name(ld, v[NAME]);
		if (name) {
			check->name = aq_strdup(name);
			names[*nnames].name = check->name;
			names[*nnames].line = cfg_node_line(v[NAME]);
			(*nnames)++;
		}
	}
	if (v[EVERY])
		cfg_set_duration(ld, v[EVERY], "'every'", &check->every_ms, 1);
	if (v[TIMEOUT])
		cfg_set_duration(ld, v[TIMEOUT], "'timeout'", &check->timeout_ms, 1);
	if (v[SQL] && v[COMMAND]) {
		cfg_problem(ld, cfg_node_line(v[COMMAND]), "both 'sql' and 'command' in %s (give one)",
			    where);
	} else if (!v[SQL] && !v[COMMAND]) {
		cfg_problem(ld, cfg_node_line(n), "missing 'sql' or 'command' in %s", where);
	} else if (v[SQL]) {
		check->kind = AQ_CHECK_SQL;
		char sql_where[SUBJECT_MAX_BYTES + 48];
		snprintf(sql_where, sizeof(sql_where), "sql of %s", where);
		yaml_node_t *sv[NELEM(sql_keys)];
		if (cfg_take_keys(ld, v[SQL], "'sql'", sql_where, sql_keys, NELEM(sql_keys), sv, NULL) == 0) {
			if (!sv[0])
				cfg_problem(ld, cfg_node_line(v[SQL]), "missing 'source' in %s", sql_where);
			else if (cfg_set_text(ld, sv[0], "'source'", &check->source) == 0 &&
				 !cfg_has_name(ld->sources, ld->nsources, check->source))
				cfg_problem(ld, cfg_node_line(sv[0]), "unknown source '%s' in %s",
					    cfg_subj(&s, check->source), where);
			if (!sv[1])
				cfg_problem(ld, cfg_node_line(v[SQL]), "missing 'query' in %s", sql_where);
			else
				cfg_set_text(ld, sv[1], "'query'", &check->query);
		}
	} else {
		check->kind = AQ_CHECK_COMMAND;
		if (cfg_want_list(ld, v[COMMAND], "'command'") == 0) {
			size_t count = cfg_node_count(v[COMMAND]);
			if (count == 0) {
				cfg_problem(ld, cfg_node_line(v[COMMAND]), "'command' in %s is empty", where);
			} else {
				check->argv = cfg_xcalloc(count + 1, sizeof(*check->argv));
				yaml_node_t *list = v[COMMAND];
				for (yaml_node_item_t *item = list->data.sequence.items.start;
				     item < list->data.sequence.items.top; item++) {
					yaml_node_t *in = cfg_get_node(ld, *item);
					const char *arg = in
						? cfg_want_string(ld, in, "each command argument")
						: NULL;
					if (arg)
						check->argv[check->argc++] = aq_strdup(arg);
				}
				if (check->argc > 0 && check->argv[0][0] == '\0')
					cfg_problem(ld, cfg_node_line(list),
						    "'command' in %s starts with an empty program", where);
			}
		}
	}
	if (v[ENV]) {
		if (check->kind != AQ_CHECK_COMMAND) {
			cfg_problem(ld, cfg_node_line(v[ENV]), "'env' in %s goes with 'command' only", where);
		} else {
			cfg_load_string_list(ld, v[ENV], "'env'", "each name in 'env'", &check->env,
					     &check->nenv);
			for (size_t i = 0; i < check->nenv; i++)
				if (!env_name_ok(check->env[i]))
					cfg_problem(ld, cfg_node_line(v[ENV]),
						    "'%s' in 'env' of %s is not a variable name",
						    cfg_subj(&s, check->env[i]), where);
		}
	}
	if (v[LABELS])
		cfg_load_labels(ld, v[LABELS], &check->labels, &check->nlabels, NULL);
}

static void load_checks(struct loader *ld, yaml_node_t *n)
{
	struct aq_config *cfg = ld->cfg;
	if (cfg_want_list(ld, n, "'checks'") != 0)
		return;
	size_t count = cfg_node_count(n);
	if (count == 0)
		return;
	cfg->checks = cfg_xcalloc(count, sizeof(*cfg->checks));
	struct named *names = cfg_xcalloc(count, sizeof(*names));
	size_t nnames = 0;
	for (yaml_node_item_t *item = n->data.sequence.items.start; item < n->data.sequence.items.top;
	     item++) {
		yaml_node_t *in = cfg_get_node(ld, *item);
		if (!in)
			continue;
		struct aq_check *check = &cfg->checks[cfg->nchecks++];
		check->line = cfg_node_line(in);
		check->every_ms = 3600 * AQ_MS_PER_SECOND;
		check->timeout_ms = 30 * AQ_MS_PER_SECOND;
		load_check(ld, check, in, names, &nnames);
	}
	cfg_sort_names(ld, names, nnames, "check name");
	free(names);
}

static void set_threshold(struct loader *ld, yaml_node_t *n, const char *what, struct aq_threshold *t)
{
	const char *text = cfg_want_string(ld, n, what);
	if (!text)
		return;
	char err[PROBLEM_MAX_BYTES];
	if (aq_threshold_parse(text, t, err, sizeof(err)) != 0)
		cfg_problem(ld, cfg_node_line(n), "%s", err);
}

/* --- annotations of a rule: key -> template, rendered at each transition --- */

static int annotation_key_ok(const char *key)
{
	size_t len = strlen(key);
	if (len == 0 || len > AQ_ANNOTATION_KEY_MAX)
		return 0;
	for (const char *p = key; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_')
			return 0;
	return 1;
}

static void load_annotations(struct loader *ld, struct aq_rule *rule, yaml_node_t *n)
{
	if (cfg_want_mapping(ld, n, "'annotations'") != 0)
		return;
	size_t count = cfg_node_count(n);
	if (count == 0)
		return;
	if (count > AQ_ANNOTATIONS_MAX) {
		cfg_problem(ld, cfg_node_line(n), "a rule has %zu annotations, at most %d are allowed", count,
			    AQ_ANNOTATIONS_MAX);
		return;
	}
	rule->annotations = cfg_xcalloc(count, sizeof(*rule->annotations));
	struct named *names = cfg_xcalloc(count, sizeof(*names));
	size_t nnames = 0;
	for (yaml_node_pair_t *pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top; pair++) {
		yaml_node_t *key = cfg_get_node(ld, pair->key);
		yaml_node_t *value = cfg_get_node(ld, pair->value);
		if (!key || !value)
			continue;
		const char *k = cfg_want_text(ld, key, "an annotation name");
		struct subject s;
		if (!k)
			continue;
		if (!annotation_key_ok(k)) {
			cfg_problem(ld, cfg_node_line(key),
				    "annotation name '%s' must be 1 to %d letters, digits or '_'",
				    cfg_subj(&s, k), AQ_ANNOTATION_KEY_MAX);
			continue;
		}
		char what[SUBJECT_MAX_BYTES + 32];
		snprintf(what, sizeof(what), "annotation '%s'", k);
		const char *text = cfg_want_string(ld, value, what);
		if (!text)
			continue;
		char err[PROBLEM_MAX_BYTES];
		struct aq_template *t = aq_template_parse(text, value->data.scalar.length,
							  AQ_TEMPLATE_ANNOTATION, err, sizeof(err));
		if (!t) {
			cfg_problem(ld, cfg_node_line(value), "%s of rule: %s", what, err);
			continue;
		}
		struct aq_annotation *a = &rule->annotations[rule->nannotations++];
		a->key = aq_strdup(k);
		a->tpl = t;
		a->line = cfg_node_line(key);
		names[nnames].name = a->key;
		names[nnames].line = a->line;
		nnames++;
	}
	cfg_sort_names(ld, names, nnames, "annotation");
	free(names);
}

/* --- flapping: { low, high } --- */

/* Reads one flapping percentage: a number over 0 and at most 100. Returns 0,
 * or -1 after a problem. */
static int flapping_percent(struct loader *ld, yaml_node_t *n, const char *what, double *out)
{
	const char *text = cfg_want_text(ld, n, what);
	if (!text)
		return -1;
	struct subject s;
	char *end = NULL;
	errno = 0;
	double value = strtod(text, &end);
	if (end == text || *end != '\0' || errno == ERANGE || !isfinite(value) || value <= 0 || value > 100) {
		cfg_problem(ld, cfg_node_line(n),
			    "flapping %s must be a percentage over 0 and at most 100, not '%s'", what,
			    cfg_subj(&s, text));
		return -1;
	}
	*out = value;
	return 0;
}

static void load_flapping(struct loader *ld, yaml_node_t *n, struct aq_flapping *f)
{
	static const char *const keys[] = { "low", "high" };
	yaml_node_t *v[NELEM(keys)];
	if (cfg_take_keys(ld, n, "'flapping'", "flapping", keys, NELEM(keys), v, NULL) != 0)
		return;
	if (!v[0] || !v[1]) {
		cfg_problem(ld, cfg_node_line(n), "'flapping' needs both 'low' and 'high'");
		return;
	}
	double low, high;
	if (flapping_percent(ld, v[0], "'low'", &low) != 0 ||
	    flapping_percent(ld, v[1], "'high'", &high) != 0)
		return;
	if (low >= high) {
		cfg_problem(ld, cfg_node_line(n), "flapping 'low' must be below 'high' (%g is not below %g)",
			    low, high);
		return;
	}
	f->set = 1;
	f->low = low;
	f->high = high;
}

static void load_rule(struct loader *ld, struct aq_rule *rule, yaml_node_t *n)
{
	static const char *const keys[] = { "match",      "warning",     "critical",       "for",
					    "escalation", "stale_after", "stale_severity", "annotations",
					    "flapping",   "labels" };
	enum {
		MATCH,
		WARNING,
		CRITICAL,
		FOR,
		ESCALATION,
		STALE_AFTER,
		STALE_SEVERITY,
		ANNOTATIONS,
		FLAPPING,
		LABELS
	};
	yaml_node_t *v[NELEM(keys)];
	struct subject s;
	if (cfg_is_null(n)) {
		cfg_problem(ld, cfg_node_line(n), "a rule is empty");
		return;
	}
	if (cfg_take_keys(ld, n, "each rule", "rule", keys, NELEM(keys), v, NULL) != 0)
		return;
	if (!v[MATCH])
		cfg_problem(ld, cfg_node_line(n), "missing 'match' in rule");
	else
		cfg_set_text(ld, v[MATCH], "'match'", &rule->match);
	if (v[WARNING])
		set_threshold(ld, v[WARNING], "'warning'", &rule->warning);
	if (v[CRITICAL])
		set_threshold(ld, v[CRITICAL], "'critical'", &rule->critical);
	if (v[FOR])
		cfg_set_int(ld, v[FOR], "'for'", 1, 1000, &rule->for_count);
	if (v[ESCALATION] && cfg_set_text(ld, v[ESCALATION], "'escalation'", &rule->escalation) == 0 &&
	    !cfg_has_name(ld->escalations, ld->nescalations, rule->escalation))
		cfg_problem(ld, cfg_node_line(v[ESCALATION]), "unknown escalation '%s' in rule",
			    cfg_subj(&s, rule->escalation));
	if (v[STALE_AFTER])
		cfg_set_duration(ld, v[STALE_AFTER], "'stale_after'", &rule->stale_after_ms, 0);
	if (v[STALE_SEVERITY]) {
		const char *t = cfg_want_text(ld, v[STALE_SEVERITY], "'stale_severity'");
		if (t && strcmp(t, "WARNING") == 0)
			rule->stale_severity = AQ_WARNING;
		else if (t && strcmp(t, "CRITICAL") == 0)
			rule->stale_severity = AQ_CRITICAL;
		else if (t && strcmp(t, "UNKNOWN") == 0)
			rule->stale_severity = AQ_UNKNOWN;
		else if (t)
			cfg_problem(ld, cfg_node_line(v[STALE_SEVERITY]),
				    "unknown stale_severity '%s' in rule (use WARNING, CRITICAL or UNKNOWN)",
				    cfg_subj(&s, t));
	}
	if (v[ANNOTATIONS])
		load_annotations(ld, rule, v[ANNOTATIONS]);
	if (v[FLAPPING])
		load_flapping(ld, v[FLAPPING], &rule->flapping);
	/* label matchers: routing by labels as well as by name */
	if (v[LABELS])
		cfg_load_label_matchers(ld, v[LABELS], "rule", &rule->labels, &rule->nlabels);
}

static void load_rules(struct loader *ld, yaml_node_t *n)
{
	struct aq_config *cfg = ld->cfg;
	if (cfg_want_list(ld, n, "'rules'") != 0)
		return;
	size_t count = cfg_node_count(n);
	if (count == 0)
		return;
	cfg->rules = cfg_xcalloc(count, sizeof(*cfg->rules));
	for (yaml_node_item_t *item = n->data.sequence.items.start; item < n->data.sequence.items.top;
	     item++) {
		yaml_node_t *in = cfg_get_node(ld, *item);
		if (!in)
			continue;
		struct aq_rule *rule = &cfg->rules[cfg->nrules++];
		rule->line = cfg_node_line(in);
		rule->for_count = 1;
		rule->stale_severity = AQ_UNKNOWN;
		load_rule(ld, rule, in);
	}
}

/* --- inhibition: `inhibit:` entries and `inhibit_wait` --- */

/* Reads one side of an inhibit entry ({match, labels}, and severity for a
 * source) into m. */
static void load_check_match(struct loader *ld, yaml_node_t *n, const char *side, struct aq_check_match *m,
			     int *severity)
{
	static const char *const keys[] = { "match", "labels", "severity" };
	enum {
		MATCH,
		LABELS,
		SEVERITY
	};
	yaml_node_t *v[NELEM(keys)];
	char what[48];
	snprintf(what, sizeof(what), "'%s' of an inhibit entry", side);
	m->line = cfg_node_line(n);
	if (cfg_take_keys(ld, n, what, what, keys, severity ? NELEM(keys) : NELEM(keys) - 1, v, NULL) != 0)
		return;
	if (!v[MATCH] && !v[LABELS])
		cfg_problem(ld, cfg_node_line(n), "%s needs 'match' or 'labels'", what);
	if (v[MATCH])
		cfg_set_text(ld, v[MATCH], "'match'", &m->match);
	if (v[LABELS])
		cfg_load_label_matchers(ld, v[LABELS], what, &m->labels, &m->nlabels);
	if (severity && v[SEVERITY]) {
		struct subject s;
		const char *t = cfg_want_text(ld, v[SEVERITY], "'severity'");
		int status = t ? aq_status_parse(t) : AQ_STATUS_NONE;
		if (t && (status == AQ_STATUS_NONE || status == AQ_OK))
			cfg_problem(ld, cfg_node_line(v[SEVERITY]),
				    "unknown severity '%s' in %s (use WARNING, UNKNOWN or CRITICAL)",
				    cfg_subj(&s, t), what);
		else if (t)
			*severity = status;
	}
}

static void load_inhibit(struct loader *ld, struct aq_inhibit *e, yaml_node_t *n)
{
	static const char *const keys[] = { "source", "target", "equal" };
	enum {
		SOURCE,
		TARGET,
		EQUAL
	};
	yaml_node_t *v[NELEM(keys)];
	if (cfg_is_null(n)) {
		cfg_problem(ld, cfg_node_line(n), "an inhibit entry is empty");
		return;
	}
	if (cfg_take_keys(ld, n, "each inhibit entry", "inhibit entry", keys, NELEM(keys), v, NULL) != 0)
		return;
	if (!v[SOURCE])
		cfg_problem(ld, cfg_node_line(n), "missing 'source' in inhibit entry");
	else
		load_check_match(ld, v[SOURCE], "source", &e->source, &e->source_severity);
	if (!v[TARGET])
		cfg_problem(ld, cfg_node_line(n), "missing 'target' in inhibit entry");
	else
		load_check_match(ld, v[TARGET], "target", &e->target, NULL);
	if (v[EQUAL])
		cfg_load_string_list(ld, v[EQUAL], "'equal'", "each label name in 'equal'", &e->equal,
				     &e->nequal);
}

static void load_inhibits(struct loader *ld, yaml_node_t *n)
{
	struct aq_config *cfg = ld->cfg;
	if (cfg_want_list(ld, n, "'inhibit'") != 0)
		return;
	size_t count = cfg_node_count(n);
	if (count == 0)
		return;
	if (count > AQ_INHIBIT_MAX) {
		cfg_problem(ld, cfg_node_line(n), "more than %d inhibit entries", AQ_INHIBIT_MAX);
		return;
	}
	cfg->inhibits = cfg_xcalloc(count, sizeof(*cfg->inhibits));
	for (yaml_node_item_t *item = n->data.sequence.items.start; item < n->data.sequence.items.top;
	     item++) {
		yaml_node_t *in = cfg_get_node(ld, *item);
		if (!in)
			continue;
		struct aq_inhibit *e = &cfg->inhibits[cfg->ninhibits++];
		e->line = cfg_node_line(in);
		e->source_severity = AQ_CRITICAL;
		load_inhibit(ld, e, in);
	}
	if (ld->nproblems == 0)
		cfg_check_inhibit_cycles(ld);
}

void cfg_load_root(struct loader *ld, yaml_node_t *root)
{
	static const char *const keys[] = { "kafka",  "state",       "log_dir",     "sources",
					    "checks", "escalations", "channels",    "rules",
					    "http",   "inhibit",     "inhibit_wait" };
	enum {
		KAFKA,
		STATE,
		LOG_DIR,
		SOURCES,
		CHECKS,
		ESCALATIONS,
		CHANNELS,
		RULES,
		HTTP,
		INHIBIT,
		INHIBIT_WAIT
	};
	if (cfg_is_null(root)) {
		cfg_problem(ld, cfg_node_line(root), "the configuration is empty");
		return;
	}
	yaml_node_t *v[NELEM(keys)];
	if (cfg_take_keys(ld, root, "the configuration", "the configuration", keys, NELEM(keys), v, NULL) !=
	    0)
		return;
	/* sections that others refer to come first, whatever the order in the file */
	if (v[KAFKA])
		load_kafka(ld, v[KAFKA]);
	if (v[STATE])
		load_state(ld, v[STATE]);
	if (v[LOG_DIR])
		cfg_set_text(ld, v[LOG_DIR], "'log_dir'", &ld->cfg->log_dir);
	if (v[SOURCES])
		load_sources(ld, v[SOURCES]);
	ld->has_channels = v[CHANNELS] != NULL;
	ld->has_escalations = v[ESCALATIONS] != NULL;
	if (v[CHANNELS])
		cfg_load_channels(ld, v[CHANNELS]);
	else if (ld->fallback)
		cfg_index_channels(ld, ld->fallback);
	if (v[ESCALATIONS])
		cfg_load_escalations(ld, v[ESCALATIONS]);
	else if (ld->fallback)
		cfg_index_escalations(ld, ld->fallback);
	if (v[CHECKS])
		load_checks(ld, v[CHECKS]);
	if (v[RULES])
		load_rules(ld, v[RULES]);
	if (v[HTTP])
		cfg_load_http(ld, v[HTTP]);
	ld->has_inhibit = v[INHIBIT] != NULL || v[INHIBIT_WAIT] != NULL;
	ld->cfg->inhibit_wait_ms = AQ_INHIBIT_WAIT_DEFAULT_MS;
	if (v[INHIBIT_WAIT])
		cfg_set_duration(ld, v[INHIBIT_WAIT], "'inhibit_wait'", &ld->cfg->inhibit_wait_ms, 0);
	if (v[INHIBIT])
		load_inhibits(ld, v[INHIBIT]);
}
