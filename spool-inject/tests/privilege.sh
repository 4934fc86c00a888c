# spool-inject/tests/privilege.sh - the production privilege model
# (DESIGN.md "Privileges", "The spool"): a set-gid (never set-uid)
# spool-inject lets an ordinary user queue mail into the 1770 spool
# directories, but not list, read, change or remove what is there; a
# set-gid run reads only root's config; the queue owner can take the files
# over.  The message is one file (lib/spool.h), written in tmp/ and renamed
# into new/: the set-gid writer needs nothing of queue/, which it cannot
# even search.  Then, on a tiny tmpfs, a full disk refuses the message with 452
# and leaves nothing behind (DESIGN.md invariant 6).  Root only: it adds
# users and a group, and mounts tmpfs file systems.
# A set-gid run reads only the system configuration, /etc/postern/postern.conf:
# as root the test runs in a mount namespace of its own, with a directory
# of ours bound over /etc/postern (an installed postern is not touched).
if [ "$(id -u)" = 0 ] && [ -z "${POSTERN_T_MNTNS:-}" ] && command -v unshare >/dev/null; then
  exec unshare -m --propagation private env POSTERN_T_MNTNS=1 bash "$0" "$@"
fi
. "${POSTERN_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.bash"

if ! is_root; then
  skip "set-gid spool-inject as an ordinary user" "needs root (adds users and a group)"
  skip "full disk on a small tmpfs" "needs root (mounts tmpfs)"
  exit 0
fi

G=postern-t-inject U=postern-t-user Q=postern-t-queue
S=$T/spool
SI=$B/spool-inject
BODY=$T/body
ENV=$T/env
printf 'Subject: privilege test\n\n8-bit \xe9 body\n.\n' >"$BODY"
printf 'V1\nFs@example.org\nTr@example.org\n\n' >"$ENV"

# one run of this file at a time on this host: the names are fixed
exec 9>/tmp/postern-t-privilege.lock
flock -w 300 9 || { fail "lock /tmp/postern-t-privilege.lock" "another run holds it"; exit 1; }
drop_ids() {
  userdel "$U" 2>/dev/null; userdel "$Q" 2>/dev/null; groupdel "$G" 2>/dev/null
  return 0
}
drop_ids      # leftovers of a run that was killed (we hold the lock)
at_exit drop_ids

# wait_until SECONDS CMD...: poll CMD every 10 ms, at most SECONDS
wait_until() {
  local n=$(( $1 * 100 )); shift
  while [ "$n" -gt 0 ]; do "$@" && return 0; sleep 0.01; n=$((n - 1)); done
  return 1
}
has_file() { [ -n "$(ls -A "$1" 2>/dev/null)" ]; }
# reading_fd1 PID: PID is blocked in a system call on fd 1 (the envelope)
reading_fd1() { local nr fd rest; read -r nr fd rest <"/proc/$1/syscall" 2>/dev/null && [ "$fd" = 0x1 ]; }
spool_left() { (cd "$1" && find tmp mess new -mindepth 1 2>/dev/null | sort); }
spool_clean() { find "$1/tmp" "$1/mess" "$1/new" -mindepth 1 -delete; }
# as USER CMD...: run CMD as USER with a clean environment
# LeakSanitizer cannot run in a set-id process (it is not dumpable), so
# leak detection is off for these runs of the sanitizer build.
as() { local u=$1; shift; runuser -u "$u" -- env -i PATH=/usr/bin:/bin ASAN_OPTIONS=detect_leaks=0 "$@"; }

if groupadd "$G" && useradd -M -N -s /usr/sbin/nologin "$U" && useradd -M -N -s /usr/sbin/nologin "$Q"; then
  ok "test users and group created"
else
  fail "test users and group created"; exit 1
fi
user_uid=$(id -u "$U")

# --- the production setup --------------------------------------------------------
"$TOP/tools/mkspool" "$S" "$Q" "$G" >/dev/null
chmod 755 "$T"
mkdir -m 755 "$T/bin" "$T/bin-plain"
cp "$SI" "$T/bin/spool-inject"
chgrp "$G" "$T/bin/spool-inject"
chmod 2755 "$T/bin/spool-inject"
cp "$SI" "$T/bin-plain/spool-inject"
chmod 755 "$T/bin-plain/spool-inject"
SG=$T/bin/spool-inject
mkconf "$T/conf" spool_reserve=0
chown root:root "$T/conf"
# the system configuration the set-gid runs read: the same, logging to
# syslog (log = auto), with a size limit
mkdir -m 755 "$T/etc"
mkconf "$T/etc/postern.conf" spool_reserve=0 message_size_limit=4000
sed -i 's/^log = stderr$/log = auto/' "$T/etc/postern.conf"
chown root:root "$T/etc" "$T/etc/postern.conf"
if [ "${POSTERN_T_MNTNS:-}" != 1 ]; then fail "a mount namespace for /etc/postern" "unshare is missing"; exit 1; fi
made_etc=""
[ -d /etc/postern ] || { mkdir -m 755 /etc/postern && made_etc=1; }
at_exit "umount /etc/postern 2>/dev/null; [ -n \"$made_etc\" ] && rmdir /etc/postern 2>/dev/null; true"
if mount --bind "$T/etc" /etc/postern; then ok "our /etc/postern bound in a mount namespace"
else fail "our /etc/postern bound in a mount namespace"; exit 1; fi
is "spool-inject is installed set-gid postern-t-inject" "-rwxr-sr-x root $G" "$(stat -c '%A %U %G' "$SG")"
if [ -u "$SG" ]; then fail "spool-inject is not set-uid"; else ok "spool-inject is not set-uid"; fi
is "spool directories are 1770 queue:inject" "drwxrwx--T $Q $G drwxrwx--T $Q $G drwxrwx--T $Q $G" \
  "$(for d in tmp mess new; do stat -c '%A %U %G' "$S/$d"; done | tr '\n' ' ' | sed 's/ $//')"

# --- an ordinary user injects ------------------------------------------------------
as "$U" "$SG" <"$BODY" 1<"$ENV" 2>"$T/err"; rc=$?
reply=$(tail -n 1 "$T/err"); id=${reply#250 2.0.0 Ok: queued as }
if [ "$rc" = 0 ] && [ -n "$id" ] && [ -f "$S/new/$id" ]; then
  ok "user injects through the set-gid binary"
else
  fail "user injects through the set-gid binary" "exit $rc" "$(cat "$T/err")"
  # what follows needs the queued message: queue one as root instead, so
  # that the permission checks still run
  "$SI" -C "$T/conf" <"$BODY" 1<"$ENV" 2>"$T/err"
  reply=$(tail -n 1 "$T/err"); id=${reply#250 2.0.0 Ok: queued as }
  chown "$U:$G" "$S/new/$id" 2>/dev/null
  echo "# (queued as root for the checks below)"
fi
if [ "$rc" = 0 ]; then
  is "stored envelope has P<the user's uid>" "P$user_uid" "$(spool_envelope "$S/new/$id" 2>&1 | grep '^P')"
else
  skip "stored envelope has P<the user's uid>" "the user's injection failed"
fi
spool_body "$S/new/$id" >"$T/got" 2>&1
same_file "body byte-exact" "$BODY" "$T/got"
is "head line as spool.h says" "" "$(spool_head_check "$S/new/$id" 2>&1)"
is "new/ID mode 0644, the user's, the injector group's" "644 $U $G" "$(stat -c '%a %U %G' "$S/new/$id" 2>&1)"
is "nothing in mess/ or tmp/" "" "$(find "$S/mess" "$S/tmp" -mindepth 1)"
# the writer needs nothing of queue/: the user's injector cannot even look
# there (a name in queue/ is queue-run's to check, lib/inject.c id_taken)
: >"$S/queue/probe"
if as "$U" stat "$S/queue/probe" >/dev/null 2>&1; then fail "the user cannot search queue/"; else ok "the user cannot search queue/"; fi
if runuser -u "$U" -g "$G" -- stat "$S/queue/probe" >/dev/null 2>&1; then fail "nor can the injector group search queue/"
else ok "nor can the injector group search queue/"; fi
rm -f "$S/queue/probe"

# an envelope of several 4 KiB units through the set-gid binary: the body
# is moved up in the user's own file
{ printf 'V1\nFs@example.org\n'; seq -f 'Trecipient-%.0f@example.org' 1 600; printf '\n'; } >"$T/env-600"
as "$U" "$SG" <"$BODY" 1<"$T/env-600" 2>"$T/err"; rc=$?
reply=$(tail -n 1 "$T/err"); id600=${reply#250 2.0.0 Ok: queued as }
if [ "$rc" = 0 ] && [ -f "$S/new/$id600" ]; then
  spool_body "$S/new/$id600" >"$T/got" 2>&1
  same_file "user, 600 recipients: body byte-exact" "$BODY" "$T/got"
  is "user, 600 recipients: all stored, head as spool.h says" "600" \
    "$(spool_head_check "$S/new/$id600")$(spool_envelope "$S/new/$id600" | grep -c '^T')"
  rm -f "$S/new/$id600"
else
  fail "user, 600 recipients: queued" "exit $rc" "$(cat "$T/err")"
fi
for d in new mess queue tmp state; do
  if as "$U" ls "$S/$d" >/dev/null 2>&1; then fail "user cannot list $d/"; else ok "user cannot list $d/"; fi
done
for f in "new/$id"; do
  if as "$U" cat "$S/$f" >/dev/null 2>&1; then fail "user cannot read ${f%%/*}/ID by path"
  else ok "user cannot read ${f%%/*}/ID by path"; fi
  if as "$U" sh -c 'echo x >>"$1"' sh "$S/$f" 2>/dev/null; then fail "user cannot append to ${f%%/*}/ID"
  else ok "user cannot append to ${f%%/*}/ID"; fi
  as "$U" rm -f "$S/$f" 2>/dev/null
  if [ -f "$S/$f" ]; then ok "user cannot remove ${f%%/*}/ID"; else fail "user cannot remove ${f%%/*}/ID"; fi
done
spool_body "$S/new/$id" >"$T/got" 2>&1
same_file "body unchanged after the user's attempts" "$BODY" "$T/got"
if as "$U" mv "$S/new/$id" "$S/tmp/x" 2>/dev/null; then fail "user cannot rename new/ID"; else ok "user cannot rename new/ID"; fi

# --- spool-inject -q: an ordinary user wakes the queue daemon (sendmail -q)
out=$(as "$U" "$SG" -q 2>&1); rc=$?
case "$rc:$out" in "69:"*"no queue daemon is running"*) ok "-q with no daemon: exit 69, says so" ;; *) fail "-q with no daemon" "exit $rc" "$out" ;; esac
# the daemon's way: the fifo opened read-write (never blocks), one byte read
timeout 10 python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_RDWR); open(sys.argv[2], "w").write("ready"); sys.stdout.write(os.read(fd, 1).decode())' \
  "$S/trigger" "$T/reader-ready" >"$T/poked" &
reader=$!
wait_until 5 test -s "$T/reader-ready"
out=$(as "$U" "$SG" -q 2>&1); rc=$?
wait "$reader"
is "-q with a daemon reading the trigger: exit 0" 0 "$rc"
is "-q: the daemon got one flush byte" "F" "$(cat "$T/poked")"
if as "$U" sh -c 'echo F >"$1"' sh "$S/trigger" 2>/dev/null; then fail "the user alone cannot write the trigger"; else ok "the user alone cannot write the trigger"; fi

# --- the queue owner takes over -------------------------------------------------------
as "$Q" cat "$S/new/$id" >"$T/read-back" 2>"$T/qerr"
same_file "queue owner reads new/ID" "$S/new/$id" "$T/read-back"
spool_body "$T/read-back" >"$T/got" 2>&1
same_file "queue owner reads the body in new/ID" "$BODY" "$T/got"
check "queue owner lists new/" as "$Q" ls "$S/new"
check "queue owner renames new/ID into queue/" as "$Q" mv "$S/new/$id" "$S/queue/$id"
check "queue owner removes queue/ID" as "$Q" rm "$S/queue/$id"

# --- what the user hands over is refused without a trace --------------------------------
printf 'V1\nFs@example.org\nXbad\nTr@example.org\n\n' >"$T/env-bad"
as "$U" "$SG" <"$BODY" 1<"$T/env-bad" 2>"$T/err"; rc=$?
is "user, invalid envelope: exit 65" 65 "$rc"
is "user, invalid envelope: nothing left" "" "$(spool_left "$S")"
printf 'V1\nFs@example.org\nP0\nTr@example.org\n\n' >"$T/env-p0"
as "$U" "$SG" <"$BODY" 1<"$T/env-p0" 2>"$T/err"; rc=$?
is "user cannot claim to be uid 0 (P0 refused)" 65 "$rc"
is "user, P0: nothing left" "" "$(spool_left "$S")"
spool_clean "$S"

# --- config: a set-gid run reads only the system configuration -----------------------------
# another root-owned file (the shipped all-comment example, say) would
# swap the site's message_size_limit and spool_reserve for the defaults
printf '# an example: every line a comment\n# message_size_limit = 10M\n' >"$T/conf-example"
chmod 644 "$T/conf-example"; chown root:root "$T/conf-example"
head -c 6000 /dev/zero | tr '\0' 'x' >"$T/body-big"; chmod 644 "$T/body-big"
as "$U" "$SG" <"$T/body-big" 1<"$ENV" 2>"$T/err"; rc=$?
is "set-gid, the system config: its message_size_limit holds (552, 65)" "65 552" "$rc $(tail -n 1 "$T/err" | cut -c1-3)"
as "$U" env POSTERN_CONF="$T/conf-example" "$SG" <"$T/body-big" 1<"$ENV" 2>"$T/err"; rc=$?
is "set-gid, another root-owned config via POSTERN_CONF: refused (78)" 78 "$rc"
case "$(tail -n 1 "$T/err")" in "451 4.3.5 Configuration error: refusing $T/conf-example: a set-id program reads only /etc/postern/postern.conf") ok "set-gid, another root-owned config: the reply says why" ;;
  *) fail "set-gid, another root-owned config: the reply says why" "$(cat "$T/err")" ;; esac
as "$U" "$SG" -C "$T/conf-example" <"$T/body-big" 1<"$ENV" 2>"$T/err"; rc=$?
is "set-gid, another root-owned config via -C: refused (78)" 78 "$rc"
is "set-gid, another root-owned config: nothing queued, nothing left" "" "$(spool_left "$S")"
as "$U" env POSTERN_CONF=/etc/postern/postern.conf "$SG" <"$BODY" 1<"$ENV" 2>"$T/err"; rc=$?
is "set-gid, POSTERN_CONF naming the system config itself: queued" 0 "$rc"
spool_clean "$S"
# the caller's JOURNAL_STREAM naming his own stderr does not take the
# audit line away from syslog: the set-gid run connects to /dev/log
if command -v strace >/dev/null; then
  : >"$T/err"
  js=$(stat -c '%d:%i' "$T/err")
  strace -f -qq -e trace=connect,execve -e signal=none -o "$T/js.st" \
    runuser -u "$U" -- env -i PATH=/usr/bin:/bin ASAN_OPTIONS=detect_leaks=0 JOURNAL_STREAM="$js" "$SG" <"$BODY" 1<"$ENV" 2>>"$T/err"; rc=$?
  is "set-gid with the caller's JOURNAL_STREAM: queued" 0 "$rc"
  # the connects of the spool-inject process only (runuser's PAM logs too)
  sg_pid=$(awk -v sg="execve(\"$SG\"" 'index($0, sg) { print $1; exit }' "$T/js.st")
  if [ -n "$sg_pid" ] && awk -v p="$sg_pid" '$1 == p' "$T/js.st" | grep -q 'connect(.*/dev/log'; then ok "set-gid with the caller's JOURNAL_STREAM: logs to syslog (/dev/log), not to the caller"
  else fail "set-gid with the caller's JOURNAL_STREAM: logs to syslog (/dev/log), not to the caller" "$(cat "$T/js.st")" "$(cat "$T/err")"; fi
  spool_clean "$S"
else
  skip "set-gid with the caller's JOURNAL_STREAM" "strace is not installed"
fi
mkconf "$T/conf-user" spool_reserve=0
chown "$U" "$T/conf-user"
as "$U" env POSTERN_CONF="$T/conf-user" "$SG" <"$BODY" 1<"$ENV" 2>"$T/err"; rc=$?
reply=$(tail -n 1 "$T/err")
is "set-gid, user's own config via POSTERN_CONF: exit 78" 78 "$rc"
case "$reply" in "451 4.3.5 Configuration error: "*"$T/conf-user"*) ok "set-gid, user's config: 451 naming the file" ;;
  *) fail "set-gid, user's config: 451 naming the file" "$reply" ;; esac
as "$U" "$SG" -C "$T/conf-user" <"$BODY" 1<"$ENV" 2>"$T/err"; rc=$?
is "set-gid, user's own config via -C: exit 78" 78 "$rc"
is "set-gid, user's config: nothing left" "" "$(spool_left "$S")"
# the user's config through a path he does not own (a symlink, /proc) is still his
ln -s "$T/conf-user" "$T/conf-link"
as "$U" "$SG" -C "$T/conf-link" <"$BODY" 1<"$ENV" 2>"$T/err"; rc=$?
is "set-gid, symlink to the user's config: exit 78" 78 "$rc"
as "$U" sh -c 'exec "$1" -C /dev/fd/3 3<"$2"' sh "$SG" "$T/conf-user" <"$BODY" 1<"$ENV" 2>"$T/err"; rc=$?
is "set-gid, user's config through /dev/fd: exit 78" 78 "$rc"
# root running an ordinary (not set-id) spool-inject refuses a config of another user
"$SI" -C "$T/conf-user" <"$BODY" 1<"$ENV" 2>"$T/err"; rc=$?
is "config owned by another user: exit 78" 78 "$rc"
case "$(tail -n 1 "$T/err")" in *"owned by another user"*) ok "config owned by another user: says so" ;;
  *) fail "config owned by another user: says so" "$(cat "$T/err")" ;; esac
is "refused configs: nothing left" "" "$(spool_left "$S")"

# --- without the set-gid bit the user cannot write the spool -------------------------------
as "$U" "$T/bin-plain/spool-inject" -C "$T/conf" <"$BODY" 1<"$ENV" 2>"$T/err"; rc=$?
if [ "$rc" = 74 ] || [ "$rc" = 75 ]; then ok "without set-gid: temporary failure (74/75)"
else fail "without set-gid: temporary failure (74/75)" "exit $rc" "$(cat "$T/err")"; fi
case "$(tail -n 1 "$T/err")" in 4[0-9][0-9]" "*) ok "without set-gid: a 4xx reply" ;;
  *) fail "without set-gid: a 4xx reply" "$(cat "$T/err")" ;; esac
is "without set-gid: nothing committed" "" "$(spool_left "$S")"

# --- a running set-gid injector cannot be reached through /proc ----------------------------
mkfifo -m 600 "$T/fifo"
( exec timeout -k 5 30 runuser -u "$U" -- env -i "$SG" <"$T/fifo" 1<"$ENV" 2>"$T/err" ) &
bg=$!
exec 5>"$T/fifo"
printf 'Subject: proc\n\n' >&5
if wait_until 5 has_file "$S/tmp"; then
  id=$(ls "$S/tmp"); pid=${id##*.}
  ok "injector running, message file created in tmp/"
  if as "$U" cat "$S/tmp/$id" >/dev/null 2>&1; then fail "user cannot read tmp/ID by path"; else ok "user cannot read tmp/ID by path"; fi
  if as "$U" sh -c 'echo x >>"$1"' sh "$S/tmp/$id" 2>/dev/null; then fail "user cannot append to tmp/ID"; else ok "user cannot append to tmp/ID"; fi
  if as "$U" ls "/proc/$pid/fd" >/dev/null 2>&1; then fail "user cannot list /proc/PID/fd of his set-gid injector"
  else ok "user cannot list /proc/PID/fd of his set-gid injector"; fi
  wrote=""
  for n in 3 4 5 6 7; do
    as "$U" sh -c 'echo INJECTED >>"$1"' sh "/proc/$pid/fd/$n" 2>/dev/null && wrote="$wrote $n"
  done
  is "user cannot write through /proc/PID/fd/N" "" "$wrote"
else
  fail "injector running, message file created in tmp/" "$(cat "$T/err")"
fi
printf 'rest\n' >&5
exec 5>&-
wait "$bg"; rc=$?
is "injector under /proc probing: exit 0" 0 "$rc"
printf 'Subject: proc\n\nrest\n' >"$T/want"
id=$(ls "$S/new")
if [ -n "$id" ]; then spool_body "$S/new/$id" >"$T/got" 2>&1; same_file "injector under /proc probing: body exact" "$T/want" "$T/got"
else fail "injector under /proc probing: body exact" "nothing in new/"; fi
spool_clean "$S"
# the user may interrupt his own injection: nothing stays
( exec timeout -k 5 30 runuser -u "$U" -- env -i "$SG" <"$T/fifo" 1<"$ENV" 2>"$T/err" ) &
bg=$!
exec 5>"$T/fifo"
printf 'Subject: term\n\n' >&5
if wait_until 5 has_file "$S/tmp"; then
  id=$(ls "$S/tmp"); pid=${id##*.}
  as "$U" kill -TERM "$pid"
  wait "$bg"; rc=$?
  is "user's SIGTERM to his set-gid injector: exit 75" 75 "$rc"
else
  kill "$bg" 2>/dev/null; wait "$bg"
  fail "user's SIGTERM to his set-gid injector: exit 75" "injector did not start" "$(cat "$T/err")"
fi
exec 5>&-
is "user's SIGTERM: nothing left" "" "$(spool_left "$S")"
spool_clean "$S"

# --- a full disk: a 1 MiB tmpfs -----------------------------------------------------------
M=$T/tmpfs
mkdir "$M"
if ! mount -t tmpfs -o size=1m,mode=755 postern-t "$M" 2>"$T/merr"; then
  skip "full disk on a small tmpfs" "mount -t tmpfs failed: $(cat "$T/merr")"
  exit 0
fi
at_exit "umount '$M' 2>/dev/null || umount -l '$M' 2>/dev/null"
mkspool "$M/spool"
mkconf "$T/conf-tmpfs" spool_reserve=0
sed -i "s|^spool = .*|spool = $M/spool|" "$T/conf-tmpfs"
head -c 2097152 /dev/urandom >"$T/m-2m"
"$SI" -C "$T/conf-tmpfs" <"$T/m-2m" 1<"$ENV" 2>"$T/err"; rc=$?
is "2 MiB message on a 1 MiB tmpfs: exit 75" 75 "$rc"
case "$(tail -n 1 "$T/err")" in "452 4.3.1 "*) ok "2 MiB message on a 1 MiB tmpfs: 452" ;;
  *) fail "2 MiB message on a 1 MiB tmpfs: 452" "$(cat "$T/err")" ;; esac
is "2 MiB message on a 1 MiB tmpfs: nothing left" "" "$(spool_left "$M/spool")"
# the disk fills up while the body is copied (the free-space check at the
# start passed): the write fails with ENOSPC
head -c 300000 /dev/urandom >"$T/m-300k"
( exec timeout -k 5 30 "$SI" -C "$T/conf-tmpfs" <"$T/fifo" 1<"$ENV" 2>"$T/err" ) &
bg=$!
exec 5>"$T/fifo"
head -c 100000 "$T/m-300k" >&5
wait_until 5 has_file "$M/spool/tmp"
dd if=/dev/zero of="$M/filler" bs=4k 2>/dev/null
tail -c +100001 "$T/m-300k" >&5 2>/dev/null
exec 5>&-
wait "$bg"; rc=$?
is "disk full during the body: exit 75" 75 "$rc"
case "$(tail -n 1 "$T/err")" in "452 4.3.1 "*) ok "disk full during the body: 452" ;;
  *) fail "disk full during the body: 452" "$(cat "$T/err")" ;; esac
is "disk full during the body: nothing left" "" "$(spool_left "$M/spool")"
rm -f "$M/filler"
# the disk fills up after the body, before the envelope is stored
mkfifo -m 600 "$T/efifo"
( exec timeout -k 5 30 "$SI" -C "$T/conf-tmpfs" <"$T/m-300k" 1<"$T/efifo" 2>"$T/err" ) &
bg=$!
exec 6>"$T/efifo"
printf 'V1\nFs@example.org\n' >&6
wait_until 5 has_file "$M/spool/tmp"
id=$(ls "$M/spool/tmp"); pid=${id##*.}
wait_until 5 reading_fd1 "$pid" || echo "# spool-inject $pid not seen reading the envelope"
dd if=/dev/zero of="$M/filler" bs=4k 2>/dev/null
printf 'Tr@example.org\n\n' >&6
exec 6>&-
wait "$bg"; rc=$?
is "disk full before the envelope is stored: exit 75" 75 "$rc"
case "$(tail -n 1 "$T/err")" in "452 4.3.1 "*) ok "disk full before the envelope is stored: 452" ;;
  *) fail "disk full before the envelope is stored: 452" "$(cat "$T/err")" ;; esac
is "disk full before the envelope is stored: no empty envelope committed" "" \
  "$(cd "$M/spool" && find new -type f -empty)"
is "disk full before the envelope is stored: nothing left" "" "$(spool_left "$M/spool")"
rm -f "$M/filler"
# the disk fills up after the body, before it is moved up for an envelope
# of several 4 KiB units (on tmpfs, by a copy that needs more room)
( exec timeout -k 5 30 "$SI" -C "$T/conf-tmpfs" <"$T/m-300k" 1<"$T/efifo" 2>"$T/err" ) &
bg=$!
exec 6>"$T/efifo"
printf 'V1\nFs@example.org\n' >&6
wait_until 5 has_file "$M/spool/tmp"
id=$(ls "$M/spool/tmp"); pid=${id##*.}
wait_until 5 reading_fd1 "$pid" || echo "# spool-inject $pid not seen reading the envelope"
dd if=/dev/zero of="$M/filler" bs=4k 2>/dev/null
seq -f 'Trecipient-number-%.0f@example.org' 1 600 >&6
printf '\n' >&6
exec 6>&-
wait "$bg"; rc=$?
is "disk full before the body is moved up: exit 75" 75 "$rc"
case "$(tail -n 1 "$T/err")" in "452 4.3.1 "*) ok "disk full before the body is moved up: 452" ;;
  *) fail "disk full before the body is moved up: 452" "$(cat "$T/err")" ;; esac
is "disk full before the body is moved up: nothing left" "" "$(spool_left "$M/spool")"
rm -f "$M/filler"
# no inodes left
MI=$T/tmpfs-inodes
mkdir "$MI"
if mount -t tmpfs -o size=1m,nr_inodes=32,mode=755 postern-t "$MI" 2>"$T/merr"; then
  at_exit "umount '$MI' 2>/dev/null || umount -l '$MI' 2>/dev/null"
  mkspool "$MI/spool"
  sed "s|^spool = .*|spool = $MI/spool|" "$T/conf-tmpfs" >"$T/conf-inodes"; chmod 644 "$T/conf-inodes"
  n=0; while [ "$n" -lt 64 ] && : 2>/dev/null >"$MI/f$n"; do n=$((n + 1)); done
  "$SI" -C "$T/conf-inodes" <"$BODY" 1<"$ENV" 2>"$T/err"; rc=$?
  is "no inodes left: exit 75" 75 "$rc"
  case "$(tail -n 1 "$T/err")" in "452 4.3.1 "*) ok "no inodes left: 452" ;;
    *) fail "no inodes left: 452" "$(cat "$T/err")" ;; esac
  is "no inodes left: nothing left" "" "$(spool_left "$MI/spool")"
  rm -f "$MI"/f*
  "$SI" -C "$T/conf-inodes" <"$BODY" 1<"$ENV" 2>"$T/err"; rc=$?
  is "inodes free again: queued" 0 "$rc"
else
  skip "no inodes left" "mount -t tmpfs -o nr_inodes failed: $(cat "$T/merr")"
fi
