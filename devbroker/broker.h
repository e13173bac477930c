/* broker.h - alertq-devbroker's broker: librdkafka's mock cluster on
 * 127.0.0.1, its topics, its bootstrap address, and serving until stopped */
#ifndef ALERTQ_DEVBROKER_BROKER_H
#define ALERTQ_DEVBROKER_BROKER_H

#include <signal.h>

#define PROGRAM "alertq-devbroker"

struct options {
	const char *config_path; /* NULL: built-in topic names */
	int port;                /* 0: whatever port the system picks */
	int partitions;
	const char *bootstrap_file; /* NULL: stdout only */
};

/* Starts the broker on 127.0.0.1:opts->port with topic and
 * dead_letter_topic, prints its address on stdout (and into
 * opts->bootstrap_file), serves until *stop becomes non-zero and shuts it
 * down. Returns 0 after a clean stop, or -1 when it could not start; every
 * failure is explained on stderr first. */
int broker_run(const struct options *opts, const char *topic, const char *dead_letter_topic,
	       const volatile sig_atomic_t *stop);

#endif
