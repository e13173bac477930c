/* sink.c - the benchmark's webhook receiver: a small HTTP/1.1 server on
 * loopback that answers every POST with 200 on a kept-alive connection and
 * records each arrival, so that the receiver is never what is measured.
 *
 *   bench_sink PORT OUT     writes "arrival_us idempotency_key event_id" lines
 *                           to OUT (flushed every 100 ms); stops on SIGTERM */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CONN_BUF (256 * 1024)
#define EVENTS 64

struct conn {
	int fd;
	size_t len;
	char buf[CONN_BUF];
};

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	stop = 1;
}

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Copies the value of header name (up to the line end) from head into out. */
static void header_value(const char *head, size_t headlen, const char *name, char *out, size_t outlen)
{
	size_t nlen = strlen(name);
	out[0] = '\0';
	for (const char *p = head; p && p < head + headlen;) {
		const char *eol = memmem(p, (size_t)(head + headlen - p), "\r\n", 2);
		if (!eol)
			break;
		if ((size_t)(eol - p) > nlen + 1 && strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
			const char *v = p + nlen + 1;
			while (v < eol && *v == ' ')
				v++;
			snprintf(out, outlen, "%.*s", (int)(eol - v), v);
			return;
		}
		p = eol + 2;
	}
}

/* Copies the string value of "key" in the JSON body into out. */
static void json_string_of(const char *body, size_t len, const char *key, char *out, size_t outlen)
{
	char pattern[64];
	snprintf(pattern, sizeof(pattern), "\"%s\":", key);
	out[0] = '\0';
	const char *p = memmem(body, len, pattern, strlen(pattern));
	if (!p)
		return;
	p += strlen(pattern);
	while (p < body + len && (*p == ' ' || *p == '"'))
		p++;
	const char *end = p;
	while (end < body + len && *end != '"' && *end != ',' && *end != '}')
		end++;
	snprintf(out, outlen, "%.*s", (int)(end - p), p);
}

/* Answers every complete request in c's buffer. Returns 0, or -1 to close. */
static int serve(struct conn *c, FILE *out)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	for (;;) {
		char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
		if (!end)
			return c->len < CONN_BUF ? 0 : -1;
		size_t headlen = (size_t)(end - c->buf) + 2;
		char value[128];
		header_value(c->buf, headlen, "Content-Length", value, sizeof(value));
		size_t body = (size_t)strtoul(value, NULL, 10);
		size_t total = headlen + 2 + body;
		if (total > CONN_BUF)
			return -1;
		if (c->len < total)
			return 0;
		char key[128];
		char event[128];
		header_value(c->buf, headlen, "Idempotency-Key", key, sizeof(key));
		json_string_of(c->buf + headlen + 2, body, "event_id", event, sizeof(event));
		fprintf(out, "%" PRId64 " %s %s\n", now_us(), key[0] ? key : "-", event[0] ? event : "-");
		if (write(c->fd, ok, sizeof(ok) - 1) != (ssize_t)(sizeof(ok) - 1))
			return -1;
		memmove(c->buf, c->buf + total, c->len - total);
		c->len -= total;
	}
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: bench_sink PORT OUT\n");
		return 2;
	}
	FILE *out = fopen(argv[2], "w");
	if (!out) {
		perror(argv[2]);
		return 1;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1])) };
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(lfd, 128) != 0) {
		perror("bench_sink: bind");
		return 1;
	}
	int ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	int64_t flushed = now_us();
	while (!stop) {
		struct epoll_event events[EVENTS];
		int n = epoll_wait(ep, events, EVENTS, 50);
		for (int i = 0; i < n; i++) {
			struct conn *c = events[i].data.ptr;
			if (!c) {
				int fd = accept(lfd, NULL, NULL);
				if (fd < 0)
					continue;
				setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
				c = calloc(1, sizeof(*c));
				if (!c) {
					close(fd);
					continue;
				}
				c->fd = fd;
				struct epoll_event cev = { .events = EPOLLIN, .data.ptr = c };
				epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
				continue;
			}
			ssize_t got = read(c->fd, c->buf + c->len, CONN_BUF - c->len);
			if (got > 0) {
				c->len += (size_t)got;
				if (serve(c, out) == 0)
					continue;
			} else if (got < 0 && (errno == EINTR || errno == EAGAIN)) {
				continue;
			}
			epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
			close(c->fd);
			free(c);
		}
		if (now_us() - flushed > 100000) {
			fflush(out);
			flushed = now_us();
		}
	}
	fclose(out);
	return 0;
}
