#!/usr/bin/env bash
# pg.sh - a throwaway PostgreSQL server in a directory, for the demo and tests.
#   pg.sh start DIR [PORT]  initdb (first time) and start; prints the superuser DSN
#   pg.sh stop DIR          stop it (fast shutdown)
#   pg.sh restart DIR       stop and start again on the same port
# The server runs as the 'postgres' system user when started by root (initdb
# refuses root), listens on 127.0.0.1 only and trusts local connections.
set -euo pipefail

pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$pgbin" ] || { echo "pg.sh: PostgreSQL server not installed (apt-get install postgresql)" >&2; exit 1; }

as_owner() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
	python3 - <<'PY'
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}

cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: pg.sh start|stop|restart DIR [PORT]" >&2; exit 2; }
data="$dir/data"

case "$cmd" in
start)
	mkdir -p "$dir"
	[ "$(id -u)" = 0 ] && chown postgres "$dir"
	if [ ! -f "$data/PG_VERSION" ]; then
		as_owner "$pgbin/initdb" -D "$data" -U postgres -A trust --no-sync -E UTF8 >"$dir/initdb.log" 2>&1 ||
			{ cat "$dir/initdb.log" >&2; exit 1; }
	fi
	port=${3:-$(cat "$dir/port" 2>/dev/null || free_port)}
	echo "$port" >"$dir/port"
	as_owner "$pgbin/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 \
		-o "-h 127.0.0.1 -p $port -k $dir -c fsync=${ALERTQ_PG_FSYNC:-on} -c max_connections=200" start >/dev/null ||
		{ tail -n 20 "$dir/server.log" >&2; exit 1; }
	echo "postgresql://postgres@127.0.0.1:$port/postgres"
	;;
stop)
	[ -f "$data/PG_VERSION" ] && as_owner "$pgbin/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
	;;
restart)
	as_owner "$pgbin/pg_ctl" -D "$data" -m fast -w stop >/dev/null
	"$0" start "$dir" "$(cat "$dir/port")"
	;;
*)
	echo "usage: pg.sh start|stop|restart DIR [PORT]" >&2; exit 2 ;;
esac
