# tests/sendmail-masquerade.sh - hiding the inside end to end: sendmail(8)
# on a hub -> queue-run --once -> remote-spawn -> remote-send -> a server
# on loopback (server.py) that keeps what it receives.  With
# received_hide_submitter, masquerade_domains, generic.cdb and
# smtp_received_headers = strip-internal, nothing in the header that
# arrives names the workstation, the inside domain or the uid; the
# envelope sender is masqueraded; the body is byte for byte.  The same
# message to an exempt route arrives as it was queued.
. "$POSTERN_TOP/tests/lib.bash"
. "$TOP/spool-inject/sendmail/tests/sendmail.bash"
sm_setup
RS_TESTS=$TOP/remote-send/tests
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
chmod 755 "$T"
P=$(free_port)
mkdir -p "$T/sink"; is_root && chown "$U" "$T/sink"
python3 "$RS_TESTS/server.py" --out "$T/sink" --log "$T/sink.log" 127.0.0.1 "$P" >"$T/sink.out" 2>&1 &
at_exit "kill $! 2>/dev/null; wait $! 2>/dev/null"
for i in $(seq 50); do grep -q ready "$T/sink.out" 2>/dev/null && break; sleep 0.1; done

qr_map routes <<M
example.net smtp:[127.0.0.1]:$P
inside.test smtp:[127.0.0.1]:$P
M
qr_map generic <<M
ops@corp.example.test operations@example.test
M
qr_conf remote_deliverer="$B/remote-send" domain=corp.example.test \
  received_hide_submitter=yes masquerade_domains=example.test smtp_received_headers=strip-internal \
  "smtp_rewrite_exempt=[127.0.0.1]:$P-inside"
cat >"$T/m" <<'M'
From: Joe Public <joe@ws7.corp.example.test>
Reply-To: ops
To: Far <far@example.net>
Subject: hello from the inside
Message-ID: <abc@example.test>

the body names ws7.corp.example.test and stays as it is
.dot
M
sm -t <"$T/m"
is "sendmail -t: exit 0" 0 "$?"
qr_run --once
f=$(ls "$T/sink" 2>/dev/null | sort -n | head -1)
if [ -z "$f" ]; then fail "the message reached the server" "$(tail -n 20 "$T/log")"; exit 0; fi
ok "the message reached the server"
head=$(awk 'p && /^\r?$/ { exit } p; /^$/ && !p { p = 1 }' "$T/sink/$f")
is "envelope sender masqueraded" "MAIL FROM:<$ME@example.test>" "$(head -n 1 "$T/sink/$f" | cut -d' ' -f1-2)"
for w in ws7 corp.example userid "$ME@corp"; do
  case "$head" in *"$w"*) fail "no \"$w\" in the header that left" "$head" ;;
    *) ok "no \"$w\" in the header that left" ;; esac
done
case "$head" in *"From: Joe Public <joe@example.test>"*) ok "From: masqueraded, display name kept" ;;
  *) fail "From: masqueraded, display name kept" "$head" ;; esac
case "$head" in *"Reply-To: operations@example.test"*) ok "Reply-To: qualified by sendmail, then generic.cdb" ;;
  *) fail "Reply-To: by generic.cdb" "$head" ;; esac
grep -q '^Received:' <<<"$head" && fail "strip-internal: the hub's local Received: removed" "$head" ||
  ok "strip-internal: the hub's local Received: removed"
body=$(awk 'p; /^\r?$/ && q { p = 1 } /^$/ { q = 1 }' "$T/sink/$f")
is "body byte for byte" "$(printf 'the body names ws7.corp.example.test and stays as it is\r\n..dot\r')" "$body"

# an exempt route gets the message as queued
qr_conf remote_deliverer="$B/remote-send" domain=corp.example.test \
  received_hide_submitter=yes masquerade_domains=example.test smtp_received_headers=strip-internal \
  "smtp_rewrite_exempt=[127.0.0.1]:$P"
sed 's/far@example.net/in@inside.test/' "$T/m" | sm -t
qr_run --once
f=$(ls "$T/sink" 2>/dev/null | sort -n | tail -1)
grep -q '^From: Joe Public <joe@ws7.corp.example.test>' "$T/sink/$f" && grep -q '^Received: by mx.example.test' "$T/sink/$f" &&
  ok "exempt route: From: and Received: as queued" || fail "exempt route: From: and Received: as queued" "$(cat "$T/sink/$f")"
