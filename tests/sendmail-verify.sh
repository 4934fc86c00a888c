# tests/sendmail-verify.sh - sendmail -bv (queue-run --route) never calls
# deliverable what local delivery will refuse: |programs outside
# program_dir (or any with program_dir empty), and a local user's
# ~/.forward applied as local-deliver applies it (its addresses routed,
# its programs checked, \user keeping the mailbox, :include: refused, an
# unsafe file ignored, allow_forward = no), or named when the caller may
# not read it.  Each case is also delivered, to hold -bv to delivery.
. "$POSTERN_TOP/tests/lib.bash"
. "$TOP/spool-inject/sendmail/tests/sendmail.bash"
sm_setup
printf '#!/bin/sh\ncat >/dev/null\n' >"$T/progs/rec"
chmod 755 "$T/progs/rec"
printf 'root: rootbox@example.test\npostmaster: rootbox@example.test\nokprog: "|rec x"\nbadprog: "|/usr/bin/notthere -x"\n' >"$T/maps/aliases"
"$B/postern-maps" compile "$T/maps/aliases" >/dev/null

# --- the program allow-list
out=$(sm -bv okprog@example.test)
is "-bv: a program in program_dir is deliverable (0)" 0 "$?"
out=$(sm -bv badprog@example.test)
is "-bv: a program outside program_dir is undeliverable (67)" 67 "$?"
case "$out" in "<badprog@example.test>: undeliverable: 5.7.1 program not in the allowed directory: notthere") ok "-bv: says which program is not allowed" ;;
  *) fail "-bv program refused" "$out" ;; esac
printf 'Subject: p\n\nx\n' | sm badprog@example.test
qr_run --once
grep -q 'to=<badprog@example.test> .*status=bounced.*program not in the allowed directory' "$T/log" \
  && ok "delivery refuses the same program" || fail "delivery refuses the program" "$(grep badprog "$T/log")"
qr_conf program_dir=
out=$(sm -bv okprog@example.test)
is "-bv: program_dir empty: every program is undeliverable (67)" 67 "$?"
case "$out" in *"undeliverable: 5.7.1 program delivery is not allowed here") ok "-bv: says programs are off" ;; *) fail "-bv programs off" "$out" ;; esac
qr_conf

# --- ~/.forward (the test user $U, home $T/home; needs root)
if ! is_root; then skip ".forward cases" "needs root (a test user with a home)"; exit 0; fi
fwd=$T/home/.forward
setfwd() { printf '%s\n' "$1" >"$fwd"; chown "$U:$U" "$fwd"; chmod "${2:-644}" "$fwd"; }

out=$(sm -bv "$U@example.test")
is "-bv: no .forward: the user's mailbox (0)" 0 "$?"
is "-bv: no .forward: in words" "<$U@example.test>: deliverable: local user $U" "$out"

setfwd "alice@example.test, |notthere"
out=$(sm -bv "$U@example.test")
is "-bv: a .forward with a refused program: 67" 67 "$?"
case "$out" in *"<$U@example.test> -> <alice@example.test>: deliverable: mailbox $T/mail/alice/"*) ok "-bv: the .forward's address is routed" ;; *) fail "-bv .forward address" "$out" ;; esac
case "$out" in *"<$U@example.test>: undeliverable: 5.7.1 program not in the allowed directory: notthere"*) ok "-bv: the .forward's program is checked" ;; *) fail "-bv .forward program" "$out" ;; esac
case "$out" in *"local user"*) fail "-bv: the mailbox is not used when .forward sends elsewhere" "$out" ;; *) ok "-bv: the mailbox is not used when .forward sends elsewhere" ;; esac

setfwd "\\$U, x@far.test"
out=$(sm -bv "$U@example.test")
is "-bv: \\user and a remote address: 0" 0 "$?"
case "$out" in *"<$U@example.test>: deliverable: local user $U (kept in the mailbox by its .forward)"*"-> <x@far.test>: deliverable: remote smtp:far.test"*) ok "-bv: \\user keeps the mailbox, the address is forwarded" ;; *) fail "-bv \\user" "$out" ;; esac

setfwd ":include:/etc/passwd"
out=$(sm -bv "$U@example.test")
is "-bv: :include: in .forward is undeliverable (67)" 67 "$?"
case "$out" in *":include: is not allowed in .forward"*) ok "-bv: says :include: is refused" ;; *) fail "-bv include" "$out" ;; esac

setfwd "alice@example.test" 666
out=$(sm -bv "$U@example.test")
is "-bv: an unsafe .forward is ignored: the mailbox (0)" 0 "$?"
is "-bv: says the .forward is ignored and why" "<$U@example.test>: deliverable: local user $U (its .forward is ignored: writable by group or others)" "$out"

# ~/.forward+EXT first; one that is ignored leaves ~/.forward to apply,
# as delivery does (tests/deliver-root.sh)
setfwd "alice@example.test"
printf 'x@far.test\n' >"$fwd+list"; chown "$U:$U" "$fwd+list"; chmod 644 "$fwd+list"
out=$(sm -bv "$U+list@example.test")
case "$out" in *"-> <x@far.test>: deliverable: remote smtp:far.test"*) ok "-bv user+ext: ~/.forward+ext applies" ;; *) fail "-bv user+ext: ~/.forward+ext applies" "$out" ;; esac
chmod 666 "$fwd+list"
out=$(sm -bv "$U+list@example.test")
case "$out" in *"-> <x@far.test>"*) fail "-bv user+ext: an unsafe ~/.forward+ext is ignored, and ~/.forward applies" "$out" ;;
  *"<$U+list@example.test> -> <alice@example.test>: deliverable: mailbox"*)
  ok "-bv user+ext: an unsafe ~/.forward+ext is ignored, and ~/.forward applies" ;;
  *) fail "-bv user+ext: an unsafe ~/.forward+ext is ignored, and ~/.forward applies" "$out" ;; esac
setfwd "# nothing here"
out=$(sm -bv "$U+list@example.test")
is "-bv user+ext: both unusable: the mailbox, with the first reason" \
  "<$U+list@example.test>: deliverable: local user $U (its .forward is ignored: writable by group or others)" "$out"
rm -f "$fwd+list"

setfwd "alice@example.test" 600
out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME=/ "$SM" -bv "$U@example.test" 2>&1)
is "-bv by someone who cannot read the .forward: 0" 0 "$?"
is "-bv: says the .forward cannot be read, so the result is not known" \
  "<$U@example.test>: deliverable: local user $U (its .forward cannot be read by you, so where it sends the mail is not known: $fwd)" "$out"
out=$(sm -bv "$U@example.test")
case "$out" in *"-> <alice@example.test>: deliverable: mailbox"*) ok "-bv by root reads the same .forward" ;; *) fail "-bv root reads" "$out" ;; esac

setfwd "|notthere"
qr_conf allow_forward=no
out=$(sm -bv "$U@example.test")
is "-bv: allow_forward = no: the .forward is not read (0)" 0 "$?"
is "-bv: allow_forward = no: the mailbox" "<$U@example.test>: deliverable: local user $U" "$out"
