/* config.h - alertq.yaml: the whole configuration, loaded and checked at once */
#ifndef ALERTQ_CONFIG_H
#define ALERTQ_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "alertq/util.h"

/* Comparison of a threshold: "> 50000", ">= 1", "< 0.5", "<= 3", "== 0", "!= 0". */
enum aq_op {
	AQ_OP_GT,
	AQ_OP_GE,
	AQ_OP_LT,
	AQ_OP_LE,
	AQ_OP_EQ,
	AQ_OP_NE
};

struct aq_threshold {
	int set; /* 0: the rule has no such threshold */
	enum aq_op op;
	double value;
};

/* Parses a threshold such as "> 50000". Returns 0, or -1 with a message in
 * err (for example "expected an operator (>, >=, <, <=, ==, !=) before '50000'"). */
int aq_threshold_parse(const char *text, struct aq_threshold *t, char *err, size_t errlen);

/* 1 when value meets the threshold, 0 otherwise (and when it is not set). */
int aq_threshold_met(const struct aq_threshold *t, double value);

struct aq_source {
	char *name;
	char *dsn; /* from dsn, or read from the environment variable dsn_env */
	int line;
	char *dsn_env; /* name of the variable, when given; dsn is NULL when it is not set */
};

enum aq_check_kind {
	AQ_CHECK_SQL,
	AQ_CHECK_COMMAND
};

struct aq_check {
	char *name;
	int64_t every_ms;   /* default 1h */
	int64_t timeout_ms; /* default 30s; SQL statement timeout or command kill */
	enum aq_check_kind kind;
	char *source; /* sql: the name of a configured source */
	char *query;  /* sql */
	char **argv;  /* command: NULL-terminated */
	size_t argc;
	char **env; /* command: names of variables the plugin gets besides the
	               * minimal environment (PATH, HOME, LANG, LC_*, TZ...) */
	size_t nenv;
	struct aq_label *labels;
	size_t nlabels;
	int line;
};

/* An annotation of a rule: its key and its parsed template (see
 * lib/notify/template.h), rendered at each transition. */
struct aq_template;
struct aq_annotation {
	char *key;
	struct aq_template *tpl;
	int line;
};

/* A rule's flapping thresholds, percentages of weighted state changes:
 * 0 < low < high <= 100. */
struct aq_flapping {
	int set;     /* 0: no flapping detection */
	double low;  /* it stops flapping below this */
	double high; /* it starts flapping at or above this */
};
/* One `labels:` entry of a rule or an inhibit matcher: the check's label
 * key must equal value, or, for a value written "~RE", match the anchored
 * POSIX extended regular expression RE. A label the check lacks is "". */
struct aq_label_matcher {
	char *key;
	char *value; /* the text after '~' for a regular expression */
	int is_re;
	void *re; /* regex_t *, compiled at load (is_re only); owned by the config */
};

/* Whether labels satisfy every matcher (nm 0: always 1). */
int aq_labels_match(const struct aq_label_matcher *m, size_t nm, const struct aq_label *labels,
		    size_t nlabels);

struct aq_rule {
	char *match; /* glob over check names */
	struct aq_threshold warning;
	struct aq_threshold critical;
	int for_count;          /* consecutive worse results before firing; default 1 */
	char *escalation;       /* name of a policy, or NULL: nothing is notified */
	int64_t stale_after_ms; /* 0: twice the result's interval (none if unknown) */
	int stale_severity;     /* enum aq_status; default AQ_UNKNOWN */
	int line;
	/* annotations: key -> template, at most 32 */
	struct aq_annotation *annotations;
	size_t nannotations;
	/* flapping detection (`flapping: { low, high }`): set 0 leaves it off */
	struct aq_flapping flapping;
	/* label matchers (`labels:`): every one must match, besides the glob */
	struct aq_label_matcher *labels;
	size_t nlabels;
};

/* What a side of an inhibit entry matches: a glob over check names (NULL:
 * every check) and label matchers, as a rule's. */
struct aq_check_match {
	char *match;
	struct aq_label_matcher *labels;
	size_t nlabels;
	int line;
};

/* One entry of `inhibit:`: while a source check fires at source_severity
 * or worse, target checks with the same values of the `equal` labels send
 * nothing (see aq_inhibit_inhibits). */
struct aq_inhibit {
	struct aq_check_match source;
	int source_severity; /* enum aq_status; default AQ_CRITICAL */
	struct aq_check_match target;
	char **equal; /* label names */
	size_t nequal;
	int line;
};

#define AQ_INHIBIT_WAIT_DEFAULT_MS (10LL * 1000)
#define AQ_INHIBIT_MAX 1000

struct aq_level {
	int64_t after_ms;
	char **notify; /* channel names */
	size_t nnotify;
};

struct aq_severity_policy {
	struct aq_level *levels; /* in order of after_ms; nlevels 0: nothing is notified */
	size_t nlevels;
	int64_t repeat_ms; /* 0: no repeats */
};

struct aq_escalation {
	char *name;
	struct aq_severity_policy severity[4]; /* indexed by enum aq_status; [AQ_OK] unused */
	int resolved;                          /* default 1 */
	int line;
};

enum aq_channel_type {
	AQ_CHANNEL_LOGFILE,
	AQ_CHANNEL_SYSLOG,
	AQ_CHANNEL_WEBHOOK,
	AQ_CHANNEL_EMAIL
};
enum aq_webhook_format {
	AQ_FORMAT_JSON,
	AQ_FORMAT_SLACK
};
enum aq_starttls {
	AQ_STARTTLS_REQUIRED,
	AQ_STARTTLS_TRY,
	AQ_STARTTLS_OFF
};

/* Secrets (*_env) are read from the environment when the file is loaded; a
 * variable that is not set leaves the field NULL and the name in *_env, so a
 * channel can say which variable is missing when it is used. */
struct aq_channel {
	char *name;
	enum aq_channel_type type;
	char *url;     /* webhook, email: from url or url_env */
	char *url_env; /* name of the variable, when given */
	enum aq_webhook_format format;
	char *secret; /* webhook HMAC key, from secret_env */
	char *secret_env;
	char *from;
	char **to;
	size_t nto;
	enum aq_starttls starttls;
	char *username; /* from username_env */
	char *username_env;
	char *password; /* from password_env */
	char *password_env;
	int64_t timeout_ms;       /* per request; default 10s */
	int concurrency;          /* requests in flight at once; default 4 */
	int64_t give_up_after_ms; /* default 24h */
	/* retries of a failed delivery wait about retry_initial, doubling up to
	 * retry_max (with jitter); a Retry-After answer can ask for longer */
	int64_t retry_initial_ms; /* default 1s */
	int64_t retry_max_ms;     /* default 10m */
	int line;
	/* message templates (lib/notify/template.h); NULL: the built-in format */
	struct aq_template *template_text;    /* webhook slack: template.text */
	struct aq_template *template_subject; /* email: template.subject */
	struct aq_template *template_body;    /* email, webhook json: template.body */
	/* grouped delivery (group_by): notifications packed into one message
	 * per group key; grouped 0 sends one message per notification */
	int grouped;               /* 1 when group_by is given */
	char **group_by;           /* label names, "check" = the check name; NULL-terminated */
	size_t ngroup_by;          /* 0 with grouped: one group for the whole channel */
	int64_t group_wait_ms;     /* a new group's first message waits this long; default 30s */
	int64_t group_interval_ms; /* later messages of a group at most this often; default 5m */
	int max_alerts;            /* alerts listed in one message; default 20, 1..1000 */
};
#define AQ_GROUP_WAIT_DEFAULT_MS (30LL * 1000)
#define AQ_GROUP_INTERVAL_DEFAULT_MS (5LL * 60 * 1000)
#define AQ_MAX_ALERTS_DEFAULT 20
#define AQ_MAX_ALERTS_LIMIT 1000
#define AQ_GROUP_BY_MAX 32

#define AQ_STATE_MAX_CHECKS_DEFAULT 100000
/* kafka.prefetch_budget_mb: default and highest */
#define AQ_PREFETCH_BUDGET_DEFAULT_MB 16
#define AQ_PREFETCH_BUDGET_MAX_MB 1024
#define AQ_STATE_MAX_CHECKS_LIMIT 10000000
/* state.cache_mb: default and highest (0 turns the cache off) */
#define AQ_STATE_CACHE_DEFAULT_MB 64
#define AQ_STATE_CACHE_MAX_MB 65536
#define AQ_STATE_RETENTION_DEFAULT_MS (90LL * 24 * 3600 * 1000)

/* Every duration in alertq.yaml is at most this long (366 days). */
#define AQ_CONFIG_DURATION_MAX_MS (366LL * 24 * 3600 * 1000)

struct aq_kafka_property {
	char *key;
	char *value;
};

/* What a token of `http.tokens` may do: read < operate (operate reads
 * too); ingest only posts results and alerts. */
enum aq_http_role {
	AQ_ROLE_READ,
	AQ_ROLE_OPERATE,
	AQ_ROLE_INGEST
};

/* An HTTP token of `alertq serve`. The secret is only ever read from the
 * environment (token_env); token is NULL when that variable is not set, and
 * then no request can use the token. */
struct aq_http_token {
	char *name;
	enum aq_http_role role;
	char *token;     /* NULL: token_env is not set */
	char *token_env; /* name of the variable */
	int line;
};

#define AQ_HTTP_LISTEN_DEFAULT "127.0.0.1:9094"
#define AQ_HTTP_TOKENS_MAX 256

struct aq_config {
	char *path;
	/* kafka */
	char *brokers; /* ALERTQ_KAFKA_BROKERS overrides */
	char *topic;
	char *dead_letter_topic;
	char *group;
	struct aq_kafka_property *properties;
	size_t nproperties;
	/* state */
	char *state_dsn; /* ALERTQ_STATE_DSN overrides */
	/* distinct checks the state may hold: results of a new check beyond
	 * it are dead-lettered (1..AQ_STATE_MAX_CHECKS_LIMIT, default
	 * AQ_STATE_MAX_CHECKS_DEFAULT) */
	int state_max_checks;
	/* memory a worker keeps check states in between batches, so that a
	 * batch reads only the others (0..AQ_STATE_CACHE_MAX_MB, 0 off,
	 * default AQ_STATE_CACHE_DEFAULT_MB); state_cache_given: set in the file */
	int state_cache_mb;
	int state_cache_given;
	/* transitions and delivered notifications older than this are pruned
	 * (1ms..366d, default AQ_STATE_RETENTION_DEFAULT_MS: 90 days) */
	int64_t state_retention_ms;
	char *log_dir;

	struct aq_source *sources;
	size_t nsources;
	struct aq_check *checks;
	size_t nchecks;
	struct aq_rule *rules;
	size_t nrules;
	struct aq_escalation *escalations;
	size_t nescalations;
	struct aq_channel *channels;
	size_t nchannels;
	/* http (alertq serve) */
	char *http_listen; /* ADDR:PORT, default AQ_HTTP_LISTEN_DEFAULT */
	struct aq_http_token *http_tokens;
	size_t nhttp_tokens;
	/* inhibition (`inhibit:`, `inhibit_wait`) */
	struct aq_inhibit *inhibits;
	size_t ninhibits;
	int64_t inhibit_wait_ms; /* 0..366d, default AQ_INHIBIT_WAIT_DEFAULT_MS */
	/* kafka.prefetch_budget_mb: what one worker's consumer may hold
	 * fetched ahead, all partitions together, in MiB
	 * (1..AQ_PREFETCH_BUDGET_MAX_MB, default AQ_PREFETCH_BUDGET_DEFAULT_MB) */
	int prefetch_budget_mb;
};

/* Loads and checks the file at path into cfg (which must be zeroed). Every
 * problem found is one line "FILE:LINE: what is wrong" in err (lines
 * separated by '\n', cut at errlen). Returns 0, or -1 with cfg released:
 * a configuration is used whole or not at all. */
int aq_config_load(struct aq_config *cfg, const char *path, char *err, size_t errlen);

/* As aq_config_load, from a buffer; name stands in for the file name. */
int aq_config_parse(struct aq_config *cfg, const char *name, const char *text, size_t len, char *err,
		    size_t errlen);

/* Loads the file at path as a rules file standing in for base's rules
 * (`alertq replay --rules FILE`): a configuration file whose `rules`, and
 * `escalations` and `channels` where it has those sections, are used in
 * place of base's. A section it lacks is a copy of base's, and its
 * references are checked against base's names. Problems come as
 * aq_config_load's ("FILE:LINE: ..."). base is borrowed for the call only;
 * cfg owns everything after (aq_config_release). Returns 0, or -1 with cfg
 * released. */
int aq_config_load_rules(struct aq_config *cfg, const char *path, const struct aq_config *base, char *err,
			 size_t errlen);

/* As aq_config_load_rules, from a buffer; name stands in for the file name. */
int aq_config_parse_rules(struct aq_config *cfg, const char *name, const char *text, size_t len,
			  const struct aq_config *base, char *err, size_t errlen);

/* Frees everything cfg owns and zeroes it. */
void aq_config_release(struct aq_config *cfg);

/* Lookups by name; NULL when there is none. */
const struct aq_source *aq_config_source(const struct aq_config *cfg, const char *name);
const struct aq_escalation *aq_config_escalation(const struct aq_config *cfg, const char *name);
const struct aq_channel *aq_config_channel(const struct aq_config *cfg, const char *name);

/* The first rule, in file order, whose glob matches the check name and whose
 * label matchers match its labels (an absent label is ""); NULL when none
 * does (or check is NULL). The pointer lives as long as cfg. */
const struct aq_rule *aq_config_rule_for(const struct aq_config *cfg, const char *check,
					 const struct aq_label *labels, size_t nlabels);

/* Whether a check matches m: the glob (NULL: any name) and every label matcher. */
int aq_check_match(const struct aq_check_match *m, const char *check, const struct aq_label *labels,
		   size_t nlabels);

/* Rules that an earlier rule always shadows (the earlier rule's glob is "*"
 * or the same text, and each of its label matchers is also on the later rule
 * with the same text): one line "FILE:LINE: warning: rule never matches: the rule at
 * line N matches first" each into out (cut at outlen, may be NULL). Returns
 * how many there are. */
size_t aq_config_shadowed_rules(const struct aq_config *cfg, char *out, size_t outlen);

/* --- inhibition --- */

/* Whether check could be inhibited by any entry: it matches a target. */
int aq_inhibit_any_target(const struct aq_config *cfg, const char *check, const struct aq_label *labels,
			  size_t nlabels);

/* The label value a check has for key ("" when it has none); never NULL. */
const char *aq_label_value(const struct aq_label *labels, size_t nlabels, const char *key);

/* Whether a check (source, with severity source_severity) inhibits another
 * (target) under entry e: they are different checks, the target matches
 * e->target, the source matches e->source at e->source_severity or worse,
 * every `equal` label has the same value on both (absent = ""), and not
 * both match both sides (checks that could each inhibit the other under
 * one entry, such as two uplinks of one site, never silence each other). */
int aq_inhibit_inhibits(const struct aq_inhibit *e, const char *target, const struct aq_label *tlabels,
			size_t ntlabels, const char *source, const struct aq_label *slabels, size_t nslabels,
			int source_severity);

#endif
