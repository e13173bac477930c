/* test_inhibit.c - label matchers on rules, rules that never match, inhibit
 * entries (loading, the cycle check, who inhibits whom) and replay's
 * inhibition */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alertq/config.h"
#include "alertq/event.h"
#include "alertq/replay_eval.h"
#include "alertq/rules.h"
#include "config/matcher.h"
#include "store/inhibit.h"
#include "unit.h"
#include "unit_db.h"

static void parse_ok(struct aq_config *cfg, const char *text)
{
	char err[4096];
	int rc = aq_config_parse(cfg, "t.yaml", text, strlen(text), err, sizeof(err));
	ck_assert_msg(rc == 0, "unexpected problems:\n%s\nin:\n%s", err, text);
}

/* Labels from "k=v,k2=v2" (static storage, up to 8). */
static size_t labels_of(const char *text, struct aq_label *out, char buf[256])
{
	size_t n = 0;
	if (!text || !*text)
		return 0;
	snprintf(buf, 256, "%s", text);
	for (char *save = NULL, *pair = strtok_r(buf, ",", &save); pair && n < 8;
	     pair = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(pair, '=');
		*eq = '\0';
		out[n].key = pair;
		out[n].value = eq + 1;
		n++;
	}
	return n;
}

/* --- label matchers on rules --- */

static const char *const routing_yaml =
	"escalations:\n  db-oncall: {}\n  web-oncall: {}\n  fallback: {}\n"
	"rules:\n"
	"  - match: '*'\n"
	"    labels: { team: db, env: '~prod|stage' }\n"
	"    escalation: db-oncall\n"
	"  - match: 'web.*'\n"
	"    labels: { team: '~' }\n" /* only checks without a team (or an empty one) */
	"    escalation: web-oncall\n"
	"  - match: '*'\n"
	"    labels: { site: '~par[0-9]+' }\n"
	"    escalation: fallback\n";

static const struct {
	const char *check;
	const char *labels;
	int rule; /* index, -1: none */
} routing[] = {
	{ "db.rows", "team=db,env=prod", 0 },
	{ "db.rows", "team=db,env=stage", 0 },
	{ "x", "env=prod,team=db", 0 },
	{ "db.rows", "team=db,env=preprod", -1 }, /* anchored: "prod" is not found inside */
	{ "db.rows", "team=db,env=prod2", -1 },
	{ "db.rows", "team=db", -1 },           /* absent env is "" */
	{ "db.rows", "team=dba,env=prod", -1 }, /* exact is exact */
	{ "db.rows", "team=DB,env=prod", -1 },
	{ "web.latency", "", 1 },
	{ "web.latency", "team=", 1 },
	{ "web.latency", "team=web", -1 },
	{ "web.latency", "team=web,site=par12", 2 },
	{ "web.latency", "site=par", 1 },
	{ "other", "site=par1", 2 },
	{ "other", "site=xpar1", -1 },
	{ "other", "site=par1x", -1 },
	{ "other", "team=db,env=prod,site=par1", 0 }, /* first match wins */
};

START_TEST(rules_route_by_labels)
{
	struct aq_config cfg = { 0 };
	parse_ok(&cfg, routing_yaml);
	ck_assert_uint_eq(cfg.rules[0].nlabels, 2);
	struct aq_label labels[8];
	char buf[256];
	size_t n = labels_of(routing[_i].labels, labels, buf);
	const struct aq_rule *r = aq_config_rule_for(&cfg, routing[_i].check, labels, n);
	int got = r ? (int)(r - cfg.rules) : -1;
	ck_assert_msg(got == routing[_i].rule, "%s {%s}: want rule %d, got %d", routing[_i].check,
		      routing[_i].labels, routing[_i].rule, got);
	aq_config_release(&cfg);
}
END_TEST

static const struct {
	const char *yaml;
	const char *error; /* the start of err */
} bad[] = {
	{ "rules:\n  - match: '*'\n    labels: { env: '~prod(' }\n",
	  "t.yaml:3: bad regular expression 'prod(' for label 'env' in rule: " },
	{ "rules:\n  - match: '*'\n    labels: { env: '~[z-a]' }\n",
	  "t.yaml:3: bad regular expression '[z-a]' for label 'env' in rule: " },
	{ "rules:\n  - match: '*'\n    labels: [ env ]\n", "t.yaml:3: 'labels' must be a mapping" },
	{ "rules:\n  - match: '*'\n    labels: { env: [a] }\n", "t.yaml:3: label 'env' must be" },
	{ "rules:\n  - match: '*'\n    labels: { env: a, env: b }\n", "t.yaml:3: duplicate label 'env'" },
	{ "inhibit:\n  - target: {match: '*'}\n", "t.yaml:2: missing 'source' in inhibit entry" },
	{ "inhibit:\n  - source: {match: '*'}\n", "t.yaml:2: missing 'target' in inhibit entry" },
	{ "inhibit:\n  - source: {match: a, severity: OK}\n    target: {match: b}\n",
	  "t.yaml:2: unknown severity 'OK' in 'source' of an inhibit entry" },
	{ "inhibit:\n  - source: {match: a, severity: BAD}\n    target: {match: b}\n",
	  "t.yaml:2: unknown severity 'BAD'" },
	{ "inhibit:\n  - source: {match: a}\n    target: {match: b, severity: CRITICAL}\n",
	  "t.yaml:3: unknown key 'severity'" },
	{ "inhibit:\n  - source: {}\n    target: {match: b}\n",
	  "t.yaml:2: 'source' of an inhibit entry needs 'match' or 'labels'" },
	{ "inhibit:\n  - source: {match: a, labels: {x: '~('}}\n    target: {match: b}\n",
	  "t.yaml:2: bad regular expression '(' for label 'x' in 'source' of an inhibit entry" },
	{ "inhibit: {}\n", "t.yaml:1: 'inhibit' must be a list" },
	{ "inhibit_wait: 367d\n", "t.yaml:1: 'inhibit_wait' must be at most 366d" },
	{ "inhibit_wait: soon\n", "t.yaml:1: 'inhibit_wait': " },
	{ "inhibit:\n  - source: {match: 'a.*'}\n    target: {match: 'b.*'}\n"
	  "  - source: {match: 'b.*'}\n    target: {match: 'a.*'}\n",
	  "t.yaml:4: inhibit entries form a cycle" },
};

START_TEST(bad_matchers_refused)
{
	struct aq_config cfg = { 0 };
	char err[4096];
	int rc = aq_config_parse(&cfg, "t.yaml", bad[_i].yaml, strlen(bad[_i].yaml), err, sizeof(err));
	ck_assert_msg(rc == -1, "accepted:\n%s", bad[_i].yaml);
	ck_assert_msg(strncmp(err, bad[_i].error, strlen(bad[_i].error)) == 0, "want '%s...', got '%s'",
		      bad[_i].error, err);
}
END_TEST

/* --- rules an earlier one always shadows --- */

static const struct {
	const char *rules;
	size_t shadowed;
	const char *first; /* the first line of the report, or NULL */
} shadows[] = {
	{ "  - match: '*'\n  - match: 'db.*'\n", 1, "t.yaml:3: warning: rule never matches: the rule at line 2 matches first" },
	{ "  - match: 'db.*'\n  - match: 'db.*'\n", 1, "t.yaml:3: warning: rule never matches: the rule at line 2" },
	{ "  - match: 'db.*'\n  - match: '*'\n", 0, NULL },
	{ "  - match: 'db.*'\n  - match: 'db.rows'\n", 0, NULL }, /* globs are compared as text */
	{ "  - {match: '*', labels: {team: db}}\n  - match: '*'\n", 0, NULL },
	{ "  - {match: '*', labels: {team: db}}\n  - {match: 'x', labels: {team: db, env: prod}}\n", 1,
	  "t.yaml:3: warning: rule never matches: the rule at line 2" },
	{ "  - {match: '*', labels: {team: db}}\n  - {match: 'x', labels: {team: web}}\n", 0, NULL },
	{ "  - {match: '*', labels: {team: '~db'}}\n  - {match: 'x', labels: {team: db}}\n", 0, NULL },
	{ "  - {match: '*', labels: {team: '~db|web'}}\n  - {match: 'x', labels: {team: '~db|web'}}\n", 1,
	  "t.yaml:3: warning: rule never matches: the rule at line 2" },
	{ "  - {match: 'a', labels: {team: db}}\n  - {match: 'b', labels: {team: db}}\n", 0, NULL },
	{ "  - match: '*'\n  - match: a\n  - match: b\n", 2, "t.yaml:3: warning: rule never matches" },
};

START_TEST(shadowed_rules)
{
	struct aq_config cfg = { 0 };
	char text[1024];
	snprintf(text, sizeof(text), "rules:\n%s", shadows[_i].rules);
	parse_ok(&cfg, text);
	char out[1024];
	size_t n = aq_config_shadowed_rules(&cfg, out, sizeof(out));
	ck_assert_msg(n == shadows[_i].shadowed, "%s: want %zu shadowed, got %zu (%s)", shadows[_i].rules,
		      shadows[_i].shadowed, n, out);
	if (shadows[_i].first)
		ck_assert_msg(strncmp(out, shadows[_i].first, strlen(shadows[_i].first)) == 0, "got '%s'",
			      out);
	else
		ck_assert_str_eq(out, "");
	aq_config_release(&cfg);
}
END_TEST

/* --- the inhibition graph --- */

static const struct {
	const char *entries;
	int cycle; /* 1: refused as a cycle */
} graphs[] = {
	/* the contract's example: an entry that may match its own source is fine */
	{ "  - source: {match: 'net.uplink.*', severity: CRITICAL}\n"
	  "    target: {match: '*', labels: {tier: '~web|app'}}\n"
	  "    equal: [site]\n",
	  0 },
	/* a chain: uplink silences routers, routers silence web */
	{ "  - {source: {match: 'net.uplink.*'}, target: {match: 'net.router.*'}}\n"
	  "  - {source: {match: 'net.router.*'}, target: {match: 'web.*'}}\n",
	  0 },
	/* and back: a cycle */
	{ "  - {source: {match: 'net.uplink.*'}, target: {match: 'net.router.*'}}\n"
	  "  - {source: {match: 'net.router.*'}, target: {match: 'web.*'}}\n"
	  "  - {source: {match: 'web.*'}, target: {match: 'net.uplink.*'}}\n",
	  1 },
	/* wildcards: compared by their literal beginnings and endings */
	{ "  - {source: {match: 'a*'}, target: {match: '*.web'}}\n"
	  "  - {source: {match: 'x.*'}, target: {match: 'a*'}}\n",
	  1 },
	{ "  - {source: {match: 'a*'}, target: {match: 'b*'}}\n"
	  "  - {source: {match: 'b*'}, target: {match: 'c*'}}\n",
	  0 },
	{ "  - {source: {match: 'a*'}, target: {match: '*.web'}}\n"
	  "  - {source: {match: '*.db'}, target: {match: 'a*'}}\n",
	  0 },
	{ "  - {source: {match: 'a*'}, target: {match: '[bc]*'}}\n"
	  "  - {source: {match: '*.db'}, target: {match: 'a*'}}\n",
	  1 },
	/* an exact name settles it */
	{ "  - {source: {match: 'a.x'}, target: {match: 'b*'}}\n"
	  "  - {source: {match: 'b.y'}, target: {match: 'c.z'}}\n",
	  0 },
	/* labels that contradict: no edge back */
	{ "  - {source: {match: '*', labels: {role: uplink}}, target: {match: '*', labels: {role: web}}}\n"
	  "  - {source: {match: '*', labels: {role: web}}, target: {match: '*', labels: {role: db}}}\n",
	  0 },
	{ "  - {source: {match: '*', labels: {role: uplink}}, target: {match: '*', labels: {role: web}}}\n"
	  "  - {source: {match: '*', labels: {role: web}}, target: {match: '*', labels: {role: '~upl.*'}}}\n",
	  1 },
	{ "  - {source: {match: '*', labels: {role: uplink}}, target: {match: '*', labels: {role: web}}}\n"
	  "  - {source: {match: '*', labels: {role: web}}, target: {match: '*', labels: {role: '~db|app'}}}\n",
	  0 },
	/* a label only one side constrains does not contradict */
	{ "  - {source: {match: '*', labels: {role: uplink}}, target: {match: '*', labels: {tier: web}}}\n"
	  "  - {source: {match: '*', labels: {tier: web}}, target: {match: '*', labels: {site: par1}}}\n",
	  1 },
};

START_TEST(inhibit_graph)
{
	char text[2048], err[4096];
	snprintf(text, sizeof(text), "inhibit:\n%s", graphs[_i].entries);
	struct aq_config cfg = { 0 };
	int rc = aq_config_parse(&cfg, "t.yaml", text, strlen(text), err, sizeof(err));
	if (graphs[_i].cycle) {
		ck_assert_msg(rc == -1, "no cycle found in:\n%s", text);
		ck_assert_msg(strstr(err, "inhibit entries form a cycle") != NULL, "%s", err);
	} else {
		ck_assert_msg(rc == 0, "%s\nin:\n%s", err, text);
		aq_config_release(&cfg);
	}
}
END_TEST

START_TEST(inhibit_defaults)
{
	struct aq_config cfg = { 0 };
	parse_ok(&cfg, "inhibit:\n  - source: {match: 'net.uplink.*'}\n    target: {match: '*'}\n");
	ck_assert_uint_eq(cfg.ninhibits, 1);
	ck_assert_int_eq(cfg.inhibits[0].source_severity, AQ_CRITICAL);
	ck_assert_int_eq(cfg.inhibit_wait_ms, 10000);
	ck_assert_uint_eq(cfg.inhibits[0].nequal, 0);
	ck_assert_int_eq(cfg.inhibits[0].line, 2);
	aq_config_release(&cfg);
	parse_ok(&cfg, "inhibit_wait: 0\n");
	ck_assert_int_eq(cfg.inhibit_wait_ms, 0);
	aq_config_release(&cfg);
	parse_ok(&cfg, "inhibit_wait: 2s\ninhibit:\n  - source: {match: a, severity: WARNING}\n"
		       "    target: {labels: {tier: web}}\n    equal: site\n");
	ck_assert_int_eq(cfg.inhibit_wait_ms, 2000);
	ck_assert_int_eq(cfg.inhibits[0].source_severity, AQ_WARNING);
	ck_assert_ptr_null(cfg.inhibits[0].target.match);
	ck_assert_uint_eq(cfg.inhibits[0].nequal, 1);
	ck_assert_str_eq(cfg.inhibits[0].equal[0], "site");
	aq_config_release(&cfg);
}
END_TEST

/* Who inhibits whom under the contract's entry. */
static const char *const uplink_yaml = "inhibit:\n"
				       "  - source: { match: 'net.uplink.*', severity: CRITICAL }\n"
				       "    target: { match: '*', labels: { tier: '~web|app' } }\n"
				       "    equal: [site]\n"
				       "  - source: { match: 'core.*', severity: WARNING }\n"
				       "    target: { match: 'edge.*' }\n";

static const struct {
	int entry;
	const char *target, *tlabels;
	const char *source, *slabels;
	int severity;
	int inhibits;
} who[] = {
	{ 0, "web.1", "site=par1,tier=web", "net.uplink.par1", "site=par1", AQ_CRITICAL, 1 },
	{ 0, "web.1", "site=par1,tier=app", "net.uplink.par1", "site=par1", AQ_CRITICAL, 1 },
	{ 0, "web.1", "site=par2,tier=web", "net.uplink.par1", "site=par1", AQ_CRITICAL, 0 }, /* equal */
	{ 0, "web.1", "tier=web", "net.uplink.par1", "", AQ_CRITICAL, 1 },                    /* "" == "" */
	{ 0, "web.1", "tier=web", "net.uplink.par1", "site=par1", AQ_CRITICAL, 0 },
	{ 0, "web.1", "site=par1,tier=web", "net.uplink.par1", "site=par1", AQ_UNKNOWN, 0 }, /* severity */
	{ 0, "web.1", "site=par1,tier=web", "net.uplink.par1", "site=par1", AQ_WARNING, 0 },
	{ 0, "web.1", "site=par1,tier=db", "net.uplink.par1", "site=par1", AQ_CRITICAL, 0 },            /* target labels */
	{ 0, "web.1", "site=par1,tier=webx", "net.uplink.par1", "site=par1", AQ_CRITICAL, 0 },          /* anchored */
	{ 0, "web.1", "site=par1,tier=web", "net.router.par1", "site=par1", AQ_CRITICAL, 0 },           /* source glob */
	{ 0, "net.uplink.par1", "site=par1,tier=web", "net.uplink.par1", "site=par1", AQ_CRITICAL, 0 }, /* self */
	/* two uplinks that both match both sides never silence each other */
	{ 0, "net.uplink.par1b", "site=par1,tier=web", "net.uplink.par1", "site=par1,tier=web", AQ_CRITICAL, 0 },
	/* but an uplink that is not a target may silence one that is */
	{ 0, "net.uplink.par1b", "site=par1,tier=web", "net.uplink.par1", "site=par1", AQ_CRITICAL, 1 },
	{ 1, "edge.a", "", "core.b", "", AQ_WARNING, 1 },
	{ 1, "edge.a", "", "core.b", "", AQ_UNKNOWN, 1 },
	{ 1, "edge.a", "", "core.b", "", AQ_CRITICAL, 1 },
	{ 1, "edge.a", "", "core.b", "", AQ_OK, 0 },
};

START_TEST(who_inhibits_whom)
{
	struct aq_config cfg = { 0 };
	parse_ok(&cfg, uplink_yaml);
	struct aq_label tl[8], sl[8];
	char tb[256], sb[256];
	size_t nt = labels_of(who[_i].tlabels, tl, tb);
	size_t ns = labels_of(who[_i].slabels, sl, sb);
	int got = aq_inhibit_inhibits(&cfg.inhibits[who[_i].entry], who[_i].target, tl, nt, who[_i].source, sl,
				      ns, who[_i].severity);
	ck_assert_msg(got == who[_i].inhibits, "row %d: want %d", _i, who[_i].inhibits);
	ck_assert_int_eq(aq_inhibit_any_target(&cfg, "web.1", tl, nt),
			 strstr(who[_i].tlabels, "tier=web") || strstr(who[_i].tlabels, "tier=app")
				 ? (strstr(who[_i].tlabels, "tier=webx") ? 0 : 1)
				 : 0);
	aq_config_release(&cfg);
}
END_TEST

START_TEST(rules_file_keeps_base_inhibition)
{
	struct aq_config base = { 0 }, rules = { 0 };
	char err[4096];
	parse_ok(&base, "inhibit_wait: 3s\n"
			"inhibit:\n  - {source: {match: 'u.*', labels: {a: '~x|y'}}, target: {match: 't.*'}, "
			"equal: [site]}\n");
	const char *text = "rules:\n  - match: '*'\n";
	ck_assert_int_eq(aq_config_parse_rules(&rules, "r.yaml", text, strlen(text), &base, err, sizeof(err)), 0);
	ck_assert_uint_eq(rules.ninhibits, 1);
	ck_assert_int_eq(rules.inhibit_wait_ms, 3000);
	struct aq_label l[8];
	char b[256];
	size_t n = labels_of("a=y", l, b);
	ck_assert(aq_check_match(&rules.inhibits[0].source, "u.1", l, n));
	n = labels_of("a=z", l, b);
	ck_assert(!aq_check_match(&rules.inhibits[0].source, "u.1", l, n));
	aq_config_release(&rules);
	text = "rules: []\ninhibit: []\n";
	ck_assert_int_eq(aq_config_parse_rules(&rules, "r.yaml", text, strlen(text), &base, err, sizeof(err)), 0);
	ck_assert_uint_eq(rules.ninhibits, 0);
	ck_assert_int_eq(rules.inhibit_wait_ms, 10000);
	aq_config_release(&rules);
	aq_config_release(&base);
}
END_TEST

/* --- replay honours inhibition --- */

static const char *const replay_yaml = "inhibit_wait: 10s\n"
				       "inhibit:\n"
				       "  - source: {match: 'net.uplink.*', severity: CRITICAL}\n"
				       "    target: {match: '*', labels: {tier: web}}\n"
				       "    equal: [site]\n"
				       "rules:\n  - match: '*'\n    escalation: pager\n"
				       "escalations:\n  pager:\n"
				       "    CRITICAL: {levels: [{after: 0s, notify: [hook]}]}\n"
				       "    resolved: true\n"
				       "channels:\n  hook: {type: logfile}\n";

#define UP "net.uplink.par1"
#define UP2 "net.uplink.par1b"
#define WEB "web.1"
#define P1 "site=par1"
#define W1 "site=par1,tier=web"
#define W2 "site=par2,tier=web"

static const struct {
	const char *what;
	struct {
		const char *check;
		int status;
		const char *labels;
		int at_s;
	} ev[8];
	long hook;
	const char *web_by; /* web.1's inhibited_by at the end */
} replays[] = {
	{ "the source arrives within inhibit_wait", { { WEB, AQ_CRITICAL, W1, 0 }, { UP, AQ_CRITICAL, P1, 5 } }, 1, UP },
	{ "the source arrives too late", { { WEB, AQ_CRITICAL, W1, 0 }, { UP, AQ_CRITICAL, P1, 15 } }, 2, NULL },
	{ "released when the source ends, resolved after",
	  { { UP, AQ_CRITICAL, P1, 0 }, { WEB, AQ_CRITICAL, W1, 1 }, { UP, AQ_OK, P1, 60 }, { WEB, AQ_OK, W1, 120 } },
	  4,
	  NULL },
	{ "resolved while inhibited: never told",
	  { { UP, AQ_CRITICAL, P1, 0 }, { WEB, AQ_CRITICAL, W1, 1 }, { WEB, AQ_OK, W1, 30 }, { UP, AQ_OK, P1, 60 } },
	  2,
	  NULL },
	{ "another site", { { UP, AQ_CRITICAL, P1, 0 }, { WEB, AQ_CRITICAL, W2, 1 } }, 2, NULL },
	{ "still inhibited by a second source",
	  { { UP, AQ_CRITICAL, P1, 0 }, { UP2, AQ_CRITICAL, P1, 0 }, { WEB, AQ_CRITICAL, W1, 1 }, { UP, AQ_OK, P1, 60 } },
	  3,
	  UP2 },
	{ "then the second ends",
	  { { UP, AQ_CRITICAL, P1, 0 },
	    { UP2, AQ_CRITICAL, P1, 0 },
	    { WEB, AQ_CRITICAL, W1, 1 },
	    { UP, AQ_OK, P1, 60 },
	    { UP2, AQ_OK, P1, 120 } },
	  5,
	  NULL },
	{ "the source ends within inhibit_wait",
	  { { UP, AQ_CRITICAL, P1, 0 }, { WEB, AQ_CRITICAL, W1, 1 }, { UP, AQ_OK, P1, 5 } },
	  3,
	  NULL },
	{ "a source below its severity", { { UP, AQ_WARNING, P1, 0 }, { WEB, AQ_CRITICAL, W1, 1 } }, 1, NULL },
	{ "decided at the end", { { UP, AQ_CRITICAL, P1, 0 }, { WEB, AQ_CRITICAL, W1, 1 } }, 1, UP },
	{ "resolved while the source still fires: let go",
	  { { UP, AQ_CRITICAL, P1, 0 }, { WEB, AQ_CRITICAL, W1, 1 }, { WEB, AQ_OK, W1, 30 } },
	  1,
	  NULL },
	{ "resolved before its firing was decided",
	  { { WEB, AQ_CRITICAL, W1, 0 }, { UP, AQ_CRITICAL, P1, 1 }, { WEB, AQ_OK, W1, 3 } },
	  1,
	  NULL },
};

START_TEST(replay_inhibition)
{
	struct aq_config cfg = { 0 };
	parse_ok(&cfg, replay_yaml);
	aq_replay_eval_t *ev = aq_replay_eval_new(&cfg, NULL, NULL);
	ck_assert_ptr_nonnull(ev);
	for (size_t k = 0; k < 8 && replays[_i].ev[k].check; k++) {
		struct aq_result r;
		struct aq_label labels[8];
		char buf[256], err[256];
		memset(&r, 0, sizeof(r));
		r.check = (char *)replays[_i].ev[k].check;
		r.status = replays[_i].ev[k].status;
		r.message = (char *)"m";
		r.observed_at_ms = 1764262800000LL + replays[_i].ev[k].at_s * 1000LL;
		r.labels = labels;
		r.nlabels = labels_of(replays[_i].ev[k].labels, labels, buf);
		strcpy(r.event_id, "00000000-0000-4000-8000-000000000000");
		ck_assert_msg(aq_replay_eval_apply(ev, &r, err, sizeof(err)) == 0, "%s", err);
	}
	aq_replay_eval_finish(ev);
	const char *name;
	long hook = aq_replay_eval_channel(ev, 0, &name);
	ck_assert_str_eq(name, "hook");
	ck_assert_msg(hook == replays[_i].hook, "%s: hook told %ld times, want %ld", replays[_i].what, hook,
		      replays[_i].hook);
	const struct aq_state *web = aq_replay_eval_find(ev, WEB);
	if (replays[_i].web_by)
		ck_assert_msg(web->inhibited_by && strcmp(web->inhibited_by, replays[_i].web_by) == 0,
			      "%s: web.1 inhibited by %s", replays[_i].what, web->inhibited_by);
	else
		ck_assert_msg(web->inhibited_by == NULL, "%s: web.1 still inhibited by %s", replays[_i].what,
			      web->inhibited_by);
	aq_replay_eval_free(ev);
	aq_config_release(&cfg);
}
END_TEST

/* --- the source query of the state database --- */

static const char *const store_yaml =
	"inhibit:\n"
	"  - source: {match: 'net.up_link.*', severity: CRITICAL}\n" /* '_' is no LIKE wildcard */
	"    target: {match: 'web.*'}\n"
	"    equal: [site]\n"
	"  - source: {match: 'pdu.[ab]', labels: {room: ''}, severity: WARNING}\n" /* brackets: no LIKE */
	"    target: {match: 'rack.*'}\n"
	"  - source: {labels: {role: '~core|spine', zone: z1}}\n"
	"    target: {match: 'leaf.*'}\n"
	"    equal: [zone]\n";

static const char *const store_rows[] = {
	"('net.up_link.par1', 'CRITICAL', '{\"site\": \"par1\"}')",
	"('net.upXlink.par2', 'CRITICAL', '{\"site\": \"par2\"}')",
	"('net.up_link.nosite', 'CRITICAL', '{}')",
	"('net.up_link.par3', 'UNKNOWN', '{\"site\": \"par3\"}')",
	"('net.up_link.par4', 'OK', '{\"site\": \"par4\"}')",
	"('pdu.a', 'WARNING', '{}')",
	"('pdu.b', 'CRITICAL', '{\"room\": \"r1\"}')",
	"('pdu.c', 'CRITICAL', '{}')",
	"('sw.1', 'CRITICAL', '{\"role\": \"spine\", \"zone\": \"z1\"}')",
	"('sw.2', 'CRITICAL', '{\"role\": \"spine2\", \"zone\": \"z2\"}')",
	"('sw.3', 'CRITICAL', '{\"role\": \"core\", \"zone\": \"z2\"}')",
	"('web.par1', 'CRITICAL', '{\"site\": \"par1\"}')",
};

static const struct {
	const char *target;
	const char *labels;
	const char *source; /* NULL: none */
} store_cases[] = {
	{ "web.1", "site=par1", "net.up_link.par1" },
	{ "web.2", "site=par2", NULL },        /* net.upXlink does not match net.up_link.* */
	{ "web.3", "", "net.up_link.nosite" }, /* absent site = "" on both */
	{ "web.3", "site=", "net.up_link.nosite" },
	{ "web.4", "site=par3", NULL }, /* UNKNOWN is below CRITICAL */
	{ "web.5", "site=par4", NULL }, /* OK */
	{ "web.par1", "site=par1", "net.up_link.par1" },
	{ "rack.1", "", "pdu.a" },
	{ "leaf.1", "zone=z1", "sw.1" },
	{ "leaf.2", "zone=z2", NULL }, /* sw.2: spine2 is not ~core|spine; sw.3: not zone z1 */
	{ "other", "zone=z1", NULL },  /* not a target */
};

START_TEST(store_finds_sources)
{
	char database[64], dsn[1024], err[1024];
	unit_db_create("inhibit", database, sizeof(database), dsn, sizeof(dsn));
	PGconn *conn = PQconnectdb(dsn);
	for (size_t i = 0; i < sizeof(store_rows) / sizeof(store_rows[0]); i++) {
		char sql[512];
		snprintf(sql, sizeof(sql),
			 "INSERT INTO alertq_checks (check_name, severity, labels, since_ms) SELECT c, s, l::jsonb, 0 FROM (VALUES "
			 "%s) v(c, s, l)",
			 store_rows[i]);
		PGresult *res = PQexec(conn, sql);
		ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK, "%s", PQerrorMessage(conn));
		PQclear(res);
	}
	PQfinish(conn);
	struct aq_config cfg = { 0 };
	parse_ok(&cfg, store_yaml);
	aq_store_t *s = aq_store_connect(dsn, err, sizeof(err));
	ck_assert_msg(s != NULL, "%s", err);
	for (size_t i = 0; i < sizeof(store_cases) / sizeof(store_cases[0]); i++) {
		struct aq_label labels[8];
		char buf[256];
		size_t n = labels_of(store_cases[i].labels, labels, buf);
		struct aq_inhibit_source src;
		int found = aq_store_inhibit_source(s, &cfg, store_cases[i].target, labels, n, &src, err, sizeof(err));
		ck_assert_msg(found >= 0, "%s", err);
		if (store_cases[i].source)
			ck_assert_msg(found == 1 && strcmp(src.name, store_cases[i].source) == 0,
				      "%s {%s}: want %s, got %s", store_cases[i].target, store_cases[i].labels,
				      store_cases[i].source, found ? src.name : "none");
		else
			ck_assert_msg(found == 0, "%s {%s}: inhibited by %s", store_cases[i].target,
				      store_cases[i].labels, src.name);
	}
	aq_store_free(s);
	aq_config_release(&cfg);
	unit_db_drop(database);
}
END_TEST

static Suite *inhibit_suite(void)
{
	Suite *s = suite_create("inhibit");
	TCase *tc = tcase_create("matchers");
	tcase_add_loop_test(tc, rules_route_by_labels, 0, (int)(sizeof(routing) / sizeof(routing[0])));
	tcase_add_loop_test(tc, bad_matchers_refused, 0, (int)(sizeof(bad) / sizeof(bad[0])));
	tcase_add_loop_test(tc, shadowed_rules, 0, (int)(sizeof(shadows) / sizeof(shadows[0])));
	suite_add_tcase(s, tc);
	TCase *ti = tcase_create("inhibit");
	tcase_add_loop_test(ti, inhibit_graph, 0, (int)(sizeof(graphs) / sizeof(graphs[0])));
	tcase_add_test(ti, inhibit_defaults);
	tcase_add_loop_test(ti, who_inhibits_whom, 0, (int)(sizeof(who) / sizeof(who[0])));
	tcase_add_test(ti, rules_file_keeps_base_inhibition);
	tcase_add_loop_test(ti, replay_inhibition, 0, (int)(sizeof(replays) / sizeof(replays[0])));
	suite_add_tcase(s, ti);
	TCase *td = tcase_create("store");
	tcase_add_test(td, store_finds_sources);
	suite_add_tcase(s, td);
	return s;
}

int main(void)
{
	return unit_run(inhibit_suite());
}
