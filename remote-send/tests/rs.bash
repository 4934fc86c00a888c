# rs.bash - shared set-up for remote-send's shell tests (sourced; not a
# test itself): servers on loopback ports, a config, running remote-send.
. "$(dirname "${BASH_SOURCE[0]}")/../../tests/lib.bash"
RS_TESTS=$TOP/remote-send/tests
mkdir -p "$T/maps"
# spool-inject and smtp-receive (not ours) are run by some tests
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0


# wait_port HOST PORT - until something listens (5 s at most)
wait_port() {
  local i; for i in $(seq 50); do
    python3 -c "import socket,sys; socket.create_connection(('$1',$2),1).close()" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# bg LOGFILE CMD... - start a server in the background, stopped at exit
bg() {
  local logf=$1; shift
  "$@" >"$logf" 2>&1 &
  local pid=$!
  at_exit "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
  BG_PID=$pid
}

# server NAME PORT ARGS... - server.py on 127.0.0.1:PORT, ready when it says so
server() {
  local name=$1 port=$2; shift 2
  mkdir -p "$T/$name"
  bg "$T/$name.out" python3 "$RS_TESTS/server.py" --out "$T/$name" --log "$T/$name.log" "$@" 127.0.0.1 "$port"
  local i; for i in $(seq 50); do grep -q ready "$T/$name.out" 2>/dev/null && return 0; sleep 0.1; done
  fail "server $name on $port" "$(cat "$T/$name.out")"; return 1
}

# sink PORT ARGS... - Postfix's smtp-sink on 127.0.0.1:PORT
sink() {
  local port=$1; shift
  local u=(); is_root && u=(-u nobody)
  bg "$T/sink-$port.out" smtp-sink "${u[@]}" "$@" "127.0.0.1:$port" 50
  wait_port 127.0.0.1 "$port" || { fail "smtp-sink on $port" "$(cat "$T/sink-$port.out")"; return 1; }
}

# conf [key=value...] - $T/rs.conf for remote-send
conf() {
  { echo "hostname = client.test"; echo "map_dir = $T/maps"; echo "log = stderr"
    local kv; for kv in "$@"; do echo "${kv%%=*} = ${kv#*=}"; done; } >"$T/rs.conf"
  chmod 644 "$T/rs.conf"
}
conf

# send MESSAGE DEST SENDER RCPT... - remote-send; fd 1 in $T/out, fd 2 in $T/err, status in $RC
send() {
  local m=$1; shift
  POSTERN_CONF=$T/rs.conf "$B/remote-send" "$@" <"$m" >"$T/out" 2>"$T/err"
  RC=$?
}

# result RCPT - its result word in $T/out
result() { awk -F'\t' -v r="$1" '$1 == r { print $2 }' "$T/out"; }
# text RCPT - its text
text() { awk -F'\t' -v r="$1" '$1 == r { print $3 }' "$T/out"; }

# expect NAME RCPT WORD [TEXT-PATTERN] - check one recipient's result
# ("ok" also matches "passed": accepted by a server that offered DSN)
expect() {
  local w t; w=$(result "$2"); t=$(text "$2")
  [ "$3" = ok ] && [ "$w" = passed ] && w=ok
  if [ "$w" = "$3" ] && [[ -z "${4:-}" || "$t" == $4 ]]; then ok "$1"
  else fail "$1" "rcpt $2: want $3 ${4:-}" "fd 1:" "$(cat "$T/out")" "fd 2:" "$(tail -n 20 "$T/err")"; fi
}

printf 'From: a@b.test\nSubject: test\n\nline one\n.leading dot\n..two dots\n.\nlast\n' >"$T/msg"
