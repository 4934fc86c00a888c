# bench/lib.bash - what the shell benchmarks share (sourced, bash): the
# checks, a temporary directory removed at exit with every server started
# in it stopped (their PIDs in pids[], the private Postfix instance in
# $T/pf), a free loopback port, and the internal services of a private
# Postfix instance's master.cf.
set -u
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
B=${POSTERN_BUILD:-$top/build}
[ "$(id -u)" = 0 ] || { echo "bench: run as root (Postfix needs it)" >&2; exit 1; }
command -v postfix >/dev/null && command -v smtp-source >/dev/null && command -v smtp-sink >/dev/null ||
  { echo "bench: install postfix (smtp-source, smtp-sink): tools/deps test" >&2; exit 1; }
T=$(mktemp -d /tmp/postern-bench.XXXXXX)
chmod 755 "$T"
# BENCH_FS=ext4: everything under $T (both MTAs' queues and mailboxes) on a
# fresh ext4 image made by mkfs.ext4's defaults (with a journal, as Debian's
# installer makes it), instead of the host's own file system (whatever it is:
# these VMs' root has no journal, where every file created costs a scan of
# recently deleted inodes)
BENCH_FS=${BENCH_FS:-host}
if [ "$BENCH_FS" = ext4 ]; then
  truncate -s 4G "$T.img" && mkfs.ext4 -q -F "$T.img" && mount -o loop "$T.img" "$T" && chmod 755 "$T" ||
    { echo "bench: cannot make the ext4 image" >&2; rm -f "$T.img"; rmdir "$T"; exit 1; }
fi
pids=()
# exit_hooks: commands run first at exit (a booted root's removal, ...)
exit_hooks=('[ -z "$cur" ] || kill "$cur" 2>/dev/null')
# bg_wait CMD...: CMD in the background, waited for, so that a SIGTERM is
# acted on at once (the first exit hook kills CMD by its PID)
cur=
bg_wait() { local rc; "$@" & cur=$!; wait "$cur"; rc=$?; cur=; return $rc; }
cleanup() {
  local h p
  for h in "${exit_hooks[@]}"; do eval "$h"; done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  postfix -c "$T/pf/etc" stop >/dev/null 2>&1
  if [ "$BENCH_FS" = ext4 ]; then umount "$T" 2>/dev/null || umount -l "$T"; rm -f "$T.img"; fi
  rm -rf "$T"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# pf_main - the private instance's directories and the start of its
# main.cf (each benchmark appends what it needs)
pf_main() {
  mkdir -p "$T/pf/etc" "$T/pf/queue" "$T/pf/data"
  chown postfix "$T/pf/data"
  printf 'compatibility_level = 3.6\nqueue_directory = %s\ndata_directory = %s\nmyhostname = pf.bench.test\n' \
    "$T/pf/queue" "$T/pf/data" >"$T/pf/etc/main.cf"
}

# pf_services - master.cf lines of the internal services every private
# instance needs (no listener, no qmgr: the benchmarks add what they use)
pf_services() {
  cat <<'EOC'
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOC
}

# postern_root [HOOK] - postern as deployed: a fresh Debian 12 root from
# tools/systemd-root's cache in $T/root, `make install` + `make
# install-hub` into it (tools/install, as the Makefile runs it), the shipped
# postern.conf plus hostname = bench.test, a user box with a Maildir, HOOK
# run before the boot, then booted with systemd as PID 1 in its own
# namespaces.  Sets R, PID1 (its host PID) and ROOT_CG (its cgroup); the
# root is stopped and removed at exit.  inns CMD runs a host command in
# the root's network namespace, inroot CMD a command inside the root.
SR=$top/tools/systemd-root
postern_root() {
  "$SR" cache >"$T/cache.out" 2>&1 || { echo "bench: no Debian 12 root: $(tail -n 1 "$T/cache.out")" >&2; return 1; }
  R=$T/root
  exit_hooks+=("'$SR' remove '$R' >/dev/null 2>&1")
  # a copy, not an overlay: the spool and the Maildirs on the host's own
  # file system, as Postfix's queue and mailboxes are (on an overlay, SMTP ->
  # Maildir measured 359 msgs/s at 4.66 ms CPU per message, on the copy 450
  # at 3.61: overlayfs's own work on every create, rename and fsync)
  POSTERN_ROOT_OVERLAY=no "$SR" unpack "$R" >"$T/unpack.log" 2>&1 || { cat "$T/unpack.log" >&2; return 1; }
  local c
  for c in install hub; do
    DESTDIR=$R BUILD=$B "$top/tools/install" "$c" >>"$T/install.log" 2>&1 ||
      { echo "bench: tools/install $c failed" >&2; tail "$T/install.log" >&2; return 1; }
  done
  echo "hostname = bench.test" >>"$R/etc/postern/postern.conf"
  chroot "$R" useradd -m -s /bin/sh box
  mkdir -p "$R/home/box/Maildir/new" "$R/home/box/Maildir/cur" "$R/home/box/Maildir/tmp"
  chroot "$R" chown -R box: /home/box/Maildir
  [ -z "${1:-}" ] || "$1" || return 1
  "$SR" boot "$R" >"$T/boot.log" 2>&1 || { echo "bench: the root did not boot" >&2; tail "$T/boot.log" >&2; return 1; }
  PID1=$("$SR" pid "$R")
  ROOT_CG=$(cat "$T/.root.cgroup")
}
inns() { nsenter -t "$PID1" -n "$@"; }
# The SMTP -> Maildir load of strace-count.sh and profile.sh, after postern_root:
# port25_up waits for the listener, md_count counts box's Maildir, md_wait
# WANT SECONDS waits for that many, md_send N sends N messages of 4 KiB.
port25_up() {
  local i
  for i in $(seq 100); do
    inns python3 -c "import socket; socket.create_connection(('127.0.0.1',25),timeout=2).recv(100)" 2>/dev/null && return 0
    sleep 0.2
  done
  echo "bench: nothing answers on port 25" >&2; return 1
}
md_count() { find "$R/home/box/Maildir/new" -maxdepth 1 -type f | wc -l; }
md_wait() {
  local end=$(( $(date +%s) + $2 ))
  while [ "$(md_count)" -lt "$1" ]; do [ "$(date +%s)" -ge "$end" ] && return 1; sleep 0.1; done
}
md_send() { bg_wait inns timeout 900 smtp-source -s 5 -l 4096 -m "$1" -f a@b.test -t box@bench.test 127.0.0.1:25 >/dev/null 2>>"$T/source.err"; }
inroot() { "$SR" run "$R" "$@"; }
