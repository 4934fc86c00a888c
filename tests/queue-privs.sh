# tests/queue-privs.sh - as root, with users made by the test: queue-run
# drops to queue_user (no supplementary groups), remote-spawn to send_user,
# local-spawn stays root and runs each local-deliver as its recipient, the
# remote deliverer runs as send_user; commands and files of an :include:
# file run as its owner; load shedding (queue_load_limit) with the load
# average seen through a private mount of /proc/loadavg.
. "$POSTERN_TOP/tests/lib.bash"
. "$TOP/queue-run/tests/qr.bash"
is_root || { skip "privilege separation" "needs root (creates users, switches to them)"; exit 0; }
qr_setup
S=ps$(printf '%05d' $((RANDOM % 100000)))$$; S=${S:0:30}
qr_make_user "$S" /nonexistent || { fail "create send user $S"; exit 0; }
mkdir -p "$T/drop"; chmod 1777 "$T/drop"
cat >"$T/who-remote" <<SH
#!/bin/sh
grep -E '^(NoNewPrivs|CapBnd|CapEff|CapPrm):' /proc/\$\$/status >$T/drop/remote.caps
id -u >$T/drop/remote.uid
cat >/dev/null
shift 2
for r in "\$@"; do printf '%s\tok\t250 2.0.0 ok\n' "\$r"; done
SH
chmod 755 "$T/who-remote"
qr_conf send_user="$S" remote_deliverer="$T/who-remote"
chmod 755 "$T"

# status_of PID FIELD: a line of /proc/PID/status
status_of() { awk -v f="$2:" '$1 == f { $1 = ""; sub(/^ /, ""); print }' "/proc/$1/status" 2>/dev/null; }
kids() { ps -o pid= --ppid "$1" 2>/dev/null | tr -d ' '; }

"$B/queue-run" -C "$T/conf" --daemon 2>>"$T/log" &
pid=$!
at_exit "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
for i in $(seq 50); do grep -q 'status=started' "$T/log" && break; sleep 0.1; done
uid=$(id -u "$U"); suid=$(id -u "$S")
is "queue-run runs as queue_user" "$uid $uid $uid $uid" "$(status_of $pid Uid | tr '\t' ' ')"
is "queue-run has no supplementary groups" "" "$(status_of $pid Groups)"
for k in $(kids $pid); do
  case "$(tr '\0' ' ' <"/proc/$k/cmdline")" in
    *local-spawn*) is "local-spawn stays root (to become each recipient)" "0 0 0 0" "$(status_of $k Uid | tr '\t' ' ')" ;;
    *remote-spawn*) is "remote-spawn runs as send_user" "$suid $suid $suid $suid" "$(status_of $k Uid | tr '\t' ' ')"
                    is "remote-spawn has no supplementary groups" "" "$(status_of $k Groups)"
                    is "remote-spawn cannot gain privileges (no_new_privs)" 1 "$(status_of $k NoNewPrivs)" ;;
  esac
done
printf 'Subject: r\n\nx\n' | qr_inject s@x.test someone@far.test
for i in $(seq 50); do [ -s "$T/drop/remote.uid" ] && break; sleep 0.1; done
is "the remote deliverer runs as send_user" "$suid" "$(cat "$T/drop/remote.uid" 2>/dev/null)"
is "the remote deliverer has no capabilities and no_new_privs" \
  "NoNewPrivs: 1 CapPrm: 0000000000000000 CapEff: 0000000000000000" \
  "$(grep -E '^(NoNewPrivs|CapPrm|CapEff):' "$T/drop/remote.caps" 2>/dev/null | sort -r | tr -s '\t\n' '  ' | sed 's/ $//')"
grep -q '^CapBnd:[[:space:]]*0000000000000000' "$T/drop/remote.caps" && ok "its capability bounding set is empty" ||
  fail "its capability bounding set is empty" "$(cat "$T/drop/remote.caps")"
kill $pid; wait $pid

# :include: owned by a user: its |command and /file run as that user
printf '#!/bin/sh\nid -un >%s/drop/inc.user; cat >/dev/null\n' "$T" >"$T/progs/who"
chmod 755 "$T/progs/who"
mkdir -p "$T/lists"; chmod 755 "$T/lists"
printf '"|who"\n%s/drop/inc.mbox\n' "$T" >"$T/lists/owned"
chown "$S" "$T/lists/owned"; chmod 644 "$T/lists/owned"
printf 'box@example.test\n' >"$T/lists/inswdir"; chmod 644 "$T/lists/inswdir"
qr_map aliases <<M
owned: :include:$T/lists/owned
M
printf 'Subject: inc\n\nx\n' | qr_inject s@x.test owned@example.test
qr_run --once
is ":include: owned by a user: its |command runs as that user" "$S" "$(cat "$T/drop/inc.user" 2>/dev/null)"
is ":include: owned by a user: its /file is written as that user" "$S" "$(stat -c %U "$T/drop/inc.mbox" 2>&1)"
grep -q "to=<owned@example.test> orig_to=<owned@example.test> route=program dest=|who user=$S" "$T/log" \
  && ok ":include: the routing log names the user" || fail ":include: routing log" "$(grep owned@ "$T/log")"

# load shedding: over queue_load_limit nothing is delivered and --once
# exits; under it the mail goes
if command -v unshare >/dev/null && unshare -m true 2>/dev/null; then
  qr_conf queue_load_limit=5 remote_deliverer="$T/who-remote" send_user="$S"
  printf '9.50 9.00 8.00 3/200 12345\n' >"$T/load-high"
  printf '0.20 0.30 0.40 1/200 12345\n' >"$T/load-low"
  printf 'Subject: load\n\nx\n' | qr_inject s@x.test load@far.test
  rm -f "$T/drop/remote.uid"
  unshare -m sh -c "mount --bind '$T/load-high' /proc/loadavg && timeout 20 '$B/queue-run' -C '$T/conf' --once" 2>>"$T/log"
  is "load shedding: --once over the limit exits 0" 0 "$?"
  is "load shedding: nothing delivered over queue_load_limit" "1 no" "$(qr_queue_count) $([ -e "$T/drop/remote.uid" ] && echo yes || echo no)"
  grep -q 'status=paused reason="load average and queue_load_limit"' "$T/log" && ok "load shedding: logged" || fail "load shedding log" "$(tail -3 "$T/log")"
  unshare -m sh -c "mount --bind '$T/load-low' /proc/loadavg && timeout 20 '$B/queue-run' -C '$T/conf' --once" 2>>"$T/log"
  is "load shedding: under the limit the mail goes" 0 "$(qr_queue_count)"
else
  skip "load shedding" "cannot make a mount namespace here"
fi
