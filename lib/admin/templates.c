/* templates.c - `alertq check-config --show-templates`: every annotation and
 * channel template rendered against the sample alert, for a person to read */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alertq/admin.h"
#include "base/terminal.h"
#include "notify/template.h"

/* Most of a rendered text shown (the terminal form may be four times longer). */
#define SHOWN_MAX (4 * AQ_TEMPLATE_OUTPUT_MAX + 1)

/* The labels of the first configured check that rule matches (a glob over
 * names), else of the first check that has any; NULL when there are none. */
static const struct aq_check *sample_check(const struct aq_config *cfg, const struct aq_rule *rule)
{
	for (size_t i = 0; rule && rule->match && i < cfg->nchecks; i++)
		if (cfg->checks[i].name && fnmatch(rule->match, cfg->checks[i].name, 0) == 0 &&
		    cfg->checks[i].nlabels > 0)
			return &cfg->checks[i];
	for (size_t i = 0; i < cfg->nchecks; i++)
		if (cfg->checks[i].nlabels > 0)
			return &cfg->checks[i];
	return NULL;
}

/* Prints "  name:" and the text indented, each line terminal-safe. */
static void print_text(FILE *out, const char *name, const char *text, char *shown)
{
	fprintf(out, "  %s:\n", name);
	const char *line = text;
	do {
		size_t len = strcspn(line, "\n");
		char *piece = strndup(line, len);
		if (!piece)
			return;
		fprintf(out, "    | %s\n", aq_terminal_text(shown, SHOWN_MAX, piece));
		free(piece);
		line += len;
		if (*line == '\n')
			line++;
	} while (*line);
}

/* Renders t for target and prints it. Returns 0, or -1 with the reason. */
static int show(FILE *out, const char *name, const struct aq_template *t, const struct aq_template_values *v,
		enum aq_template_target target, int cut, size_t max, char *shown, char *err, size_t errlen)
{
	char why[256];
	char *text = aq_template_render(t, v, target, max, cut, why, sizeof(why));
	if (!text) {
		snprintf(err, errlen, "%s: %s", name, why);
		return -1;
	}
	print_text(out, name, text, shown);
	free(text);
	return 0;
}

int aq_admin_show_templates(const struct aq_config *cfg, FILE *out, char *err, size_t errlen)
{
	char *shown = malloc(SHOWN_MAX);
	if (!shown) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	int rc = 0;
	fprintf(out, "sample alert: example.check CRITICAL (was WARNING), firing, value 120000\n");
	/* the channels show the annotations of the first rule that has some */
	struct aq_label *sample_annotations = NULL;
	size_t nsample = 0;
	for (size_t r = 0; r < cfg->nrules && rc == 0; r++) {
		const struct aq_rule *rule = &cfg->rules[r];
		if (rule->nannotations == 0)
			continue;
		const struct aq_check *check = sample_check(cfg, rule);
		struct aq_template_values v;
		aq_template_values_sample(&v, check ? check->labels : NULL, check ? check->nlabels : 0, NULL,
					  0);
		char name[64];
		fprintf(out, "rule %s (line %d):\n", aq_terminal_text(shown, SHOWN_MAX, rule->match),
			rule->line);
		for (size_t i = 0; i < rule->nannotations && rc == 0; i++) {
			snprintf(name, sizeof(name), "annotations.%s", rule->annotations[i].key);
			rc = show(out, name, rule->annotations[i].tpl, &v, AQ_TEMPLATE_TEXT, 1,
				  AQ_ANNOTATION_VALUE_MAX, shown, err, errlen);
		}
		if (!sample_annotations)
			aq_annotations_render(rule, &v, &sample_annotations, &nsample);
	}
	const struct aq_check *check = sample_check(cfg, NULL);
	struct aq_template_values v;
	aq_template_values_sample(&v, check ? check->labels : NULL, check ? check->nlabels : 0,
				  sample_annotations, nsample);
	for (size_t c = 0; c < cfg->nchannels && rc == 0; c++) {
		const struct aq_channel *ch = &cfg->channels[c];
		if (!ch->template_text && !ch->template_subject && !ch->template_body)
			continue;
		fprintf(out, "channel %s (line %d):\n", aq_terminal_text(shown, SHOWN_MAX, ch->name),
			ch->line);
		int json = ch->type == AQ_CHANNEL_WEBHOOK && ch->format == AQ_FORMAT_JSON;
		if (ch->template_text)
			rc = show(out, "template.text", ch->template_text, &v, AQ_TEMPLATE_SLACK, 0,
				  AQ_TEMPLATE_OUTPUT_MAX, shown, err, errlen);
		if (rc == 0 && ch->template_subject)
			rc = show(out, "template.subject", ch->template_subject, &v, AQ_TEMPLATE_EMAIL_HEADER,
				  1, AQ_TEMPLATE_SUBJECT_MAX, shown, err, errlen);
		if (rc == 0 && ch->template_body)
			rc = show(out, "template.body", ch->template_body, &v,
				  json ? AQ_TEMPLATE_JSON : AQ_TEMPLATE_EMAIL_BODY, 0, AQ_TEMPLATE_OUTPUT_MAX,
				  shown, err, errlen);
	}
	aq_labels_free(sample_annotations, nsample);
	free(shown);
	return rc;
}
