# tests/durability.sh - every promise of durability is kept in the right
# order, read off the system calls (strace): a file is fsync'ed before it is
# renamed into place, the directory after, and only then does the program
# report success (DESIGN.md invariants 1 and 2).  tests/durability.py holds
# the rules.  Covers spool-inject, smtp-receive (its 250 comes after the
# injector's commit), local-deliver (Maildir and mbox), postern-maps,
# queue-run (state files, a whole delivery) and sendmail.
. "$POSTERN_TOP/tests/lib.bash"
command -v strace >/dev/null || { skip "durability order" "strace is not installed"; exit 0; }
command -v python3 >/dev/null || { skip "durability order" "python3 is not installed"; exit 0; }
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
CALLS=openat,open,creat,chdir,fsync,fdatasync,rename,renameat,renameat2,link,linkat,write,writev,pwrite64,pwritev,fallocate,ftruncate,exit_group,clone,clone3,vfork,fork
trace() {   # trace LOG CMD...: run CMD under strace, its exit code
  local log=$1; shift
  strace -f -y -qq -s 4096 -e trace=$CALLS -e signal=none -o "$log" "$@"
}
judge() {   # judge NAME LOG ROOT...
  local name=$1 log=$2; shift 2
  local out; out=$(python3 "$TOP/tests/durability.py" "$log" "$@" 2>&1)
  if [ $? -eq 0 ] && [ -s "$log" ]; then ok "$name ($out)"; else fail "$name" "$out"; fi
}

mkspool "$T/spool"
mkdir -p "$T/maps"
mkconf "$T/conf" spool_reserve=0 "domain=example.test"
export POSTERN_CONF=$T/conf

# spool-inject: one file per message (lib/spool.h): tmp/ID written (the
# body, then the head line and the envelope before it; for an envelope of
# several 4 KiB units the body moved up first), tmp/ID fsync'ed, renamed
# into new/ID without replacing, new/ fsync'ed, then the reply; mess/ is
# not the injector's any more
printf 'Subject: durable\n\nbody\n' >"$T/msg"
# inject_order NAME LOG: the order of the last write to tmp/ID, its fsync,
# the rename into new/ID, the fsync of new/ and the 250 reply in LOG
inject_order() {
  local name=$1 log=$2 id w f r d q
  id=$(sed -n 's/.*250 2\.0\.0 Ok: queued as \([0-9.]*\).*/\1/p' "$log" | head -1)
  w=$(grep -nE '(write|pwrite64|fallocate|ftruncate)\([0-9]+<'"$T/spool/tmp/$id"'>' "$log" | tail -1 | cut -d: -f1)
  f=$(grep -n 'fsync([0-9]*<'"$T/spool/tmp/$id"'>)' "$log" | tail -1 | cut -d: -f1)
  r=$(grep -nE 'rename[a-z0-9]*\(.*"tmp/'"$id"'".*"new/'"$id"'", RENAME_NOREPLACE\) = 0' "$log" | head -1 | cut -d: -f1)
  d=$(grep -n 'fsync([0-9]*<'"$T"'/spool/new>) = 0' "$log" | tail -1 | cut -d: -f1)
  q=$(grep -nE 'writev?\(2(<[^>]*>)?, (\[\{iov_base=)?"250 2\.0\.0 Ok: queued' "$log" | head -1 | cut -d: -f1)
  if [ -n "$id" ] && [ -n "$w" ] && [ -n "$f" ] && [ -n "$r" ] && [ -n "$d" ] && [ -n "$q" ] &&
     [ "$w" -lt "$f" ] && [ "$f" -lt "$r" ] && [ "$r" -lt "$d" ] && [ "$d" -lt "$q" ]; then
    ok "$name: last write to tmp/ID (line $w), its fsync ($f), rename into new/ID ($r), fsync of new/ ($d), reply ($q)"
  else
    fail "$name: write tmp/ID, fsync it, rename into new/ID, fsync new/, reply" "id $id write $w fsync $f rename $r fsync new/ $d reply $q" \
      "$(grep -E 'fsync|rename|fallocate|pwrite|writev?\(2' "$log")"
  fi
  is "$name: two fsyncs, the message file and new/" 2 "$(grep -c '^[0-9]* *fsync(' "$log")"
  is "$name: nothing opened, written or synced in mess/" "" "$(grep "<$T/spool/mess/\|\"mess/" "$log")"
}
trace "$T/inject.st" "$B/spool-inject" <"$T/msg" 1< <(printf 'V1\nFa@example.test\nTb@example.test\n\n') 2>"$T/inject.err"
is "spool-inject queued under strace" 0 $?
judge "spool-inject: fsync before rename, new/ fsync'ed before the reply" "$T/inject.st" "$T/spool"
inject_order "spool-inject" "$T/inject.st"
# an envelope of 5 units: the body moved up (fallocate or a copy) before the fsync
{ printf 'V1\nFa@example.test\n'; seq -f 'Trecipient-number-%.0f@example.test' 1 600; printf '\n'; } >"$T/env-600"
head -c 100000 /dev/urandom >>"$T/msg-big"
trace "$T/inject600.st" "$B/spool-inject" <"$T/msg-big" 1<"$T/env-600" 2>"$T/inject.err"
is "spool-inject, 600 recipients, queued under strace" 0 $?
judge "spool-inject, 600 recipients: fsync before rename, new/ fsync'ed before the reply" "$T/inject600.st" "$T/spool"
inject_order "spool-inject, 600 recipients" "$T/inject600.st"
find "$T/spool/new" -mindepth 1 -delete

# smtp-receive -bs: the 250 after DATA is written only after the injector
# committed (its rename into new/ and the fsync of new/)
printf 'EHLO me\r\nMAIL FROM:<a@example.test>\r\nRCPT TO:<b@remote.test>\r\nDATA\r\nSubject: s\r\n\r\nhi\r\n.\r\nQUIT\r\n' >"$T/smtp.in"
trace "$T/smtp.st" "$B/smtp-receive" -C "$T/conf" -bs <"$T/smtp.in" >"$T/smtp.out" 2>"$T/smtp.err"
judge "smtp-receive + spool-inject: durability order" "$T/smtp.st" "$T/spool"
r=$(grep -nE 'rename[a-z0-9]*\(.*new/' "$T/smtp.st" | head -1 | cut -d: -f1)
s=$(grep -n 'fsync([0-9]*<'"$T"'/spool/new>' "$T/smtp.st" | head -1 | cut -d: -f1)
q=$(grep -n 'write(1.*250 2.0.0 Ok: queued' "$T/smtp.st" | head -1 | cut -d: -f1)
if [ -n "$r" ] && [ -n "$s" ] && [ -n "$q" ] && [ "$r" -lt "$s" ] && [ "$s" -lt "$q" ]; then
  ok "smtp-receive says 250 only after the commit (rename line $r, fsync line $s, reply line $q)"
else
  fail "smtp-receive says 250 only after the commit" "rename $r fsync $s reply $q" "$(cat "$T/smtp.out")"
fi

# local-deliver: Maildir (tmp -> new) and mbox (append, fsync); as root it
# refuses to run, so it runs as nobody there
asuser=(); is_root && asuser=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
mkdir -p "$T/mail"; is_root && chown nobody "$T/mail"
trace "$T/maildir.st" "${asuser[@]}" "$B/local-deliver" -C "$T/conf" a@example.test b@example.test "$T/mail/Maildir/" <"$T/msg" >"$T/ld.out" 2>&1
is "local-deliver to a Maildir under strace" 0 $?
judge "local-deliver Maildir: durability order" "$T/maildir.st" "$T/mail"
trace "$T/mbox.st" "${asuser[@]}" "$B/local-deliver" -C "$T/conf" a@example.test b@example.test "$T/mail/mbox" <"$T/msg" >"$T/ld.out" 2>&1
is "local-deliver to an mbox under strace" 0 $?
judge "local-deliver mbox: durability order" "$T/mbox.st" "$T/mail"

# postern-maps: name.tmp, fsync, rename, fsync of the directory
printf 'alice alice@example.org\n' >"$T/maps/virtual"
trace "$T/maps.st" "$B/postern-maps" compile "$T/maps/virtual" >/dev/null 2>&1
is "postern-maps compile under strace" 0 $?
judge "postern-maps: durability order" "$T/maps.st" "$T/maps"

# queue-run: a whole pass (new/ -> queue/, routing, local-spawn,
# local-deliver into a virtual Maildir, state files for a deferred
# recipient, removal); every process of the tree is judged
if is_root; then
  qu=nobody; chown -R nobody "$T/spool" "$T/mail"
else
  qu=$(id -un)
fi
mkconf "$T/conf" spool_reserve=0 "domain=example.test" "queue_user=$qu" "send_user=$qu" "virtual_user=$qu" \
  "remote_deliverer=/bin/false"
printf 'box@example.test %s/mail/box/\n' "$T" >"$T/maps/virtual"
printf 'example.test\n' >"$T/maps/local-domains"
printf 'later.test error:4.4.1 try again later\n' >"$T/maps/routes"
for m in virtual local-domains routes; do "$B/postern-maps" compile "$T/maps/$m" >/dev/null; done
printf 'Subject: through the queue\n\nbody\n' | "$B/spool-inject" 1< <(printf 'V1\nFa@example.test\nTbox@example.test\nTx@later.test\n\n') 2>/dev/null
is_root && chown -R nobody "$T/spool"
trace "$T/queue.st" "$B/queue-run" -C "$T/conf" --once 2>"$T/queue.err"
is "queue-run --once under strace" 0 $?
[ "$(ls "$T/mail/box/new" 2>/dev/null | wc -l)" = 1 ] && ok "queue-run delivered into the Maildir" ||
  fail "queue-run delivered into the Maildir" "$(cat "$T/queue.err")"
ls "$T/spool/state/"* >/dev/null 2>&1 && ok "queue-run wrote a state file for the deferred recipient" ||
  fail "queue-run wrote a state file" "$(ls -la "$T/spool/state")" "$(cat "$T/queue.err")"
judge "queue-run, local-spawn, local-deliver: durability order" "$T/queue.st" "$T/spool" "$T/mail"
grep -q 'rename(.*state/.*\.tmp' "$T/queue.st" || grep -q 'rename.*state/' "$T/queue.st" &&
  ok "queue-run commits state by rename" || fail "queue-run commits state by rename" "$(grep state/ "$T/queue.st" | head)"

# sendmail: the front end's injection keeps the same order
if [ -x "$B/sendmail" ]; then
  is_root && chown -R "$(id -un)" "$T/spool"
  printf 'Subject: from sendmail\n\nbody\n' >"$T/msg2"
  trace "$T/sendmail.st" "$B/sendmail" -C "$T/conf" -i someone@example.test <"$T/msg2" >"$T/sm.out" 2>&1
  is "sendmail queued under strace" 0 $?
  judge "sendmail + spool-inject: durability order" "$T/sendmail.st" "$T/spool"
  # -oee: a message the injector refused is kept in a new ~/dead.letter,
  # the file and the directory entry synced, before the exit 0
  mkdir -p "$T/home"
  mkconf "$T/conf.dead" spool_reserve=0 "domain=example.test" "injector=/bin/false"
  HOME=$T/home trace "$T/dead.st" "$B/sendmail" -C "$T/conf.dead" -oee -i someone@example.test <"$T/msg2" >"$T/sm.out" 2>&1
  is "sendmail -oee kept the refused message under strace: exit 0" 0 $?
  grep -q '^Subject: from sendmail$' "$T/home/dead.letter" 2>/dev/null && [ ! -e "$T/home/dead.letter.lock" ] &&
    ok "sendmail -oee: the message is in ~/dead.letter, no lock left" || fail "sendmail -oee dead.letter" "$(cat "$T/sm.out")"
  judge "sendmail -oee: ~/dead.letter durability order" "$T/dead.st" "$T/home"
else
  skip "sendmail durability order" "sendmail is not built"
fi
