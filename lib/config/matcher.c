/* matcher.c - label matchers (exact values and anchored "~RE"), which rule a
 * check falls under, rules that can never match, and the inhibition graph */
#include "config/matcher.h"

#include <fnmatch.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alertq/event.h"
#include "alertq/rules.h"

/* The longest "~RE" accepted, in bytes: an expression is a filter, not a
 * program, and regcomp's cost grows with it. */
#define MATCHER_RE_MAX 1024

const char *aq_label_value(const struct aq_label *labels, size_t nlabels, const char *key)
{
	for (size_t i = 0; i < nlabels; i++)
		if (labels[i].key && strcmp(labels[i].key, key) == 0)
			return labels[i].value ? labels[i].value : "";
	return "";
}

/* Whether value satisfies one matcher. */
static int matcher_ok(const struct aq_label_matcher *m, const char *value)
{
	if (!m->is_re)
		return strcmp(m->value, value) == 0;
	return m->re && regexec(m->re, value, 0, NULL, 0) == 0;
}

int aq_labels_match(const struct aq_label_matcher *m, size_t nm, const struct aq_label *labels,
		    size_t nlabels)
{
	for (size_t i = 0; i < nm; i++)
		if (!matcher_ok(&m[i], aq_label_value(labels, nlabels, m[i].key)))
			return 0;
	return 1;
}

int aq_check_match(const struct aq_check_match *m, const char *check, const struct aq_label *labels,
		   size_t nlabels)
{
	if (!check)
		return 0;
	if (m->match && fnmatch(m->match, check, 0) != 0)
		return 0;
	return aq_labels_match(m->labels, m->nlabels, labels, nlabels);
}

const struct aq_rule *aq_config_rule_for(const struct aq_config *cfg, const char *check,
					 const struct aq_label *labels, size_t nlabels)
{
	for (size_t i = 0; check && i < cfg->nrules; i++) {
		const struct aq_rule *r = &cfg->rules[i];
		if (r->match && fnmatch(r->match, check, 0) == 0 &&
		    aq_labels_match(r->labels, r->nlabels, labels, nlabels))
			return r;
	}
	return NULL;
}

/* --- loading --- */

/* Compiles text as an anchored extended expression into m. Returns 0, or
 * -1 with regerror's words in why. */
static int compile_re(struct aq_label_matcher *m, const char *text, char *why, size_t whylen)
{
	size_t len = strlen(text);
	if (len > MATCHER_RE_MAX) {
		snprintf(why, whylen, "longer than %d bytes", MATCHER_RE_MAX);
		return -1;
	}
	char *anchored = aq_xmalloc(len + 5);
	snprintf(anchored, len + 5, "^(%s)$", text);
	regex_t *re = aq_xmalloc(sizeof(*re));
	int rc = regcomp(re, anchored, REG_EXTENDED | REG_NOSUB);
	free(anchored);
	if (rc != 0) {
		regerror(rc, re, why, whylen);
		free(re);
		return -1;
	}
	m->re = re;
	return 0;
}

void cfg_load_label_matchers(struct loader *ld, yaml_node_t *n, const char *where,
			     struct aq_label_matcher **out, size_t *nout)
{
	*out = NULL;
	*nout = 0;
	struct aq_label *labels;
	size_t nl;
	int *lines;
	cfg_load_labels(ld, n, &labels, &nl, &lines);
	if (nl == 0) {
		free(labels);
		free(lines);
		return;
	}
	struct aq_label_matcher *m = cfg_xcalloc(nl, sizeof(*m));
	for (size_t i = 0; i < nl; i++) {
		/* the matcher takes the label's strings */
		m[i].key = labels[i].key;
		m[i].value = labels[i].value;
		if (m[i].value[0] != '~')
			continue;
		char why[256];
		m[i].is_re = 1;
		memmove(m[i].value, m[i].value + 1, strlen(m[i].value));
		if (compile_re(&m[i], m[i].value, why, sizeof(why)) != 0) {
			struct subject s;
			cfg_problem(ld, lines[i], "bad regular expression '%s' for label '%s' in %s: %s",
				    cfg_subj(&s, m[i].value), m[i].key, where, why);
		}
	}
	free(labels);
	free(lines);
	*out = m;
	*nout = nl;
}

void cfg_free_label_matchers(struct aq_label_matcher *m, size_t n)
{
	for (size_t i = 0; m && i < n; i++) {
		free(m[i].key);
		free(m[i].value);
		if (m[i].re) {
			regfree(m[i].re);
			free(m[i].re);
		}
	}
	free(m);
}

void cfg_release_matchers(struct aq_config *cfg)
{
	for (size_t i = 0; i < cfg->nrules; i++)
		cfg_free_label_matchers(cfg->rules[i].labels, cfg->rules[i].nlabels);
	for (size_t i = 0; i < cfg->ninhibits; i++) {
		struct aq_inhibit *e = &cfg->inhibits[i];
		free(e->source.match);
		cfg_free_label_matchers(e->source.labels, e->source.nlabels);
		free(e->target.match);
		cfg_free_label_matchers(e->target.labels, e->target.nlabels);
		for (size_t k = 0; k < e->nequal; k++)
			free(e->equal[k]);
		free(e->equal);
	}
	free(cfg->inhibits);
	cfg->inhibits = NULL;
	cfg->ninhibits = 0;
}

static void copy_matchers(struct aq_label_matcher **to, size_t *nto, const struct aq_label_matcher *from,
			  size_t n)
{
	*to = n ? cfg_xcalloc(n, sizeof(**to)) : NULL;
	*nto = n;
	for (size_t i = 0; i < n; i++) {
		char why[256];
		(*to)[i].key = aq_strdup(from[i].key);
		(*to)[i].value = aq_strdup(from[i].value);
		(*to)[i].is_re = from[i].is_re;
		/* compiled once already: it compiles again */
		if (from[i].is_re)
			compile_re(&(*to)[i], from[i].value, why, sizeof(why));
	}
}

static void copy_check_match(struct aq_check_match *to, const struct aq_check_match *from)
{
	to->match = from->match ? aq_strdup(from->match) : NULL;
	to->line = from->line;
	copy_matchers(&to->labels, &to->nlabels, from->labels, from->nlabels);
}

void cfg_copy_inhibits(struct aq_config *to, const struct aq_config *from)
{
	to->inhibit_wait_ms = from->inhibit_wait_ms;
	if (from->ninhibits == 0)
		return;
	to->inhibits = cfg_xcalloc(from->ninhibits, sizeof(*to->inhibits));
	for (size_t i = 0; i < from->ninhibits; i++) {
		const struct aq_inhibit *f = &from->inhibits[i];
		struct aq_inhibit *t = &to->inhibits[i];
		copy_check_match(&t->source, &f->source);
		copy_check_match(&t->target, &f->target);
		t->source_severity = f->source_severity;
		t->line = f->line;
		t->equal = cfg_xcalloc(f->nequal + 1, sizeof(*t->equal));
		for (size_t k = 0; k < f->nequal; k++)
			t->equal[k] = aq_strdup(f->equal[k]);
		t->nequal = f->nequal;
	}
	to->ninhibits = from->ninhibits;
}

/* --- rules that never match --- */

/* Whether a's matcher on its key is also on b, with the same text. */
static int matcher_on(const struct aq_label_matcher *a, const struct aq_label_matcher *b, size_t nb)
{
	for (size_t i = 0; i < nb; i++)
		if (strcmp(a->key, b[i].key) == 0 && a->is_re == b[i].is_re &&
		    strcmp(a->value, b[i].value) == 0)
			return 1;
	return 0;
}

/* Whether every check that later matches, earlier matches too (a sure
 * subset test, not a complete one: globs and expressions are compared as
 * text). */
static int rule_shadows(const struct aq_rule *earlier, const struct aq_rule *later)
{
	if (!earlier->match || !later->match)
		return 0;
	if (strcmp(earlier->match, "*") != 0 && strcmp(earlier->match, later->match) != 0)
		return 0;
	for (size_t i = 0; i < earlier->nlabels; i++)
		if (!matcher_on(&earlier->labels[i], later->labels, later->nlabels))
			return 0;
	return 1;
}

size_t aq_config_shadowed_rules(const struct aq_config *cfg, char *out, size_t outlen)
{
	size_t count = 0;
	size_t used = 0;
	if (out && outlen)
		out[0] = '\0';
	for (size_t j = 0; j < cfg->nrules; j++) {
		for (size_t i = 0; i < j; i++) {
			if (!rule_shadows(&cfg->rules[i], &cfg->rules[j]))
				continue;
			count++;
			if (out && used < outlen) {
				int w = snprintf(out + used, outlen - used,
						 "%s%s:%d: warning: rule never matches: the rule at line %d "
						 "matches first",
						 used ? "\n" : "", cfg->path ? cfg->path : "<config>",
						 cfg->rules[j].line, cfg->rules[i].line);
				used += w > 0 ? (size_t)w : 0;
			}
			break;
		}
	}
	return count;
}

/* --- inhibition --- */

int aq_inhibit_any_target(const struct aq_config *cfg, const char *check, const struct aq_label *labels,
			  size_t nlabels)
{
	for (size_t i = 0; i < cfg->ninhibits; i++)
		if (aq_check_match(&cfg->inhibits[i].target, check, labels, nlabels))
			return 1;
	return 0;
}

int aq_inhibit_inhibits(const struct aq_inhibit *e, const char *target, const struct aq_label *tlabels,
			size_t ntlabels, const char *source, const struct aq_label *slabels, size_t nslabels,
			int source_severity)
{
	if (!target || !source || strcmp(target, source) == 0)
		return 0;
	if (aq_severity_rank(source_severity) < aq_severity_rank(e->source_severity))
		return 0;
	if (!aq_check_match(&e->target, target, tlabels, ntlabels) ||
	    !aq_check_match(&e->source, source, slabels, nslabels))
		return 0;
	for (size_t k = 0; k < e->nequal; k++)
		if (strcmp(aq_label_value(tlabels, ntlabels, e->equal[k]),
			   aq_label_value(slabels, nslabels, e->equal[k])) != 0)
			return 0;
	/* both on both sides: neither silences the other */
	if (aq_check_match(&e->source, target, tlabels, ntlabels) &&
	    aq_check_match(&e->target, source, slabels, nslabels))
		return 0;
	return 1;
}

static int has_glob_chars(const char *s)
{
	return strpbrk(s, "*?[\\") != NULL;
}

/* The literal text a glob ends with (after its last '*' or '?'), or NULL
 * when brackets or escapes make that unclear. */
static const char *glob_suffix(const char *g)
{
	if (strpbrk(g, "[\\"))
		return NULL;
	const char *last = NULL;
	for (const char *p = g; *p; p++)
		if (*p == '*' || *p == '?')
			last = p;
	return last ? last + 1 : g;
}

/* Whether some check name could match both globs (NULL: any name). With
 * wildcards on both sides, only their literal beginnings and endings are
 * compared: "net.*" and "web.*" cannot meet, "a*" and "*b" may. */
static int globs_overlap(const char *a, const char *b)
{
	if (!a || !b)
		return 1;
	if (!has_glob_chars(a))
		return fnmatch(b, a, 0) == 0;
	if (!has_glob_chars(b))
		return fnmatch(a, b, 0) == 0;
	size_t pa = strcspn(a, "*?[\\"), pb = strcspn(b, "*?[\\");
	if (strncmp(a, b, pa < pb ? pa : pb) != 0)
		return 0;
	const char *sa = glob_suffix(a), *sb = glob_suffix(b);
	if (sa && sb) {
		size_t la = strlen(sa), lb = strlen(sb), n = la < lb ? la : lb;
		if (strcmp(sa + la - n, sb + lb - n) != 0)
			return 0;
	}
	return 1;
}

/* Whether two matchers on one key could both hold for one value. */
static int matchers_overlap(const struct aq_label_matcher *a, const struct aq_label_matcher *b)
{
	if (!a->is_re && !b->is_re)
		return strcmp(a->value, b->value) == 0;
	if (!a->is_re)
		return matcher_ok(b, a->value);
	if (!b->is_re)
		return matcher_ok(a, b->value);
	return 1;
}

static int check_matches_overlap(const struct aq_check_match *a, const struct aq_check_match *b)
{
	if (!globs_overlap(a->match, b->match))
		return 0;
	for (size_t i = 0; i < a->nlabels; i++)
		for (size_t j = 0; j < b->nlabels; j++)
			if (strcmp(a->labels[i].key, b->labels[j].key) == 0 &&
			    !matchers_overlap(&a->labels[i], &b->labels[j]))
				return 0;
	return 1;
}

int cfg_inhibit_edge(const struct aq_inhibit *from, const struct aq_inhibit *to)
{
	return check_matches_overlap(&from->target, &to->source);
}

enum visit {
	UNSEEN,
	ON_PATH,
	DONE
};

/* Depth-first from entry i; returns the entry a back edge reaches (the
 * cycle's first entry) or SIZE_MAX. *closing: the entry whose edge closes it. */
static size_t find_cycle(const struct aq_config *cfg, size_t i, unsigned char *mark, size_t *closing)
{
	mark[i] = ON_PATH;
	for (size_t j = 0; j < cfg->ninhibits; j++) {
		if (j == i || !cfg_inhibit_edge(&cfg->inhibits[i], &cfg->inhibits[j]))
			continue;
		if (mark[j] == ON_PATH) {
			*closing = i;
			return j;
		}
		if (mark[j] == UNSEEN) {
			size_t found = find_cycle(cfg, j, mark, closing);
			if (found != SIZE_MAX)
				return found;
		}
	}
	mark[i] = DONE;
	return SIZE_MAX;
}

void cfg_check_inhibit_cycles(struct loader *ld)
{
	const struct aq_config *cfg = ld->cfg;
	if (cfg->ninhibits < 2)
		return;
	unsigned char *mark = cfg_xcalloc(cfg->ninhibits, 1);
	for (size_t i = 0; i < cfg->ninhibits; i++) {
		if (mark[i] != UNSEEN)
			continue;
		size_t closing = SIZE_MAX;
		size_t first = find_cycle(cfg, i, mark, &closing);
		if (first != SIZE_MAX) {
			cfg_problem(
				ld, cfg->inhibits[closing].line,
				"inhibit entries form a cycle: this entry's target can match the source of "
				"the entry at line %d, which can in turn (directly or not) inhibit this "
				"entry's source",
				cfg->inhibits[first].line);
			break;
		}
	}
	free(mark);
}
