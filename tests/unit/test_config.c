/* test_config.c - the configuration loader: every field, defaults, environment, each kind of error */
#include <check.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alertq/config.h"
#include "alertq/event.h"
#include "unit.h"

#define S(x) ((int64_t)(x)*1000)
#define M(x) (S(x) * 60)
#define H(x) (M(x) * 60)
#define D(x) (H(x) * 24)

static void data_path(char *buf, size_t len, const char *file)
{
	const char *dir = getenv("ALERTQ_SOURCE_DIR");
	snprintf(buf, len, "%s/tests/data/config/%s", dir ? dir : ".", file);
}

static void clear_env(void)
{
	unsetenv("ALERTQ_KAFKA_BROKERS");
	unsetenv("ALERTQ_STATE_DSN");
	unsetenv("ALERTQ_TEST_IACT_DSN");
	unsetenv("ALERTQ_TEST_WEBHOOK_SECRET");
	unsetenv("ALERTQ_TEST_SLACK_URL");
	unsetenv("ALERTQ_TEST_SMTP_USER");
	unsetenv("ALERTQ_TEST_SMTP_PASSWORD");
}

/* Parses text that must be good; fails the test with the problems otherwise. */
static void parse_ok(struct aq_config *cfg, const char *text)
{
	char err[4096];
	int rc = aq_config_parse(cfg, "t.yaml", text, strlen(text), err, sizeof(err));
	ck_assert_msg(rc == 0, "unexpected problems:\n%s\nin:\n%s", err, text);
}

START_TEST(full_file)
{
	clear_env();
	setenv("ALERTQ_TEST_IACT_DSN", "postgresql://iact:pw@127.0.0.1/iact", 1);
	setenv("ALERTQ_TEST_WEBHOOK_SECRET", "s3cret", 1);
	setenv("ALERTQ_TEST_SMTP_USER", "mailer", 1);
	/* ALERTQ_TEST_SLACK_URL and ALERTQ_TEST_SMTP_PASSWORD stay unset */
	char path[PATH_MAX], err[4096];
	data_path(path, sizeof(path), "full.yaml");
	struct aq_config cfg = { 0 };
	ck_assert_msg(aq_config_load(&cfg, path, err, sizeof(err)) == 0, "%s", err);

	ck_assert_str_eq(cfg.path, path);
	ck_assert_str_eq(cfg.brokers, "10.0.0.1:9092,10.0.0.2:9092");
	ck_assert_str_eq(cfg.topic, "prod.checks");
	ck_assert_str_eq(cfg.dead_letter_topic, "prod.checks.dlq");
	ck_assert_str_eq(cfg.group, "prod-workers");
	ck_assert_uint_eq(cfg.nproperties, 3);
	ck_assert_str_eq(cfg.properties[0].key, "security.protocol");
	ck_assert_str_eq(cfg.properties[0].value, "SASL_SSL");
	ck_assert_str_eq(cfg.properties[1].key, "enable.idempotence");
	ck_assert_str_eq(cfg.properties[1].value, "true");
	ck_assert_str_eq(cfg.properties[2].key, "linger.ms");
	ck_assert_str_eq(cfg.properties[2].value, "5");
	ck_assert_str_eq(cfg.state_dsn, "postgresql://alertq@db.example:5432/alertq");
	ck_assert_str_eq(cfg.log_dir, "/tmp/alertq-logs");

	ck_assert_uint_eq(cfg.nsources, 2);
	ck_assert_str_eq(cfg.sources[0].name, "app");
	ck_assert_str_eq(cfg.sources[0].dsn, "postgresql://iact@127.0.0.1:5432/iact");
	ck_assert_ptr_null(cfg.sources[0].dsn_env);
	ck_assert_int_eq(cfg.sources[0].line, 16);
	ck_assert_str_eq(cfg.sources[1].name, "secret");
	ck_assert_str_eq(cfg.sources[1].dsn, "postgresql://iact:pw@127.0.0.1/iact");
	ck_assert_str_eq(cfg.sources[1].dsn_env, "ALERTQ_TEST_IACT_DSN");

	ck_assert_uint_eq(cfg.nchecks, 2);
	const struct aq_check *c = &cfg.checks[0];
	ck_assert_str_eq(c->name, "dora.days_since_last_deploy");
	ck_assert_int_eq(c->line, 20);
	ck_assert_int_eq(c->every_ms, H(1));
	ck_assert_int_eq(c->timeout_ms, S(10));
	ck_assert_int_eq(c->kind, AQ_CHECK_SQL);
	ck_assert_str_eq(c->source, "app");
	ck_assert_str_eq(c->query, "SELECT 1");
	ck_assert_ptr_null(c->argv);
	ck_assert_uint_eq(c->nlabels, 2);
	ck_assert_str_eq(c->labels[0].key, "team");
	ck_assert_str_eq(c->labels[0].value, "platform");
	ck_assert_str_eq(c->labels[1].key, "tier");
	ck_assert_str_eq(c->labels[1].value, "1");
	c = &cfg.checks[1];
	ck_assert_str_eq(c->name, "host.disk_root");
	ck_assert_int_eq(c->line, 25);
	ck_assert_int_eq(c->every_ms, M(5));
	ck_assert_int_eq(c->timeout_ms, S(30));
	ck_assert_int_eq(c->kind, AQ_CHECK_COMMAND);
	ck_assert_ptr_null(c->source);
	ck_assert_uint_eq(c->argc, 7);
	const char *argv[] = { "/usr/lib/nagios/plugins/check_disk", "-w", "20%", "-c", "10%", "-p", "/" };
	for (size_t i = 0; i < 7; i++)
		ck_assert_str_eq(c->argv[i], argv[i]);
	ck_assert_ptr_null(c->argv[7]);
	ck_assert_uint_eq(c->nlabels, 0);

	ck_assert_uint_eq(cfg.nrules, 2);
	const struct aq_rule *r = &cfg.rules[0];
	ck_assert_str_eq(r->match, "system.session_rows");
	ck_assert_int_eq(r->line, 30);
	ck_assert_int_eq(r->warning.set, 1);
	ck_assert_int_eq(r->warning.op, AQ_OP_GT);
	ck_assert_double_eq(r->warning.value, 50000);
	ck_assert_int_eq(r->critical.set, 1);
	ck_assert_int_eq(r->critical.op, AQ_OP_GE);
	ck_assert_double_eq(r->critical.value, 100000);
	ck_assert_int_eq(r->for_count, 3);
	ck_assert_str_eq(r->escalation, "default");
	ck_assert_int_eq(r->stale_after_ms, H(2));
	ck_assert_int_eq(r->stale_severity, AQ_CRITICAL);
	r = &cfg.rules[1];
	ck_assert_str_eq(r->match, "*");
	ck_assert_int_eq(r->warning.set, 0);
	ck_assert_int_eq(r->critical.set, 0);
	ck_assert_int_eq(r->for_count, 1);
	ck_assert_str_eq(r->escalation, "default");
	ck_assert_int_eq(r->stale_after_ms, 0);
	ck_assert_int_eq(r->stale_severity, AQ_UNKNOWN);

	ck_assert_uint_eq(cfg.nescalations, 1);
	const struct aq_escalation *e = &cfg.escalations[0];
	ck_assert_str_eq(e->name, "default");
	ck_assert_int_eq(e->resolved, 0);
	ck_assert_uint_eq(e->severity[AQ_OK].nlevels, 0);
	const struct aq_severity_policy *p = &e->severity[AQ_CRITICAL];
	ck_assert_uint_eq(p->nlevels, 2);
	ck_assert_int_eq(p->repeat_ms, H(4));
	ck_assert_int_eq(p->levels[0].after_ms, 0);
	ck_assert_uint_eq(p->levels[0].nnotify, 3);
	ck_assert_str_eq(p->levels[0].notify[0], "logfile");
	ck_assert_str_eq(p->levels[0].notify[1], "syslog");
	ck_assert_str_eq(p->levels[0].notify[2], "ops-webhook");
	ck_assert_int_eq(p->levels[1].after_ms, M(15));
	ck_assert_uint_eq(p->levels[1].nnotify, 1);
	ck_assert_str_eq(p->levels[1].notify[0], "oncall-email");
	p = &e->severity[AQ_WARNING];
	ck_assert_uint_eq(p->nlevels, 1);
	ck_assert_int_eq(p->repeat_ms, 0);
	ck_assert_uint_eq(p->levels[0].nnotify, 2);
	ck_assert_str_eq(p->levels[0].notify[1], "syslog");
	p = &e->severity[AQ_UNKNOWN];
	ck_assert_uint_eq(p->nlevels, 1);
	ck_assert_int_eq(p->levels[0].after_ms, H(1));
	ck_assert_uint_eq(p->levels[0].nnotify, 1);
	ck_assert_str_eq(p->levels[0].notify[0], "ops-slack");

	ck_assert_uint_eq(cfg.nchannels, 5);
	const struct aq_channel *ch = &cfg.channels[0];
	ck_assert_str_eq(ch->name, "logfile");
	ck_assert_int_eq(ch->type, AQ_CHANNEL_LOGFILE);
	ck_assert_int_eq(ch->timeout_ms, S(10));
	ck_assert_int_eq(ch->concurrency, 4);
	ck_assert_int_eq(ch->give_up_after_ms, H(24));
	ck_assert_int_eq(ch->retry_initial_ms, S(1));
	ck_assert_int_eq(ch->retry_max_ms, M(10));
	ck_assert_int_eq(cfg.channels[1].type, AQ_CHANNEL_SYSLOG);
	ch = &cfg.channels[2];
	ck_assert_str_eq(ch->name, "ops-webhook");
	ck_assert_int_eq(ch->type, AQ_CHANNEL_WEBHOOK);
	ck_assert_str_eq(ch->url, "http://127.0.0.1:8099/hook");
	ck_assert_ptr_null(ch->url_env);
	ck_assert_int_eq(ch->format, AQ_FORMAT_JSON);
	ck_assert_str_eq(ch->secret_env, "ALERTQ_TEST_WEBHOOK_SECRET");
	ck_assert_str_eq(ch->secret, "s3cret");
	ck_assert_int_eq(ch->timeout_ms, S(5));
	ck_assert_int_eq(ch->concurrency, 8);
	ck_assert_int_eq(ch->give_up_after_ms, H(2));
	ck_assert_int_eq(ch->retry_initial_ms, S(2));
	ck_assert_int_eq(ch->retry_max_ms, M(1));
	ch = &cfg.channels[3];
	ck_assert_str_eq(ch->name, "ops-slack");
	ck_assert_int_eq(ch->format, AQ_FORMAT_SLACK);
	ck_assert_str_eq(ch->url_env, "ALERTQ_TEST_SLACK_URL");
	ck_assert_ptr_null(ch->url);
	ck_assert_ptr_null(ch->secret);
	ck_assert_ptr_null(ch->secret_env);
	ch = &cfg.channels[4];
	ck_assert_str_eq(ch->name, "oncall-email");
	ck_assert_int_eq(ch->type, AQ_CHANNEL_EMAIL);
	ck_assert_int_eq(ch->line, 62);
	ck_assert_str_eq(ch->url, "smtp://127.0.0.1:2525");
	ck_assert_str_eq(ch->from, "alerts@iact.example");
	ck_assert_uint_eq(ch->nto, 2);
	ck_assert_str_eq(ch->to[0], "admin@iact.example");
	ck_assert_str_eq(ch->to[1], "ops@iact.example");
	ck_assert_int_eq(ch->starttls, AQ_STARTTLS_TRY);
	ck_assert_str_eq(ch->username_env, "ALERTQ_TEST_SMTP_USER");
	ck_assert_str_eq(ch->username, "mailer");
	ck_assert_str_eq(ch->password_env, "ALERTQ_TEST_SMTP_PASSWORD");
	ck_assert_ptr_null(ch->password);

	ck_assert_ptr_eq(aq_config_source(&cfg, "secret"), &cfg.sources[1]);
	ck_assert_ptr_null(aq_config_source(&cfg, "nope"));
	ck_assert_ptr_eq(aq_config_escalation(&cfg, "default"), &cfg.escalations[0]);
	ck_assert_ptr_null(aq_config_escalation(&cfg, "Default"));
	ck_assert_ptr_eq(aq_config_channel(&cfg, "oncall-email"), &cfg.channels[4]);
	ck_assert_ptr_null(aq_config_channel(&cfg, "oncall"));
	ck_assert_ptr_null(aq_config_channel(&cfg, NULL));
	ck_assert_ptr_eq(aq_config_rule_for(&cfg, "system.session_rows", NULL, 0), &cfg.rules[0]);
	ck_assert_ptr_eq(aq_config_rule_for(&cfg, "anything.else", NULL, 0), &cfg.rules[1]);

	aq_config_release(&cfg);
	ck_assert_ptr_null(cfg.path);
	ck_assert_uint_eq(cfg.nchecks, 0);
	aq_config_release(&cfg); /* a released config can be released again */
	clear_env();
}
END_TEST

START_TEST(defaults_on_minimal_file)
{
	clear_env();
	char path[PATH_MAX], err[4096];
	data_path(path, sizeof(path), "minimal.yaml");
	struct aq_config cfg = { 0 };
	ck_assert_msg(aq_config_load(&cfg, path, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(cfg.brokers, "127.0.0.1:9092");
	ck_assert_str_eq(cfg.topic, "alertq.checks");
	ck_assert_str_eq(cfg.dead_letter_topic, "alertq.checks.dlq");
	ck_assert_str_eq(cfg.group, "alertq-workers");
	ck_assert_uint_eq(cfg.nproperties, 0);
	ck_assert_str_eq(cfg.state_dsn, "postgresql://alertq@127.0.0.1:5432/alertq");
	ck_assert_str_eq(cfg.log_dir, "/var/log/alertq");
	ck_assert_int_eq(cfg.state_max_checks, 100000);
	ck_assert_int_eq(cfg.state_retention_ms, D(90));
	ck_assert_int_eq(cfg.prefetch_budget_mb, 16);
	ck_assert_int_eq(cfg.state_cache_mb, 64);
	ck_assert_uint_eq(cfg.nsources, 0);
	ck_assert_uint_eq(cfg.nchecks, 1);
	ck_assert_int_eq(cfg.checks[0].every_ms, H(1));
	ck_assert_int_eq(cfg.checks[0].timeout_ms, S(30));
	ck_assert_int_eq(cfg.checks[0].kind, AQ_CHECK_COMMAND);
	ck_assert_uint_eq(cfg.checks[0].argc, 1);
	ck_assert_uint_eq(cfg.nrules, 0);
	ck_assert_ptr_null(aq_config_rule_for(&cfg, "minimal.check", NULL, 0));
	aq_config_release(&cfg);

	/* defaults inside rules, escalations and channels */
	parse_ok(&cfg, "rules:\n  - match: '*'\n"
		       "escalations:\n  e: {}\n"
		       "channels:\n"
		       "  w: {type: webhook, url: 'http://x/'}\n"
		       "  m: {type: email, url: 'smtp://x', from: a@b, to: c@d}\n");
	ck_assert_int_eq(cfg.rules[0].for_count, 1);
	ck_assert_int_eq(cfg.rules[0].stale_severity, AQ_UNKNOWN);
	ck_assert_int_eq(cfg.rules[0].stale_after_ms, 0);
	ck_assert_ptr_null(cfg.rules[0].escalation);
	ck_assert_int_eq(cfg.escalations[0].resolved, 1);
	ck_assert_uint_eq(cfg.escalations[0].severity[AQ_CRITICAL].nlevels, 0);
	ck_assert_int_eq(cfg.channels[0].format, AQ_FORMAT_JSON);
	ck_assert_int_eq(cfg.channels[0].timeout_ms, S(10));
	ck_assert_int_eq(cfg.channels[0].concurrency, 4);
	ck_assert_int_eq(cfg.channels[0].give_up_after_ms, H(24));
	ck_assert_int_eq(cfg.channels[0].retry_initial_ms, S(1));
	ck_assert_int_eq(cfg.channels[0].retry_max_ms, M(10));
	ck_assert_int_eq(cfg.channels[1].starttls, AQ_STARTTLS_REQUIRED);
	ck_assert_uint_eq(cfg.channels[1].nto, 1);
	ck_assert_str_eq(cfg.channels[1].to[0], "c@d");
	aq_config_release(&cfg);

	/* empty sections are the same as absent ones */
	parse_ok(&cfg, "kafka:\nstate:\nsources:\nchecks:\nrules: []\nescalations: {}\nchannels:\n");
	ck_assert_str_eq(cfg.topic, "alertq.checks");
	ck_assert_uint_eq(cfg.nchecks + cfg.nrules + cfg.nescalations + cfg.nchannels + cfg.nsources, 0);
	aq_config_release(&cfg);
}
END_TEST

START_TEST(prefetch_budget_given)
{
	struct aq_config cfg = { 0 };
	parse_ok(&cfg, "kafka: {prefetch_budget_mb: 48}\n");
	ck_assert_int_eq(cfg.prefetch_budget_mb, 48);
	aq_config_release(&cfg);
}
END_TEST

/* state.cache_mb: 0 turns the cache off, rather than meaning the default */
START_TEST(state_cache_given)
{
	struct aq_config cfg = { 0 };
	parse_ok(&cfg, "state: {cache_mb: 0}\n");
	ck_assert_int_eq(cfg.state_cache_mb, 0);
	aq_config_release(&cfg);
	memset(&cfg, 0, sizeof(cfg));
	parse_ok(&cfg, "state: {cache_mb: 512}\n");
	ck_assert_int_eq(cfg.state_cache_mb, 512);
	aq_config_release(&cfg);
}
END_TEST

START_TEST(environment_overrides)
{
	clear_env();
	struct aq_config cfg = { 0 };
	setenv("ALERTQ_KAFKA_BROKERS", "kafka-1:9092", 1);
	setenv("ALERTQ_STATE_DSN", "postgresql://other/db", 1);
	parse_ok(&cfg, "kafka: {brokers: 'file:9092'}\nstate: {dsn: 'postgresql://file/db'}\n");
	ck_assert_str_eq(cfg.brokers, "kafka-1:9092");
	ck_assert_str_eq(cfg.state_dsn, "postgresql://other/db");
	aq_config_release(&cfg);
	parse_ok(&cfg, "log_dir: /x\n");
	ck_assert_str_eq(cfg.brokers, "kafka-1:9092");
	ck_assert_str_eq(cfg.state_dsn, "postgresql://other/db");
	aq_config_release(&cfg);
	clear_env();
	parse_ok(&cfg, "kafka: {brokers: 'file:9092'}\n");
	ck_assert_str_eq(cfg.brokers, "file:9092");
	aq_config_release(&cfg);
}
END_TEST

START_TEST(env_keys_read_at_load)
{
	clear_env();
	struct aq_config cfg = { 0 };
	const char *text =
		"sources:\n  db: {dsn_env: ALERTQ_TEST_IACT_DSN}\n"
		"checks:\n  - {name: q, sql: {source: db, query: 'select 1'}}\n"
		"channels:\n"
		"  w: {type: webhook, url_env: ALERTQ_TEST_SLACK_URL, secret_env: ALERTQ_TEST_WEBHOOK_SECRET}\n"
		"  m: {type: email, url_env: ALERTQ_TEST_SLACK_URL, from: a@b, to: [c@d],\n"
		"      username_env: ALERTQ_TEST_SMTP_USER, password_env: ALERTQ_TEST_SMTP_PASSWORD}\n";
	/* not set: no error, values NULL, names kept */
	parse_ok(&cfg, text);
	ck_assert_ptr_null(cfg.sources[0].dsn);
	ck_assert_str_eq(cfg.sources[0].dsn_env, "ALERTQ_TEST_IACT_DSN");
	ck_assert_ptr_null(cfg.channels[0].url);
	ck_assert_str_eq(cfg.channels[0].url_env, "ALERTQ_TEST_SLACK_URL");
	ck_assert_ptr_null(cfg.channels[0].secret);
	ck_assert_str_eq(cfg.channels[0].secret_env, "ALERTQ_TEST_WEBHOOK_SECRET");
	ck_assert_ptr_null(cfg.channels[1].username);
	ck_assert_ptr_null(cfg.channels[1].password);
	ck_assert_str_eq(cfg.channels[1].password_env, "ALERTQ_TEST_SMTP_PASSWORD");
	aq_config_release(&cfg);

	setenv("ALERTQ_TEST_IACT_DSN", "postgresql://u:p@h/d", 1);
	setenv("ALERTQ_TEST_SLACK_URL", "https://hooks.example/x", 1);
	setenv("ALERTQ_TEST_WEBHOOK_SECRET", "k", 1);
	setenv("ALERTQ_TEST_SMTP_USER", "u", 1);
	setenv("ALERTQ_TEST_SMTP_PASSWORD", "p", 1);
	parse_ok(&cfg, text);
	ck_assert_str_eq(cfg.sources[0].dsn, "postgresql://u:p@h/d");
	ck_assert_str_eq(cfg.channels[0].url, "https://hooks.example/x");
	ck_assert_str_eq(cfg.channels[0].secret, "k");
	ck_assert_str_eq(cfg.channels[1].url, "https://hooks.example/x");
	ck_assert_str_eq(cfg.channels[1].username, "u");
	ck_assert_str_eq(cfg.channels[1].password, "p");
	aq_config_release(&cfg);

	/* an empty variable counts as not set */
	setenv("ALERTQ_TEST_WEBHOOK_SECRET", "", 1);
	parse_ok(&cfg, text);
	ck_assert_ptr_null(cfg.channels[0].secret);
	aq_config_release(&cfg);
	clear_env();
}
END_TEST

/* Each snippet with exactly the problems it must produce, in order. */
static const struct {
	const char *text;
	const char *want;
} bad[] = {
	/* yaml itself */
	{ "kafka:\n  brokers: [a\n", "t.yaml:3: yaml syntax error: did not find expected ',' or ']' "
				     "(while parsing a flow sequence at line 2)" },
	{ "a: b\n c: d\n", "t.yaml:2: yaml syntax error: mapping values are not allowed in this context" },
	{ "x: \"\\q\"\n", "t.yaml:1: yaml syntax error: found unknown escape character (while parsing a quoted "
			  "scalar at line 1)" },
	{ "", "t.yaml:1: the configuration is empty" },
	{ "# only a comment\n", "t.yaml:1: the configuration is empty" },
	{ "~\n", "t.yaml:1: the configuration is empty" },
	{ "- a\n", "t.yaml:1: the configuration must be a mapping, not a list" },
	{ "log_dir: /x\n---\nlog_dir: /y\n", "t.yaml:3: a second yaml document (the file holds one)" },
	{ "kafka: &k {topic: a}\nstate: *k\n",
	  "t.yaml:2: anchors and aliases are not supported (found alias '*k')" },
	/* keys and node types */
	{ "kafak: {}\n", "t.yaml:1: unknown key 'kafak' in the configuration" },
	{ "kafka:\n  brokers: a\n  brokers: b\n", "t.yaml:3: duplicate key 'brokers' in kafka (first at line 2)" },
	{ "kafka: [a]\n", "t.yaml:1: 'kafka' must be a mapping, not a list" },
	{ "kafka:\n  topic: {a: b}\n", "t.yaml:2: 'topic' must be a string, not a mapping" },
	{ "kafka:\n  topic:\n", "t.yaml:2: 'topic' needs a value" },
	{ "kafka:\n  properties: [a]\n", "t.yaml:2: 'properties' must be a mapping, not a list" },
	{ "kafka:\n  properties: {a: [1]}\n", "t.yaml:2: kafka property 'a' must be a string, not a list" },
	{ "state: {dsn: ''}\n", "t.yaml:1: 'dsn' must not be empty" },
	{ "log_dir: [a]\n", "t.yaml:1: 'log_dir' must be a string, not a list" },
	{ "checks: {a: 1}\n", "t.yaml:1: 'checks' must be a list, not a mapping" },
	{ "rules:\n  - match: x\n    treshold: 5\n", "t.yaml:3: unknown key 'treshold' in rule" },
	/* sources */
	{ "sources:\n  a: {dsn: x}\n  a: {dsn: y}\n", "t.yaml:3: duplicate source 'a' (first at line 2)" },
	{ "sources:\n  a: {}\n", "t.yaml:2: missing 'dsn' or 'dsn_env' in source 'a'" },
	{ "sources:\n  a: {dsn: x, dsn_env: Y}\n", "t.yaml:2: both 'dsn' and 'dsn_env' in source 'a' (give one)" },
	{ "sources:\n  a: {dns: x}\n", "t.yaml:2: unknown key 'dns' in source 'a'\n"
				       "t.yaml:2: missing 'dsn' or 'dsn_env' in source 'a'" },
	/* checks */
	{ "checks:\n  - {command: [x]}\n", "t.yaml:2: missing 'name' in check" },
	{ "checks:\n  - {name: a, command: [x], env: [OK_NAME, 'BAD-NAME']}\n",
	  "t.yaml:2: 'BAD-NAME' in 'env' of check 'a' is not a variable name" },
	{ "sources: {s: {dsn: x}}\nchecks:\n  - {name: a, sql: {source: s, query: q}, env: [X]}\n",
	  "t.yaml:3: 'env' in check 'a' goes with 'command' only" },
	{ "checks:\n  - {name: '', command: [x]}\n", "t.yaml:2: check name is empty" },
	{ "checks:\n  - {name: 'a b', command: [x]}\n",
	  "t.yaml:2: check name 'a b' contains whitespace or control characters" },
	{ "checks:\n  - {name: \"a\\tb\", command: [x]}\n",
	  "t.yaml:2: check name 'a?b' contains whitespace or control characters" },
	{ "checks:\n  - {name: a}\n", "t.yaml:2: missing 'sql' or 'command' in check 'a'" },
	{ "checks:\n  - {name: a, command: [x], sql: {source: s, query: q}}\n",
	  "t.yaml:2: both 'sql' and 'command' in check 'a' (give one)" },
	{ "checks:\n  - {name: a, command: []}\n", "t.yaml:2: 'command' in check 'a' is empty" },
	{ "checks:\n  - {name: a, command: x}\n", "t.yaml:2: 'command' must be a list, not a string" },
	{ "checks:\n  - {name: a, command: [x, [y]]}\n",
	  "t.yaml:2: each command argument must be a string, not a list" },
	{ "checks:\n  - {name: a, sql: {source: db, query: q}}\n", "t.yaml:2: unknown source 'db' in check 'a'" },
	{ "checks:\n  - {name: a, sql: {query: q}}\n", "t.yaml:2: missing 'source' in sql of check 'a'" },
	{ "checks:\n  - {name: a, command: [x]}\n  - {name: b, command: [x]}\n  - {name: a, command: [y]}\n",
	  "t.yaml:4: duplicate check name 'a' (first at line 2)" },
	{ "checks:\n  - {name: a, command: [x], every: 5}\n",
	  "t.yaml:2: 'every': duration '5' has no unit (30s, 15m, 4h, 7d)" },
	{ "checks:\n  - {name: a, command: [x], every: 0s}\n", "t.yaml:2: 'every' must be longer than 0" },
	{ "checks:\n  - {name: a, command: [x], timeout: 5y}\n",
	  "t.yaml:2: 'timeout': invalid duration '5y': unknown unit 'y' (use ms, s, m, h, d, w)" },
	{ "checks:\n  - {name: a, command: [x], labels: [a]}\n",
	  "t.yaml:2: 'labels' must be a mapping, not a list" },
	{ "checks:\n  - name: a\n    evry: 5m\n    command: [x]\n", "t.yaml:3: unknown key 'evry' in check 'a'" },
	{ "checks:\n  - just-a-name\n", "t.yaml:2: each check must be a mapping, not a string" },
	/* rules */
	{ "rules:\n  - {warning: '> 1'}\n", "t.yaml:2: missing 'match' in rule" },
	{ "rules:\n  - {match: x, escalation: pager}\n", "t.yaml:2: unknown escalation 'pager' in rule" },
	{ "rules:\n  - {match: x, warning: '>> 5'}\n",
	  "t.yaml:2: invalid threshold '>> 5': expected a number after '>', found '> 5'" },
	{ "rules:\n  - {match: x, critical: '5'}\n",
	  "t.yaml:2: invalid threshold '5': expected an operator (>, >=, <, <=, ==, !=) before '5'" },
	{ "rules:\n  - {match: x, for: 0}\n", "t.yaml:2: 'for' must be a whole number from 1 to 1000, not '0'" },
	{ "rules:\n  - {match: x, for: 1001}\n",
	  "t.yaml:2: 'for' must be a whole number from 1 to 1000, not '1001'" },
	{ "rules:\n  - {match: x, for: 2.5}\n",
	  "t.yaml:2: 'for' must be a whole number from 1 to 1000, not '2.5'" },
	{ "rules:\n  - {match: x, for: 99999999999999999999999999}\n",
	  "t.yaml:2: 'for' must be a whole number from 1 to 1000, not '99999999999999999999999999'" },
	{ "rules:\n  - {match: x, stale_severity: OK}\n",
	  "t.yaml:2: unknown stale_severity 'OK' in rule (use WARNING, CRITICAL or UNKNOWN)" },
	{ "rules:\n  - {match: x, stale_after: soon}\n",
	  "t.yaml:2: 'stale_after': invalid duration 'soon': expected a number and a unit (30s, 15m, 4h, 7d)" },
	/* escalations */
	{ "escalations:\n  e:\n    critical: {}\n",
	  "t.yaml:3: unknown key 'critical' in escalation 'e' (use CRITICAL, WARNING, UNKNOWN or resolved)" },
	{ "escalations:\n  e:\n    OK: {}\n",
	  "t.yaml:3: unknown key 'OK' in escalation 'e' (use CRITICAL, WARNING, UNKNOWN or resolved)" },
	{ "escalations:\n  e:\n    resolved: maybe\n", "t.yaml:3: 'resolved' must be true or false, not 'maybe'" },
	{ "escalations:\n  e:\n    CRITICAL:\n      levels:\n        - {after: 0s, notify: [pager]}\n",
	  "t.yaml:5: unknown channel 'pager' in escalation 'e'" },
	{ "channels:\n  log: {type: logfile}\n"
	  "escalations:\n  e:\n    WARNING:\n      levels:\n"
	  "        - {after: 15m, notify: [log]}\n        - {after: 5m, notify: [log]}\n",
	  "t.yaml:8: 'after' 5m comes before the previous level's 15m in escalation 'e' (levels go in order)" },
	{ "channels:\n  log: {type: logfile}\n"
	  "escalations:\n  e:\n    WARNING:\n      levels:\n        - {after: 0s}\n      repet: 1h\n",
	  "t.yaml:7: missing 'notify' in a level of escalation 'e'\n"
	  "t.yaml:8: unknown key 'repet' in WARNING of escalation 'e'" },
	{ "escalations:\n  e:\n    UNKNOWN: {levels: {after: 0s}}\n",
	  "t.yaml:3: 'levels' must be a list, not a mapping" },
	/* channels */
	{ "channels:\n  a: {type: pager}\n",
	  "t.yaml:2: unknown channel type 'pager' in channel 'a' (use logfile, syslog, webhook or email)" },
	{ "channels:\n  a: {url: x}\n", "t.yaml:2: missing 'type' in channel 'a'" },
	{ "channels:\n  a: {type: logfile}\n  a: {type: syslog}\n",
	  "t.yaml:3: duplicate channel 'a' (first at line 2)" },
	{ "channels:\n  a: {type: webhook}\n", "t.yaml:2: missing 'url' or 'url_env' in channel 'a'" },
	{ "channels:\n  a: {type: webhook, url: x, url_env: Y}\n",
	  "t.yaml:2: both 'url' and 'url_env' in channel 'a' (give one)" },
	{ "channels:\n  a: {type: webhook, url: x, format: xml}\n",
	  "t.yaml:2: unknown format 'xml' in channel 'a' (use json or slack)" },
	{ "channels:\n  a:\n    type: email\n", "t.yaml:3: missing 'url' or 'url_env' in channel 'a'\n"
						"t.yaml:3: missing 'from' in channel 'a'\n"
						"t.yaml:3: missing 'to' in channel 'a'" },
	{ "channels:\n  a: {type: email, url: x, from: y, to: []}\n", "t.yaml:2: 'to' in channel 'a' is empty" },
	{ "channels:\n  a: {type: email, url: x, from: y, to: z, starttls: maybe}\n",
	  "t.yaml:2: unknown starttls 'maybe' in channel 'a' (use required, try or off)" },
	{ "channels:\n  a: {type: syslog, concurrency: 0}\n",
	  "t.yaml:2: 'concurrency' must be a whole number from 1 to 256, not '0'" },
	{ "channels:\n  a: {type: syslog, concurrency: 257}\n",
	  "t.yaml:2: 'concurrency' must be a whole number from 1 to 256, not '257'" },
	{ "channels:\n  a: {type: syslog, timeout: 0}\n", "t.yaml:2: 'timeout' must be longer than 0" },
	{ "channels:\n  a: {type: syslog, retry_initial: 0s}\n", "t.yaml:2: 'retry_initial' must be longer than 0" },
	{ "channels:\n  a: {type: syslog, retry_initial: 1m, retry_max: 10s}\n",
	  "t.yaml:2: 'retry_max' in channel 'a' is shorter than 'retry_initial'" },
	/* bounds: the state's size and age, and every duration at most a year */
	{ "state:\n  max_checks: 0\n  retention: 0s\n",
	  "t.yaml:2: 'max_checks' must be a whole number from 1 to 10000000, not '0'\n"
	  "t.yaml:3: 'retention' must be longer than 0" },
	{ "state: {max_checks: 10000001, retention: 367d}\n",
	  "t.yaml:1: 'max_checks' must be a whole number from 1 to 10000000, not '10000001'\n"
	  "t.yaml:1: 'retention' must be at most 366d, not '367d'" },
	/* the consumer's prefetch budget */
	{ "kafka: {prefetch_budget_mb: 0}\n",
	  "t.yaml:1: 'prefetch_budget_mb' must be a whole number from 1 to 1024, not '0'" },
	{ "state: {cache_mb: -1}\n",
	  "t.yaml:1: 'cache_mb' must be a whole number from 0 to 65536, not '-1'" },
	{ "kafka: {prefetch_budget_mb: 1025}\n",
	  "t.yaml:1: 'prefetch_budget_mb' must be a whole number from 1 to 1024, not '1025'" },
	{ "state: {max_checks: many, size: 3}\n",
	  "t.yaml:1: unknown key 'size' in state\n"
	  "t.yaml:1: 'max_checks' must be a whole number from 1 to 10000000, not 'many'" },
	{ "checks:\n  - {name: a, command: [x], every: 53w, timeout: 31622401s}\n"
	  "rules:\n  - {match: x, stale_after: 367d}\n"
	  "escalations:\n  e:\n    CRITICAL:\n      levels: [{after: 8785h, notify: [c]}]\n"
	  "      repeat: 1000d\n"
	  "channels:\n  c: {type: logfile, give_up_after: 400d, timeout: 367d}\n",
	  "t.yaml:2: 'every' must be at most 366d, not '53w'\n"
	  "t.yaml:2: 'timeout' must be at most 366d, not '31622401s'\n"
	  "t.yaml:4: 'stale_after' must be at most 366d, not '367d'\n"
	  "t.yaml:8: 'after' must be at most 366d, not '8785h'\n"
	  "t.yaml:9: 'repeat' must be at most 366d, not '1000d'\n"
	  "t.yaml:11: 'timeout' must be at most 366d, not '367d'\n"
	  "t.yaml:11: 'give_up_after' must be at most 366d, not '400d'" },
	{ "channels:\n  a: logfile\n", "t.yaml:2: channel 'a' must be a mapping, not a string" },
	/* annotations and templates */
	{ "rules:\n  - match: x\n    annotations:\n      summary: \"{{chek}} is bad\"\n",
	  "t.yaml:4: annotation 'summary' of rule: unknown placeholder '{{chek}}' at line 1, column 1 of the "
	  "template" },
	{ "rules:\n  - match: x\n    annotations: {a: \"{{annotations.b}}\"}\n",
	  "t.yaml:3: annotation 'a' of rule: an annotation cannot name another: '{{annotations.b}}' at line 1, "
	  "column 1 of the template" },
	{ "rules:\n  - match: x\n    annotations: {a: \"{{#value}}x\"}\n",
	  "t.yaml:3: annotation 'a' of rule: unclosed section 'value' at line 1, column 1 of the template" },
	{ "rules:\n  - match: x\n    annotations: {run-book: x}\n",
	  "t.yaml:3: annotation name 'run-book' must be 1 to 128 letters, digits or '_'" },
	{ "rules:\n  - match: x\n    annotations: {a: x, a: y}\n",
	  "t.yaml:3: duplicate annotation 'a' (first at line 3)" },
	{ "rules:\n  - match: x\n    annotations: {a: [x]}\n",
	  "t.yaml:3: annotation 'a' must be a string, not a list" },
	{ "rules:\n  - match: x\n    annotations: {a0: x, a1: x, a2: x, a3: x, a4: x, a5: x, a6: x, a7: x, a8: x,"
	  " a9: x, b0: x, b1: x, b2: x, b3: x, b4: x, b5: x, b6: x, b7: x, b8: x, b9: x, c0: x, c1: x, c2: x,"
	  " c3: x, c4: x, c5: x, c6: x, c7: x, c8: x, c9: x, d0: x, d1: x, d2: x}\n",
	  "t.yaml:3: a rule has 33 annotations, at most 32 are allowed" },
	{ "channels:\n  s:\n    type: webhook\n    url: http://x\n    format: slack\n"
	  "    template:\n      text: \"{{check}} {{/value}}\"\n",
	  "t.yaml:7: template.text of channel 's': end of a section that is not open: '{{/value}}' at line 1, "
	  "column 11 of the template" },
	{ "channels:\n  s: {type: webhook, url: http://x, format: slack, template: {text: \"a\\n{{#check}}{{/value}}\"}}\n",
	  "t.yaml:2: template.text of channel 's': end of a section that is not the open one: '{{/value}}' at "
	  "line 2, column 11 of the template" },
	{ "channels:\n  s: {type: webhook, url: http://x, format: slack, template: {body: x}}\n",
	  "t.yaml:2: 'template.body' in channel 's' does not fit a slack webhook (it takes template.text)" },
	{ "channels:\n  j: {type: webhook, url: http://x, template: {text: x}}\n",
	  "t.yaml:2: 'template.text' in channel 'j' does not fit a json webhook (it takes template.body)" },
	{ "channels:\n  m: {type: email, url: smtp://x, from: a, to: [b], template: {text: x}}\n",
	  "t.yaml:2: 'template.text' in channel 'm' does not fit an email channel (it takes template.subject "
	  "and body)" },
	{ "channels:\n  l: {type: logfile, template: {text: x}}\n",
	  "t.yaml:2: 'template' in channel 'l' goes with webhook and email channels only" },
	{ "channels:\n  j: {type: webhook, url: http://x, template: {bdy: x}}\n",
	  "t.yaml:2: unknown key 'bdy' in channel 'j'" },
	{ "channels:\n  j: {type: webhook, url: http://x, template: {body: '{\"v\": \"{{value}}\"'}}\n",
	  "t.yaml:2: template.body of channel 'j', rendered for the sample alert: the rendered body is not JSON: "
	  "'}' expected near end of file at line 1, column 14" },
	{ "channels:\n  j: {type: webhook, url: http://x, template: {body: '{\"v\": 1{{#message}}}{{/message}}'}}\n",
	  "t.yaml:2: template.body of channel 'j', rendered for an alert with every value empty: the rendered "
	  "body is not JSON: '}' expected near end of file at line 1, column 7" },
	{ "channels:\n  m: {type: email, url: smtp://x, from: a, to: [b], template: {subject: \"{{labels.}}\"}}\n",
	  "t.yaml:2: template.subject of channel 'm': unknown placeholder '{{labels.}}' at line 1, column 1 of "
	  "the template" },

	/* several problems at once, reported in line order */
	{ "rules:\n  - {match: x, for: 0, escalation: none}\n"
	  "kafak: {}\n"
	  "checks:\n  - {name: 'bad name', command: []}\n",
	  "t.yaml:2: 'for' must be a whole number from 1 to 1000, not '0'\n"
	  "t.yaml:2: unknown escalation 'none' in rule\n"
	  "t.yaml:3: unknown key 'kafak' in the configuration\n"
	  "t.yaml:5: check name 'bad name' contains whitespace or control characters\n"
	  "t.yaml:5: 'command' in check 'bad name' is empty" },
};

/* a command check lists the variables its plugin may see */
START_TEST(command_env_list)
{
	struct aq_config cfg = { 0 };
	parse_ok(&cfg, "checks:\n  - {name: a, command: [x], env: [IACT_DSN, _X1]}\n");
	ck_assert_uint_eq(cfg.checks[0].nenv, 2);
	ck_assert_str_eq(cfg.checks[0].env[0], "IACT_DSN");
	ck_assert_str_eq(cfg.checks[0].env[1], "_X1");
	aq_config_release(&cfg);
}
END_TEST

START_TEST(bad_snippets)
{
	const char *text = bad[_i].text;
	const char *want = bad[_i].want;
	struct aq_config cfg = { 0 };
	char err[4096];
	memset(err, 'x', sizeof(err));
	int rc = aq_config_parse(&cfg, "t.yaml", text, strlen(text), err, sizeof(err));
	ck_assert_msg(rc == -1, "snippet %d was accepted:\n%s", _i, text);
	ck_assert_msg(strcmp(err, want) == 0, "snippet %d:\n%s\nwant:\n%s\ngot:\n%s", _i, text, want, err);
	/* a failed load leaves nothing behind */
	ck_assert_ptr_null(cfg.path);
	ck_assert_ptr_null(cfg.brokers);
	ck_assert_uint_eq(cfg.nchecks + cfg.nrules + cfg.nchannels + cfg.nescalations + cfg.nsources, 0);
}
END_TEST

START_TEST(names_are_capped)
{
	char name[300], text[1024], err[4096];
	memset(name, 'n', sizeof(name));
	name[255] = '\0';
	struct aq_config cfg = { 0 };
	snprintf(text, sizeof(text),
		 "checks:\n  - {name: %s, command: [x]}\nchannels:\n  %s: {type: syslog}\n", name, name);
	parse_ok(&cfg, text);
	ck_assert_uint_eq(strlen(cfg.checks[0].name), 255);
	aq_config_release(&cfg);

	name[255] = 'n';
	name[256] = '\0';
	snprintf(text, sizeof(text),
		 "checks:\n  - {name: %s, command: [x]}\nchannels:\n  %s: {type: syslog}\n", name, name);
	ck_assert_int_eq(aq_config_parse(&cfg, "t.yaml", text, strlen(text), err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "t.yaml:2: check name 'nnnnnnnn") == err, "%s", err);
	ck_assert_msg(strstr(err, "...' is longer than 255 bytes\nt.yaml:4: a channel name 'nnn") != NULL,
		      "%s", err);
}
END_TEST

START_TEST(error_text_is_cut_safely)
{
	const char *text = "a: 1\nb: 2\nc: 3\n";
	struct aq_config cfg = { 0 };
	char err[40];
	memset(err, 'x', sizeof(err));
	ck_assert_int_eq(aq_config_parse(&cfg, "t.yaml", text, strlen(text), err, 20), -1);
	ck_assert_uint_eq(strlen(err), 19);
	ck_assert_int_eq(err[20], 'x');
	ck_assert_str_eq(err, "t.yaml:1: unknown k");
	ck_assert_int_eq(aq_config_parse(&cfg, "t.yaml", text, strlen(text), err, 1), -1);
	ck_assert_str_eq(err, "");
	ck_assert_int_eq(aq_config_parse(&cfg, "t.yaml", text, strlen(text), NULL, 0), -1);
	ck_assert_int_eq(aq_config_parse(&cfg, "t.yaml", NULL, 0, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "t.yaml:1: the configuration is empty");
}
END_TEST

START_TEST(hostile_input)
{
	struct aq_config cfg = { 0 };
	char err[4096];
	size_t big = 1024 * 1024 + 1;
	char *buf = malloc(big + 1);
	ck_assert_ptr_nonnull(buf);

	memset(buf, '[', big);
	ck_assert_int_eq(aq_config_parse(&cfg, "t.yaml", buf, big, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "t.yaml:1: the file is larger than 1 MiB");

	ck_assert_int_eq(aq_config_parse(&cfg, "t.yaml", buf, big - 1, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "t.yaml:1: nesting deeper than 64 levels");

	size_t n = 0;
	n += (size_t)sprintf(buf + n, "checks:\n");
	for (int i = 0; i < 100; i++)
		n += (size_t)sprintf(buf + n, "%*s-\n", i * 2 + 2, "");
	ck_assert_int_eq(aq_config_parse(&cfg, "t.yaml", buf, n, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "t.yaml:65: nesting deeper than 64 levels");

	/* a billion laughs never gets to be built */
	const char *laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
			     "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
			     "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n";
	ck_assert_int_eq(aq_config_parse(&cfg, "t.yaml", laughs, strlen(laughs), err, sizeof(err)), -1);
	ck_assert_str_eq(err, "t.yaml:2: anchors and aliases are not supported (found alias '*a')");
	const char *self = "&a [*a]\n";
	ck_assert_int_eq(aq_config_parse(&cfg, "t.yaml", self, strlen(self), err, sizeof(err)), -1);
	ck_assert_str_eq(err, "t.yaml:1: anchors and aliases are not supported (found alias '*a')");

	/* bytes that are no text, a NUL inside a value, a huge number */
	const char junk[] = "checks: \xff\xfe\x00\x01";
	ck_assert_int_eq(aq_config_parse(&cfg, "t.yaml", junk, sizeof(junk) - 1, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "t.yaml:1: yaml syntax error: invalid leading UTF-8 octet");
	const char *nul = "log_dir: \"/var\\0/x\"\n";
	ck_assert_int_eq(aq_config_parse(&cfg, "t.yaml", nul, strlen(nul), err, sizeof(err)), -1);
	ck_assert_str_eq(err, "t.yaml:1: 'log_dir' contains a NUL byte");
	const char *huge = "rules:\n  - {match: x, warning: '> 1e999', for: 1e999}\n";
	ck_assert_int_eq(aq_config_parse(&cfg, "t.yaml", huge, strlen(huge), err, sizeof(err)), -1);
	ck_assert_str_eq(err, "t.yaml:2: invalid threshold '> 1e999': '1e999' is not a finite number\n"
			      "t.yaml:2: 'for' must be a whole number from 1 to 1000, not '1e999'");

	/* more problems than are kept: the rest are counted */
	n = 0;
	for (int i = 0; i < 1500; i++)
		n += (size_t)sprintf(buf + n, "k%d: 1\n", i);
	char *long_err = malloc(1 << 20);
	ck_assert_int_eq(aq_config_parse(&cfg, "t.yaml", buf, n, long_err, 1 << 20), -1);
	ck_assert_msg(strstr(long_err, "t.yaml:1000: unknown key 'k999' in the configuration\n"
				       "t.yaml: 500 more problems not shown") != NULL,
		      "%s", long_err + strlen(long_err) - 200);
	free(long_err);

	/* every prefix and many mangled copies of a good file: errors, never crashes */
	char path[PATH_MAX];
	data_path(path, sizeof(path), "full.yaml");
	FILE *f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	size_t len = fread(buf, 1, big, f);
	fclose(f);
	for (size_t i = 0; i < len; i += 7) {
		if (aq_config_parse(&cfg, "t.yaml", buf, i, err, sizeof(err)) == 0)
			aq_config_release(&cfg);
	}
	unsigned seed = 12345;
	char *copy = malloc(len);
	for (int round = 0; round < 300; round++) {
		memcpy(copy, buf, len);
		for (int k = 0; k < 4; k++) {
			seed = seed * 1103515245u + 12345u;
			size_t at = (seed >> 8) % len;
			seed = seed * 1103515245u + 12345u;
			copy[at] = "[]{}:,-&*!|>'\"#\n \t\0x9"[(seed >> 8) % 22];
		}
		if (aq_config_parse(&cfg, "t.yaml", copy, len, err, sizeof(err)) == 0)
			aq_config_release(&cfg);
	}
	free(copy);
	free(buf);
}
END_TEST

START_TEST(load_errors)
{
	struct aq_config cfg = { 0 };
	char err[4096];
	ck_assert_int_eq(aq_config_load(&cfg, "/nonexistent/alertq.yaml", err, sizeof(err)), -1);
	ck_assert_str_eq(
		err, "/nonexistent/alertq.yaml: cannot open the configuration: No such file or directory");
	char path[PATH_MAX];
	data_path(path, sizeof(path), "");
	ck_assert_int_eq(aq_config_load(&cfg, path, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "cannot read the configuration: Is a directory") != NULL, "%s", err);
}
END_TEST

START_TEST(rules_only_file)
{
	clear_env();
	char path[PATH_MAX], err[4096];
	data_path(path, sizeof(path), "rules-only.yaml");
	struct aq_config cfg = { 0 };
	ck_assert_msg(aq_config_load(&cfg, path, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(cfg.nchecks, 0);
	ck_assert_uint_eq(cfg.nrules, 2);
	ck_assert_uint_eq(cfg.nescalations, 1);
	ck_assert_uint_eq(cfg.nchannels, 1);
	ck_assert_str_eq(aq_config_rule_for(&cfg, "db.rows", NULL, 0)->escalation, "page");
	ck_assert_ptr_null(aq_config_rule_for(&cfg, "web.latency", NULL, 0)->escalation);
	aq_config_release(&cfg);
}
END_TEST

/* A rules file (replay --rules) over a base configuration: its own
 * sections stand in, the ones it lacks are the base's, and references are
 * checked against whichever is used. */
START_TEST(rules_file_over_base)
{
	static const char *const base_text = "rules:\n  - {match: '*', escalation: pager}\n"
					     "escalations:\n  pager: {CRITICAL: {levels: [{notify: [log]}]}}\n"
					     "channels:\n  log: {type: logfile}\n  hook: {type: webhook, url: "
					     "'http://x/', format: slack}\n";
	struct aq_config base = { 0 }, rules = { 0 };
	char err[4096];
	parse_ok(&base, base_text);

	/* rules only: the base's escalations and channels, copied */
	const char *text = "rules:\n  - {match: 'db.*', critical: '> 5', escalation: pager}\n";
	ck_assert_msg(aq_config_parse_rules(&rules, "r.yaml", text, strlen(text), &base, err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_uint_eq(rules.nrules, 1);
	ck_assert_uint_eq(rules.nescalations, 1);
	ck_assert_uint_eq(rules.nchannels, 2);
	ck_assert_ptr_ne(rules.escalations[0].name, base.escalations[0].name);
	ck_assert_str_eq(aq_config_escalation(&rules, "pager")->severity[AQ_CRITICAL].levels[0].notify[0], "log");
	ck_assert_int_eq(aq_config_channel(&rules, "hook")->format, AQ_FORMAT_SLACK);
	ck_assert_str_eq(aq_config_channel(&rules, "hook")->url, "http://x/");
	aq_config_release(&rules);

	/* its own escalations, over the base's channels */
	text = "rules:\n  - {match: '*', escalation: loud}\n"
	       "escalations:\n  loud: {WARNING: {levels: [{notify: [hook, log]}]}}\n";
	ck_assert_msg(aq_config_parse_rules(&rules, "r.yaml", text, strlen(text), &base, err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_uint_eq(rules.nescalations, 1);
	ck_assert_ptr_null(aq_config_escalation(&rules, "pager"));
	ck_assert_uint_eq(aq_config_escalation(&rules, "loud")->severity[AQ_WARNING].levels[0].nnotify, 2);
	ck_assert_uint_eq(rules.nchannels, 2);
	aq_config_release(&rules);

	/* references to what neither has, with the rules file's lines */
	text = "# what if\nrules:\n  - {match: '*', escalation: pager}\n  - {match: x, escalation: none}\n"
	       "escalations:\n  e: {CRITICAL: {levels: [{notify: [nobody]}]}}\n";
	ck_assert_int_eq(aq_config_parse_rules(&rules, "r.yaml", text, strlen(text), &base, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "r.yaml:3: unknown escalation 'pager' in rule\n"
			      "r.yaml:4: unknown escalation 'none' in rule\n"
			      "r.yaml:6: unknown channel 'nobody' in escalation 'e'");
	ck_assert_ptr_null(rules.rules);
	text = "rules:\n  - match: '*'\n    warning: '~ 3'\n";
	ck_assert_int_eq(aq_config_parse_rules(&rules, "r.yaml", text, strlen(text), &base, err, sizeof(err)), -1);
	ck_assert_msg(strncmp(err, "r.yaml:3: invalid threshold", 27) == 0, "%s", err);
	aq_config_release(&base);
}
END_TEST

START_TEST(rule_for_first_match_wins)
{
	struct aq_config cfg = { 0 };
	parse_ok(&cfg, "rules:\n"
		       "  - match: 'db.replica[0-9]'\n"
		       "  - match: 'db.*'\n"
		       "  - match: '*.latency'\n"
		       "  - match: 'exact.name'\n"
		       "  - match: 'exact.name'\n");
	static const struct {
		const char *check;
		int rule; /* index, -1: none */
	} cases[] = {
		{ "db.replica1", 0 },
		{ "db.replica10", 1 },
		{ "db.rows", 1 },
		{ "db.latency", 1 },
		{ "web.latency", 2 },
		{ "exact.name", 3 },
		{ "exact.names", -1 },
		{ "", -1 },
		{ "DB.rows", -1 },
		{ "a/b.latency", 2 },
		{ ".latency", 2 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct aq_rule *r = aq_config_rule_for(&cfg, cases[i].check, NULL, 0);
		if (cases[i].rule < 0)
			ck_assert_msg(r == NULL, "'%s' matched rule %d", cases[i].check,
				      (int)(r - cfg.rules));
		else
			ck_assert_msg(r == &cfg.rules[cases[i].rule], "'%s': want rule %d, got %d",
				      cases[i].check, cases[i].rule, r ? (int)(r - cfg.rules) : -1);
	}
	ck_assert_ptr_null(aq_config_rule_for(&cfg, NULL, NULL, 0));
	aq_config_release(&cfg);
	ck_assert_ptr_null(aq_config_rule_for(&cfg, "db.rows", NULL, 0));
}
END_TEST

START_TEST(state_section)
{
	struct aq_config cfg = { 0 };
	parse_ok(&cfg, "state:\n  dsn: postgresql://x/y\n  max_checks: 250\n  retention: 366d\n");
	ck_assert_str_eq(cfg.state_dsn, "postgresql://x/y");
	ck_assert_int_eq(cfg.state_max_checks, 250);
	ck_assert_int_eq(cfg.state_retention_ms, D(366));
	aq_config_release(&cfg);
	parse_ok(&cfg, "state: {max_checks: 10000000, retention: 1ms}\n");
	ck_assert_int_eq(cfg.state_max_checks, 10000000);
	ck_assert_int_eq(cfg.state_retention_ms, 1);
	aq_config_release(&cfg);
}
END_TEST

START_TEST(durations_in_config)
{
	struct aq_config cfg = { 0 };
	parse_ok(&cfg, "checks:\n"
		       "  - {name: a, command: [x], every: 250ms, timeout: 1s}\n"
		       "  - {name: b, command: [x], every: 7d, timeout: 2w}\n"
		       "  - {name: c, command: [x], every: 90m, timeout: 36h}\n"
		       "rules:\n  - {match: x, stale_after: 0}\n"
		       "escalations:\n  e: {CRITICAL: {repeat: 0s}}\n");
	ck_assert_int_eq(cfg.checks[0].every_ms, 250);
	ck_assert_int_eq(cfg.checks[0].timeout_ms, S(1));
	ck_assert_int_eq(cfg.checks[1].every_ms, D(7));
	ck_assert_int_eq(cfg.checks[1].timeout_ms, D(14));
	ck_assert_int_eq(cfg.checks[2].every_ms, M(90));
	ck_assert_int_eq(cfg.checks[2].timeout_ms, H(36));
	ck_assert_int_eq(cfg.rules[0].stale_after_ms, 0);
	ck_assert_int_eq(cfg.escalations[0].severity[AQ_CRITICAL].repeat_ms, 0);
	aq_config_release(&cfg);

	static const char *const bad_durations[] = { "-5s", "5", "1.5h", "s", "5 m", "999999931622401s",
						     "''" };
	for (size_t i = 0; i < sizeof(bad_durations) / sizeof(bad_durations[0]); i++) {
		char text[256], err[4096];
		snprintf(text, sizeof(text), "checks:\n  - {name: a, command: [x], every: %s}\n",
			 bad_durations[i]);
		ck_assert_msg(aq_config_parse(&cfg, "t.yaml", text, strlen(text), err, sizeof(err)) == -1,
			      "%s", bad_durations[i]);
		ck_assert_msg(strncmp(err, "t.yaml:2: 'every'", 17) == 0, "%s: %s", bad_durations[i], err);
	}
}
END_TEST

START_TEST(booleans)
{
	static const struct {
		const char *text;
		int value; /* -1: refused */
	} cases[] = {
		{ "true", 1 },
		{ "yes", 1 },
		{ "false", 0 },
		{ "no", 0 },
		{ "on", -1 },
		{ "1", -1 },
		{ "TRUE", -1 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[128], err[4096];
		struct aq_config cfg = { 0 };
		snprintf(text, sizeof(text), "escalations:\n  e: {resolved: %s}\n", cases[i].text);
		int rc = aq_config_parse(&cfg, "t.yaml", text, strlen(text), err, sizeof(err));
		if (cases[i].value < 0) {
			ck_assert_int_eq(rc, -1);
			continue;
		}
		ck_assert_msg(rc == 0, "%s", err);
		ck_assert_int_eq(cfg.escalations[0].resolved, cases[i].value);
		aq_config_release(&cfg);
	}
}
END_TEST

static const struct {
	const char *text;
	enum aq_op op;
	double value;
} good_thresholds[] = {
	{ "> 50000", AQ_OP_GT, 50000 },
	{ ">=1", AQ_OP_GE, 1 },
	{ "< 0.5", AQ_OP_LT, 0.5 },
	{ "<= 3", AQ_OP_LE, 3 },
	{ "== 0", AQ_OP_EQ, 0 },
	{ "!= 0", AQ_OP_NE, 0 },
	{ "  >   -2.5  ", AQ_OP_GT, -2.5 },
	{ "<1e3", AQ_OP_LT, 1000 },
	{ ">= +7", AQ_OP_GE, 7 },
	{ "\t== 0x10", AQ_OP_EQ, 16 },
	{ "> .5", AQ_OP_GT, 0.5 },
	{ "!= -0", AQ_OP_NE, 0 },
};

START_TEST(threshold_parse_good)
{
	struct aq_threshold t = { 0 };
	char err[256] = "";
	ck_assert_msg(aq_threshold_parse(good_thresholds[_i].text, &t, err, sizeof(err)) == 0, "'%s': %s",
		      good_thresholds[_i].text, err);
	ck_assert_int_eq(t.set, 1);
	ck_assert_int_eq(t.op, good_thresholds[_i].op);
	ck_assert_double_eq(t.value, good_thresholds[_i].value);
}
END_TEST

static const struct {
	const char *text;
	const char *want;
} bad_thresholds[] = {
	{ "", "invalid threshold '': empty (write for example '> 50000')" },
	{ "   ", "invalid threshold '   ': empty (write for example '> 50000')" },
	{ "50000", "invalid threshold '50000': expected an operator (>, >=, <, <=, ==, !=) before '50000'" },
	{ ">> 5", "invalid threshold '>> 5': expected a number after '>', found '> 5'" },
	{ "=> 5", "invalid threshold '=> 5': expected an operator (>, >=, <, <=, ==, !=) before '=> 5'" },
	{ "= 5", "invalid threshold '= 5': expected an operator (>, >=, <, <=, ==, !=) before '= 5'" },
	{ "<> 5", "invalid threshold '<> 5': expected a number after '<', found '> 5'" },
	{ "> = 5", "invalid threshold '> = 5': expected a number after '>', found '= 5'" },
	{ ">", "invalid threshold '>': expected a number after '>'" },
	{ ">=  ", "invalid threshold '>=  ': expected a number after '>='" },
	{ "> 5x", "invalid threshold '> 5x': expected a number after '>', found '5x'" },
	{ "> 5 6", "invalid threshold '> 5 6': expected a number after '>', found '5 6'" },
	{ "> five", "invalid threshold '> five': expected a number after '>', found 'five'" },
	{ "> inf", "invalid threshold '> inf': 'inf' is not a finite number" },
	{ "< nan", "invalid threshold '< nan': 'nan' is not a finite number" },
	{ "> 1e400", "invalid threshold '> 1e400': '1e400' is not a finite number" },
	{ "> -1e400", "invalid threshold '> -1e400': '-1e400' is not a finite number" },
};

START_TEST(threshold_parse_bad)
{
	struct aq_threshold t = { 0 };
	char err[256] = "";
	ck_assert_int_eq(aq_threshold_parse(bad_thresholds[_i].text, &t, err, sizeof(err)), -1);
	ck_assert_str_eq(err, bad_thresholds[_i].want);
	ck_assert_int_eq(t.set, 0);
}
END_TEST

START_TEST(threshold_met)
{
	static const struct {
		const char *threshold;
		double value;
		int met;
	} cases[] = {
		{ "> 10", 10.5, 1 },
		{ "> 10", 10, 0 },
		{ "> 10", 9, 0 },
		{ "> -1", -0.5, 1 },
		{ ">= 10", 10, 1 },
		{ ">= 10", 10.001, 1 },
		{ ">= 10", 9.999, 0 },
		{ "< 0.5", 0.4, 1 },
		{ "< 0.5", 0.5, 0 },
		{ "< 0.5", 0.6, 0 },
		{ "<= 3", 3, 1 },
		{ "<= 3", 2, 1 },
		{ "<= 3", 3.0001, 0 },
		{ "== 0", 0, 1 },
		{ "== 0", -0.0, 1 },
		{ "== 0", 0.001, 0 },
		{ "== 2.5", 2.5, 1 },
		{ "!= 0", 0, 0 },
		{ "!= 0", 1, 1 },
		{ "!= 0", -1, 1 },
		{ "> 1e300", 1e308, 1 },
		{ "< -5", -5, 0 },
		{ "< -5", -6, 1 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct aq_threshold t = { 0 };
		char err[256];
		ck_assert_int_eq(aq_threshold_parse(cases[i].threshold, &t, err, sizeof(err)), 0);
		ck_assert_msg(aq_threshold_met(&t, cases[i].value) == cases[i].met, "'%s' with %g: want %d",
			      cases[i].threshold, cases[i].value, cases[i].met);
		/* NaN meets nothing, not even != */
		ck_assert_int_eq(aq_threshold_met(&t, NAN), 0);
	}
	struct aq_threshold unset = { 0 };
	ck_assert_int_eq(aq_threshold_met(&unset, 1e9), 0);
	ck_assert_int_eq(aq_threshold_met(&unset, -1e9), 0);
	ck_assert_int_eq(aq_threshold_met(NULL, 0), 0);
}
END_TEST

START_TEST(http_section)
{
	struct aq_config cfg = { 0 };
	char err[4096];
	unsetenv("ALERTQ_TEST_TOKEN_UNSET");
	setenv("ALERTQ_TEST_TOKEN_OPS", "t0ps", 1);
	parse_ok(&cfg, "kafka: {}\n");
	ck_assert_str_eq(cfg.http_listen, "127.0.0.1:9094");
	ck_assert_uint_eq(cfg.nhttp_tokens, 0);
	aq_config_release(&cfg);
	parse_ok(&cfg, "http:\n  listen: 0.0.0.0:8080\n  tokens:\n"
		       "    - { name: grafana, role: read, token_env: ALERTQ_TEST_TOKEN_UNSET }\n"
		       "    - { name: ops, role: operate, token_env: ALERTQ_TEST_TOKEN_OPS }\n"
		       "    - { name: prom, role: ingest, token_env: ALERTQ_TEST_TOKEN_UNSET }\n");
	ck_assert_str_eq(cfg.http_listen, "0.0.0.0:8080");
	ck_assert_uint_eq(cfg.nhttp_tokens, 3);
	ck_assert_str_eq(cfg.http_tokens[0].name, "grafana");
	ck_assert_int_eq(cfg.http_tokens[0].role, AQ_ROLE_READ);
	ck_assert_ptr_null(cfg.http_tokens[0].token);
	ck_assert_str_eq(cfg.http_tokens[0].token_env, "ALERTQ_TEST_TOKEN_UNSET");
	ck_assert_int_eq(cfg.http_tokens[1].role, AQ_ROLE_OPERATE);
	ck_assert_str_eq(cfg.http_tokens[1].token, "t0ps");
	ck_assert_int_eq(cfg.http_tokens[2].role, AQ_ROLE_INGEST);
	ck_assert_int_eq(cfg.http_tokens[2].line, 6);
	aq_config_release(&cfg);
	parse_ok(&cfg, "http: {listen: \"[::1]:9094\"}\n");
	aq_config_release(&cfg);

	static const struct {
		const char *text;
		const char *want;
	} bad_http[] = {
		{ "http: {listen: 127.0.0.1}\n", "t.yaml:1: 'listen' '127.0.0.1' is not ADDR:PORT (port 1..65535)" },
		{ "http: {listen: \"a:70000\"}\n", "t.yaml:1: 'listen' 'a:70000' is not ADDR:PORT (port 1..65535)" },
		{ "http: {listen: \"::1:80\"}\n", "t.yaml:1: 'listen' '::1:80' is not ADDR:PORT (port 1..65535)" },
		{ "http: {port: 1}\n", "t.yaml:1: unknown key 'port' in http" },
		{ "http:\n  tokens: {a: 1}\n", "t.yaml:2: 'tokens' must be a list, not a mapping" },
		{ "http:\n  tokens:\n    - { name: a, role: admin, token_env: X }\n",
		  "t.yaml:3: unknown role 'admin' (read, ingest or operate)" },
		{ "http:\n  tokens:\n    - { name: a, role: read }\n", "t.yaml:3: missing 'token_env' in an http token" },
		{ "http:\n  tokens:\n    - { name: \"a:b\", role: read, token_env: X }\n",
		  "t.yaml:3: http token name 'a:b' may hold only letters, digits, '.', '_' and '-'" },
		{ "http:\n  tokens:\n    - { name: a, role: read, token_env: 1X }\n",
		  "t.yaml:3: 'token_env' '1X' is not an environment variable name" },
		{ "http:\n  tokens:\n    - { name: a, role: read, token_env: X }\n"
		  "    - { name: a, role: ingest, token_env: Y }\n",
		  "t.yaml:4: duplicate http token 'a' (first at line 3)" },
		{ "http:\n  tokens:\n    - { name: a, role: read, token_env: X, token: s }\n",
		  "t.yaml:3: unknown key 'token' in an http token (name, role, token_env)" },
	};
	for (size_t i = 0; i < sizeof(bad_http) / sizeof(bad_http[0]); i++) {
		int rc = aq_config_parse(&cfg, "t.yaml", bad_http[i].text, strlen(bad_http[i].text), err,
					 sizeof(err));
		ck_assert_msg(rc == -1, "accepted:\n%s", bad_http[i].text);
		ck_assert_msg(strcmp(err, bad_http[i].want) == 0, "%s\nwant: %s\ngot:  %s", bad_http[i].text,
			      bad_http[i].want, err);
		ck_assert_ptr_null(cfg.http_listen);
	}
	unsetenv("ALERTQ_TEST_TOKEN_OPS");
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("load");
	tcase_add_test(tc, full_file);
	tcase_add_test(tc, defaults_on_minimal_file);
	tcase_add_test(tc, environment_overrides);
	tcase_add_test(tc, prefetch_budget_given);
	tcase_add_test(tc, state_cache_given);
	tcase_add_test(tc, env_keys_read_at_load);
	tcase_add_loop_test(tc, bad_snippets, 0, (int)(sizeof(bad) / sizeof(bad[0])));
	tcase_add_test(tc, command_env_list);
	tcase_add_test(tc, names_are_capped);
	tcase_add_test(tc, error_text_is_cut_safely);
	tcase_add_test(tc, hostile_input);
	tcase_add_test(tc, load_errors);
	tcase_add_test(tc, rules_only_file);
	tcase_add_test(tc, rules_file_over_base);
	tcase_add_test(tc, rule_for_first_match_wins);
	tcase_add_test(tc, state_section);
	tcase_add_test(tc, durations_in_config);
	tcase_add_test(tc, booleans);
	tcase_add_test(tc, http_section);
	suite_add_tcase(s, tc);
	TCase *th = tcase_create("threshold");
	tcase_add_loop_test(th, threshold_parse_good, 0,
			    (int)(sizeof(good_thresholds) / sizeof(good_thresholds[0])));
	tcase_add_loop_test(th, threshold_parse_bad, 0,
			    (int)(sizeof(bad_thresholds) / sizeof(bad_thresholds[0])));
	tcase_add_test(th, threshold_met);
	suite_add_tcase(s, th);
	return s;
}

int main(void)
{
	return unit_run(config_suite());
}
