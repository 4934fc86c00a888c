# tests/deliver-root.sh - as root, with a real user made by the test:
# deliveries land with the user's ownership; ~/.forward (addresses
# re-injected with our Delivered-To:, |program run as the user, a
# .forward writable by others ignored with a log line, .forward+ext, at
# most 100 items, a /file owned by another user deferred);
# mailbox_command; mail_spool_directory; local-spawn refusing root; a full
# mailbox file system (small tmpfs) gives a deferral, not a loss.
. "$POSTERN_TOP/tests/lib.bash"
. "$TOP/queue-run/tests/qr.bash"
is_root || { skip "root deliveries" "needs root (creates users, mounts a tmpfs)"; exit 0; }
qr_setup
H=$T/home

# .forward with an address and the user's own name
printf 'fwd-target@far.test, %s\n' "$U" >"$H/.forward"
chown "$U:$U" "$H/.forward"; chmod 644 "$H/.forward"
printf 'Subject: fw\n\nbody\n' | qr_inject s@x.test "$U@example.test"
qr_run --once
is ".forward: own name keeps a copy in the Maildir" 1 "$(qr_maildir_count "$H/Maildir")"
a=$(grep -l '^fwd-target@far.test$' "$T/remote/"*.args 2>/dev/null | head -1)
[ -n "$a" ] && ok ".forward: forwarded copy sent on (re-injected, delivered in the same pass)" || fail ".forward: forwarded copy" "$(cat "$T/log")"
[ -n "$a" ] && is ".forward: original sender kept" "s@x.test" "$(sed -n 2p "$a")"
[ -n "$a" ] && is ".forward: copy carries our Delivered-To first" "Delivered-To: $U@example.test" "$(head -1 "${a%.args}.msg")"
f=$(ls "$H/Maildir/new/"* | head -1)
is "ownership: the Maildir file belongs to the user" "$U $U 600" "$(stat -c '%U %G %a' "$f")"
is "ownership: the Maildir belongs to the user" "$U 700" "$(stat -c '%U %a' "$H/Maildir")"

# a loop through .forward: forwarding back to ourselves is caught by Delivered-To
printf '%s+loop@example.test\n' "$U" >"$H/.forward+loop"
chown "$U:$U" "$H/.forward+loop"; chmod 644 "$H/.forward+loop"
printf 'Subject: loop\n\nbody\n' | qr_inject s@x.test "$U+loop@example.test"
qr_run --once; qr_run --once
grep -q "to=<$U+loop@example.test> .*status=bounced reply=\"5.4.6 mail loop" "$T/log" && ok ".forward+ext: used for user+ext; a forwarding loop ends in 5.4.6" || fail ".forward loop" "$(grep loop "$T/log" | tail -5)"

# sendmail's "\user" in a .forward: the user's own mailbox
printf '\\%s, bs-target@far.test\n' "$U" >"$H/.forward+bs"
chown "$U:$U" "$H/.forward+bs"; chmod 644 "$H/.forward+bs"
n=$(qr_maildir_count "$H/Maildir")
printf 'Subject: bs\n\nbody\n' | qr_inject s@x.test "$U+bs@example.test"
qr_run --once
is ".forward: \\user keeps a copy in the mailbox" $((n + 1)) "$(qr_maildir_count "$H/Maildir")"
grep -qx 'bs-target@far.test' "$T/remote/"*.args && ok ".forward: \\user, address: the address is forwarded too" || fail ".forward \\user forward" "$(tail -4 "$T/log")"
rm -f "$H/.forward+bs"
# (the Maildir count below includes this copy)

# an unsafe .forward+ext is ignored, and ~/.forward is used instead (as
# sendmail -bv says: tests/sendmail-verify.sh)
printf 'fb-target@far.test\n' >"$H/.forward+fb"
chown "$U:$U" "$H/.forward+fb"; chmod 664 "$H/.forward+fb"
n=$(qr_maildir_count "$H/Maildir")
printf 'Subject: fb\n\nbody\n' | qr_inject s@x.test "$U+fb@example.test"
qr_run --once
grep -q "forward=$H/.forward+fb status=ignored reason=\"writable by group or others\"" "$T/log" &&
  ok ".forward+ext writable by others: ignored with a log line" || fail ".forward+ext unsafe: logged" "$(tail -4 "$T/log")"
! grep -qx 'fb-target@far.test' "$T/remote/"*.args && [ "$(qr_maildir_count "$H/Maildir")" = $((n + 1)) ] &&
  ok ".forward+ext ignored: ~/.forward applies (its own name: the mailbox)" ||
  fail ".forward+ext ignored: ~/.forward applies" "$(qr_maildir_count "$H/Maildir") in the Maildir, was $n" "$(tail -4 "$T/log")"
rm -f "$H/.forward+fb"

# unsafe .forward is ignored
chmod 664 "$H/.forward"
printf 'Subject: unsafe\n\nbody\n' | qr_inject s@x.test "$U@example.test"
n=$(ls "$T/remote/"*.args | wc -l)
m=$(qr_maildir_count "$H/Maildir")
qr_run --once
is "unsafe .forward: delivered to the mailbox instead" $((m + 1)) "$(qr_maildir_count "$H/Maildir")"
is "unsafe .forward: not forwarded" "$n" "$(ls "$T/remote/"*.args | wc -l)"
grep -q 'status=ignored reason="writable by group or others"' "$T/log" && ok "unsafe .forward: logged" || fail "unsafe .forward: logged" "$(tail -5 "$T/log")"

# a .forward owned by someone else is ignored too
O=po$(printf '%05d' $((RANDOM % 100000)))$$; O=${O:0:30}
if qr_make_user "$O" /nonexistent; then
  chmod 644 "$H/.forward"; chown "$O" "$H/.forward"
  printf 'Subject: foreign\n\nbody\n' | qr_inject s@x.test "$U@example.test"
  n=$(ls "$T/remote/"*.args | wc -l)
  m=$(qr_maildir_count "$H/Maildir")
  qr_run --once
  is ".forward owned by another user: delivered to the mailbox instead" $((m + 1)) "$(qr_maildir_count "$H/Maildir")"
  is ".forward owned by another user: not forwarded" "$n" "$(ls "$T/remote/"*.args | wc -l)"
  grep -q 'status=ignored reason="not owned by the user"' "$T/log" && ok ".forward owned by another user: logged" || fail ".forward foreign owner: logged" "$(tail -5 "$T/log")"
  chown "$U" "$H/.forward"
else
  fail "create a second user $O"
fi

# |program in .forward runs as the user
printf '#!/bin/sh\nid -un >%s/prog-user; cat >/dev/null\n' "$T/mail" >"$T/progs/who"; chmod 755 "$T/progs/who"
printf '"|who"\n' >"$H/.forward"; chmod 644 "$H/.forward"
printf 'Subject: prog\n\nbody\n' | qr_inject s@x.test "$U@example.test"
qr_run --once
is ".forward |program: runs as the user" "$U" "$(cat "$T/mail/prog-user" 2>/dev/null)"

# /file in .forward: a file someone else made (root here) in a shared
# sticky directory, mode 0666, waiting for the user's mail, gets none: the
# delivery is deferred with the reason and the message stays queued
mkdir -p "$T/shared"; chmod 1777 "$T/shared"
: >"$T/shared/u.log"; chmod 666 "$T/shared/u.log"
printf '%s/shared/u.log\n' "$T" >"$H/.forward"; chmod 644 "$H/.forward"
printf 'Subject: trap\n\nbody\n' | qr_inject s@x.test "$U@example.test"
qr_run --once
is ".forward /file owned by another user: nothing written" 0 "$(stat -c %s "$T/shared/u.log")"
grep -q "to=<$U@example.test> .*status=deferred reply=\"4.2.0 refusing to deliver to a file owned by another user: $T/shared/u.log\"" "$T/log" \
  && ok ".forward /file owned by another user: deferred (4.2.0), not bounced" || fail ".forward /file owned by another user: deferred" "$(grep trap -A0 "$T/log"; tail -3 "$T/log")"
is ".forward /file owned by another user: the message stays queued" 1 "$(qr_queue_count)"
chown "$U" "$T/shared/u.log"
qr_run --once --all
is ".forward /file: delivered once the user owns the file" "1 0" "$(grep -c '^Subject: trap' "$T/shared/u.log") $(qr_queue_count)"
rm -f "$H/.forward" "$H/.forward+loop"

# at most 100 items: all 100 are used; a .forward with 101 is not used at
# all (the mailbox gets the mail, nothing is forwarded, the reason logged)
for k in 100 101; do
  for i in $(seq "$k"); do printf 'm%d-%d@far.test\n' "$k" "$i"; done >"$H/.forward+many$k"
  chown "$U:$U" "$H/.forward+many$k"; chmod 644 "$H/.forward+many$k"
done
n=$(qr_maildir_count "$H/Maildir")
printf 'Subject: many\n\nbody\n' | qr_inject s@x.test "$U+many100@example.test" "$U+many101@example.test"
qr_run --once
is ".forward with 100 items: every address forwarded" 100 "$(cat "$T/remote/"*.args | grep -c '^m100-[0-9]*@far.test$')"
is ".forward with 101 items: none forwarded" 0 "$(cat "$T/remote/"*.args | grep -c '^m101-')"
is ".forward with 101 items: delivered to the mailbox instead" $((n + 1)) "$(qr_maildir_count "$H/Maildir")"
grep -q "to=$U+many101@example.test forward=$H/.forward+many101 status=ignored reason=\"more than 100 items\"" "$T/log" \
  && ok ".forward with 101 items: logged" || fail ".forward with 101 items: logged" "$(grep many101 "$T/log" | tail -3)"
rm -f "$H/.forward+many100" "$H/.forward+many101"

# mailbox_command and mail_spool_directory
qr_conf "mailbox_command=cat >$T/mail/mbc.out"
printf 'Subject: mbc\n\nbody\n' | qr_inject s@x.test "$U@example.test"
qr_run --once
grep -q '^Subject: mbc' "$T/mail/mbc.out" 2>/dev/null && ok "mailbox_command receives the message" || fail "mailbox_command" "$(tail -3 "$T/log")"
mkdir -p "$T/varmail"; chmod 1777 "$T/varmail"
qr_conf "mail_spool_directory=$T/varmail"
printf 'Subject: spool\n\nbody\n' | qr_inject s@x.test "$U@example.test"
qr_run --once
grep -q '^Subject: spool' "$T/varmail/$U" 2>/dev/null && ok "mail_spool_directory: mbox DIR/USER" || fail "mail_spool_directory" "$(tail -3 "$T/log")"
is "mail_spool_directory: mbox owned by the user" "$U 600" "$(stat -c '%U %a' "$T/varmail/$U" 2>&1)"

# local-spawn refuses to deliver as root
qr_conf virtual_user=root
qr_map virtual <<M
rootbox@example.test $T/mail/rootbox/
M
printf 'Subject: r\n\nbody\n' | qr_inject s@x.test rootbox@example.test
qr_run --once
grep -q 'to=<rootbox@example.test> .*status=deferred reply="4.3.5 refusing to deliver as root"' "$T/log" && ok "local-spawn refuses to deliver as root" || fail "local-spawn refuses root" "$(tail -3 "$T/log")"
qr_run --delete "$(ls "$T/spool/queue" | head -1)"

# a full mailbox file system: deferred, kept, delivered once there is room
qr_conf
mkdir -p "$T/full"
if mount -t tmpfs -o size=64k,mode=0755 tmpfs "$T/full" 2>/dev/null; then
  at_exit "umount '$T/full' 2>/dev/null"
  chown "$U:$U" "$T/full"
  qr_map virtual <<M
fullbox@example.test $T/full/box/
M
  head -c 200000 /dev/urandom | base64 | sed 's/^/x/' | { printf 'Subject: big\n\n'; cat; } | qr_inject s@x.test fullbox@example.test
  qr_run --once
  grep -q 'to=<fullbox@example.test> .*status=deferred reply="4.3.1 unable to write .*No space left on device"' "$T/log" && ok "disk full: deferred with 4.3.1" || fail "disk full: deferred" "$(tail -3 "$T/log")"
  is "disk full: the message stays queued" 1 "$(qr_queue_count)"
  is "disk full: no partial file in tmp/ or new/" "" "$(ls "$T/full/box/tmp"; ls "$T/full/box/new")"
  mount -o remount,size=2m "$T/full"
  qr_run --once --all
  is "disk full: delivered once there is room" 1 "$(qr_maildir_count "$T/full/box")"
  is "disk full: queue empty" 0 "$(qr_queue_count)"
else
  skip "disk full" "cannot mount a tmpfs here"
fi

# allow_forward = no: the .forward is not read, the mail goes to the mailbox
qr_conf allow_forward=no
rm -f "$T/remote/"*
printf '%s\n' fwd-target@far.test >"$H/.forward"; chown "$U:$U" "$H/.forward"; chmod 644 "$H/.forward"
before=$(qr_maildir_count "$H/Maildir")
printf 'Subject: nofw\n\nbody\n' | qr_inject s@x.test "$U@example.test"
qr_run --once
is "allow_forward=no: the mail lands in the Maildir" $((before + 1)) "$(qr_maildir_count "$H/Maildir")"
is "allow_forward=no: nothing forwarded" "" "$(grep -l '^fwd-target@far.test$' "$T/remote/"*.args 2>/dev/null)"
qr_conf

