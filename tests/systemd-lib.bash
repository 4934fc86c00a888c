# tests/systemd-lib.bash - helpers for the tests under a real systemd
# (tests/systemd-*.sh, tests/netns-*.sh); sourced after tests/lib.bash.
# Not a test itself: tests/run runs only *.sh files.
#
# A test gets a fresh Debian 12 root from tools/systemd-root's cache,
# installs postern into it with tools/install (what `make install
# DESTDIR=...` runs), boots it as PID 1 in its own namespaces, talks to it
# with nsenter, and kills that PID 1 at exit.  Every root, netns and
# process a test starts is removed by its at_exit hooks.
SR=$TOP/tools/systemd-root
# tests/run ends an overdue test with SIGTERM: exit through the EXIT trap,
# so that booted roots, mounts and namespaces are removed all the same.
trap 'exit 143' TERM INT HUP

# sd_prereq TEST-NAMES...: skip every named test and exit unless we can
# boot roots here.  Roots are booted for one build only (build/): the
# sanitizer build cannot run under MemoryDenyWriteExecute= and would
# double the time.
sd_prereq() {
  local why="" n
  if ! is_root; then why="needs root (boots systemd as PID 1 in namespaces)"
  elif [ "$(basename "$B")" != build ]; then why="booted roots run once, against build/ (sanitizers cannot run under MemoryDenyWriteExecute=)"
  elif [ ! -x "$B/spool-inject" ] || [ ! -x "$B/smtp-receive" ]; then why="spool-inject and smtp-receive are not built"
  elif ! command -v unshare >/dev/null || ! command -v nsenter >/dev/null; then why="needs unshare and nsenter (util-linux)"
  elif ! "$SR" cache >"$T/cache.out" 2>&1; then why="no Debian 12 root: $(tail -n 1 "$T/cache.out")"
  fi
  [ -z "$why" ] && return 0
  for n in "$@"; do skip "$n" "$why"; done
  exit 0
}

# sd_root NAME: a fresh root in $T/NAME (an overlay on the cached tree),
# stopped and removed at exit.  Not in a $(...) subshell: the exit hook
# must be registered by the test's own shell.
sd_root() {
  local r=$T/$1
  at_exit "'$SR' remove '$r' >/dev/null 2>&1"
  "$SR" unpack "$r" >>"$T/unpack.log" 2>&1
}

# sd_install ROOT [install|hub|nullclient]...: tools/install into ROOT
sd_install() {
  local r=$1 c; shift
  for c in "$@"; do
    DESTDIR=$r BUILD=$B "$TOP/tools/install" "$c" >>"$T/install.log" 2>&1 || return 1
  done
}

sd_boot() { "$SR" boot "$@" >>"$T/boot.log" 2>&1; }
sd_stop() { "$SR" stop "$1" >/dev/null 2>&1; }
sd_run() { "$SR" run "$@"; }             # sd_run ROOT CMD...: inside the root
sd_net() { "$SR" net "$@"; }             # sd_net ROOT CMD...: host CMD, root's network
sd_sh() { local r=$1; shift; "$SR" run "$r" sh -c "$*"; }   # a shell line inside

# wait_until SECONDS CMD...: poll CMD every 0.1 s, at most SECONDS
wait_until() {
  local n=$(( $1 * 10 )); shift
  while [ "$n" -gt 0 ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; n=$((n - 1)); done
  return 1
}

# sd_conf ROOT key=value...: replace ROOT's postern.conf by the installed
# default plus these keys
sd_conf() {
  local r=$1 kv; shift
  cp "$TOP/units/postern.conf" "$r/etc/postern/postern.conf"
  for kv in "$@"; do echo "${kv%%=*} = ${kv#*=}" >>"$r/etc/postern/postern.conf"; done
  chmod 644 "$r/etc/postern/postern.conf"
}

# sd_journal ROOT: postern's log lines inside ROOT
sd_journal() { sd_run "$1" journalctl --no-pager -q -o cat -t postern 2>/dev/null; }

# status_of ROOT PID FIELD: a field of /proc/PID/status inside ROOT
status_of() { sd_sh "$1" "sed -n 's/^$3:[[:space:]]*//p' /proc/$2/status" | tr -s ' \t' ' ' | sed 's/ $//'; }

# smtp_send ROOT ADDRESS FROM TO [SUBJECT]: one message with swaks from the
# root's network; prints swaks' transcript
smtp_send() {
  timeout 30 "$SR" net "$1" swaks --server "$2" --from "$3" --to "$4" \
    --h-Subject "${5:-test}" --body "body of ${5:-test}" --timeout 20 2>&1
}
