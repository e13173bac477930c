/* result.c - the check result type: status names, releasing a result */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alertq/event.h"

static const char *const status_names[] = { "OK", "WARNING", "CRITICAL", "UNKNOWN" };

const char *aq_status_name(int status)
{
	if (status < AQ_OK || status > AQ_UNKNOWN)
		return NULL;
	return status_names[status];
}

const char *aq_severity_name(int severity)
{
	const char *name = aq_status_name(severity);
	return name ? name : "UNKNOWN";
}

int aq_status_parse(const char *name)
{
	if (!name)
		return AQ_STATUS_NONE;
	for (int i = AQ_OK; i <= AQ_UNKNOWN; i++) {
		if (strcasecmp(name, status_names[i]) == 0)
			return i;
	}
	return AQ_STATUS_NONE;
}

void aq_result_release(struct aq_result *r)
{
	if (!r)
		return;
	free(r->check);
	free(r->source);
	free(r->message);
	aq_labels_free(r->labels, r->nlabels);
	memset(r, 0, sizeof(*r));
}
