#!/bin/sh
# 10-iact.sh - the sample application database for the compose demo: database
# iact holding examples/iact_sample.sql's tables, and a read-only role for
# alertq's sql checks. The postgres image runs it once, on an empty volume.
set -eu

sample=${IACT_SAMPLE_SQL:-/alertq-initdb/iact_sample.sql}
password=${IACT_READER_PASSWORD:?set IACT_READER_PASSWORD for the iact_reader role}

psql -v ON_ERROR_STOP=1 -X -q --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
	-v password="$password" -v state_db="$POSTGRES_DB" <<'SQL'
REVOKE ALL ON DATABASE :"state_db" FROM PUBLIC;
CREATE DATABASE iact;
CREATE ROLE iact_reader LOGIN PASSWORD :'password';
SQL
psql -v ON_ERROR_STOP=1 -X -q --username "$POSTGRES_USER" --dbname iact -f "$sample"
psql -v ON_ERROR_STOP=1 -X -q --username "$POSTGRES_USER" --dbname iact <<'SQL'
REVOKE ALL ON DATABASE iact FROM PUBLIC;
GRANT CONNECT ON DATABASE iact TO iact_reader;
GRANT USAGE ON SCHEMA public TO iact_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO iact_reader;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO iact_reader;
SQL
