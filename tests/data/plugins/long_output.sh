#!/bin/sh
# long_output.sh - a first line, then about 1 MiB more than anyone should keep
echo "LOAD WARNING - lots to say | load1=3.5;2;4;0"
i=0
while [ $i -lt 16384 ]; do
	echo "0123456789012345678901234567890123456789012345678901234567890123"
	i=$((i + 1))
done
exit 1
