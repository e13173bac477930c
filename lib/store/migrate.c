/* migrate.c - the schema of the state database and the migrations that
 * bring a database to it */
#include <stdio.h>

#include "store/store_internal.h"

/* Each migration runs once, in order, in its own transaction. A new version
 * is a new entry at the end; an applied one is never edited. */
static const char *const migrations[] = {
	/* 1: state, history, offsets, outbox, silences */
	"CREATE TABLE alertq_checks ("
	"  check_name text PRIMARY KEY,"
	"  severity text NOT NULL,"
	"  previous_severity text NOT NULL DEFAULT 'OK',"
	"  since_ms bigint NOT NULL,"
	"  pending_severity text,"
	"  pending_count int NOT NULL DEFAULT 0,"
	"  has_value boolean NOT NULL DEFAULT false,"
	"  value double precision,"
	"  status text,"
	"  message text NOT NULL DEFAULT '',"
	"  labels jsonb NOT NULL DEFAULT '{}',"
	"  last_seen_ms bigint NOT NULL DEFAULT 0,"
	"  interval_ms bigint NOT NULL DEFAULT 0,"
	"  last_event_id text NOT NULL DEFAULT '',"
	"  stale_at_ms bigint NOT NULL DEFAULT 0,"
	"  stale boolean NOT NULL DEFAULT false,"
	"  episode bigint NOT NULL DEFAULT 0,"
	"  escalation_level int NOT NULL DEFAULT -1,"
	"  last_notified_ms bigint NOT NULL DEFAULT 0,"
	"  next_action_ms bigint NOT NULL DEFAULT 0,"
	"  told text[] NOT NULL DEFAULT '{}',"
	"  acked boolean NOT NULL DEFAULT false,"
	"  acked_by text,"
	"  acked_at timestamptz,"
	"  ack_comment text,"
	"  suppressed boolean NOT NULL DEFAULT false,"
	"  updated_at timestamptz NOT NULL DEFAULT now());"
	"CREATE INDEX alertq_checks_next_action ON alertq_checks (next_action_ms) WHERE next_action_ms > 0;"
	"CREATE INDEX alertq_checks_stale_at ON alertq_checks (stale_at_ms) WHERE stale_at_ms > 0;"
	"CREATE INDEX alertq_checks_suppressed ON alertq_checks (check_name) WHERE suppressed;"
	"CREATE TABLE alertq_transitions ("
	"  id bigserial PRIMARY KEY,"
	"  ref uuid NOT NULL UNIQUE,"
	"  check_name text NOT NULL,"
	"  from_severity text NOT NULL,"
	"  to_severity text NOT NULL,"
	"  value double precision,"
	"  message text NOT NULL DEFAULT '',"
	"  observed_at_ms bigint NOT NULL,"
	"  event_id text NOT NULL DEFAULT '',"
	"  cause text NOT NULL,"
	"  recorded_at timestamptz NOT NULL DEFAULT now());"
	"CREATE INDEX alertq_transitions_check ON alertq_transitions (check_name, id);"
	"CREATE TABLE alertq_offsets ("
	"  topic text NOT NULL,"
	"  partition int NOT NULL,"
	"  next_offset bigint NOT NULL,"
	"  updated_at timestamptz NOT NULL DEFAULT now(),"
	"  PRIMARY KEY (topic, partition));"
	"CREATE TABLE alertq_notifications ("
	"  id uuid PRIMARY KEY,"
	"  transition_ref uuid,"
	"  check_name text NOT NULL,"
	"  channel text NOT NULL,"
	"  level int NOT NULL DEFAULT 0,"
	"  resolved boolean NOT NULL DEFAULT false,"
	"  payload text NOT NULL,"
	"  state text NOT NULL DEFAULT 'pending',"
	"  attempts int NOT NULL DEFAULT 0,"
	"  next_attempt_at timestamptz NOT NULL DEFAULT now(),"
	"  give_up_at timestamptz NOT NULL,"
	"  last_error text,"
	"  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),"
	"  sent_at timestamptz);"
	"CREATE INDEX alertq_notifications_pending ON alertq_notifications (channel, next_attempt_at)"
	"  WHERE state = 'pending';"
	"CREATE INDEX alertq_notifications_check ON alertq_notifications (check_name);"
	"CREATE INDEX alertq_notifications_transition ON alertq_notifications (transition_ref);"
	"CREATE TABLE alertq_silences ("
	"  id bigserial PRIMARY KEY,"
	"  match text NOT NULL,"
	"  starts_at timestamptz NOT NULL DEFAULT now(),"
	"  ends_at timestamptz NOT NULL,"
	"  comment text NOT NULL DEFAULT '',"
	"  created_by text NOT NULL DEFAULT '',"
	"  created_at timestamptz NOT NULL DEFAULT now());"
	"CREATE TABLE alertq_dead_letters ("
	"  topic text NOT NULL,"
	"  partition int NOT NULL,"
	"  \"offset\" bigint NOT NULL,"
	"  reason text NOT NULL,"
	"  recorded_at timestamptz NOT NULL DEFAULT now(),"
	"  PRIMARY KEY (topic, partition, \"offset\"));",
	/* 2: the Kafka cluster a stored offset counts in; '' when not known */
	"ALTER TABLE alertq_offsets ADD COLUMN cluster_id text NOT NULL DEFAULT '';",
	/* 3: pruning past state.retention finds old rows without a full scan */
	"CREATE INDEX alertq_transitions_recorded ON alertq_transitions (recorded_at);"
	"CREATE INDEX alertq_notifications_delivered ON alertq_notifications (created_at)"
	"  WHERE state <> 'pending';",
	/* 4: when the last result stops holding (0: never); the ticker finds expiries by it */
	"ALTER TABLE alertq_checks ADD COLUMN expires_at_ms bigint NOT NULL DEFAULT 0;"
	"CREATE INDEX alertq_checks_expires_at ON alertq_checks (expires_at_ms)"
	"  WHERE expires_at_ms > 0;",
	/* 5: annotations of a rule as rendered at a transition, and the check's current ones */
	"ALTER TABLE alertq_checks ADD COLUMN annotations jsonb"
	"  NOT NULL DEFAULT '{}';"
	"ALTER TABLE alertq_transitions ADD COLUMN annotations jsonb"
	"  NOT NULL DEFAULT '{}';",
	/* 6: flapping: the raw severities of the last 21 results (2 bits each,
	 * the newest lowest), whether it flaps and since when; history marks
	 * the transitions made while it flapped */
	"ALTER TABLE alertq_checks ADD COLUMN flap_history bigint NOT NULL DEFAULT 0;"
	"ALTER TABLE alertq_checks ADD COLUMN flap_count int NOT NULL DEFAULT 0;"
	"ALTER TABLE alertq_checks ADD COLUMN flapping boolean NOT NULL DEFAULT false;"
	"ALTER TABLE alertq_checks ADD COLUMN flapping_since_ms bigint NOT NULL DEFAULT 0;"
	"ALTER TABLE alertq_transitions ADD COLUMN flapping text NOT NULL DEFAULT '';",
	/* 7: grouped delivery: a channel's groups, their timers, the notifications
	 * waiting in them and what each group has told */
	"CREATE TABLE alertq_groups ("
	"  channel text NOT NULL,"
	"  group_key text NOT NULL,"
	/* the group's labels as a JSON object in group_by's order (jsonb would sort them) */
	"  labels text NOT NULL DEFAULT '{}',"
	"  first_member_at timestamptz NOT NULL DEFAULT now(),"
	"  last_sent_at timestamptz,"
	"  next_flush_at timestamptz,"
	"  PRIMARY KEY (channel, group_key));"
	"CREATE INDEX alertq_groups_due ON alertq_groups (channel, next_flush_at)"
	"  WHERE next_flush_at IS NOT NULL;"
	"CREATE TABLE alertq_group_members ("
	"  id bigserial PRIMARY KEY,"
	"  channel text NOT NULL,"
	"  group_key text NOT NULL,"
	"  check_name text NOT NULL,"
	"  transition_ref uuid,"
	"  notification_id uuid NOT NULL,"
	"  level int NOT NULL DEFAULT 0,"
	"  resolved boolean NOT NULL,"
	"  payload text NOT NULL,"
	"  created_at timestamptz NOT NULL DEFAULT clock_timestamp());"
	"CREATE INDEX alertq_group_members_group ON alertq_group_members (channel, group_key, id);"
	"CREATE TABLE alertq_group_alerts ("
	"  channel text NOT NULL,"
	"  group_key text NOT NULL,"
	"  check_name text NOT NULL,"
	"  firing boolean NOT NULL,"
	"  told boolean NOT NULL DEFAULT false,"
	"  PRIMARY KEY (channel, group_key, check_name));",
	/* 8: inhibition: the source a check is inhibited by, and the version
	 * (updated_at) of the source's row when that was decided; notifications held
	 * for the inhibition check ('held') and found inhibited ('inhibited');
	 * the firing checks a source is looked for among */
	"ALTER TABLE alertq_checks ADD COLUMN IF NOT EXISTS inhibited_by text;"
	"ALTER TABLE alertq_checks ADD COLUMN IF NOT EXISTS inhibited_seen timestamptz;"
	"CREATE INDEX IF NOT EXISTS alertq_checks_inhibited ON alertq_checks (check_name)"
	"  WHERE inhibited_by IS NOT NULL;"
	"CREATE INDEX IF NOT EXISTS alertq_checks_firing ON alertq_checks (severity, check_name)"
	"  WHERE severity <> 'OK';"
	"CREATE INDEX IF NOT EXISTS alertq_notifications_held ON alertq_notifications"
	"  (channel, next_attempt_at) WHERE state = 'held';",
	/* 9: a claim reads the due rows in its own order (next_attempt_at,
	 * created_at) from the index: a batch's rows share next_attempt_at, and
	 * with only that in the index every claim sorted the whole backlog of
	 * its batch (20k rows, on disk) to take the first few hundred */
	"CREATE INDEX IF NOT EXISTS alertq_notifications_due ON alertq_notifications"
	"  (channel, next_attempt_at, created_at) WHERE state = 'pending';"
	"DROP INDEX IF EXISTS alertq_notifications_pending;",
	/* 10: a check's row is rewritten by every batch that names it; room
	 * left in each page lets the new version stay on it (a HOT update: no
	 * new index entries, the old version pruned without VACUUM) */
	"ALTER TABLE alertq_checks SET (fillfactor = 50);",
	/* 11: a worker's batch reads its checks' rows without locking them and
	 * writes each back only over the version it read; this fails the
	 * update (and so the batch) when one changed meanwhile */
	"CREATE OR REPLACE FUNCTION alertq_expect_unchanged(updated bigint, expected bigint)"
	"  RETURNS bigint LANGUAGE plpgsql AS $$ BEGIN"
	"  IF updated <> expected THEN"
	"    RAISE EXCEPTION 'alertq: % check row(s) changed since the batch read them',"
	"      expected - updated USING ERRCODE = 'serialization_failure';"
	"  END IF;"
	"  RETURN updated; END $$;",
};

#define MIGRATION_COUNT ((int)(sizeof(migrations) / sizeof(migrations[0])))

int aq_store_schema_version(void)
{
	return MIGRATION_COUNT;
}

int aq_store_migrate(aq_store_t *s, int *applied, char *err, size_t errlen)
{
	int rc = -1;
	*applied = 0;
	/* a session lock: workers starting together migrate one after another */
	if (store_run_query(s, "SELECT pg_advisory_lock(" MIGRATION_LOCK ")", 0, NULL, err, errlen) != 0)
		return -1;
	if (store_run_query(s,
			    "CREATE TABLE IF NOT EXISTS alertq_schema (version int PRIMARY KEY,"
			    " applied_at timestamptz NOT NULL DEFAULT now())",
			    0, NULL, err, errlen) != 0)
		goto unlock;
	for (int version = 1; version <= MIGRATION_COUNT; version++) {
		char v[16];
		char what[64];
		snprintf(v, sizeof(v), "%d", version);
		snprintf(what, sizeof(what), "migration %d", version);
		const char *params[] = { v };
		PGresult *res = PQexecParams(s->conn, "SELECT 1 FROM alertq_schema WHERE version = $1", 1,
					     NULL, params, NULL, NULL, 0);
		if (store_check_result(s, res, PGRES_TUPLES_OK, "reading the schema version", err, errlen) !=
		    0)
			goto unlock;
		int done = PQntuples(res) > 0;
		PQclear(res);
		if (done)
			continue;
		if (aq_store_exec(s, "BEGIN", err, errlen) != 0)
			goto unlock;
		res = PQexec(s->conn, migrations[version - 1]);
		if (store_check_result(s, res, PGRES_COMMAND_OK, what, err, errlen) != 0)
			goto rollback;
		PQclear(res);
		if (store_run_query(s, "INSERT INTO alertq_schema (version) VALUES ($1)", 1, params, err,
				    errlen) != 0)
			goto rollback;
		if (aq_store_exec(s, "COMMIT", err, errlen) != 0)
			goto unlock;
		(*applied)++;
	}
	rc = 0;
	goto unlock;
rollback:
	PQclear(PQexec(s->conn, "ROLLBACK"));
unlock:
	PQclear(PQexec(s->conn, "SELECT pg_advisory_unlock(" MIGRATION_LOCK ")"));
	return rc;
}
