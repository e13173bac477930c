#!/bin/sh
# multiline.sh - first line with perfdata, long text after it, more perfdata
echo "DISK OK - free space: / 3326 MB (56%) | /=2643MB;5948;5958;0;5968"
echo "/ 15272 MB (77%);"
echo "/boot 68 MB (69%);"
echo "/home 69357 MB (27%); | /boot=68MB;88;93;0;98"
exit 0
