# tests/deliver-local.sh - local-deliver on its own: Maildir (byte exact,
# unique names, new directories durable), mbox (From line, mboxrd quoting,
# locking, all-or-nothing append), |program (allow-list, clean environment,
# signals at their defaults, exit codes), loop
# detection by Delivered-To:, the protocol line and sysexits codes, the
# refusal to run as root; ~ deliveries with .forward, mailbox_command and
# mail_spool_directory (those need a home of our own: root only).
. "$POSTERN_TOP/tests/lib.bash"
. "$TOP/queue-run/tests/qr.bash"
qr_setup
D=$T/d; mkdir -p "$D"; chmod 777 "$D"
ld() { qr_as_user "$B/local-deliver" "$@"; }

printf 'From: a@x.test\nSubject: t\n\nFrom the top\n>From quoted\n>>From twice\nFromage\nlast line without newline' >"$T/m1"
chmod 644 "$T/m1"
out=$(ld s@x.test r@example.test "$D/Maildir/" <"$T/m1"); rc=$?
is "Maildir: exit 0" 0 "$rc"
is "Maildir: protocol line" "r@example.test	ok	2.0.0 delivered to Maildir $D/Maildir/" "$out"
ld s@x.test r@example.test "$D/Maildir/" <"$T/m1" >/dev/null
is "Maildir: two deliveries, two unique files" 2 "$(qr_maildir_count "$D/Maildir")"
is "Maildir: tmp/ empty" "" "$(ls "$D/Maildir/tmp")"
is "Maildir: directories made 0700" "700 700 700 700" "$(stat -c %a "$D/Maildir" "$D/Maildir/tmp" "$D/Maildir/new" "$D/Maildir/cur" | tr '\n' ' ' | sed 's/ $//')"
{ printf 'Return-Path: <s@x.test>\nDelivered-To: r@example.test\n'; cat "$T/m1"; } >"$T/expect"
same_file "Maildir: headers added, message byte for byte" "$T/expect" "$(ls "$D/Maildir/new/"* | head -1)"
f=$(ls "$D/Maildir/new/" | head -1)
case "$f" in *.M*P*Q*.mx.example.test,S=$(stat -c %s "$T/expect")) ok "Maildir: name TIME.MusecPpidQn.HOST,S=size" ;; *) fail "Maildir name" "$f" ;; esac

# directories it makes are durable before success: each new one's parent
# is fsync'ed after the mkdir and before the protocol line
if command -v strace >/dev/null; then
  qr_as_user strace -f -y -qq -e trace=mkdir,fsync,write,writev -e signal=none -o "$D/md.st" \
    "$B/local-deliver" s@x.test r@example.test "$D/deep/er/Maildir/" <"$T/m1" >/dev/null 2>&1
  made=$(grep -c 'mkdir(".*) = 0$' "$D/md.st")
  unsynced=$(awk '
    /mkdir\("/ && / = 0$/ { match($0, /mkdir\("[^"]*"/); d = substr($0, RSTART + 7, RLENGTH - 8)
                            sub(/\/+$/, "", d); p = d; sub(/\/[^\/]*$/, "", p); want[p == "" ? "/" : p] = 1; next }
    /fsync\([0-9]+</ { match($0, /<[^>]*>/); delete want[substr($0, RSTART + 1, RLENGTH - 2)]; next }
    /writev?\(1[<,]/ { for (p in want) print p; seen = 1; exit }
    END { if (!seen) print "(no protocol line written)" }' "$D/md.st")
  is "Maildir: the new directories (deep/ er/ Maildir/ tmp/ new/ cur/) were made" 6 "$made"
  is "Maildir: every new directory's parent fsync'ed before success" "" "$unsynced"
else
  skip "Maildir: new directories are durable" "strace is not installed"
fi

out=$(ld '' r@example.test "$D/mbox" <"$T/m1"); rc=$?
is "mbox: exit 0" 0 "$rc"
ld s@x.test r@example.test "$D/mbox" <"$T/m1" >/dev/null
{ printf 'Return-Path: <>\nDelivered-To: r@example.test\nFrom: a@x.test\nSubject: t\n\n>From the top\n>>From quoted\n>>>From twice\nFromage\nlast line without newline\n\n'
  printf 'Return-Path: <s@x.test>\nDelivered-To: r@example.test\nFrom: a@x.test\nSubject: t\n\n>From the top\n>>From quoted\n>>>From twice\nFromage\nlast line without newline\n\n'; } >"$T/expect"
grep -v '^From ' "$D/mbox" >"$T/got"
same_file "mbox: mboxrd quoting, final newline, blank separator" "$T/expect" "$T/got"
is "mbox: From lines for null and real sender" "From MAILER-DAEMON|From s@x.test" "$(grep '^From ' "$D/mbox" | cut -d' ' -f1-2 | tr '\n' '|' | sed 's/|$//')"
is "mbox: created 0600" 600 "$(stat -c %a "$D/mbox")"

# all-or-nothing: a write that fails half way (file size limit) is rolled back
size=$(stat -c %s "$D/mbox")
head -c 6000 /dev/zero | tr '\0' 'x' >"$T/big"; chmod 644 "$T/big"
out=$(ulimit -f 4; ld s@x.test r@example.test "$D/mbox" <"$T/big"); rc=$?
is "mbox: failed append exits 75" 75 "$rc"
is "mbox: failed append truncated back" "$size" "$(stat -c %s "$D/mbox")"
case "$out" in "r@example.test	defer	4.3.0 unable to append to $D/mbox: File too large") ok "mbox: reason line" ;; *) fail "mbox: reason line" "$out" ;; esac

# another writer left the mailbox without its final empty line: ours
# starts after one, so the From line begins a message
printf 'From x@y Thu Jan  1 00:00:00 2026\nSubject: other\n\nno final newline' >"$D/other.mbox"
chmod 666 "$D/other.mbox"; is_root && chown "$U" "$D/other.mbox"
ld s@x.test r@example.test "$D/other.mbox" <"$T/m1" >/dev/null
is "mbox: an empty line is added before our From line when missing" "no final newline||From s@x.test" \
  "$(sed -n '4,6p' "$D/other.mbox" | cut -d' ' -f1-3 | sed 's/^From s@x.test.*/From s@x.test/' | tr '\n' '|' | sed 's/|$//')"
printf 'From x@y Thu Jan  1 00:00:00 2026\nSubject: other\n\nbody\n' >"$D/other2.mbox"
chmod 666 "$D/other2.mbox"; is_root && chown "$U" "$D/other2.mbox"
ld s@x.test r@example.test "$D/other2.mbox" <"$T/m1" >/dev/null
is "mbox: one newline added after a message ending without the blank line" "body||From s@x.test" \
  "$(sed -n '4,6p' "$D/other2.mbox" | sed 's/^From s@x.test.*/From s@x.test/' | tr '\n' '|' | sed 's/|$//')"
out=$(ld s@x.test r@example.test /dev/null <"$T/m1"); rc=$?
is "/dev/null: discarded, delivered (0)" "0 r@example.test	ok	2.0.0 discarded (/dev/null)" "$rc $out"

# locking: a held fcntl lock makes it wait, then deliver
if command -v python3 >/dev/null; then
  python3 -c 'import fcntl,sys,time; f=open(sys.argv[1],"a"); fcntl.lockf(f, fcntl.LOCK_EX); open(sys.argv[2],"w").close(); time.sleep(1.2)' "$D/mbox" "$T/locked" &
  lp=$!
  while [ ! -e "$T/locked" ]; do sleep 0.05; done
  s0=$(date +%s%N)
  ld s@x.test r@example.test "$D/mbox" <"$T/m1" >/dev/null; rc=$?
  ms=$(( ($(date +%s%N) - s0) / 1000000 ))
  wait $lp
  [ "$rc" = 0 ] && [ "$ms" -ge 700 ] && ok "mbox: waits for the fcntl lock (${ms} ms), then delivers" || fail "mbox lock wait" "rc=$rc ms=$ms"
fi
touch "$D/mbox.lock"
( sleep 1.2; rm -f "$D/mbox.lock" ) &
s0=$(date +%s%N)
ld s@x.test r@example.test "$D/mbox" <"$T/m1" >/dev/null; rc=$?
ms=$(( ($(date +%s%N) - s0) / 1000000 ))
[ "$rc" = 0 ] && [ "$ms" -ge 900 ] && ok "mbox: waits for a fresh dot-lock (${ms} ms), then delivers" || fail "mbox dot-lock wait" "rc=$rc ms=$ms"
wait
touch "$D/mbox.lock"; touch -d '10 minutes ago' "$D/mbox.lock"
ld s@x.test r@example.test "$D/mbox" <"$T/m1" >/dev/null
is "mbox: a stale dot-lock is removed" "0 absent" "$? $([ -e "$D/mbox.lock" ] && echo present || echo absent)"

# a stale dot-lock we may not remove (another user's, in a sticky
# directory): deferred at once with the reason, no endless 100 % CPU loop
if is_root; then
  mkdir "$T/sticky"; chmod 1777 "$T/sticky"
  qr_as_user touch "$T/sticky/box"
  touch "$T/sticky/box.lock"; touch -d '10 minutes ago' "$T/sticky/box.lock"   # root's
  s0=$(date +%s%N)
  out=$(timeout -s KILL 15 setpriv --reuid="$U" --regid="$U" --clear-groups "$B/local-deliver" s@x.test r@example.test "$T/sticky/box" <"$T/m1"); rc=$?
  ms=$(( ($(date +%s%N) - s0) / 1000000 ))
  is "mbox: an unremovable stale dot-lock defers (75) at once, well within the lock deadline" "75 fast" "$rc $([ "$ms" -lt 5000 ] && echo fast || echo "slow: $ms ms")"
  is "mbox: an unremovable stale dot-lock: the reason names it" \
    "r@example.test	defer	4.3.0 unable to remove the stale dot-lock $T/sticky/box.lock: Operation not permitted" "$out"
  is "mbox: the mailbox untouched" 0 "$(stat -c %s "$T/sticky/box")"
  rm -f "$T/sticky/box.lock"

  # a mailbox another user made, however writable, never gets our mail:
  # deferred with the reason, the file untouched
  : >"$T/sticky/trap"; chmod 666 "$T/sticky/trap"                        # root's, world-writable
  out=$(ld s@x.test r@example.test "$T/sticky/trap" <"$T/m1"); rc=$?
  is "mbox: a file owned by another user is deferred (75), not bounced" \
    "75 r@example.test	defer	4.2.0 refusing to deliver to a file owned by another user: $T/sticky/trap" "$rc $out"
  is "mbox: the other user's file got nothing" 0 "$(stat -c %s "$T/sticky/trap")"
  mkdir -p "$T/shared"; chmod 777 "$T/shared"; : >"$T/shared/log"; chmod 666 "$T/shared/log"
  out=$(ld s@x.test r@example.test "$T/shared/log" <"$T/m1"); rc=$?
  is "mbox: the same in a plain world-writable directory" "75 0" "$rc $(stat -c %s "$T/shared/log")"
  chown "$U" "$T/shared/log"
  out=$(ld s@x.test r@example.test "$T/shared/log" <"$T/m1"); rc=$?
  is "mbox: once the user owns it, delivered" 0 "$rc"
else
  skip "mbox: unremovable stale dot-lock, mailbox owned by another user" "needs root (a second user)"
fi

# programs
printf '#!/bin/sh\nenv | sort >%s/env.out; cat >%s/stdin.out; exit ${RC:-0}\n' "$D" "$D" >"$T/progs/rec"
printf '#!/bin/sh\necho "mailbox full for $LOCAL"; exit 75\n' >"$T/progs/tmp"
printf '#!/bin/sh\necho "no such list"; echo second line; exit 67\n' >"$T/progs/perm"
chmod 755 "$T/progs/"*
out=$(ld s@x.test 'List+Ext@Example.test' '|/some/where/rec arg1 arg2' <"$T/m1"); rc=$?
is "program: allowed by base name in program_dir, exit 0" "0 List+Ext@Example.test	ok	2.0.0 delivered to program" "$rc $out"
for v in SENDER=s@x.test RECIPIENT=List+Ext@Example.test LOCAL=List+Ext EXTENSION=Ext DOMAIN=Example.test "USER=$U" SHELL=/bin/sh; do
  grep -qx "$v" "$D/env.out" || missing_env="${missing_env:-} $v"
done
is "program: environment has SENDER RECIPIENT LOCAL EXTENSION DOMAIN USER SHELL" "" "${missing_env:-}"
is "program: nothing else leaks into the environment" "HOME LOGNAME PATH PWD" "$(cut -d= -f1 "$D/env.out" | grep -vx -e SENDER -e RECIPIENT -e LOCAL -e EXTENSION -e DOMAIN -e USER -e SHELL -e SHLVL -e _ | tr '\n' ' ' | sed 's/ $//')"
{ printf 'Return-Path: <s@x.test>\nDelivered-To: List+Ext@Example.test\n'; cat "$T/m1"; } >"$T/expect"
same_file "program: stdin is the message with our headers" "$T/expect" "$D/stdin.out"
out=$(ld s@x.test r@example.test '|tmp' <"$T/m1"); rc=$?
is "program: exit 75 is a deferral with its output" "75 r@example.test	defer	4.3.0 program exited 75: mailbox full for r" "$rc $out"
out=$(ld s@x.test r@example.test '|perm' <"$T/m1"); rc=$?
is "program: exit 67 is permanent, first output line kept" "69 r@example.test	fail	5.1.1 program exited 67: no such list" "$rc $out"
out=$(ld s@x.test r@example.test '|sh -c id' <"$T/m1"); rc=$?
is "program: not in program_dir is refused (77)" "77 r@example.test	fail	5.7.1 program not in the allowed directory: sh" "$rc $out"
out=$(ld s@x.test r@example.test '|/x/..' <"$T/m1"); rc=$?
is "program: '..' is not a program in program_dir (77)" "77 r@example.test	fail	5.7.1 program not in the allowed directory: .." "$rc $out"
# a program starts with no signal blocked, and SIGPIPE and SIGXFSZ (which
# local-deliver ignores) at their defaults
printf '#!/bin/sh\nexec grep -E "^Sig(Blk|Ign):" /proc/self/status >%s/sig.out\n' "$D" >"$T/progs/sigs"
chmod 755 "$T/progs/sigs"
ld s@x.test r@example.test '|sigs' <"$T/m1" >/dev/null
ign=$(awk '$1 == "SigIgn:" { print $2 }' "$D/sig.out"); blk=$(awk '$1 == "SigBlk:" { print $2 }' "$D/sig.out")
is "program: SIGPIPE and SIGXFSZ not ignored, nothing blocked" "0 0" "$(( 0x${ign:-1} & 0x1001000 )) $(( 0x${blk:-1} ))"
qr_conf program_dir=
out=$(ld s@x.test r@example.test '|rec' <"$T/m1"); rc=$?
is "program: empty program_dir allows none" "77 r@example.test	fail	5.7.1 program delivery is not allowed here" "$rc $out"
qr_conf

# loops, usage, root
printf 'Delivered-To: other@example.test\nDelivered-To: R@Example.test\nSubject: l\n\nx\n' >"$T/loop"; chmod 644 "$T/loop"
out=$(ld s@x.test r@example.test "$D/Maildir/" <"$T/loop"); rc=$?
is "loop: our Delivered-To already there is a permanent failure (5.4.6)" "69 r@example.test	fail	5.4.6 mail loop: the message was already delivered to r@example.test" "$rc $out"
printf 'Subject: l\n\nDelivered-To: r@example.test\n' >"$T/noloop"; chmod 644 "$T/noloop"
out=$(ld s@x.test r@example.test "$D/Maildir/" <"$T/noloop"); rc=$?
is "loop: a Delivered-To line in the body is not a loop" 0 "$rc"
out=$(ld s@x.test r@example.test relative/path <"$T/m1"); rc=$?
is "usage: unknown destination form is permanent (64)" 64 "$rc"
out=$(ld s@x.test 'bad address' "$D/Maildir/" <"$T/m1"); rc=$?
is "usage: invalid recipient refused (64)" 64 "$rc"
if is_root; then
  out=$("$B/local-deliver" s@x.test r@example.test "$D/Maildir/" <"$T/m1"); rc=$?
  is "refuses to run as root (temporary, 75)" "75 r@example.test	defer	4.3.0 local-deliver refuses to run as root" "$rc $out"
else
  skip "refuses to run as root" "needs root"
fi
