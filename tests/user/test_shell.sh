#!/bin/bash
# SPDX-License-Identifier: MIT
# busybox sh scripts, native vs runner: pipes, subshells, traps and signals, background jobs,
# command substitution, here-documents, and `sh -c` starting other programs (fork + execve).
# See common.sh for how a check works and the environment it takes.
. "$(dirname "$0")/common.sh"
B=$BUSYBOX

gen_text 3 2000 >"$DATA/text.txt"
gen_bytes 4 300000 >"$DATA/bytes.bin"

# Scripts are files in the data directory, run as `busybox sh FILE`. Busybox runs its own
# applets by re-executing /proc/self/exe; "$B" in a script runs the binary by its path.
script() { cat >"$DATA/$1"; }

script pipes.sh <<'EOF'
seq 1 2000 | awk '{ s += $1 * $1; print $1 % 7, s }' | sort -k1,1n -k2,2nr | uniq -w 2 -c | head -n 20
cat text.txt | tr -s ' \t' '\n\n' | grep -v '^$' | sort | uniq -c | sort -k1,1nr -k2 | head -n 15
cat bytes.bin | cat | cat | md5sum
printf 'a\nb\nc\n' | while read -r x; do echo "<$x>"; done | tr '\n' ' '; echo
echo hi | { read -r y; echo "got $y"; }
false | true; echo "status $?"
true | false; echo "status $?"
EOF
check sh-pipes -- "$B" sh pipes.sh

script subshell.sh <<'EOF'
x=outer
(x=inner; echo "in: $x"; cd /; pwd; exit 3); echo "status $? x=$x pwd=$(basename "$PWD")"
( ( (echo nested; exit 4) ); echo "mid $?"; exit 5 ); echo "outer $?"
{ echo group; false; }; echo "group $?"
f() { local v=$1; echo "f($v) depth=${2:-0}"; [ "${2:-0}" -lt 3 ] && f "$v$v" $(( ${2:-0} + 1 )); return 7; }
f a; echo "f returned $?"
(umask 077; : >private.txt); ls -l private.txt | cut -c1-10
set -- one "two three" four; echo "$# [$2]"; shift; for a in "$@"; do echo "arg=$a"; done
i=0; while [ $i -lt 5 ]; do i=$((i + 1)); [ $i = 2 ] && continue; [ $i = 4 ] && break; echo "i=$i"; done
case "foo.tar.gz" in *.tar.gz) echo tgz ;; *) echo other ;; esac
v=/a/b/c.d.e; echo "${v##*/} ${v%.*} ${v#*/} ${v%%.*} ${#v} ${v:-x} ${unset:-dflt} ${v/b/B}"
echo $(( 7 * 6 )) $(( -17 / 5 )) $(( -17 % 5 )) $(( 1 << 62 )) $(( 0x7fffffffffffffff + 1 )) $(( 3 > 2 && 2 > 1 ))
EOF
check sh-subshell -- "$B" sh subshell.sh

script trap-exit.sh <<'EOF'
trap 'echo "exit trap, status $?"' EXIT
echo running
(trap 'echo "subshell exit trap"' EXIT; echo sub)
exit 3
EOF
check sh-trap-exit -- "$B" sh trap-exit.sh

script trap-int.sh <<'EOF'
trap 'echo "caught INT"; n=$((n + 1))' INT
n=0
kill -INT $$
echo "after first kill n=$n"
kill -INT $$; kill -INT $$
echo "after two more n=$n"
trap 'echo "caught USR1, leaving"; exit 9' USR1
kill -USR1 $$
echo "not reached"
EOF
check sh-trap-int -- "$B" sh trap-int.sh

script trap-ignore.sh <<'EOF'
trap '' TERM
kill -TERM $$
echo "survived TERM"
trap - TERM
trap 'echo "exit trap"' EXIT
kill -TERM $$
echo "not reached"
EOF
check sh-trap-ignore -- "$B" sh trap-ignore.sh
check sh-killed-term -- "$B" sh -c 'echo before; kill -TERM $$; echo after'
check sh-killed-kill -- "$B" sh -c 'echo before; kill -KILL $$; echo after'
check sh-killed-segv --no-stderr -- "$B" sh -c 'kill -SEGV $$'
check sh-child-signals -- "$B" sh -c "$B sh -c 'kill -HUP \$\$'; echo \"hup \$?\"; $B sh -c 'kill -USR2 \$\$'; echo \"usr2 \$?\"; $B sleep 10 & p=\$!; kill \$p; wait \$p; echo \"sleep \$?\""

script jobs.sh <<'EOF'
for i in 1 2 3 4; do
	( seq 1 $((i * 500)) | md5sum >"job.$i"; exit $i ) &
done
wait
cat job.1 job.2 job.3 job.4
( sleep 0.2; exit 7 ) & p=$!
( exit 3 ) & q=$!
wait $q; echo "q status $?"
wait $p; echo "p status $?"
sleep 0.1 &
wait; echo "all done $?"
{ echo from-bg; } >bg.out &
wait; cat bg.out
EOF
check sh-jobs -- "$B" sh jobs.sh

script subst.sh <<'EOF'
x=$(echo hello | tr a-z A-Z); echo "$x"
y=`echo back quoted`; echo "$y"
z=$(echo "$(echo "$(echo deep nested)")"); echo "$z"
n=$(wc -l <text.txt); echo "lines: $n"
s=$(md5sum <bytes.bin); echo "md5: $s"
big=$(cat text.txt); echo "${#big}"
empty=$(true); echo "[${empty}]"
st=$(exit 4); echo "status $?"
for w in $(echo a b c); do printf '%s.' "$w"; done; echo
echo "$(printf 'trailing\n\n\n')|"
EOF
check sh-command-substitution -- "$B" sh subst.sh

script heredoc.sh <<'EOF'
name=world
cat <<END
hello $name
sum $((2 + 3)) cmd $(echo sub)
  indented \$not_expanded
END
cat <<'END'
literal $name $(echo no)
END
	cat <<-END
	tabs stripped $name
	END
while read -r a b; do echo "$b:$a"; done <<END
1 one
2 two
3 three
END
md5sum <<END
$(seq 1 1000)
END
cat >written.txt <<END
into a file
END
cat written.txt
EOF
check sh-heredoc -- "$B" sh heredoc.sh

script redirect.sh <<'EOF'
exec 3>fd3.txt
echo "to fd 3" >&3
echo "again" >&3
exec 3>&-
cat fd3.txt
echo out; echo err >&2
{ echo both-out; echo both-err >&2; } 2>&1 | sed 's/^/piped: /'
ls nonexistent 2>/dev/null || echo "ls failed $?"
echo append >>fd3.txt; wc -l <fd3.txt
exec 4<text.txt; read -r first <&4; read -r second <&4; exec 4<&-; echo "[$first] [$second]"
cat <text.txt >copy.txt; cmp text.txt copy.txt && echo copied
EOF
check sh-redirect -- "$B" sh redirect.sh

# `sh -c` starting other programs. Applets re-executed through /proc/self/exe, busybox run by its
# path, exec replacing the shell, a chain of nested shells, xargs and find spawning programs.
check sh-c-applets -- "$B" sh -c 'echo b a c | tr " " "\n" | sort | head -n 2; md5sum text.txt; wc -c <bytes.bin'
check sh-c-by-path -- "$B" sh -c "$B echo by path; $B sha256sum text.txt; $B true; echo \$?; $B false; echo \$?"
check sh-c-exec -- "$B" sh -c "echo before exec; exec $B md5sum bytes.bin; echo not reached"
check sh-c-exit-status -- "$B" sh -c "$B sh -c 'exit 42'; echo \"child \$?\"; exit 17"
check sh-c-nested -- "$B" sh -c "$B sh -c \"$B sh -c 'echo deep; $B sh -c \\\"exit 5\\\"'; echo mid \\\$?\"; echo top \$?"
check sh-c-xargs -- "$B" sh -c "seq 1 12 | xargs -n 5 $B echo; seq 1 4 | xargs -I{} $B sh -c 'echo item {}'"
check sh-c-env -- "$B" sh -c "FOO=bar BAZ='a b' $B env | sort; $B env -i X=1 $B sh -c 'echo \$X \$FOO'"
check sh-c-missing -- "$B" sh -c "/nonexistent/prog; echo \"status \$?\"; $B nosuchapplet; echo \"status \$?\""
check sh-c-many-forks -- "$B" sh -c "i=0; while [ \$i -lt 100 ]; do $B true; i=\$((i + 1)); done; echo \$i"
check sh-stdin-script --in text.txt -- "$B" sh -c 'n=0; while read -r line; do n=$((n + ${#line})); done; echo $n'

finish
