/* main.c - alertq-devbroker: an in-memory Kafka broker on 127.0.0.1 for development and tests */

#include <dlfcn.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "alertq/config.h"
#include "alertq/util.h"
#include "alertq/version.h"

#define PROGRAM "alertq-devbroker"

#define DEFAULT_PORT 9092
#define DEFAULT_PARTITIONS 12
#define MAX_PARTITIONS 10000
#define DEFAULT_TOPIC "alertq.checks"
#define DEFAULT_DEAD_LETTER_TOPIC "alertq.checks.dlq"

/* How long the broker may take to answer its own first metadata request. */
#define READY_TIMEOUT_MS 10000
#define POLL_INTERVAL_NS (100 * 1000 * 1000L)

enum exit_code {
	EXIT_OK = 0,
	EXIT_RUNTIME = 1,
	EXIT_USAGE = 2
};

struct options {
	const char *config_path; /* NULL: built-in topic names */
	int port;                /* 0: whatever port the system picks */
	int partitions;
	const char *bootstrap_file; /* NULL: stdout only */
};

static volatile sig_atomic_t stop_requested;

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

/* Only notes the signal; the main loop sees it within POLL_INTERVAL_NS. */
static void on_stop_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* Installs the SIGTERM/SIGINT handler and ignores SIGPIPE, so that a reader
 * of stdout going away does not take the broker down. Returns 0 or -1. */
static int install_signal_handlers(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0)
		return -1;

	struct sigaction ignore;
	memset(&ignore, 0, sizeof(ignore));
	ignore.sa_handler = SIG_IGN;
	sigemptyset(&ignore.sa_mask);
	if (sigaction(SIGPIPE, &ignore, NULL) != 0)
		return -1;
	return 0;
}

/* Prints the help text to out. */
static void print_usage(FILE *out)
{
	fprintf(out,
		"usage: " PROGRAM " [-c FILE] [--port N] [--partitions N] [--bootstrap-file PATH]\n"
		"\n"
		"A Kafka broker for development and tests: librdkafka's mock cluster, one\n"
		"broker listening on 127.0.0.1. It creates the checks topic and the\n"
		"dead-letter topic (kafka.topic and kafka.dead_letter_topic of -c FILE;\n"
		"without -c, " DEFAULT_TOPIC " and " DEFAULT_DEAD_LETTER_TOPIC "), prints its\n"
		"bootstrap address (127.0.0.1:PORT) on stdout once it accepts connections,\n"
		"and runs until SIGTERM or SIGINT.\n"
		"\n"
		"  -c, --config FILE        take the topic names from this alertq.yaml\n"
		"      --port N             listen on 127.0.0.1:N (default %d; 0 = any free port)\n"
		"      --partitions N       partitions of each topic (default %d)\n"
		"      --bootstrap-file PATH\n"
		"                           also write the address to PATH once it accepts\n"
		"                           connections; the file is removed on exit\n"
		"  -h, --help               show this help\n"
		"  -V, --version            print the version\n"
		"\n"
		"Not for production. Everything is held in memory only: each partition keeps\n"
		"about 5 MiB (or 100k batches) and drops the oldest beyond that, and nothing\n"
		"survives a restart -- restart producers and workers along with it, as they\n"
		"would otherwise skip new messages. Topics created by clients on the fly get\n"
		"4 partitions. No SASL, SSL or transactions; keep message.max.bytes at 1 MB.\n"
		"\n"
		"Exit status: 0 stopped by a signal, 1 runtime failure (such as the port\n"
		"being in use), 2 usage or configuration error.\n",
		DEFAULT_PORT, DEFAULT_PARTITIONS);
}

/* Parses text as a whole decimal integer within [min, max] into *out.
 * Returns 0, or -1 leaving *out untouched. */
static int parse_int(const char *text, long min, long max, int *out)
{
	char *end = NULL;
	errno = 0;
	long value = strtol(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || value < min || value > max)
		return -1;
	*out = (int)value;
	return 0;
}

/* Reads the command line into opts. Returns -1 when the program should go on,
 * otherwise the exit code (0 after --help or --version, 2 on a usage error,
 * with the reason already printed). */
static int parse_options(int argc, char **argv, struct options *opts)
{
	enum {
		OPT_PORT = 256,
		OPT_PARTITIONS,
		OPT_BOOTSTRAP_FILE
	};
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "port", required_argument, NULL, OPT_PORT },
		{ "partitions", required_argument, NULL, OPT_PARTITIONS },
		{ "bootstrap-file", required_argument, NULL, OPT_BOOTSTRAP_FILE },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};

	opts->config_path = NULL;
	opts->port = DEFAULT_PORT;
	opts->partitions = DEFAULT_PARTITIONS;
	opts->bootstrap_file = NULL;

	opterr = 0;
	for (;;) {
		int c = getopt_long(argc, argv, ":c:hV", longopts, NULL);
		if (c == -1)
			break;
		switch (c) {
		case 'c':
			opts->config_path = optarg;
			break;
		case OPT_PORT:
			if (parse_int(optarg, 0, 65535, &opts->port) != 0) {
				fprintf(stderr, PROGRAM ": --port wants a number from 0 to 65535, not '%s'\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_PARTITIONS:
			if (parse_int(optarg, 1, MAX_PARTITIONS, &opts->partitions) != 0) {
				fprintf(stderr,
					PROGRAM ": --partitions wants a number from 1 to %d, not '%s'\n",
					MAX_PARTITIONS, optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_BOOTSTRAP_FILE:
			if (optarg[0] == '\0') {
				fprintf(stderr, PROGRAM ": --bootstrap-file wants a path\n");
				return EXIT_USAGE;
			}
			opts->bootstrap_file = optarg;
			break;
		case 'h':
			print_usage(stdout);
			return EXIT_OK;
		case 'V':
			printf(PROGRAM " %s\n", ALERTQ_VERSION);
			return EXIT_OK;
		case ':':
			fprintf(stderr, PROGRAM ": option '%s' wants a value\n", argv[optind - 1]);
			fprintf(stderr, "try '" PROGRAM " --help'\n");
			return EXIT_USAGE;
		default:
			fprintf(stderr, PROGRAM ": unknown option '%s'\n", argv[optind - 1]);
			fprintf(stderr, "try '" PROGRAM " --help'\n");
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, PROGRAM ": unexpected argument '%s'\n", argv[optind]);
		fprintf(stderr, "try '" PROGRAM " --help'\n");
		return EXIT_USAGE;
	}
	return -1;
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

	FILE *f = fopen(tmp, "w");
	if (!f) {
		snprintf(err, errlen, "cannot write '%s': %s", path, strerror(errno));
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

/* Sleeps about POLL_INTERVAL_NS at a time until SIGTERM or SIGINT arrives. */
static void wait_for_stop_signal(void)
{
	while (!stop_requested) {
		struct timespec pause = { 0, POLL_INTERVAL_NS };
		nanosleep(&pause, NULL);
	}
}

/* Starts the broker, serves until a stop signal and shuts it down. Returns
 * the exit code; every failure is explained on stderr first. */
static int run(const struct options *opts, const char *topic, const char *dead_letter_topic)
{
	char err[1024];

	if (opts->port != 0) {
		int free_port = port_is_free(opts->port, err, sizeof(err));
		if (free_port < 0) {
			fprintf(stderr, PROGRAM ": %s\n", err);
			return EXIT_RUNTIME;
		}
		if (free_port == 0) {
			fprintf(stderr, PROGRAM ": port %d on 127.0.0.1 is already in use\n", opts->port);
			return EXIT_RUNTIME;
		}
	}

	rd_kafka_t *rk = new_host_handle(err, sizeof(err));
	if (!rk) {
		fprintf(stderr, PROGRAM ": %s\n", err);
		return EXIT_RUNTIME;
	}

	int code = EXIT_RUNTIME;
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

	wait_for_stop_signal();
	aq_log(AQ_LOG_INFO, "stopping");
	code = EXIT_OK;

out:
	if (wrote_bootstrap_file && unlink(opts->bootstrap_file) != 0)
		aq_log(AQ_LOG_WARN, "cannot remove '%s': %s", opts->bootstrap_file, strerror(errno));
	if (mcluster)
		rd_kafka_mock_cluster_destroy(mcluster);
	rd_kafka_destroy(rk);
	return code;
}

/* Reads the options and the configuration, then runs the broker. */
int main(int argc, char **argv)
{
	aq_log_init(PROGRAM);

	struct options opts;
	int code = parse_options(argc, argv, &opts);
	if (code >= 0)
		return code;

	struct aq_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	const char *topic = DEFAULT_TOPIC;
	const char *dead_letter_topic = DEFAULT_DEAD_LETTER_TOPIC;
	if (opts.config_path) {
		char err[4096];
		if (aq_config_load(&cfg, opts.config_path, err, sizeof(err)) != 0) {
			fprintf(stderr, "%s\n", err);
			return EXIT_USAGE;
		}
		if (cfg.topic && cfg.topic[0] != '\0')
			topic = cfg.topic;
		if (cfg.dead_letter_topic && cfg.dead_letter_topic[0] != '\0')
			dead_letter_topic = cfg.dead_letter_topic;
	}

	if (install_signal_handlers() != 0) {
		fprintf(stderr, PROGRAM ": cannot install signal handlers: %s\n", strerror(errno));
		code = EXIT_RUNTIME;
	} else {
		code = run(&opts, topic, dead_letter_topic);
	}
	if (opts.config_path)
		aq_config_release(&cfg);
	return code;
}
