# tests/queue-valgrind.sh - queue-run under valgrind's memcheck for a
# bounded set of scenarios (routing with aliases, :include:, programs and
# mailboxes; rerouting on retry; bounces, warnings and success notices; the
# administrator's commands; the bounce rate limit).  ASan cannot see
# reads that happen inside libowfat (not instrumented): a stale pointer
# into a reallocated stralloc read by stralloc_cats or byte_copy is caught
# only here (issue 13 item 2: rerouting postmaster -> root read the pool it
# had just reallocated).  Any memcheck error is a failure; leaks are not
# errors (--errors-for-leak-kinds=none).  Runs against the plain build
# only: valgrind and ASan do not mix.
. "$POSTERN_TOP/tests/lib.bash"
. "$TOP/queue-run/tests/qr.bash"
case "$B" in *asan*) skip "queue-run under valgrind" "ASan build (valgrind needs the plain build)"; exit 0 ;; esac
command -v valgrind >/dev/null || { skip "queue-run under valgrind" "valgrind is not installed"; exit 0; }
qr_setup
mkdir -m 1777 "$T/vg"

vg=0
# vg_run NAME ARGS...: queue-run under memcheck; its errors fail NAME
vg_run() {
  local name=$1 rc; shift
  vg=$((vg + 1))
  timeout -k 5 120 valgrind -q --vgdb=no --error-exitcode=97 --errors-for-leak-kinds=none --leak-check=no \
    --log-file="$T/vg/$vg.%p" "$B/queue-run" -C "$T/conf" "$@" 2>>"$T/log"
  rc=$?
  if [ "$rc" = 97 ] || grep -qs '==[0-9]*== ' "$T"/vg/$vg.*; then
    fail "valgrind: $name" "exit $rc" "$(cat "$T"/vg/$vg.* 2>/dev/null | head -60)"
  else
    ok "valgrind: $name (exit $rc)"
  fi
}

qr_map virtual <<M
box@example.test $T/mail/box/
pm@example.test $T/mail/pm/
M
mkdir -p "$T/incl"
printf 'box@example.test\n"|rec inc"\n' >"$T/incl/list"
chmod 644 "$T/incl/list"
printf '#!/bin/sh\ncat >/dev/null\n' >"$T/progs/rec"
chmod 755 "$T/progs/rec"
qr_map aliases <<M
postmaster: root
root: root
list: :include:$T/incl/list, far1@far.test, far2@far.test
M
msg='From: s@x.test\nSubject: vg\n\nbody\n'

# 1: a message to postmaster, whose alias goes to root (which has no
# mailbox): routing fails temporarily and is done again on every retry
printf "$msg" | qr_inject s@x.test postmaster@example.test
vg_run "first routing of postmaster -> root" --once
vg_run "rerouting postmaster -> root on a retry" --once --all
vg_run "rerouting again" --once --all
grep 'orig_to=' "$T/log" | grep -v 'orig_to=<postmaster@example.test>' | grep -q postmaster \
  && fail "rerouting: orig_to names the envelope recipient" "$(grep orig_to "$T/log" | tail -5)" \
  || ok "rerouting: orig_to names the envelope recipient"
sed -n 's/.*orig_to=\([^ ]*\).*/\1/p' "$T/log" | LC_ALL=C grep -q '[^ -~]' \
  && fail "rerouting: no stray bytes in the log" "$(LC_ALL=C grep -a orig_to "$T/log" | cat -v | tail -5)" \
  || ok "rerouting: no stray bytes in the log"
qr_run --delete "$(ls "$T/spool/queue" | head -1)" 2>/dev/null

# 2: aliases, an include with a program, a mailbox, remote recipients,
# one failing (a bounce), one with NOTIFY=SUCCESS (a success notice)
qr_inject_env "$(printf 'V1\nFs@x.test\nTlist@example.test\nTfail1@far.test\nTsucc@far.test\nNSUCCESS\nTdefer1@far.test')" < <(printf "$msg")
vg_run "aliases, include, program, mailbox, bounce, success notice" --once
vg_run "a retry of the deferred recipient" --once --all
vg_run "--list" --list
vg_run "--list --machine" --list --machine

# 3: the administrator's commands
vg_run "--hold" --hold far.test
vg_run "--release" --release far.test
id=$(ls "$T/spool/queue" | head -1)
[ -n "$id" ] && vg_run "--bounce" --bounce "$id"
vg_run "--once applying the bounce" --once

# 4: internationalized mail (RFC 6533 notices), repeated recipients, a
# notice to a local sender, success notices refused
qr_inject_env "$(printf 'V1\nFs@x.test\nU\nTj\303\266rg-fail@far.test\nTlist@example.test\nTlist@example.test\nTsucc-passed@far.test\nNSUCCESS')" < <(printf 'From: s@x.test\nSubject: gr\303\274\303\237e\n\nbody\n')
vg_run "SMTPUTF8 bounce, repeated recipients, passed" --once
printf "$msg" | qr_inject box@example.test fail-local@far.test
vg_run "a bounce to a local sender" --once
qr_conf dsn_success_notices=no
qr_inject_env "$(printf 'V1\nFs@x.test\nTsucc5@far.test\nNSUCCESS,FAILURE')" < <(printf "$msg")
vg_run "dsn_success_notices = no" --once
qr_conf

# 5: the bounce rate limit holds notices back
qr_conf bounce_rate_limit=1
for i in 1 2 3; do printf "$msg" | qr_inject s@x.test "fail-rl$i@far.test"; done
vg_run "bounces held back by bounce_rate_limit" --once
qr_conf

# 6: the counters and the destination status, written and read back
vg_run "--stats" --stats
vg_run "--stats --machine" --stats --machine
vg_run "--hoststat" --hoststat
printf "$msg" | qr_inject s@x.test again-defer@slow.test
vg_run "a deferral recorded" --once
vg_run "--purgestat DEST" --purgestat smtp:slow.test
vg_run "--purgestat" --purgestat
# sendmail -bv: the allow-list and a .forward
if is_root; then printf 'box@example.test, |notthere, \\%s\n' "$U" >"$T/home/.forward"; chown "$U" "$T/home/.forward"; fi
vg_run "--route with programs and a .forward" --route list@example.test "$U@example.test" x@far.test
is "valgrind: the scenarios ran" 1 "$([ "$vg" -ge 10 ] && echo 1 || echo 0)"
