/* main.c - alertq-devbroker: an in-memory Kafka broker on 127.0.0.1 for development and tests */

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alertq/config.h"
#include "alertq/util.h"
#include "alertq/version.h"
#include "broker.h"

#define DEFAULT_PORT 9092
#define DEFAULT_PARTITIONS 12
#define MAX_PARTITIONS 10000
#define DEFAULT_TOPIC "alertq.checks"
#define DEFAULT_DEAD_LETTER_TOPIC "alertq.checks.dlq"

enum exit_code {
	EXIT_OK = 0,
	EXIT_RUNTIME = 1,
	EXIT_USAGE = 2
};

static volatile sig_atomic_t stop_requested;

/* Only notes the signal; the broker sees it within a tenth of a second. */
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
		code = broker_run(&opts, topic, dead_letter_topic, &stop_requested) == 0 ? EXIT_OK
											 : EXIT_RUNTIME;
	}
	if (opts.config_path)
		aq_config_release(&cfg);
	return code;
}
