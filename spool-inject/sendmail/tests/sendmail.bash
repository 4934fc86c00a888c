# spool-inject/sendmail/tests/sendmail.bash - helpers for the sendmail tests
# (sourced after tests/lib.bash; not a test itself: tests/run runs *.sh).
#
# sm_setup builds on queue-run's qr_setup (spool, maps, config under $T,
# a test user $U as root) and adds: Maildir mailboxes for the recipients
# the tests use (virtual map entries under $T/mail), root and postmaster
# aliased to one of them, a bin/ directory with sendmail, mailq and
# newaliases links, and the functions below.  Delivery is queue-run
# --once into those Maildirs.
. "$TOP/queue-run/tests/qr.bash"

SM_BOXES="alice bob carol dave erin frank hidden list rootbox"
# the caller (root in CI; the tests also run as an ordinary user) and the
# display name sendmail takes from its passwd entry
ME=$(id -un)
ME_NAME=$(getent passwd "$ME" | cut -d: -f5 | cut -d, -f1)
[ -n "$ME_NAME" ] || ME_NAME=$ME

sm_setup() {
  qr_setup
  at_exit sm_sanitizer_check
  mkdir -p "$T/bin"
  ln -s "$B/sendmail" "$T/bin/sendmail"
  ln -s "$B/sendmail" "$T/bin/mailq"
  ln -s "$B/sendmail" "$T/bin/newaliases"
  local b
  { for b in $SM_BOXES; do echo "$b@example.test $T/mail/$b/"; done; } | qr_map virtual
  printf 'root: rootbox@example.test\npostmaster: rootbox@example.test\n' >"$T/maps/aliases"
  # the caller's own mail (notices that return a message) goes there too
  [ "$ME" = root ] || printf '%s: rootbox@example.test\n' "$ME" >>"$T/maps/aliases"
  "$B/postern-maps" compile "$T/maps/aliases" >/dev/null
  SM=$T/bin/sendmail
  export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}abort_on_error=0
}

# sm ARGS... < message: our sendmail with the test config; stderr to
# $T/sm.err (and collected in $T/sm.all, checked for sanitizer reports)
sm() {
  local rc
  "$SM" "$@" 2>"$T/sm.err"; rc=$?
  cat "$T/sm.err" >>"$T/sm.all"
  return $rc
}
sm_sanitizer_check() {
  [ -f "$T/sm.all" ] && grep -qE 'Sanitizer|runtime error:' "$T/sm.all" &&
    fail "no sanitizer reports from sendmail" "$(grep -E -A20 'Sanitizer|runtime error:' "$T/sm.all" | head -40)"
  true
}

# sm_deliver: one queue-run pass
sm_deliver() { qr_run --once; }

# sm_count BOX: messages in a test Maildir
sm_count() { qr_maildir_count "$T/mail/$1"; }

# sm_last BOX: the newest message file of a Maildir
sm_last() { ls -t "$T/mail/$1/new/"* 2>/dev/null | head -1; }

# sm_body FILE: the delivered message without Return-Path:/Delivered-To:
# and the header; the body only
sm_body() { sed '1,/^$/d' "$1"; }

# sm_header FILE NAME: the (unfolded) value of the first field NAME
sm_header() {
  awk -v n="$(echo "$2" | tr A-Z a-z)" '
    done { next }
    /^$/ { if (on) print v; done = 1; next }
    /^[ \t]/ { if (on) { sub(/^[ \t]+/, " "); v = v $0 }; next }
    { if (on) { print v; done = 1; next } ; split($0, p, ":"); on = tolower(p[1]) == n; v = substr($0, length(p[1]) + 3) }
    END { if (on && !done) print v }' "$1"
}

# sm_queued: messages waiting in new/ or queue/
sm_queued() { qr_queue_count; }

# sm_newest_env: the envelope of the newest message in new/
sm_newest_env() { spool_envelope "$T/spool/new/$(ls "$T/spool/new" | sort | tail -1)"; }
sm_newest_msg() { spool_body "$T/spool/new/$(ls "$T/spool/new" | sort | tail -1)"; }
