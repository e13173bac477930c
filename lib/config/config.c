/* config.c - alertq.yaml: read with libyaml, checked whole, every problem
 * reported with its line; defaults, release and lookups */
#include "alertq/config.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "config/matcher.h"
#include "config/yaml_internal.h"
#include "notify/template.h"

#define CONFIG_MAX_BYTES (1024 * 1024)

#define DEFAULT_BROKERS "127.0.0.1:9092"
#define DEFAULT_TOPIC "alertq.checks"
#define DEFAULT_DLQ_TOPIC "alertq.checks.dlq"
#define DEFAULT_GROUP "alertq-workers"
#define DEFAULT_STATE_DSN "postgresql://alertq@127.0.0.1:5432/alertq"
#define DEFAULT_LOG_DIR "/var/log/alertq"

static void apply_defaults(struct aq_config *cfg)
{
	if (cfg->state_max_checks == 0)
		cfg->state_max_checks = AQ_STATE_MAX_CHECKS_DEFAULT;
	if (!cfg->state_cache_given)
		cfg->state_cache_mb = AQ_STATE_CACHE_DEFAULT_MB;
	if (cfg->prefetch_budget_mb == 0)
		cfg->prefetch_budget_mb = AQ_PREFETCH_BUDGET_DEFAULT_MB;
	if (cfg->state_retention_ms == 0)
		cfg->state_retention_ms = AQ_STATE_RETENTION_DEFAULT_MS;
	const char *brokers = getenv("ALERTQ_KAFKA_BROKERS");
	if (brokers && *brokers) {
		free(cfg->brokers);
		cfg->brokers = aq_strdup(brokers);
	}
	const char *dsn = getenv("ALERTQ_STATE_DSN");
	if (dsn && *dsn) {
		free(cfg->state_dsn);
		cfg->state_dsn = aq_strdup(dsn);
	}
	if (!cfg->brokers)
		cfg->brokers = aq_strdup(DEFAULT_BROKERS);
	if (!cfg->topic)
		cfg->topic = aq_strdup(DEFAULT_TOPIC);
	if (!cfg->dead_letter_topic)
		cfg->dead_letter_topic = aq_strdup(DEFAULT_DLQ_TOPIC);
	if (!cfg->group)
		cfg->group = aq_strdup(DEFAULT_GROUP);
	if (!cfg->state_dsn)
		cfg->state_dsn = aq_strdup(DEFAULT_STATE_DSN);
	if (!cfg->log_dir)
		cfg->log_dir = aq_strdup(DEFAULT_LOG_DIR);
	if (!cfg->http_listen)
		cfg->http_listen = aq_strdup(AQ_HTTP_LISTEN_DEFAULT);
}

static char **copy_strings(char *const *v, size_t n)
{
	char **copy = cfg_xcalloc(n + 1, sizeof(*copy));
	for (size_t i = 0; i < n; i++)
		copy[i] = aq_strdup(v[i]);
	return copy;
}

static char *copy_text(const char *s)
{
	return s ? aq_strdup(s) : NULL;
}

static void copy_escalation(struct aq_escalation *to, const struct aq_escalation *from)
{
	*to = *from;
	to->name = copy_text(from->name);
	for (size_t s = 0; s < NELEM(to->severity); s++) {
		const struct aq_severity_policy *fp = &from->severity[s];
		struct aq_severity_policy *tp = &to->severity[s];
		tp->levels = fp->nlevels ? cfg_xcalloc(fp->nlevels, sizeof(*tp->levels)) : NULL;
		for (size_t l = 0; l < fp->nlevels; l++) {
			tp->levels[l] = fp->levels[l];
			tp->levels[l].notify = copy_strings(fp->levels[l].notify, fp->levels[l].nnotify);
		}
	}
}

static void copy_channel(struct aq_channel *to, const struct aq_channel *from)
{
	*to = *from;
	to->name = copy_text(from->name);
	to->url = copy_text(from->url);
	to->url_env = copy_text(from->url_env);
	to->secret = copy_text(from->secret);
	to->secret_env = copy_text(from->secret_env);
	to->from = copy_text(from->from);
	to->to = from->to ? copy_strings(from->to, from->nto) : NULL;
	to->username = copy_text(from->username);
	to->username_env = copy_text(from->username_env);
	to->password = copy_text(from->password);
	to->password_env = copy_text(from->password_env);
	to->template_text = aq_template_ref(from->template_text);
	to->template_subject = aq_template_ref(from->template_subject);
	to->template_body = aq_template_ref(from->template_body);
	to->group_by = from->group_by ? copy_strings(from->group_by, from->ngroup_by) : NULL;
}

/* Gives cfg a copy of fallback's channels and escalations where the file
 * had no such section. */
static void merge_fallback(struct aq_config *cfg, const struct loader *ld)
{
	const struct aq_config *fb = ld->fallback;
	if (!ld->has_channels && fb->nchannels > 0) {
		cfg->channels = cfg_xcalloc(fb->nchannels, sizeof(*cfg->channels));
		for (size_t i = 0; i < fb->nchannels; i++)
			copy_channel(&cfg->channels[i], &fb->channels[i]);
		cfg->nchannels = fb->nchannels;
	}
	if (!ld->has_escalations && fb->nescalations > 0) {
		cfg->escalations = cfg_xcalloc(fb->nescalations, sizeof(*cfg->escalations));
		for (size_t i = 0; i < fb->nescalations; i++)
			copy_escalation(&cfg->escalations[i], &fb->escalations[i]);
		cfg->nescalations = fb->nescalations;
	}
	if (!ld->has_inhibit)
		cfg_copy_inhibits(cfg, fb);
}

/* Parses text as a configuration named name; with fallback, as a rules file
 * (see aq_config_load_rules). Returns 0 with cfg filled, or -1 with every
 * problem in err and cfg released. */
static int parse(struct aq_config *cfg, const char *name, const char *text, size_t len,
		 const struct aq_config *fallback, char *err, size_t errlen)
{
	struct loader ld = { 0 };
	ld.name = name ? name : "<config>";
	ld.cfg = cfg;
	ld.fallback = fallback;
	if (err && errlen)
		err[0] = '\0';
	memset(cfg, 0, sizeof(*cfg));
	cfg->path = aq_strdup(ld.name);
	if (!text)
		len = 0;

	if (len > CONFIG_MAX_BYTES) {
		cfg_problem(&ld, 1, "the file is larger than 1 MiB");
	} else {
		yaml_parser_t parser;
		yaml_document_t doc;
		const char *input = text ? text : "";
		if (!yaml_parser_initialize(&parser)) {
			fputs("alertq: out of memory\n", stderr);
			abort();
		}
		yaml_parser_set_input_string(&parser, (const unsigned char *)input, len);
		if (cfg_screen_events(&ld, input, len) != 0) {
			/* reported */
		} else if (!yaml_parser_load(&parser, &doc)) {
			cfg_yaml_problem(&ld, &parser, text, len);
		} else {
			ld.doc = &doc;
			yaml_node_t *root = yaml_document_get_root_node(&doc);
			if (!root) {
				cfg_problem(&ld, 1, "the configuration is empty");
			} else {
				cfg_load_root(&ld, root);
				yaml_document_t next;
				if (!yaml_parser_load(&parser, &next)) {
					cfg_yaml_problem(&ld, &parser, text, len);
				} else {
					yaml_node_t *extra = yaml_document_get_root_node(&next);
					if (extra)
						cfg_problem(&ld, cfg_node_line(extra),
							    "a second yaml document (the file holds one)");
					yaml_document_delete(&next);
				}
			}
			yaml_document_delete(&doc);
			ld.doc = NULL;
		}
		yaml_parser_delete(&parser);
	}
	free(ld.sources);
	free(ld.channels);
	free(ld.escalations);

	int rc = 0;
	if (ld.nproblems > 0 || ld.dropped > 0) {
		cfg_write_problems(&ld, err, errlen);
		aq_config_release(cfg);
		rc = -1;
	} else {
		if (fallback)
			merge_fallback(cfg, &ld);
		apply_defaults(cfg);
	}
	cfg_free_problems(&ld);
	return rc;
}

int aq_config_parse(struct aq_config *cfg, const char *name, const char *text, size_t len, char *err,
		    size_t errlen)
{
	return parse(cfg, name, text, len, NULL, err, errlen);
}

/* Reads the file at path (at most 1 MiB) and parses it. Returns 0, or -1
 * with the problems in err and cfg released. */
static int load(struct aq_config *cfg, const char *path, const struct aq_config *fallback, char *err,
		size_t errlen)
{
	memset(cfg, 0, sizeof(*cfg));
	if (err && errlen)
		err[0] = '\0';
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot open the configuration: %s", path, strerror(errno));
		return -1;
	}
	char *buf = cfg_xcalloc(CONFIG_MAX_BYTES + 1, 1);
	size_t len = 0;
	for (;;) {
		ssize_t n = read(fd, buf + len, CONFIG_MAX_BYTES + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "%s: cannot read the configuration: %s", path, strerror(errno));
			close(fd);
			free(buf);
			return -1;
		}
		if (n == 0 || len + (size_t)n > CONFIG_MAX_BYTES) {
			len += (size_t)n;
			break;
		}
		len += (size_t)n;
	}
	close(fd);
	int rc = parse(cfg, path, buf, len, fallback, err, errlen);
	free(buf);
	return rc;
}

int aq_config_load(struct aq_config *cfg, const char *path, char *err, size_t errlen)
{
	return load(cfg, path, NULL, err, errlen);
}

int aq_config_load_rules(struct aq_config *cfg, const char *path, const struct aq_config *base, char *err,
			 size_t errlen)
{
	return load(cfg, path, base, err, errlen);
}

int aq_config_parse_rules(struct aq_config *cfg, const char *name, const char *text, size_t len,
			  const struct aq_config *base, char *err, size_t errlen)
{
	return parse(cfg, name, text, len, base, err, errlen);
}

static void free_strings(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Frees everything cfg owns and zeroes it; a zeroed cfg is fine too. */
void aq_config_release(struct aq_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->path);
	free(cfg->brokers);
	free(cfg->topic);
	free(cfg->dead_letter_topic);
	free(cfg->group);
	for (size_t i = 0; i < cfg->nproperties; i++) {
		free(cfg->properties[i].key);
		free(cfg->properties[i].value);
	}
	free(cfg->properties);
	free(cfg->state_dsn);
	free(cfg->log_dir);
	for (size_t i = 0; i < cfg->nsources; i++) {
		free(cfg->sources[i].name);
		free(cfg->sources[i].dsn);
		free(cfg->sources[i].dsn_env);
	}
	free(cfg->sources);
	for (size_t i = 0; i < cfg->nchecks; i++) {
		struct aq_check *c = &cfg->checks[i];
		free(c->name);
		free(c->source);
		free(c->query);
		free_strings(c->argv, c->argc);
		free_strings(c->env, c->nenv);
		aq_labels_free(c->labels, c->nlabels);
	}
	free(cfg->checks);
	cfg_release_matchers(cfg);
	for (size_t i = 0; i < cfg->nrules; i++) {
		free(cfg->rules[i].match);
		free(cfg->rules[i].escalation);
		for (size_t a = 0; a < cfg->rules[i].nannotations; a++) {
			free(cfg->rules[i].annotations[a].key);
			aq_template_unref(cfg->rules[i].annotations[a].tpl);
		}
		free(cfg->rules[i].annotations);
	}
	free(cfg->rules);
	for (size_t i = 0; i < cfg->nescalations; i++) {
		struct aq_escalation *e = &cfg->escalations[i];
		free(e->name);
		for (size_t s = 0; s < NELEM(e->severity); s++) {
			for (size_t l = 0; l < e->severity[s].nlevels; l++)
				free_strings(e->severity[s].levels[l].notify,
					     e->severity[s].levels[l].nnotify);
			free(e->severity[s].levels);
		}
	}
	free(cfg->escalations);
	for (size_t i = 0; i < cfg->nchannels; i++) {
		struct aq_channel *c = &cfg->channels[i];
		free(c->name);
		free(c->url);
		free(c->url_env);
		free(c->secret);
		free(c->secret_env);
		free(c->from);
		free_strings(c->to, c->nto);
		free(c->username);
		free(c->username_env);
		free(c->password);
		free(c->password_env);
		aq_template_unref(c->template_text);
		aq_template_unref(c->template_subject);
		aq_template_unref(c->template_body);
		free_strings(c->group_by, c->ngroup_by);
	}
	free(cfg->channels);
	free(cfg->http_listen);
	for (size_t i = 0; i < cfg->nhttp_tokens; i++) {
		free(cfg->http_tokens[i].name);
		free(cfg->http_tokens[i].token);
		free(cfg->http_tokens[i].token_env);
	}
	free(cfg->http_tokens);
	memset(cfg, 0, sizeof(*cfg));
}

/* The source called name, or NULL; the pointer lives as long as cfg. */
const struct aq_source *aq_config_source(const struct aq_config *cfg, const char *name)
{
	for (size_t i = 0; name && i < cfg->nsources; i++) {
		if (cfg->sources[i].name && strcmp(cfg->sources[i].name, name) == 0)
			return &cfg->sources[i];
	}
	return NULL;
}

/* The escalation policy called name, or NULL; the pointer lives as long as cfg. */
const struct aq_escalation *aq_config_escalation(const struct aq_config *cfg, const char *name)
{
	for (size_t i = 0; name && i < cfg->nescalations; i++) {
		if (cfg->escalations[i].name && strcmp(cfg->escalations[i].name, name) == 0)
			return &cfg->escalations[i];
	}
	return NULL;
}

/* The channel called name, or NULL; the pointer lives as long as cfg. */
const struct aq_channel *aq_config_channel(const struct aq_config *cfg, const char *name)
{
	for (size_t i = 0; name && i < cfg->nchannels; i++) {
		if (cfg->channels[i].name && strcmp(cfg->channels[i].name, name) == 0)
			return &cfg->channels[i];
	}
	return NULL;
}
