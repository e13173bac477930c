-- iact_sample.sql - a small stand-in for the call-centre application's
-- database: the deployment log and Django's session table, with data that
-- makes the seed's checks fire (last deployment 9 days ago: CRITICAL; a
-- change failure rate of 25 %: WARNING; 60,000 sessions: WARNING).
CREATE TABLE IF NOT EXISTS deployments (
	id serial PRIMARY KEY,
	deployed_at timestamptz NOT NULL,
	failed boolean NOT NULL DEFAULT false
);
CREATE TABLE IF NOT EXISTS django_session (
	session_key varchar(40) PRIMARY KEY,
	session_data text NOT NULL,
	expire_date timestamptz NOT NULL
);
TRUNCATE deployments, django_session;
INSERT INTO deployments (deployed_at, failed)
SELECT now() - (9 + g) * interval '1 day', g % 4 = 0
FROM generate_series(0, 19) g;
INSERT INTO django_session
SELECT md5(g::text), 'e30:1', now() + interval '14 days'
FROM generate_series(1, 60000) g;
