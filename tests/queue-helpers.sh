# tests/queue-helpers.sh - queue-run and its spawn helpers when things go
# wrong around them: a relative config path still reaches the helpers,
# which run in the spool directory; a helper that dies makes queue-run stop
# at once with a temporary exit code (the timer or systemd starts it again)
# instead of spinning, and the mail stays queued.
. "$POSTERN_TOP/tests/lib.bash"
. "$TOP/queue-run/tests/qr.bash"
qr_setup
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
mkdir -p "$T/mail/box"; is_root && chown "$U" "$T/mail/box"
qr_map virtual <<M
box@example.test $T/mail/box/
M
qr_map local-domains <<M
example.test
M

# -C with a relative path, from the directory that holds the file
printf 'Subject: relative\n\nbody\n' | qr_inject a@example.test box@example.test
cp "$T/conf" "$T/rel.conf"
(cd "$T" && "$B/queue-run" -C rel.conf --once 2>>"$T/log")
is "queue-run -C with a relative path exits 0" 0 $?
is "the helpers found the config: delivered" 1 "$(qr_maildir_count "$T/mail/box")"
grep -q 'unable to open config' "$T/log" && fail "no helper failed to open the config" "$(grep 'unable to open' "$T/log")" ||
  ok "no helper failed to open the config"

# a remote-spawn that dies at once: queue-run stops promptly with 71
mkdir "$T/libexec"
for p in local-spawn local-deliver spool-inject; do ln -s "$B/$p" "$T/libexec/$p"; done
printf '#!/bin/sh\nexit 1\n' >"$T/libexec/remote-spawn"
chmod 755 "$T/libexec" "$T/libexec/remote-spawn"
printf 'Subject: far\n\nbody\n' | qr_inject a@example.test someone@far.test
sed "s|^libexec_dir = .*|libexec_dir = $T/libexec|" "$T/conf" >"$T/dead.conf"
chmod 644 "$T/dead.conf"
start=$(date +%s%N)
timeout -k 5 30 "$B/queue-run" -C "$T/dead.conf" --once 2>>"$T/log"
rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
is "a dead spawn helper: queue-run exits 71 (temporary)" 71 "$rc"
[ "$ms" -lt 5000 ] && ok "it stops at once (${ms} ms), it does not spin" || fail "it stops at once" "took ${ms} ms"
grep -q 'status=error reason="a spawn helper died"' "$T/log" && ok "the log says a spawn helper died" ||
  fail "the log says a spawn helper died" "$(tail -5 "$T/log")"
is "the message stays queued" 1 "$(qr_queue_count)"
