/* conn.c - the store's connection: connect and reconnect, statements and
 * transactions, the worker lock */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

void store_conn_error(aq_store_t *s, const char *what, char *err, size_t errlen)
{
	const char *msg = PQerrorMessage(s->conn);
	size_t len = strcspn(msg, "\n");
	snprintf(err, errlen, "%s: %.*s", what, (int)len, msg);
}

/* Whether an SQLSTATE says the server refused what was written rather than
 * failed to work: data exceptions (22: an encoding, a value out of range),
 * integrity constraints (23) and program limits (54: a row too large).
 * Writing the same again would fail again. */
static int refuses_item(const char *sqlstate)
{
	if (!sqlstate)
		return 0;
	return strncmp(sqlstate, "22", 2) == 0 || strncmp(sqlstate, "23", 2) == 0 ||
		strncmp(sqlstate, "54", 2) == 0;
}

/* Whether an SQLSTATE says another transaction got in the way: a row read
 * without a lock changed before it was written back (40001, raised by the
 * batch's state update), or a deadlock (40P01). Reading again and writing
 * again succeeds. */
static int conflicts(const char *sqlstate)
{
	return sqlstate && (strcmp(sqlstate, "40001") == 0 || strcmp(sqlstate, "40P01") == 0);
}

int store_check_result(aq_store_t *s, PGresult *res, ExecStatusType want, const char *what, char *err,
		       size_t errlen)
{
	if (res && PQresultStatus(res) == want)
		return 0;
	const char *msg = res ? PQresultErrorMessage(res) : "";
	if (!msg || !*msg)
		msg = PQerrorMessage(s->conn);
	size_t len = strcspn(msg, "\n");
	snprintf(err, errlen, "%s: %.*s", what, (int)len, msg);
	s->connection_lost = PQstatus(s->conn) != CONNECTION_OK;
	const char *sqlstate = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	s->item_refused = !s->connection_lost && refuses_item(sqlstate);
	s->conflict = !s->connection_lost && conflicts(sqlstate);
	PQclear(res);
	return -1;
}

aq_store_t *aq_store_connect(const char *dsn, char *err, size_t errlen)
{
	aq_store_t *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->dsn = aq_strdup(dsn);
	if (aq_store_reconnect(s, err, errlen) != 0) {
		aq_store_free(s);
		return NULL;
	}
	return s;
}

int aq_store_reconnect(aq_store_t *s, char *err, size_t errlen)
{
	char shown[512];
	if (s->conn)
		PQfinish(s->conn);
	/* everything alertq writes is UTF-8; the server converts if it must */
	const char *keys[] = { "dbname", "connect_timeout", "application_name", "client_encoding", NULL };
	const char *values[] = { s->dsn, "10", "alertq", "UTF8", NULL };
	s->conn = PQconnectdbParams(keys, values, 1);
	if (!s->conn || PQstatus(s->conn) != CONNECTION_OK) {
		aq_redact_url(s->dsn, shown, sizeof(shown));
		char what[600];
		snprintf(what, sizeof(what), "cannot connect to the state database %s", shown);
		store_conn_error(s, what, err, errlen);
		s->connection_lost = 1;
		return -1;
	}
	s->connection_lost = 0;
	PGresult *res = PQexec(s->conn, "SET client_min_messages = warning");
	PQclear(res);
	if (s->worker_lock) {
		s->worker_lock = 0;
		int held = aq_store_worker_lock(s, 0, err, errlen);
		if (held != 0) {
			if (held == 1)
				snprintf(err, errlen,
					 "a rebuild of the state (alertq replay --rebuild) is running");
			s->connection_lost = 1;
			/* no work without the lock: the connection goes */
			PQfinish(s->conn);
			s->conn = NULL;
			return -1;
		}
	}
	return 0;
}

int aq_store_worker_lock(aq_store_t *s, int exclusive, char *err, size_t errlen)
{
	PGresult *res = PQexec(s->conn,
			       exclusive ? "SELECT pg_try_advisory_lock(" WORKER_LOCK ")"
					 : "SELECT pg_try_advisory_lock_shared(" WORKER_LOCK ")");
	if (store_check_result(s, res, PGRES_TUPLES_OK, "taking the worker lock", err, errlen) != 0)
		return -1;
	int taken = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	if (taken && !exclusive)
		s->worker_lock = 1;
	return taken ? 0 : 1;
}

void aq_store_free(aq_store_t *s)
{
	if (!s)
		return;
	if (s->conn)
		PQfinish(s->conn);
	store_silences_clear(s);
	free(s->dsn);
	free(s);
}

int aq_store_connection_lost(aq_store_t *s)
{
	return s->connection_lost || PQstatus(s->conn) != CONNECTION_OK;
}

int store_exec(aq_store_t *s, const char *sql, const char *what, char *err, size_t errlen)
{
	PGresult *res = PQexec(s->conn, sql);
	if (store_check_result(s, res, PGRES_COMMAND_OK, what, err, errlen) != 0)
		return -1;
	PQclear(res);
	return 0;
}

int aq_store_exec(aq_store_t *s, const char *sql, char *err, size_t errlen)
{
	return store_exec(s, sql, sql, err, errlen);
}

int aq_store_begin(aq_store_t *s, char *err, size_t errlen)
{
	aq_store_failure_forget(s);
	return aq_store_exec(s, "BEGIN", err, errlen);
}

int aq_store_refused_item(const aq_store_t *s)
{
	return s->item_refused;
}

int aq_store_conflict(const aq_store_t *s)
{
	return s->conflict;
}

void aq_store_failure_forget(aq_store_t *s)
{
	s->item_refused = 0;
	s->conflict = 0;
}

int store_committed(aq_store_t *s, PGresult *res, char *err, size_t errlen)
{
	/* a COMMIT of a transaction a statement failed in says ROLLBACK */
	if (strcmp(PQcmdStatus(res), "COMMIT") == 0)
		return 0;
	snprintf(err, errlen, "COMMIT: the transaction had failed and was rolled back");
	s->connection_lost = PQstatus(s->conn) != CONNECTION_OK;
	aq_store_failure_forget(s);
	return -1;
}

int aq_store_commit(aq_store_t *s, char *err, size_t errlen)
{
	PGresult *res = PQexec(s->conn, "COMMIT");
	if (store_check_result(s, res, PGRES_COMMAND_OK, "COMMIT", err, errlen) != 0)
		return -1;
	int rc = store_committed(s, res, err, errlen);
	PQclear(res);
	return rc;
}

void aq_store_rollback(aq_store_t *s)
{
	/* a COMMIT that failed has ended the transaction already */
	if (PQtransactionStatus(s->conn) == PQTRANS_IDLE)
		return;
	PQclear(PQexec(s->conn, "ROLLBACK"));
}

/* Reads what is left of one statement's results, up to the NULL that ends
 * them. */
static void pipeline_drain_one(PGconn *conn)
{
	PGresult *res;
	while ((res = PQgetResult(conn)) != NULL)
		PQclear(res);
}

int store_pipeline(aq_store_t *s, struct store_step *steps, size_t n, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++)
		if (steps[i].keep)
			*steps[i].keep = NULL;
	if (PQenterPipelineMode(s->conn) != 1) {
		store_conn_error(s, "entering pipeline mode", err, errlen);
		s->connection_lost = PQstatus(s->conn) != CONNECTION_OK;
		return -1;
	}
	int rc = 0;
	size_t sent = 0;
	for (; sent < n; sent++)
		if (PQsendQueryParams(s->conn, steps[sent].sql, steps[sent].nparams, NULL, steps[sent].params,
				      NULL, NULL, 0) != 1)
			break;
	if (sent < n || PQpipelineSync(s->conn) != 1) {
		store_conn_error(s, sent < n ? steps[sent].what : "sending a pipeline", err, errlen);
		s->connection_lost = 1; /* what was sent is unknown: start again on a new connection */
		aq_store_failure_forget(s);
		PQexitPipelineMode(s->conn);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		PGresult *res = PQgetResult(s->conn);
		if (!res) {
			if (rc == 0)
				store_check_result(s, NULL, steps[i].want, steps[i].what, err, errlen);
			s->connection_lost = 1;
			rc = -1;
			break;
		}
		ExecStatusType status = PQresultStatus(res);
		if (rc == 0 && status == steps[i].want) {
			if (steps[i].keep)
				*steps[i].keep = res;
			else
				PQclear(res);
		} else if (rc == 0) {
			/* the first failure says why; the server skipped the rest */
			store_check_result(s, res, steps[i].want, steps[i].what, err, errlen);
			rc = -1;
		} else {
			PQclear(res);
		}
		pipeline_drain_one(s->conn);
	}
	if (!s->connection_lost) {
		PGresult *res = PQgetResult(s->conn);
		if (!res || PQresultStatus(res) != PGRES_PIPELINE_SYNC) {
			if (rc == 0)
				store_conn_error(s, "ending a pipeline", err, errlen);
			s->connection_lost = 1;
			rc = -1;
		}
		PQclear(res);
	}
	if (PQexitPipelineMode(s->conn) != 1 && rc == 0) {
		store_conn_error(s, "leaving pipeline mode", err, errlen);
		rc = -1;
	}
	if (PQpipelineStatus(s->conn) != PQ_PIPELINE_OFF)
		s->connection_lost = 1; /* unusable as it is: made again */
	if (rc != 0)
		for (size_t i = 0; i < n; i++)
			if (steps[i].keep && *steps[i].keep) {
				PQclear(*steps[i].keep);
				*steps[i].keep = NULL;
			}
	return rc;
}

int store_run_query(aq_store_t *s, const char *sql, int nparams, const char *const *params, char *err,
		    size_t errlen)
{
	PGresult *res = PQexecParams(s->conn, sql, nparams, NULL, params, NULL, NULL, 0);
	ExecStatusType want = PQresultStatus(res) == PGRES_TUPLES_OK ? PGRES_TUPLES_OK : PGRES_COMMAND_OK;
	if (store_check_result(s, res, want, sql, err, errlen) != 0)
		return -1;
	PQclear(res);
	return 0;
}
