#!/bin/sh
# emit.sh EXIT [TEXT] - prints TEXT as a plugin would, then exits with EXIT
[ $# -ge 2 ] && printf '%s\n' "$2"
exit "$1"
