# tests/netns-lib.bash - a small test network for the multi-host tests
# (tests/netns-*.sh); sourced after tests/lib.bash and tests/systemd-lib.bash.
# Not a test itself: tests/run runs only *.sh files.
#
# The network: one "switch" namespace holding a bridge per segment and
# the DNS server (dnsmasq from Debian, on an address of each bridge); one
# `ip netns` namespace per host, joined to segments by veth pairs.  The
# switch does not route between segments: a host on two segments (a
# gateway) is the only way from one to the other, as with a real DMZ.
# Each postern host is a Debian 12 root from tools/systemd-root, with
# `make install` and its role in it, booted as PID 1 inside its namespace,
# so port 25 is systemd's socket and the real units run.  Only documentation
# address ranges (RFC 5737) are used, and they exist only in these
# namespaces.  Every namespace, root and process is removed at exit, also
# when the test fails or is ended by tests/run's SIGTERM.
NN=pt$$                  # prefix of our namespace names: pt<pid>-<host>
NN_SW=$NN-switch         # the switch namespace
NN_DNS_PID=""

# nn_prereq TEST-NAMES...: skip them (and exit) unless we can build the
# network: root, ip(8), dnsmasq, a bootable root (sd_prereq)
nn_prereq() {
  local why="" n
  if ! is_root; then why="needs root (creates network namespaces, boots systemd as PID 1)"
  elif ! command -v ip >/dev/null; then why="needs ip(8) (iproute2)"
  elif ! command -v dnsmasq >/dev/null; then why="needs dnsmasq (Debian package dnsmasq-base): tools/deps test"
  elif ! command -v swaks >/dev/null; then why="needs swaks"
  fi
  if [ -n "$why" ]; then for n in "$@"; do skip "$n" "$why"; done; exit 0; fi
  sd_prereq "$@"
  [ -x "$B/queue-run" ] && [ -x "$B/remote-send" ] && [ -x "$B/local-deliver" ] || {
    for n in "$@"; do skip "$n" "queue-run, remote-send or local-deliver is not built"; done; exit 0; }
  nn_sweep
}

# nn_sweep: delete namespaces a killed earlier run left (pt<pid>-* whose
# test process is gone); never anybody else's
nn_sweep() {
  local ns pid
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^pt[0-9]+-'); do
    pid=${ns#pt}; pid=${pid%%-*}
    kill -0 "$pid" 2>/dev/null || ip netns del "$ns" 2>/dev/null
  done
}

# nn_switch SEGMENT...: the switch namespace with one bridge per segment
nn_switch() {
  local s
  ip netns add "$NN_SW" || return 1
  at_exit "nn_cleanup"
  ip -n "$NN_SW" link set lo up
  for s in "$@"; do
    ip -n "$NN_SW" link add "br-$s" type bridge || return 1
    ip -n "$NN_SW" link set "br-$s" up
  done
}

# nn_cleanup: the DNS server, then every namespace of this test
nn_cleanup() {
  [ -n "$NN_DNS_PID" ] && kill "$NN_DNS_PID" 2>/dev/null
  local ns
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$NN-"); do ip netns del "$ns" 2>/dev/null; done
}

# nn_host NAME SEGMENT:ADDRESS...: namespace $NN-NAME with eth0, eth1, ...
# on those segments (addresses /24), loopback up, no IPv6 (keeps the
# resolver from asking for AAAA routes nobody has)
nn_host() {
  local name=$1 ns=$NN-$1 i=0 a; shift
  ip netns add "$ns" || return 1
  ip -n "$ns" link set lo up
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  for a in "$@"; do
    ip -n "$NN_SW" link add "$name-$i" type veth peer name "eth$i" netns "$ns" || return 1
    ip -n "$NN_SW" link set "$name-$i" master "br-${a%%:*}" up
    ip -n "$ns" addr add "${a#*:}/24" dev "eth$i"
    ip -n "$ns" link set "eth$i" up
    i=$((i + 1))
  done
}

# nn_ns NAME: the namespace name of host NAME
nn_ns() { echo "$NN-$1"; }

# nn_dns SEGMENT:ADDRESS... -- DNSMASQ-OPTIONS...: dnsmasq in the switch
# namespace, answering on those addresses (added to the bridges) from the
# records given, authoritative for nothing else; queries logged in $T/dns.log
nn_dns() {
  local a
  while [ $# -gt 0 ] && [ "$1" != -- ]; do
    a=$1; shift
    ip -n "$NN_SW" addr add "${a#*:}/24" dev "br-${a%%:*}" || return 1
    set -- "$@" "--listen-address=${a#*:}"
  done
  shift
  ip netns exec "$NN_SW" dnsmasq --keep-in-foreground --conf-file=/dev/null --pid-file= \
    --user=nobody --group=nogroup --no-hosts --no-resolv --no-poll --bind-interfaces \
    --log-queries --log-facility="$T/dns.log" "$@" >>"$T/dns.err" 2>&1 &
  NN_DNS_PID=$!
  wait_until 5 grep -q 'started, version' "$T/dns.log"
}

# nn_root NAME ROLE RESOLVER CONF-KEY=VALUE...: host NAME's postern: a
# fresh root $T/NAME with `make install` and `make install-ROLE` (hub or
# nullclient) in it, /etc/resolv.conf naming only RESOLVER, /etc/hostname
# and postern.conf with the given keys (hostname= among them); not booted
nn_root() {
  local name=$1 role=$2 dns=$3 r=$T/$1 kv; shift 3
  sd_root "$name" || return 1
  sd_install "$r" install "$role" || return 1
  for kv in "$@"; do case "$kv" in hostname=*) echo "${kv#*=}" >"$r/etc/hostname" ;; esac; done
  rm -f "$r/etc/resolv.conf"
  printf 'nameserver %s\noptions timeout:2 attempts:2\n' "$dns" >"$r/etc/resolv.conf"
  sd_conf "$r" "$@"
}

# nn_map ROOT MAP LINE...: write /etc/postern/MAP in ROOT and compile it
nn_map() {
  local r=$1 m=$2; shift 2
  printf '%s\n' "$@" >"$r/etc/postern/$m"
  "$B/postern-maps" compile "$r/etc/postern/$m" >/dev/null
}

# nn_boot NAME: boot root $T/NAME inside namespace $NN-NAME
nn_boot() { sd_boot "$T/$1" "$NN-$1"; }

# nn_users ROOT USER...: ordinary users with home directories
nn_users() {
  local r=$1 u; shift
  for u in "$@"; do chroot "$r" useradd -m -s /bin/sh "$u" || return 1; done
}

# nn_submit ROOT USER RECIPIENT SUBJECT: USER queues a message on ROOT the
# way a local program does: /usr/sbin/sendmail once postern's front end is
# built, else the set-gid spool-inject with an envelope of its own
nn_submit() {
  local r=$1 u=$2 to=$3 subj=$4 from
  if [ -x "$r/usr/libexec/postern/sendmail" ]; then
    sd_run "$r" runuser -u "$u" -- sh -c "printf 'Subject: $subj\n\n$subj\n' | /usr/sbin/sendmail '$to'" >>"$T/submit.log" 2>&1
  else
    from="$u@$(sed -n 's/^hostname = //p' "$r/etc/postern/postern.conf")"
    sd_run "$r" runuser -u "$u" -- sh -c "printf 'V1\nF$from\nT$to\n\n' >/tmp/env.\$\$; printf 'Subject: $subj\n\n$subj\n' | /usr/libexec/postern/spool-inject 1</tmp/env.\$\$; rm -f /tmp/env.\$\$" >>"$T/submit.log" 2>&1
  fi
}

# nn_maildir ROOT USER: the file names in ~USER/Maildir/new of ROOT
nn_maildir() { ls "$1/home/$2/Maildir/new" 2>/dev/null; }
# nn_has_mail ROOT USER SUBJECT: some message there has that Subject:
nn_has_mail() { grep -qlx "Subject: $3" "$1/home/$2/Maildir/new/"* 2>/dev/null; }
# nn_mail ROOT USER SUBJECT: that message
nn_mail() { cat "$(grep -lx "Subject: $3" "$1/home/$2/Maildir/new/"* 2>/dev/null | head -n 1)" 2>/dev/null; }

# nn_swaks NAME ARGS...: swaks run in host NAME's namespace
nn_swaks() { local h=$1; shift; timeout 30 ip netns exec "$NN-$h" swaks --timeout 15 "$@" 2>&1; }
