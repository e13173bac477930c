#!/bin/sh
# background.sh PIDFILE - leaves a child that keeps its stdout open, and exits
sleep 30 &
echo "$!" >"$1.tmp" && mv "$1.tmp" "$1"
echo "OK - left something running"
exit 0
