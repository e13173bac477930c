#!/bin/sh
# sleeper.sh PIDFILE - starts a child of its own, writes both pids, then hangs
sleep 60 &
child=$!
echo "$$ $child" >"$1.tmp" && mv "$1.tmp" "$1"
wait
exit 0
