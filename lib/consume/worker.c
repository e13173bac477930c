/* worker.c - the worker's lifecycle: load the configuration, connect, start
 * and stop the delivery threads, reload on request, and the main loop that
 * collects and applies batches. How a batch is applied exactly once is told
 * in batch.c. */
#include "alertq/worker.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alertq/config.h"
#include "alertq/event.h"
#include "alertq/notify.h"
#include "alertq/store.h"
#include "alertq/util.h"
#include "base/failpoint.h"
#include "consume/batch.h"
#include "consume/consumer.h"
#include "consume/deadletter.h"
#include "consume/pace.h"
#include "consume/worker_internal.h"
#include "notify/dispatcher.h"
#include "notify/ticker.h"

/* Stops the dispatchers and the ticker and waits for them; they can be
 * started again after. */
static void stop_threads(struct worker *w)
{
	w->threads_stop = 1;
	aq_dispatchers_wake(w);
	for (size_t i = 0; i < w->ndispatchers; i++)
		if (w->dispatchers[i].started)
			pthread_join(w->dispatchers[i].thread, NULL);
	free(w->dispatchers);
	w->dispatchers = NULL;
	w->ndispatchers = 0;
	if (w->ticker_started)
		pthread_join(w->ticker, NULL);
	w->ticker_started = 0;
	w->threads_stop = 0;
}

/* Starts one dispatcher per channel and the ticker. Returns 0, or -1 when a
 * thread cannot be made (stop_threads joins those that started). */
static int start_threads(struct worker *w)
{
	w->dispatchers = calloc(w->cfg.nchannels ? w->cfg.nchannels : 1, sizeof(*w->dispatchers));
	if (!w->dispatchers)
		return -1;
	w->ndispatchers = w->cfg.nchannels;
	for (size_t i = 0; i < w->cfg.nchannels; i++) {
		struct dispatcher *d = &w->dispatchers[i];
		d->w = w;
		d->channel = &w->cfg.channels[i];
		if (pthread_create(&d->thread, NULL, aq_dispatcher_main, d) != 0)
			return -1;
		d->started = 1;
	}
	if (pthread_create(&w->ticker, NULL, aq_ticker_main, w) != 0)
		return -1;
	w->ticker_started = 1;
	return 0;
}

/* SIGHUP: reopen log files and load the configuration again. A file with
 * errors is refused with its errors and the running configuration stays. */
static void reload(struct worker *w, const char *path)
{
	char err[8192];
	struct aq_config fresh;
	memset(&fresh, 0, sizeof(fresh));
	aq_logfile_reopen();
	if (aq_config_load(&fresh, path, err, sizeof(err)) != 0) {
		aq_log(AQ_LOG_ERROR, "reload refused, the running configuration stays:\n%s", err);
		return;
	}
	if (strcmp(fresh.topic, w->cfg.topic) != 0 || strcmp(fresh.group, w->cfg.group) != 0 ||
	    strcmp(fresh.brokers, w->cfg.brokers) != 0 || strcmp(fresh.state_dsn, w->cfg.state_dsn) != 0)
		aq_log(AQ_LOG_WARN, "reload: kafka and state settings take effect at the next start");
	stop_threads(w);
	pthread_rwlock_wrlock(&w->cfg_lock);
	/* the connections stay; rules, escalations and channels are new */
	struct aq_config old = w->cfg;
	w->cfg = fresh;
	free(w->cfg.topic);
	w->cfg.topic = aq_strdup(old.topic);
	free(w->cfg.dead_letter_topic);
	w->cfg.dead_letter_topic = aq_strdup(old.dead_letter_topic);
	free(w->cfg.state_dsn);
	w->cfg.state_dsn = aq_strdup(old.state_dsn);
	aq_config_release(&old);
	pthread_rwlock_unlock(&w->cfg_lock);
	if (start_threads(w) != 0)
		aq_log(AQ_LOG_ERROR, "reload: cannot start the delivery threads");
	aq_log(AQ_LOG_INFO, "configuration reloaded: %zu rules, %zu escalations, %zu channels", w->cfg.nrules,
	       w->cfg.nescalations, w->cfg.nchannels);
}

int aq_worker_run(struct aq_config *cfg, const char *config_path, struct aq_worker_signals *sig)
{
	struct worker w;
	struct batch b;
	char err[8192];
	int rc = -1;
	int applied = 0;

	memset(&w, 0, sizeof(w));
	int batch_ready = aq_batch_init(&b) == 0;
	w.sig = sig;
	pthread_rwlock_init(&w.cfg_lock, NULL);
	pthread_mutex_init(&w.wake_lock, NULL);
	pthread_cond_init(&w.wake, NULL);
	srand((unsigned)(getpid() ^ aq_now_ms()));

	w.cfg = *cfg;
	memset(cfg, 0, sizeof(*cfg));
	w.codec = aq_codec_new(err, sizeof(err));
	w.writes = aq_writes_new();
	aq_state_cache_init(&w.cache, (size_t)w.cfg.state_cache_mb * 1024 * 1024);
	if (!w.codec || !w.writes || !batch_ready) {
		aq_log(AQ_LOG_ERROR, "cannot start: %s", w.codec ? "out of memory" : err);
		goto out;
	}

	/* the database may still be starting (compose, boot): wait for it */
	for (int attempt = 0; !w.store && !sig->stop; attempt++) {
		w.store = aq_store_connect(w.cfg.state_dsn, err, sizeof(err));
		if (!w.store) {
			if (attempt == 0)
				aq_log(AQ_LOG_WARN, "%s; retrying", err);
			aq_sleep_ms(aq_backoff_ms(attempt, 200, 5000));
		}
	}
	if (!w.store) {
		rc = 0;
		goto out;
	}
	if (aq_store_migrate(w.store, &applied, err, sizeof(err)) != 0) {
		aq_log(AQ_LOG_ERROR, "cannot migrate the state database: %s", err);
		goto out;
	}
	if (applied)
		aq_log(AQ_LOG_INFO, "state database migrated to schema version %d",
		       aq_store_schema_version());
	/* held shared while running: `alertq replay --rebuild` takes it
	 * exclusively, so a worker waits for a rebuild and a rebuild refuses
	 * to start while a worker runs */
	for (int said = 0; !sig->stop; said = 1) {
		int held = aq_store_worker_lock(w.store, 0, err, sizeof(err));
		if (held < 0) {
			aq_log(AQ_LOG_ERROR, "%s", err);
			goto out;
		}
		if (held == 0)
			break;
		if (!said)
			aq_log(AQ_LOG_INFO, "a rebuild of the state is running; waiting for it to finish");
		aq_sleep_ms(1000);
	}
	if (aq_dead_letter_setup(&w, err, sizeof(err)) != 0 || aq_consumer_setup(&w, err, sizeof(err)) != 0) {
		aq_log(AQ_LOG_ERROR, "%s", err);
		goto out;
	}
	if (start_threads(&w) != 0) {
		aq_log(AQ_LOG_ERROR, "cannot start the delivery threads");
		goto out;
	}
	aq_log(AQ_LOG_INFO, "consuming '%s' as group '%s' from %s", w.cfg.topic, w.cfg.group, w.cfg.brokers);

	while (!sig->stop) {
		if (sig->reload) {
			sig->reload = 0;
			reload(&w, config_path);
		}
		if (aq_batch_collect(&w, &b) == 0)
			continue;
		if (aq_batch_apply_until_done(&w, &b) == 0) {
			/* committed in PostgreSQL, not yet in Kafka: the window a
			 * redelivery comes from */
			(void)AQ_FAILPOINT("batch.after_commit");
			aq_consumer_commit(&w, &b);
			aq_dispatchers_wake(&w);
		}
		aq_batch_release_items(&b);
	}
	rc = w.fatal ? -1 : 0;
	aq_log(AQ_LOG_INFO, "stopping%s: leaving the group", w.fatal ? " after a fatal Kafka error" : "");
out:
	aq_batch_release_items(&b);
	stop_threads(&w);
	aq_consumer_close(&w);
	aq_dead_letter_close(&w);
	aq_store_free(w.store);
	aq_codec_free(w.codec);
	aq_writes_free(w.writes);
	aq_state_cache_release(&w.cache);
	aq_batch_release(&b);
	aq_config_release(&w.cfg);
	pthread_rwlock_destroy(&w.cfg_lock);
	pthread_mutex_destroy(&w.wake_lock);
	pthread_cond_destroy(&w.wake);
	return rc;
}
