# queue-run/tests/qr.bash - helpers for the queue-run and local-deliver
# tests (sourced after tests/lib.bash; not a test itself: tests/run runs *.sh).
#
# qr_setup makes a spool, maps (local-domains: example.test) and a config
# under $T.  As root it creates a
# unique user ($U) that owns the spool and serves as queue_user, send_user
# and virtual_user, and is the local user the tests deliver to (home $T/home),
# so queue-run runs with its real privilege separation; the user is removed
# at exit.  As an ordinary user everything runs as that user, $U is you and
# deliveries into your home directory are not made (tests skip them).

qr_user_cleanup() { userdel "$U" >/dev/null 2>&1; groupdel "$U" >/dev/null 2>&1; true; }

# qr_make_user NAME HOME: a test user with its own group
qr_make_user() {
  useradd -M -d "$2" -s /usr/sbin/nologin -U "$1" >/dev/null 2>&1 || return 1
  at_exit "userdel $1 >/dev/null 2>&1; groupdel $1 >/dev/null 2>&1; true"
}

# qr_sanitizer_check: a sanitizer report in any log is a failure
qr_sanitizer_check() {
  local f
  for f in "$T/log" "$T/inject.log"; do
    [ -f "$f" ] && grep -qE 'Sanitizer|runtime error:' "$f" && fail "no sanitizer reports in $(basename "$f")" "$(grep -E -A20 'Sanitizer|runtime error:' "$f" | head -40)"
  done
  true
}

qr_setup() {
  at_exit qr_sanitizer_check
  mkdir -p "$T/maps" "$T/progs" "$T/mail" "$T/remote"
  chmod 755 "$T/maps" "$T/progs"
  if is_root; then
    U=pq$(printf '%05d' $((RANDOM % 100000)))$$
    U=${U:0:30}
    mkdir -p "$T/home"
    qr_make_user "$U" "$T/home" || { echo "not ok - create test user $U"; exit 1; }
    chown "$U:$U" "$T/home" "$T/mail" "$T/remote"
    chmod 755 "$T/home"
    "$TOP/tools/mkspool" "$T/spool" "$U" "$U" >/dev/null
    HOMEDIR=$T/home
  else
    U=$(id -un)
    "$TOP/tools/mkspool" "$T/spool" >/dev/null
    HOMEDIR=$(getent passwd "$U" | cut -d: -f6)
  fi
  cat >"$T/fake-remote" <<'SH'
#!/bin/sh
# a stand-in for remote-send: records its arguments and the message, then
# answers per recipient: *passed* -> passed (a next hop with DSN),
# *defer* -> defer, *fail* -> fail, else ok
dir=$(dirname "$0")/remote
n=$(date +%s%N)
{ for a in "$@"; do printf '%s\n' "$a"; done; } >"$dir/$n.args"
cat >"$dir/$n.msg"
while [ "${1#-}" != "$1" ]; do shift; done   # message tags as options (remote-send.8)
dest=$1; shift; shift
tab=$(printf '\t')
for r in "$@"; do
  r=${r%%"$tab"*}                            # a recipient's DSN tags follow a TAB
  case $r in
    *passed*) printf '%s\tpassed\t250 2.0.0 accepted by %s, DSN offered\n' "$r" "$dest" ;;
    *defer*) printf '%s\tdefer\t451 4.2.0 try later (%s)\n' "$r" "$dest" ;;
    *fail*) printf '%s\tfail\t550 5.1.1 no such user here\n' "$r" ;;
    *) printf '%s\tok\t250 2.0.0 accepted by %s\n' "$r" "$dest" ;;
  esac
done
[ -f "$dir/../remote-exit" ] && exit "$(cat "$dir/../remote-exit")"
exit 0
SH
  chmod 755 "$T/fake-remote"
  qr_conf
  echo example.test | qr_map local-domains    # the test domain (domain= alone is not local)
}

# qr_conf [key=value...]: (re)write $T/conf
qr_conf() {
  local kv d keep=() defaults=("domain=example.test" "queue_user=$U" "send_user=$U" "virtual_user=$U"
    "program_dir=$T/progs" "remote_deliverer=$T/fake-remote" "injector=$B/spool-inject")
  for d in "${defaults[@]}"; do
    for kv in "$@"; do [ "${kv%%=*}" = "${d%%=*}" ] && continue 2; done
    keep+=("$d")
  done
  mkconf "$T/conf" "${keep[@]}" "$@"
  export POSTERN_CONF=$T/conf
}

# qr_map NAME: compile the text on stdin into $T/maps/NAME.cdb with tinycdb
# (keys lower-cased, as postern-maps stores them; "key value" or aliases'
# "name: items" lines)
qr_map() {
  local name=$1
  cat >"$T/maps/$name"
  awk -v aliases=$([ "$name" = aliases ] && echo 1 || echo 0) '
    /^[ \t]*(#|$)/ { next }
    {
      if (aliases) { i = index($0, ":"); k = substr($0, 1, i - 1); v = substr($0, i + 1) }
      else { k = $1; v = substr($0, length($1) + 1) }
      sub(/^[ \t]+/, "", v); sub(/[ \t]+$/, "", v)
      k = tolower(k)
      printf "+%d,%d:%s->%s\n", length(k), length(v), k, v
    }
    END { print "" }' "$T/maps/$name" | LC_ALL=C cdb -c "$T/maps/$name.cdb"
  chmod 644 "$T/maps/$name.cdb"
}

# qr_inject SENDER RCPT... < message: queue one message through spool-inject
qr_inject() {
  local env="V1\nF$1\n" r; shift
  for r in "$@"; do env="$env""T$r\n"; done
  "$B/spool-inject" 1< <(printf "$env\n") 2>>"$T/inject.log"
}

# qr_inject_env ENVELOPE-TEXT < message: with a hand-written envelope
qr_inject_env() { "$B/spool-inject" 1< <(printf '%s\n\n' "$1") 2>>"$T/inject.log"; }

# qr_run ARGS...: queue-run with our config; its log lines go to $T/log
qr_run() { "$B/queue-run" -C "$T/conf" "$@" 2>>"$T/log"; }

# qr_maildir_count DIR: messages in DIR/new
qr_maildir_count() { ls "$1/new" 2>/dev/null | wc -l; }

# qr_queue_count: messages still queued
qr_queue_count() { ls "$T/spool/queue" "$T/spool/new" 2>/dev/null | grep -c '^[0-9]'; }

# qr_as_user CMD...: run CMD as $U (root) or directly
qr_as_user() { if is_root; then setpriv --reuid="$U" --regid="$U" --clear-groups env HOME="$HOMEDIR" "$@"; else "$@"; fi; }
