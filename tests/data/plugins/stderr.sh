#!/bin/sh
# stderr.sh - a plugin that reports on stderr
echo "PROCS CRITICAL: 0 processes" >&2
exit 2
