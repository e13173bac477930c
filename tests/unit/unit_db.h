/* unit_db.h - a PostgreSQL database of a test's own, on the server of
 * ALERTQ_TEST_DSN, migrated to alertq's schema, for the tests of the store */
#ifndef ALERTQ_TESTS_UNIT_DB_H
#define ALERTQ_TESTS_UNIT_DB_H

#include <check.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alertq/store.h"

/* Creates the database alertq_unit_NAME_PID (its name into database, its DSN
 * into dsn) and migrates it; fails the test when it cannot. */
static inline void unit_db_create(const char *name, char *database, size_t dblen, char *dsn, size_t dsnlen)
{
	const char *server = getenv("ALERTQ_TEST_DSN");
	char err[1024];
	ck_assert_msg(server && *server, "ALERTQ_TEST_DSN is not set");
	snprintf(database, dblen, "alertq_unit_%s_%d", name, (int)getpid());
	PGconn *conn = PQconnectdb(server);
	ck_assert_msg(PQstatus(conn) == CONNECTION_OK, "%s", PQerrorMessage(conn));
	char sql[256];
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", database);
	PGresult *res = PQexec(conn, sql);
	ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK, "%s", PQerrorMessage(conn));
	PQclear(res);
	PQfinish(conn);
	const char *slash = strrchr(server, '/');
	ck_assert_ptr_nonnull(slash);
	snprintf(dsn, dsnlen, "%.*s/%s", (int)(slash - server), server, database);
	aq_store_t *s = aq_store_connect(dsn, err, sizeof(err));
	ck_assert_msg(s != NULL, "%s", err);
	int applied = 0;
	ck_assert_msg(aq_store_migrate(s, &applied, err, sizeof(err)) == 0, "%s", err);
	aq_store_free(s);
}

/* Drops the database unit_db_create made. */
static inline void unit_db_drop(const char *database)
{
	PGconn *conn = PQconnectdb(getenv("ALERTQ_TEST_DSN"));
	char sql[256];
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", database);
	PQclear(PQexec(conn, sql));
	PQfinish(conn);
}

#endif
