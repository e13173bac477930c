/* logfile.c - the log file channel: notifications as JSON lines in log_dir/alerts.log */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "notify/channel.h"

/* Bumped by aq_logfile_reopen; a writer that opened its file under an older
 * value reopens before it writes again. A counter rather than a flag, so
 * that every writer sees the request, not only the first to look. */
static atomic_uint reopen_generation;

struct aq_logfile {
	char *dir;
	char *path;
	int fd; /* -1: not open */
	unsigned generation;
};

void aq_logfile_reopen(void)
{
	/* a lock-free atomic add is safe in a signal handler */
	atomic_fetch_add_explicit(&reopen_generation, 1, memory_order_relaxed);
}

/* Modes of what the channel creates: the log can tell what is failing where. */
#define LOG_DIR_MODE 0750
#define LOG_FILE_MODE 0640

/* Creates dir and any missing parents with LOG_DIR_MODE. Returns 0, or -1
 * with errno set. */
static int make_dirs(const char *dir)
{
	char path[PATH_MAX];
	size_t len = strlen(dir);
	if (len == 0 || len >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(path, dir, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		char saved = path[i];
		path[i] = '\0';
		if (mkdir(path, LOG_DIR_MODE) < 0 && errno != EEXIST)
			return -1;
		path[i] = saved;
	}
	return 0;
}

/* Returns a writer for log_dir/alerts.log (opened at its first write), or
 * NULL with a message in err. */
static struct aq_logfile *logfile_new(const char *log_dir, char *err, size_t errlen)
{
	if (!log_dir || !log_dir[0]) {
		snprintf(err, errlen, "the log file channel needs log_dir");
		return NULL;
	}
	struct aq_logfile *lf = calloc(1, sizeof(*lf));
	if (!lf) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	lf->dir = aq_strdup(log_dir);
	if (asprintf(&lf->path, "%s/alerts.log", log_dir) < 0) {
		free(lf->dir);
		free(lf);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	lf->fd = -1;
	return lf;
}

static void logfile_free(struct aq_logfile *lf)
{
	if (!lf)
		return;
	if (lf->fd >= 0)
		close(lf->fd);
	free(lf->dir);
	free(lf->path);
	free(lf);
}

/* Makes sure lf has its file open, reopening it when asked to. Returns 0,
 * or -1 with a message in err (the file stays closed then). */
static int logfile_open(struct aq_logfile *lf, char *err, size_t errlen)
{
	unsigned generation = atomic_load_explicit(&reopen_generation, memory_order_relaxed);
	if (lf->fd >= 0 && lf->generation == generation)
		return 0;
	if (lf->fd >= 0) {
		close(lf->fd);
		lf->fd = -1;
	}
	if (make_dirs(lf->dir) < 0) {
		snprintf(err, errlen, "cannot create directory '%s': %s", lf->dir, strerror(errno));
		return -1;
	}
	/* a symbolic link in its place could point the writes anywhere */
	lf->fd = open(lf->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, LOG_FILE_MODE);
	if (lf->fd < 0 && errno == ELOOP) {
		snprintf(err, errlen, "cannot open '%s': it is a symbolic link, which is not followed",
			 lf->path);
		return -1;
	}
	if (lf->fd < 0) {
		snprintf(err, errlen, "cannot open '%s': %s", lf->path, strerror(errno));
		return -1;
	}
	lf->generation = generation;
	return 0;
}

/* Writes all len bytes of buf in one go where the kernel allows (so lines of
 * several writers do not mix). Returns 0, or -1 with errno set. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Marks items[from..n) RETRY with the same reason. */
static void fail_rest(struct aq_delivery *items, size_t from, size_t n, const char *reason)
{
	for (size_t i = from; i < n; i++)
		aq_delivery_set(&items[i], AQ_DELIVERY_RETRY, "%s", reason);
}

/* Appends one JSON line per item and flushes them to disk before marking
 * them delivered. */
static void logfile_deliver(struct aq_logfile *lf, struct aq_delivery *items, size_t n)
{
	char reason[sizeof(items->error)];
	if (n == 0)
		return;
	if (logfile_open(lf, reason, sizeof(reason)) < 0) {
		fail_rest(items, 0, n, reason);
		return;
	}
	size_t written = 0;
	for (; written < n; written++) {
		const struct aq_notification *note = items[written].notification;
		char *json = note->group_payload ? aq_strdup(note->group_payload)
						 : aq_notification_to_json(note);
		if (!json) {
			aq_delivery_set(&items[written], AQ_DELIVERY_RETRY, "out of memory");
			continue;
		}
		size_t len = strlen(json);
		/* the line and its newline in one write */
		char *line = realloc(json, len + 2);
		if (!line) {
			free(json);
			aq_delivery_set(&items[written], AQ_DELIVERY_RETRY, "out of memory");
			continue;
		}
		line[len] = '\n';
		line[len + 1] = '\0';
		int rc = write_all(lf->fd, line, len + 1);
		int saved = errno;
		free(line);
		if (rc < 0) {
			snprintf(reason, sizeof(reason), "cannot write '%s': %s", lf->path, strerror(saved));
			fail_rest(items, written, n, reason);
			break;
		}
	}
	if (fdatasync(lf->fd) < 0) {
		snprintf(reason, sizeof(reason), "cannot flush '%s': %s", lf->path, strerror(errno));
		fail_rest(items, 0, written, reason);
		/* the next batch starts on a fresh descriptor */
		close(lf->fd);
		lf->fd = -1;
		return;
	}
	if (written < n) {
		close(lf->fd);
		lf->fd = -1;
	}
}

static int logfile_ops_open(const struct aq_channel *ch, const char *log_dir, void **state, char *err,
			    size_t errlen)
{
	(void)ch;
	*state = logfile_new(log_dir, err, errlen);
	return *state ? 0 : -1;
}

static void logfile_ops_close(void *state)
{
	logfile_free(state);
}

static void logfile_ops_deliver(void *state, const struct aq_channel *ch, struct aq_delivery *items, size_t n)
{
	(void)ch;
	logfile_deliver(state, items, n);
}

const struct aq_channel_ops aq_logfile_ops = {
	.open = logfile_ops_open,
	.close = logfile_ops_close,
	.deliver = logfile_ops_deliver,
};
