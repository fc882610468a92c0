# A sample nsh script: `nsh /etc/hello.nsh [ARGS...]` runs it in a new
# shell, `. /etc/hello.nsh` in the current one.
greeting="hello from a script"
echo "$greeting ($0, $# arguments: $@)"
true && echo 'true && ran' || echo 'not reached'
false || echo "false || ran, status $?"
echo "PWD is $PWD"
