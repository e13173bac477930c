/* broker.c - alertq-devbroker's broker: librdkafka's mock cluster on
 * 127.0.0.1, its topics, its bootstrap address, and serving until stopped */
#include "broker.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "alertq/util.h"

/* How long the broker may take to answer its own first metadata request. */
#define READY_TIMEOUT_MS 10000
#define POLL_INTERVAL_NS (100 * 1000 * 1000L)
/* Files alertq creates are 0640 (directories 0750): the owner's group may
 * read them, nobody else. */
#define BOOTSTRAP_FILE_MODE 0640

/* The port the next loopback port-0 listener is moved to; 0 when no move is
 * pending. The mock cluster has no setting for its port, so its single
 * listener is redirected here, once. */
static atomic_int pending_port;

/* Wraps the C library's bind(): the one listening socket the mock cluster
 * binds to 127.0.0.1 port 0 is bound to pending_port instead; every other
 * bind is passed through untouched. Returns what the real bind() returns. */
int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	static int (*real_bind)(int, const struct sockaddr *, socklen_t);

	if (!real_bind) {
		void *sym = dlsym(RTLD_NEXT, "bind");
		if (!sym) {
			errno = ENOSYS;
			return -1;
		}
		*(void **)&real_bind = sym;
	}

	if (!addr || addr->sa_family != AF_INET || len < (socklen_t)sizeof(struct sockaddr_in))
		return real_bind(fd, addr, len);

	struct sockaddr_in sin;
	memcpy(&sin, addr, sizeof(sin));
	if (sin.sin_port != 0 || sin.sin_addr.s_addr != htonl(INADDR_LOOPBACK))
		return real_bind(fd, addr, len);

	int type = 0;
	socklen_t typelen = sizeof(type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &typelen) != 0 || type != SOCK_STREAM)
		return real_bind(fd, addr, len);

	int port = atomic_exchange(&pending_port, 0);
	if (port == 0)
		return real_bind(fd, addr, len);

	sin.sin_port = htons((uint16_t)port);
	return real_bind(fd, (const struct sockaddr *)&sin, sizeof(sin));
}

/* Tells whether 127.0.0.1:port can be listened on, by binding a socket there
 * (with SO_REUSEADDR, so a port left in TIME_WAIT counts as free) and closing
 * it again. Returns 1 when free, 0 when another socket holds it, -1 on any
 * other failure with a message in err. */
static int port_is_free(int port, char *err, size_t errlen)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create a socket: %s", strerror(errno));
		return -1;
	}
	int on = 1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0) {
		snprintf(err, errlen, "cannot set SO_REUSEADDR: %s", strerror(errno));
		close(fd);
		return -1;
	}

	struct sockaddr_in sin;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

	int result = 1;
	if (bind(fd, (const struct sockaddr *)&sin, sizeof(sin)) != 0) {
		if (errno == EADDRINUSE) {
			result = 0;
		} else {
			snprintf(err, errlen, "cannot bind 127.0.0.1:%d: %s", port, strerror(errno));
			result = -1;
		}
	}
	close(fd);
	return result;
}

/* Creates the producer handle that hosts the mock cluster. Returns the handle,
 * or NULL with a message in err (nothing is left allocated then). */
static rd_kafka_t *new_host_handle(char *err, size_t errlen)
{
	char errstr[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();

	if (rd_kafka_conf_set(conf, "client.id", PROGRAM, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
		snprintf(err, errlen, "client.id: %s", errstr);
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	/* The host handle never talks to a broker itself; only its errors matter. */
	if (rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
		snprintf(err, errlen, "log_level: %s", errstr);
		rd_kafka_conf_destroy(conf);
		return NULL;
	}

	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (!rk) {
		snprintf(err, errlen, "cannot create the client hosting the broker: %s", errstr);
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	return rk;
}

/* Asks the broker at address for the metadata of topic, as a client would, and
 * checks that the topic has the expected number of partitions. Returns 0 once
 * it answers, or -1 with a message in err after READY_TIMEOUT_MS. */
static int check_serving(const char *address, const char *topic, int partitions, char *err, size_t errlen)
{
	char errstr[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();

	if (rd_kafka_conf_set(conf, "bootstrap.servers", address, errstr, sizeof(errstr)) !=
	    RD_KAFKA_CONF_OK) {
		snprintf(err, errlen, "bootstrap.servers: %s", errstr);
		rd_kafka_conf_destroy(conf);
		return -1;
	}
	if (rd_kafka_conf_set(conf, "client.id", PROGRAM "-selfcheck", errstr, sizeof(errstr)) !=
	    RD_KAFKA_CONF_OK) {
		snprintf(err, errlen, "client.id: %s", errstr);
		rd_kafka_conf_destroy(conf);
		return -1;
	}

	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (!rk) {
		snprintf(err, errlen, "cannot create a client to check the broker: %s", errstr);
		rd_kafka_conf_destroy(conf);
		return -1;
	}
	conf = NULL;

	int result = -1;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	if (!rkt) {
		snprintf(err, errlen, "topic '%s': %s", topic, rd_kafka_err2str(rd_kafka_last_error()));
		goto out;
	}

	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t kerr = rd_kafka_metadata(rk, 0, rkt, &md, READY_TIMEOUT_MS);
	if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR) {
		snprintf(err, errlen, "the broker at %s does not answer: %s", address,
			 rd_kafka_err2str(kerr));
		goto out;
	}
	if (md->topic_cnt != 1 || md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		snprintf(err, errlen, "the broker at %s does not know topic '%s'", address, topic);
	} else if (md->topics[0].partition_cnt != partitions) {
		snprintf(err, errlen, "topic '%s' has %d partitions instead of %d", topic,
			 md->topics[0].partition_cnt, partitions);
	} else {
		result = 0;
	}
	rd_kafka_metadata_destroy(md);

out:
	if (rkt)
		rd_kafka_topic_destroy(rkt);
	rd_kafka_destroy(rk);
	return result;
}

/* Writes "address\n" to path through a temporary file and a rename, so that a
 * reader polling for path never sees half a line. Returns 0, or -1 with a
 * message in err (the temporary file is removed then). */
static int write_bootstrap_file(const char *path, const char *address, char *err, size_t errlen)
{
	char tmp[PATH_MAX];
	int n = snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		snprintf(err, errlen, "path too long: '%s'", path);
		return -1;
	}

	/* O_EXCL: a file or link someone left at the temporary name is not
	 * written through */
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, BOOTSTRAP_FILE_MODE);
	if (fd < 0) {
		snprintf(err, errlen, "cannot write '%s': %s", tmp, strerror(errno));
		return -1;
	}
	FILE *f = fdopen(fd, "w");
	if (!f) {
		snprintf(err, errlen, "cannot write '%s': %s", path, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	int failed = fprintf(f, "%s\n", address) < 0;
	if (fclose(f) != 0)
		failed = 1;
	if (failed) {
		snprintf(err, errlen, "cannot write '%s': %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path) != 0) {
		snprintf(err, errlen, "cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* Sleeps about POLL_INTERVAL_NS at a time until *stop becomes non-zero. */
static void wait_for_stop(const volatile sig_atomic_t *stop)
{
	while (!*stop) {
		struct timespec pause = { 0, POLL_INTERVAL_NS };
		nanosleep(&pause, NULL);
	}
}

int broker_run(const struct options *opts, const char *topic, const char *dead_letter_topic,
	       const volatile sig_atomic_t *stop)
{
	char err[1024];

	if (opts->port != 0) {
		int free_port = port_is_free(opts->port, err, sizeof(err));
		if (free_port < 0) {
			fprintf(stderr, PROGRAM ": %s\n", err);
			return -1;
		}
		if (free_port == 0) {
			fprintf(stderr, PROGRAM ": port %d on 127.0.0.1 is already in use\n", opts->port);
			return -1;
		}
	}

	rd_kafka_t *rk = new_host_handle(err, sizeof(err));
	if (!rk) {
		fprintf(stderr, PROGRAM ": %s\n", err);
		return -1;
	}

	int code = -1;
	int wrote_bootstrap_file = 0;

	atomic_store(&pending_port, opts->port);
	rd_kafka_mock_cluster_t *mcluster = rd_kafka_mock_cluster_new(rk, 1);
	atomic_store(&pending_port, 0);
	if (!mcluster) {
		fprintf(stderr, PROGRAM ": cannot start the mock cluster on 127.0.0.1:%d\n", opts->port);
		goto out;
	}

	char address[64];
	snprintf(address, sizeof(address), "%s", rd_kafka_mock_cluster_bootstraps(mcluster));
	if (opts->port != 0) {
		char expected[64];
		snprintf(expected, sizeof(expected), "127.0.0.1:%d", opts->port);
		if (strcmp(address, expected) != 0) {
			fprintf(stderr, PROGRAM ": the broker listens on %s instead of %s\n", address,
				expected);
			goto out;
		}
	}

	const char *topics[2] = { topic, dead_letter_topic };
	size_t ntopics = strcmp(topic, dead_letter_topic) == 0 ? 1 : 2;
	for (size_t i = 0; i < ntopics; i++) {
		rd_kafka_resp_err_t kerr = rd_kafka_mock_topic_create(mcluster, topics[i], opts->partitions,
								      1);
		if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR) {
			fprintf(stderr, PROGRAM ": cannot create topic '%s': %s\n", topics[i],
				rd_kafka_err2str(kerr));
			goto out;
		}
	}

	if (check_serving(address, topic, opts->partitions, err, sizeof(err)) != 0) {
		fprintf(stderr, PROGRAM ": %s\n", err);
		goto out;
	}

	if (opts->bootstrap_file) {
		if (write_bootstrap_file(opts->bootstrap_file, address, err, sizeof(err)) != 0) {
			fprintf(stderr, PROGRAM ": %s\n", err);
			goto out;
		}
		wrote_bootstrap_file = 1;
	}

	printf("%s\n", address);
	if (fflush(stdout) != 0)
		aq_log(AQ_LOG_WARN, "cannot write the address to stdout: %s", strerror(errno));

	aq_log(AQ_LOG_INFO, "serving %s and %s, %d partitions each, on %s", topic, dead_letter_topic,
	       opts->partitions, address);

	wait_for_stop(stop);
	aq_log(AQ_LOG_INFO, "stopping");
	code = 0;

out:
	if (wrote_bootstrap_file && unlink(opts->bootstrap_file) != 0)
		aq_log(AQ_LOG_WARN, "cannot remove '%s': %s", opts->bootstrap_file, strerror(errno));
	if (mcluster)
		rd_kafka_mock_cluster_destroy(mcluster);
	rd_kafka_destroy(rk);
	return code;
}
