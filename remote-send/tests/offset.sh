#!/bin/bash
# offset.sh - remote-send sends fd 0 from the offset it has when the
# program starts to the end of the file (queue-run hands over a one-file
# message at its body): junk before a page-aligned offset, before one that
# is not (the mapping starts at the page below), a message longer than a
# page from an odd offset, an offset at the very end (an empty message);
# the server gets the message alone, byte for byte, SIZE= counts it alone.
. "$(dirname "$0")/rs.bash"

P=$(free_port); server srv "$P" || exit 0

# at FILE OFFSET ARGS...: remote-send with FILE on fd 0 at OFFSET
at() {
  local f=$1 off=$2; shift 2
  POSTERN_CONF=$T/rs.conf python3 -c 'import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY); os.lseek(fd, int(sys.argv[2]), 0); os.dup2(fd, 0)
os.execv(sys.argv[3], sys.argv[3:])' "$f" "$off" "$B/remote-send" "$@" >"$T/out" 2>"$T/err"
  RC=$?
}

# spooled OFFSET MESSAGE: junk (a head-like line, header-looking lines,
# a dot line) up to OFFSET, then MESSAGE; the file's name
spooled() {
  local f=$T/spooled.$1
  printf 'postern-message 1 %010d 0000000020\nV1\nFjunk@junk.test\nTjunk@junk.test\n\nSubject: JUNK\n.\n' "$1" >"$f"
  truncate -s "$1" "$f"
  cat "$2" >>"$f"
  echo "$f"
}

# wire MESSAGE: what the server stores for it (CRLF, dots doubled)
wire() { sed -e 's/^\./../' -e 's/$/\r/' "$1"; }

# got N: the data of the server's N-th message
got() { sed '1,/^$/d' "$T/srv/$1"; }

{ printf 'Subject: big\n\n'; for i in $(seq 300); do printf '.line %03d, long enough to pass a page of memory soon\n' "$i"; done; } >"$T/big"
n=0
for case in "4096 $T/msg" "5000 $T/msg" "4097 $T/big" "100 $T/big"; do
  set -- $case
  f=$(spooled "$1" "$2")
  at "$f" "$1" "smtp:[127.0.0.1]:$P" a@b.test x@y.test
  n=$((n + 1))
  expect "offset $1 ($(basename "$2")): sent" x@y.test ok "250 *"
  wire "$2" >"$T/want"
  got "$n" >"$T/got" 2>/dev/null
  same_file "offset $1 ($(basename "$2")): the server got the message from the offset on, byte for byte" "$T/want" "$T/got"
  size=$(grep -o 'SIZE=[0-9]*' "$T/srv/$n" | cut -d= -f2)
  is "offset $1 ($(basename "$2")): SIZE= is the message's alone (CRLF, before dot-stuffing)" "$(sed 's/$/\r/' "$2" | wc -c)" "$size"
done

# the offset at the end of the file: an empty message
f=$(spooled 4096 /dev/null)
at "$f" 4096 "smtp:[127.0.0.1]:$P" a@b.test x@y.test
n=$((n + 1))
expect "offset at the end: an empty message is sent" x@y.test ok "250 *"
is "offset at the end: no data reached the server" "" "$(got "$n")"
! grep -q 'JUNK\|junk' "$T/srv/"* && ok "no junk from before an offset reached the server" || fail "junk reached the server" "$(grep -l 'JUNK\|junk' "$T/srv/"*)"
