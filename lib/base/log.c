/* log.c - logging to stderr, one line per write */
#include "alertq/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/utf8.h"

static const char *log_program = "alertq";

void aq_log_init(const char *program)
{
	log_program = program;
}

void aq_log(enum aq_log_level level, const char *fmt, ...)
{
	static const char *names[] = { "debug", "info", "warning", "error" };
	if (level == AQ_LOG_DEBUG && !getenv("ALERTQ_DEBUG"))
		return;
	char when[40];
	aq_format_time(aq_now_ms(), when, sizeof(when));
	char raw[2048], msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	/* a message may quote a server or an event: one line, valid UTF-8 */
	aq_text_clean_into(msg, sizeof(msg), raw, strlen(raw), AQ_TEXT_SPACES);
	/* one write per line keeps lines of several threads apart */
	char line[2200];
	int n = snprintf(line, sizeof(line), "%s %s[%d] %s: %s\n", when, log_program, (int)getpid(),
			 names[level], msg);
	if (n > (int)sizeof(line) - 1)
		n = (int)sizeof(line) - 1;
	ssize_t unused = write(STDERR_FILENO, line, (size_t)n);
	(void)unused;
}
