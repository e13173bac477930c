#!/bin/sh
# signalled.sh - says something, then is killed by a signal
echo "about to die"
kill -TERM $$
sleep 5
exit 0
