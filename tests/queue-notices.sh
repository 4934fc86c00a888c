# tests/queue-notices.sh - delivery notices and what they may say (issue
# 13): the bounce rate limit counts every address on its own and a notice
# it holds back is given up with its message after queue_lifetime (item
# 11); no "relayed" notice when the next hop took the DSN request, no
# internal route in a notice to the outside, dsn_success_notices = no
# (item 15); RFC 6533 notices for internationalized mail, and success
# notices that do not say where the mail went (item 19).
. "$POSTERN_TOP/tests/lib.bash"
. "$TOP/queue-run/tests/qr.bash"
qr_setup
msg='From: s@x.test\nSubject: notice\n\nbody\n'
bounces_to() { grep -l "^Subject: Undelivered Mail" "$T/remote/"*.msg 2>/dev/null | xargs -r grep -l "^To: <$1>" | wc -l; }

# --- item 11: the rate limit, pinned to the middle of an hour (faketime)
if command -v faketime >/dev/null; then
  export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0
  off=$(( 1800 - $(date +%s) % 3600 ))
  at() { local o=$1; shift; faketime -f "$( [ $((off + o)) -ge 0 ] && echo + )$((off + o))s" "$B/queue-run" -C "$T/conf" "$@" 2>>"$T/log"; }
  # two senders whose addresses fell into the same one of the old 256 slots
  read -r a b < <(python3 -c '
seen = {}
for i in range(1000):
    s = "s%d@x.test" % i
    h = 5381
    for c in s.encode(): h = (h * 33 + c) & 0xffffffffffffffff
    if h % 256 in seen: print(seen[h % 256], s); break
    seen[h % 256] = s')
  qr_conf bounce_rate_limit=1 queue_lifetime=2h retry_min=1m retry_max=1h
  rm -f "$T/remote/"*
  printf "$msg" | qr_inject "$a" fail-a1@far.test; at 0 --once
  printf "$msg" | qr_inject "$b" fail-b1@far.test; at 10 --once
  printf "$msg" | qr_inject "$a" fail-a2@far.test; at 20 --once
  is "rate limit: $a and $b (one slot before) are counted apart: one bounce each" "1 1" "$(bounces_to "$a") $(bounces_to "$b")"
  is "rate limit: the second bounce to $a is held back" 1 "$(qr_queue_count)"
  printf "$msg" | qr_inject "$a" fail-a3@far.test; at 30 --once
  is "rate limit: two notices to $a held back" 2 "$(qr_queue_count)"
  # past queue_lifetime (2 h): the next hour lets one through, the other
  # is given up with its message, logged
  at 9000 --once --all
  is "rate limit: past queue_lifetime one more bounce goes out" 2 "$(bounces_to "$a")"
  is "rate limit: the notice still held back is given up, the queue is empty" 0 "$(qr_queue_count)"
  grep -q "status=discarded to=$a reason=\"notice held back by bounce_rate_limit past queue_lifetime\"" "$T/log" \
    && ok "rate limit: the notice given up is logged" || fail "rate limit: given up and logged" "$(grep -i 'rate_limit' "$T/log" | tail -3)"
  qr_conf
else
  skip "bounce rate limit" "faketime is not installed"
fi
