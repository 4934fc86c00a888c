# spool-inject/tests/inject.sh - spool-inject end to end, as an ordinary
# caller: what lands in the spool (one file in new/, lib/spool.h: the head
# line, the stored envelope in canonical form, the body byte-exact, also
# behind an envelope of many 4 KiB units on ext4 and on tmpfs), the reply
# line and exit code, every refusal leaving nothing behind, the limits, the
# config checks and the trigger fifo.
. "${POSTERN_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.bash"

SI=$B/spool-inject
CONF=$T/conf
mkspool "$T/spool"
mkconf "$CONF" spool_reserve=0
export POSTERN_CONF=$CONF
UID_NOW=$(id -u)

# inject MSG ENV [args...]: run spool-inject; sets rc, reply (last line of
# fd 2), err (all of fd 2) and id (from a 250 reply)
inject() {
  local msg=$1 env=$2; shift 2
  "$SI" "$@" <"$msg" 1<"$env" 2>"$T/err"
  rc=$?
  err=$(cat "$T/err")
  reply=$(tail -n 1 "$T/err")
  id=""
  case "$reply" in "250 2.0.0 Ok: queued as "*) id=${reply#250 2.0.0 Ok: queued as } ;; esac
}
# spool_list: every file in tmp/, mess/, new/ (empty output: nothing left)
spool_list() { (cd "$T/spool" && find tmp mess new -mindepth 1 2>/dev/null | sort); }
spool_clean() { find "$T/spool/tmp" "$T/spool/mess" "$T/spool/new" -mindepth 1 -delete; }
# nothing_left NAME: no file at all in tmp/, mess/ or new/
nothing_left() {
  local left; left=$(spool_list)
  if [ -z "$left" ]; then ok "$1"; else fail "$1" "left in the spool:" "$left"; fi
  spool_clean
}
# refused NAME CODE REPLY-PREFIX: the last run exited CODE with a reply
# starting with REPLY-PREFIX, and left nothing behind
refused() {
  local name=$1 code=$2 want=$3
  if [ "$rc" = "$code" ] && [ "${reply#"$want"}" != "$reply" ]; then ok "$name: exit $code, $want"
  else fail "$name: exit $code, $want" "exit: $rc" "fd 2:" "$err"; fi
  nothing_left "$name: nothing left in tmp/, mess/, new/"
}
# queued NAME MSG: the last run queued MSG byte-exact under a well-formed id
queued() {
  local name=$1 msg=$2
  if [ "$rc" = 0 ] && [[ $id =~ ^[0-9]{10}\.[0-9]{6}\.[0-9]+$ ]]; then ok "$name: exit 0, 250 with an id"
  else fail "$name: exit 0, 250 with an id" "exit: $rc" "fd 2:" "$err"; return; fi
  queued_in "$name" "$msg" "$T/spool"
}
# queued_in NAME MSG SPOOL: the message id is in SPOOL/new/ as one file (a
# well-formed head, the body byte-exact) and nothing else is in the spool
queued_in() {
  local name=$1 msg=$2 sp=$3 bad left
  bad=$(spool_head_check "$sp/new/$id" 2>&1)
  if [ -z "$bad" ]; then ok "$name: head line as spool.h says"; else fail "$name: head line as spool.h says" "$bad"; fi
  spool_body "$sp/new/$id" >"$T/got-body" 2>&1
  same_file "$name: body byte-exact in new/ID" "$msg" "$T/got-body"
  left=$(cd "$sp" && find tmp mess new -mindepth 1 2>/dev/null | sort)
  is "$name: committed to new/ID, nothing else in tmp/, mess/, new/" "new/$id" "$left"
}
ENV1=$T/env1
printf 'V1\nFsender@example.org\nTrcpt@example.org\n\n' >"$ENV1"

# --- bodies land byte-exact -------------------------------------------------
printf 'Subject: caf\xc3\xa9\n\n8-bit: \xff\xfe\x80\xe9 and a NUL \x00 byte\n' >"$T/m-8bit"
printf 'Subject: dots\n\n.\n..\n.\nend\n.\n' >"$T/m-dot"
{ printf 'Subject: long\n\n'; head -c 998 /dev/zero | tr '\0' x; printf '\nafter\n'; } >"$T/m-998"
printf 'Subject: no newline\n\nlast line without LF' >"$T/m-nonl"
: >"$T/m-empty"
head -c 3145728 /dev/urandom >"$T/m-big"
for m in 8bit dot 998 nonl empty big; do
  inject "$T/m-$m" "$ENV1"
  queued "body $m" "$T/m-$m"
  spool_clean
done
# the same through a pipe, written in pieces (many reads)
( head -c 1000000 "$T/m-big"; sleep 0.1; tail -c +1000001 "$T/m-big" ) | { "$SI" 1<"$ENV1" 2>"$T/err"; echo $? >"$T/rc"; }
rc=$(cat "$T/rc"); reply=$(tail -n 1 "$T/err"); err=$(cat "$T/err"); id=${reply#250 2.0.0 Ok: queued as }
queued "body through a pipe" "$T/m-big"
spool_clean
check "998-char test line is 998 bytes" test "$(sed -n 3p "$T/m-998" | tr -d '\n' | wc -c)" = 998

# --- the one-file layout (lib/spool.h) ----------------------------------------
# the head line, byte for byte, for the smallest envelope: H is one unit
inject "$T/m-dot" "$ENV1"
envlen=$(spool_envelope "$T/spool/new/$id" | wc -c)
is "head line: exactly 'postern-message 1 H L' in 40 bytes, H=4096" \
  "$(printf 'postern-message 1 0000004096 %010d' "$envlen")" "$(head -c 39 "$T/spool/new/$id")"
is "head line ends in its LF at byte 40" 0a "$(dd if="$T/spool/new/$id" bs=1 skip=39 count=1 2>/dev/null | od -An -tx1 | tr -d ' ')"
is "the body starts at 4096: file size = 4096 + body" "$((4096 + $(wc -c <"$T/m-dot")))" "$(stat -c %s "$T/spool/new/$id")"
spool_clean
# an empty body: the file ends at H
inject "$T/m-empty" "$ENV1"
is "empty body: file size = H = 4096" 4096 "$(stat -c %s "$T/spool/new/$id" 2>&1)"
spool_clean
# an envelope of several 4 KiB units (hundreds of recipients): the body is
# moved up to H; by fallocate(FALLOC_FL_INSERT_RANGE) on ext4, by a copy on
# tmpfs, which refuses that; the body byte-exact either way, also empty, and
# larger than the copy's 64 KiB buffer and not a multiple of it
{ printf 'V1\nFs@example.org\n'; seq -f 'Trecipient-number-%.0f@example.org' 1 600; printf '\n'; } >"$T/env-600"
head -c 200001 /dev/urandom >"$T/m-200001"
printf 'x' >"$T/m-1"
SHM=$(mktemp -d /dev/shm/postern-t.XXXXXX 2>/dev/null) && at_exit "rm -rf '$SHM'"
big_envelope() {   # big_envelope LABEL SPOOL CONF WANT-FALLOCATE-RESULT
  local label=$1 sp=$2 conf=$3 want=$4 m h
  for m in m-dot m-big m-200001 m-1 m-empty; do
    if command -v strace >/dev/null; then
      # LeakSanitizer cannot run under ptrace: off for this run of the sanitizer build
      ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
        strace -f -qq -e trace=fallocate -o "$T/strace" "$SI" -C "$conf" <"$T/$m" 1<"$T/env-600" 2>"$T/err"
    else "$SI" -C "$conf" <"$T/$m" 1<"$T/env-600" 2>"$T/err"; fi
    rc=$?; err=$(cat "$T/err"); reply=$(tail -n 1 "$T/err"); id=${reply#250 2.0.0 Ok: queued as }
    if [ "$rc" != 0 ]; then fail "$label, $m: queued" "exit $rc" "$err"; continue; fi
    queued_in "$label, 600 recipients, $m" "$T/$m" "$sp"
    h=$(head -c 40 "$sp/new/$id" | cut -c19-28)
    [ "$m" = m-empty ] && is "$label, empty body: file size = H" "$((10#$h))" "$(stat -c %s "$sp/new/$id")"
    [ "$m" = m-dot ] && is "$label: the envelope takes 5 units, H = 20480" 0000020480 "$h"
    spool_spool_envelope_check "$label, $m" "$sp/new/$id"
    if [ "$m" != m-empty ] && [ -s "$T/strace" ]; then
      case "$want:$(grep -c "INSERT_RANGE, 4096, 16384) = 0" "$T/strace")" in
        insert:1|copy:0) ok "$label, $m: the body moved by $want" ;;
        *) fail "$label, $m: the body moved by $want" "$(cat "$T/strace")" ;; esac
    fi
    find "$sp/tmp" "$sp/mess" "$sp/new" -mindepth 1 -delete
  done
}
# spool_spool_envelope_check NAME FILE: the 600 recipients stored in order
spool_spool_envelope_check() {
  spool_envelope "$2" | grep '^T' >"$T/got-rcpts"
  grep '^T' "$T/env-600" >"$T/want-rcpts"
  same_file "$1: the 600 recipients stored in order" "$T/want-rcpts" "$T/got-rcpts"
}
case "$(stat -f -c %T "$T/spool")" in
  ext2/ext3) big_envelope ext4 "$T/spool" "$CONF" insert ;;
  xfs) big_envelope xfs "$T/spool" "$CONF" insert ;;
  *) skip "large envelope on ext4" "$T is on $(stat -f -c %T "$T/spool"), not ext4 or xfs" ;;
esac
if [ -n "$SHM" ] && [ "$(stat -f -c %T "$SHM")" = tmpfs ]; then
  mkspool "$SHM/spool"
  sed "s|^spool = .*|spool = $SHM/spool|" "$CONF" >"$T/conf-shm"; chmod 644 "$T/conf-shm"
  big_envelope tmpfs "$SHM/spool" "$T/conf-shm" copy
else
  skip "large envelope on tmpfs" "no tmpfs at /dev/shm"
fi

# --- reply line, log line, modes --------------------------------------------
inject "$T/m-dot" "$ENV1"
case "$reply" in "250 2.0.0 Ok: queued as $id") ok "reply is the last line on fd 2" ;;
  *) fail "reply is the last line on fd 2" "$err" ;; esac
case "$err" in *"spool-inject: id=$id status=queued from=<sender@example.org> nrcpt=1 size=$(wc -c <"$T/m-dot") uid=$UID_NOW"*)
  ok "log line names id, sender, nrcpt, size, uid" ;;
  *) fail "log line names id, sender, nrcpt, size, uid" "$err" ;; esac
spool_clean
( umask 077; "$SI" <"$T/m-dot" 1<"$ENV1" 2>"$T/err" ); reply=$(tail -n 1 "$T/err"); id=${reply#250 2.0.0 Ok: queued as }
is "mode of new/ID is 0644 despite umask 077" 644 "$(stat -c %a "$T/spool/new/$id" 2>&1)"
is "new/ID is one file with one link" "regular file 1" "$(stat -c '%F %h' "$T/spool/new/$id" 2>&1)"
spool_clean
# the uncommitted file in tmp/ too, seen while the body is still coming
( umask 077; { cat "$T/m-dot"; sleep 1; } | "$SI" 1<"$ENV1" 2>"$T/err" ) &
bg=$!
for _ in $(seq 50); do [ -n "$(ls "$T/spool/tmp")" ] && break; sleep 0.02; done
f=$(ls "$T/spool/tmp"); is "mode of tmp/ID is 0644 despite umask 077, while the body comes" 644 "$(cd "$T/spool/tmp" && stat -c %a -- "$f" 2>&1)"
is "nothing in new/ or mess/ before the commit" "" "$(find "$T/spool/new" "$T/spool/mess" -mindepth 1)"
wait "$bg"; reply=$(tail -n 1 "$T/err"); id=${reply#250 2.0.0 Ok: queued as }
is "tmp/ID is what became new/ID" "$f" "$id"
spool_clean
# ids sort by arrival
inject "$T/m-dot" "$ENV1"; id1=$id
inject "$T/m-dot" "$ENV1"; id2=$id
if [[ "$id1" < "$id2" ]]; then ok "a later message has a greater id"; else fail "a later message has a greater id" "$id1 then $id2"; fi
spool_clean

# --- the stored envelope ----------------------------------------------------
# canonical input: stored = input plus P (real uid) and D (arrival time)
cat >"$T/env-canon" <<'EOF'
V1
Fbounces@example.org
Eenv+2Bid.42
RHDRS
B8BITMIME
U
Aauth-user
I[192.0.2.1] mail.example.net
Hhelo.example.net
Talice@example.net
NSUCCESS,FAILURE
Orfc822;alice@example.net
Tbob@example.com
Tcarol@example.com
NNEVER

EOF
t0=$(date +%s); inject "$T/m-dot" "$T/env-canon"; t1=$(date +%s)
queued "canonical envelope" "$T/m-dot"
d=$(spool_envelope "$T/spool/new/$id" 2>/dev/null | sed -n 's/^D//p')
if [[ $d =~ ^[0-9]+$ ]] && [ "$d" -ge "$t0" ] && [ "$d" -le "$t1" ]; then ok "D is the arrival time"
else fail "D is the arrival time" "D=$d, run between $t0 and $t1"; fi
{ sed -n 1,3p "$T/env-canon"; echo "P$UID_NOW"; echo "D$d"; sed -n '4,$p' "$T/env-canon"; } >"$T/want"
spool_envelope "$T/spool/new/$id" >"$T/got-env" 2>&1
same_file "stored envelope = input plus P and D" "$T/want" "$T/got-env"
spool_clean
# any input order and case: stored in the canonical order, keywords upper case
cat >"$T/env-mixed" <<'EOF'
V1
Fjosé@exämple.org
Hhelo.example.net
Iclient
Aauth-user
U
Bbinarymime
Rfull
Eenvid
Tälice@example.net
Orfc822;alice@example.net
Nfailure,delay
Tpostmaster

EOF
inject "$T/m-dot" "$T/env-mixed"
queued "envelope in another order" "$T/m-dot"
d=$(spool_envelope "$T/spool/new/$id" 2>/dev/null | sed -n 's/^D//p')
printf '%s\n' V1 "Fjosé@exämple.org" Eenvid "P$UID_NOW" "D$d" RFULL BBINARYMIME U Aauth-user Iclient \
  Hhelo.example.net "Tälice@example.net" NFAILURE,DELAY "Orfc822;alice@example.net" Tpostmaster "" >"$T/want"
spool_envelope "$T/spool/new/$id" >"$T/got-env" 2>&1
same_file "stored in canonical order E P D R B U A I H, T N O, keywords upper case" "$T/want" "$T/got-env"
spool_clean
printf 'V1\nF\nTrcpt@example.org\n\n' >"$T/env-null"
inject "$T/m-dot" "$T/env-null"
queued "null sender" "$T/m-dot"
is "null sender stored as a bare F" "F" "$(spool_envelope "$T/spool/new/$id" 2>&1 | sed -n 2p)"
spool_clean

# --- valid envelopes at the limits ------------------------------------------
rep() { head -c "$1" /dev/zero | tr '\0' "$2"; }
l63=$(rep 63 a)
accepted_cases=(
  "local part of 64 bytes|V1\nF\nT$(rep 64 l)@example.org\n\n"
  "address of 254 bytes|V1\nF\nTr@$l63.$l63.$l63.$(rep 56 b).org\n\n"
  "line of exactly 1000 bytes|V1\nF\nH$(rep 999 h)\nTr@example.org\n\n"
  "ENVID of 100 bytes|V1\nF\nE$(rep 100 e)\nTr@example.org\n\n"
  "ORCPT of 500 bytes|V1\nF\nTr@example.org\nOrfc822;$(rep 493 o)\n\n"
  "quoted local part with a space|V1\nF\nT\"a b\"@example.org\n\n"
  "address literals|V1\nFa@[192.0.2.1]\nTb@[IPv6:2001:db8::1]\n\n"
  "bare postmaster|V1\nF\nTpostmaster\n\n"
  "UTF-8 address with U|V1\nU\nFjos\xc3\xa9@example.org\nTr@\xc3\xa9xample.org\n\n"
)
for c in "${accepted_cases[@]}"; do
  name=${c%%|*}
  printf "${c#*|}" >"$T/env-c"
  inject "$T/m-dot" "$T/env-c"
  if [ "$rc" = 0 ]; then ok "accepted: $name"; else fail "accepted: $name" "exit $rc" "$err"; fi
  spool_clean
done
is "address-of-254 case really is 254 bytes" 254 "$(printf 'r@%s.%s.%s.%s.org' $l63 $l63 $l63 "$(rep 56 b)" | wc -c)"
# 100000 recipients is the limit; one more is refused
{ printf 'V1\nF\n'; seq -f 'Tr%.0f@example.org' 1 100000; printf '\n'; } >"$T/env-many"
inject "$T/m-dot" "$T/env-many"
queued "100000 recipients" "$T/m-dot"
is "100000 recipients stored" 100000 "$(spool_envelope "$T/spool/new/$id" 2>&1 | grep -c '^T')"
spool_clean
{ printf 'V1\nF\n'; seq -f 'Tr%.0f@example.org' 1 100001; printf '\n'; } >"$T/env-many"
inject "$T/m-dot" "$T/env-many"
refused "100001 recipients" 65 "554 5.6.0 Invalid envelope: "

# --- invalid envelopes: 65, 554, nothing left --------------------------------
bad_cases=(
  "no V1|Fs@example.org\nTr@example.org\n\n"
  "V2|V2\nFs@example.org\nTr@example.org\n\n"
  "V1 with trailing blank|V1 \nFs@example.org\nTr@example.org\n\n"
  "V1 twice|V1\nV1\nFs@example.org\nTr@example.org\n\n"
  "missing F|V1\nTr@example.org\n\n"
  "two F|V1\nFs@example.org\nFt@example.org\nTr@example.org\n\n"
  "T before F|V1\nTr@example.org\nFs@example.org\n\n"
  "no T|V1\nFs@example.org\n\n"
  "unknown tag|V1\nFs@example.org\nXvalue\nTr@example.org\n\n"
  "lowercase tag|V1\nFs@example.org\nhhelo.example.net\nTr@example.org\n\n"
  "lowercase t|V1\nFs@example.org\ntr@example.org\n\n"
  "P from the caller|V1\nFs@example.org\nP0\nTr@example.org\n\n"
  "D from the caller|V1\nFs@example.org\nD1700000000\nTr@example.org\n\n"
  "P after the recipients|V1\nFs@example.org\nTr@example.org\nP0\n\n"
  "line of 1001 bytes|V1\nFs@example.org\nH$(rep 1000 h)\nTr@example.org\n\n"
  "NUL in a line|V1\nFs@example.org\nHhe\x00lo\nTr@example.org\n\n"
  "CR in a line|V1\nFs@example.org\nHhe\rlo\nTr@example.org\n\n"
  "CR after V1|V1\r\nFs@example.org\nTr@example.org\n\n"
  "CR at the end of an address|V1\nFs@example.org\nTr@example.org\r\n\n"
  "control character in H|V1\nFs@example.org\nHa\tb\nTr@example.org\n\n"
  "DEL in an address|V1\nFs@example.org\nTr\x7f@example.org\n\n"
  "address with space|V1\nFs@example.org\nTr cpt@example.org\n\n"
  "local part 65 bytes|V1\nFs@example.org\nT$(rep 65 l)@example.org\n\n"
  "address of 255 bytes|V1\nFs@example.org\nTr@$l63.$l63.$l63.$(rep 57 b).org\n\n"
  "domain 256 bytes|V1\nFs@example.org\nTr@$l63.$l63.$l63.$(rep 62 b).c\n\n"
  "domain label of 64 bytes|V1\nFs@example.org\nTr@$(rep 64 d).org\n\n"
  "source route|V1\nFs@example.org\nT@a,@b:c@d\n\n"
  "address without domain|V1\nFs@example.org\nTrcpt\n\n"
  "empty recipient|V1\nFs@example.org\nT\n\n"
  "domain with a trailing dot|V1\nFs@example.org\nTr@example.org.\n\n"
  "bad NOTIFY|V1\nFs@example.org\nTr@example.org\nNSOMETIMES\n\n"
  "NOTIFY=NEVER,SUCCESS|V1\nFs@example.org\nTr@example.org\nNNEVER,SUCCESS\n\n"
  "NOTIFY repeated value|V1\nFs@example.org\nTr@example.org\nNSUCCESS,SUCCESS\n\n"
  "NOTIFY twice|V1\nFs@example.org\nTr@example.org\nNSUCCESS\nNFAILURE\n\n"
  "N before any T|V1\nFs@example.org\nNSUCCESS\nTr@example.org\n\n"
  "bad ORCPT without type|V1\nFs@example.org\nTr@example.org\nOr@example.org\n\n"
  "bad ORCPT xtext|V1\nFs@example.org\nTr@example.org\nOrfc822;a b@example.org\n\n"
  "bad ORCPT escape|V1\nFs@example.org\nTr@example.org\nOrfc822;a+2@example.org\n\n"
  "ORCPT of 501 bytes|V1\nFs@example.org\nTr@example.org\nOrfc822;$(rep 494 o)\n\n"
  "bad RET|V1\nFs@example.org\nRSOME\nTr@example.org\n\n"
  "bad BODY|V1\nFs@example.org\nB9BIT\nTr@example.org\n\n"
  "ENVID of 101 bytes|V1\nFs@example.org\nE$(rep 101 e)\nTr@example.org\n\n"
  "ENVID with =|V1\nFs@example.org\nEa=b\nTr@example.org\n\n"
  "repeated message tag|V1\nFs@example.org\nHa\nHb\nTr@example.org\n\n"
  "message tag after recipients|V1\nFs@example.org\nTr@example.org\nHhelo\n\n"
  "empty A|V1\nFs@example.org\nA\nTr@example.org\n\n"
  "UTF-8 address without U|V1\nFs@example.org\nTjos\xc3\xa9@example.org\n\n"
  "UTF-8 sender without U|V1\nFjos\xc3\xa9@example.org\nTr@example.org\n\n"
  "U with a value|V1\nFs@example.org\nUyes\nTr@example.org\n\n"
)
for c in "${bad_cases[@]}"; do
  name=${c%%|*}
  printf "${c#*|}" >"$T/env-c"
  inject "$T/m-8bit" "$T/env-c"
  refused "invalid envelope, $name" 65 "554 5.6.0 Invalid envelope: "
done
# malformed UTF-8 is not UTF-8 (RFC 6531 allows UTF8-non-ascii only)
printf 'V1\nU\nFs@example.org\nTr@\xff\xfe.example.org\n\n' >"$T/env-c"
inject "$T/m-8bit" "$T/env-c"
refused "invalid envelope, malformed UTF-8 in a domain with U" 65 "554 5.6.0 Invalid envelope: "
printf 'V1\nU\nFs@example.org\nT\xc0\xafr@example.org\n\n' >"$T/env-c"
inject "$T/m-8bit" "$T/env-c"
refused "invalid envelope, overlong UTF-8 in a local part with U" 65 "554 5.6.0 Invalid envelope: "
# more than 16 MiB of envelope data: long ORCPTs
awk 'BEGIN { o = "rfc822;"; for (k = 0; k < 480; k++) o = o "o"
  printf "V1\nF\n"; for (i = 0; i < 40000; i++) printf "Tr%d@example.org\nO%s\n", i, o; printf "\n" }' >"$T/env-huge"
inject "$T/m-dot" "$T/env-huge"
refused "invalid envelope, more than 16 MiB of envelope data" 65 "554 5.6.0 Invalid envelope: "

# --- envelope without its end line: never committed --------------------------
trunc_cases=(
  "EOF before the empty line|V1\nFs@example.org\nTr@example.org\n"
  "EOF in the middle of a line|V1\nFs@example.org\nTr@exam"
  "only V1|V1\n"
  "empty envelope|"
)
for c in "${trunc_cases[@]}"; do
  name=${c%%|*}
  printf "${c#*|}" >"$T/env-c"
  inject "$T/m-8bit" "$T/env-c"
  refused "incomplete envelope, $name" 75 "451 "
done

# --- size limit ---------------------------------------------------------------
mkconf "$T/conf-1k" spool_reserve=0 message_size_limit=1k
head -c 2048 /dev/urandom >"$T/m-2k"
head -c 1024 /dev/urandom >"$T/m-1024"
head -c 1025 /dev/urandom >"$T/m-1025"
inject "$T/m-2k" "$ENV1" -C "$T/conf-1k"
refused "2 KiB message, limit 1k" 65 "552 5.3.4 Message size exceeds fixed limit"
inject "$T/m-1025" "$ENV1" -C "$T/conf-1k"
refused "1025 bytes, limit 1k" 65 "552 5.3.4 "
inject "$T/m-1024" "$ENV1" -C "$T/conf-1k"
queued "1024 bytes, limit 1k" "$T/m-1024"
spool_clean
mkconf "$T/conf-0" spool_reserve=0 message_size_limit=0
inject "$T/m-big" "$ENV1" -C "$T/conf-0"
queued "message_size_limit=0 is no limit" "$T/m-big"
spool_clean

# --- disk reserve ---------------------------------------------------------------
mkconf "$T/conf-reserve" spool_reserve=1000000G
inject "$T/m-8bit" "$ENV1" -C "$T/conf-reserve"
refused "spool_reserve=1000000G" 75 "452 4.3.1 Insufficient system storage"
# a file size limit (SIGXFSZ) half way through the body: cleaned up
( ulimit -f 1; exec "$SI" <"$T/m-big" 1<"$ENV1" 2>"$T/err" ); rc=$?; err=$(cat "$T/err"); reply=$(tail -n 1 "$T/err")
refused "file size limit hit while writing the body" 75 "451 "

# --- configuration --------------------------------------------------------------
inject "$T/m-8bit" "$ENV1" -C "$CONF"
queued "-C names the config" "$T/m-8bit"
spool_clean
POSTERN_CONF=$T/no-such.conf inject "$T/m-8bit" "$ENV1" -C "$CONF"
queued "-C wins over POSTERN_CONF" "$T/m-8bit"
spool_clean
POSTERN_CONF=$T/no-such.conf inject "$T/m-8bit" "$ENV1"
refused "missing config via POSTERN_CONF" 78 "451 4.3.5 Configuration error"
case "$reply" in *"$T/no-such.conf"*) ok "missing config: reply names the file" ;;
  *) fail "missing config: reply names the file" "$reply" ;; esac
inject "$T/m-8bit" "$ENV1" -C "$T/no-such.conf"
refused "missing config via -C" 78 "451 4.3.5 Configuration error"
for mode in 646 664 666; do
  mkconf "$T/conf-w" spool_reserve=0; chmod "$mode" "$T/conf-w"
  POSTERN_CONF=$T/conf-w inject "$T/m-8bit" "$ENV1"
  refused "config mode $mode" 78 "451 4.3.5 Configuration error"
  case "$reply" in *"$T/conf-w"*writable*) ok "config mode $mode: reply names the file" ;;
    *) fail "config mode $mode: reply names the file" "$reply" ;; esac
done
mkconf "$T/conf-unknown" spool_reserve=0 no_such_key=1     # line 7
inject "$T/m-8bit" "$ENV1" -C "$T/conf-unknown"
refused "unknown key" 78 "451 4.3.5 Configuration error"
case "$reply" in *"$T/conf-unknown:7:"*no_such_key*) ok "unknown key: reply names file:line and key" ;;
  *) fail "unknown key: reply names file:line and key" "$reply" ;; esac
mkconf "$T/conf-badval" message_size_limit=10X               # line 6
inject "$T/m-8bit" "$ENV1" -C "$T/conf-badval"
refused "bad size value" 78 "451 4.3.5 Configuration error"
case "$reply" in *"$T/conf-badval:6:"*) ok "bad value: reply names file:line" ;;
  *) fail "bad value: reply names file:line" "$reply" ;; esac
mkconf "$T/conf-dup" spool_reserve=0 spool=/elsewhere       # line 7
inject "$T/m-8bit" "$ENV1" -C "$T/conf-dup"
refused "duplicate key" 78 "451 4.3.5 Configuration error"
mkdir "$T/conf-dir"
inject "$T/m-8bit" "$ENV1" -C "$T/conf-dir"
refused "config is a directory" 78 "451 4.3.5 Configuration error"

# --- usage ------------------------------------------------------------------------
for args in "extra-arg" "-C" "-C $CONF extra" "-X $CONF" "-C$CONF"; do
  # shellcheck disable=SC2086
  inject "$T/m-8bit" "$ENV1" $args
  refused "usage: spool-inject $args" 64 "554 5.5.4 usage: spool-inject"
done

# --- spool problems ---------------------------------------------------------------
mkconf "$T/conf-nospool" spool_reserve=0
sed -i "s|^spool = .*|spool = $T/no-such-spool|" "$T/conf-nospool"
inject "$T/m-8bit" "$ENV1" -C "$T/conf-nospool"
refused "spool directory missing" 75 "451 "
# a spool whose tmp/ or new/ is missing or not a directory: temporary, and
# nothing left in what is there
for c in "tmp missing|rmdir tmp" "new missing|rmdir new" "tmp a file|rmdir tmp && : >tmp" \
         "new a file|rmdir new && : >new" "tmp a dangling symlink|rmdir tmp && ln -s nowhere tmp"; do
  name=${c%%|*}
  rm -rf "$T/spool-bad"; mkspool "$T/spool-bad"; (cd "$T/spool-bad" && eval "${c#*|}")
  sed "s|^spool = .*|spool = $T/spool-bad|" "$CONF" >"$T/conf-bad"; chmod 644 "$T/conf-bad"
  inject "$T/m-8bit" "$ENV1" -C "$T/conf-bad"
  if { [ "$rc" = 74 ] || [ "$rc" = 75 ]; } && [ "${reply#451 }" != "$reply" ]; then ok "$name: temporary failure, 451"
  else fail "$name: temporary failure, 451" "exit $rc" "$err"; fi
  is "$name: nothing in tmp/, mess/, new/" "" "$(find "$T/spool-bad/tmp/" "$T/spool-bad/mess" "$T/spool-bad/new/" -mindepth 1 2>/dev/null)"
  case "$name" in "new a file") case "$err" in *"Not a directory"*) ok "$name: the reply says why" ;;
    *) fail "$name: the reply says why" "$err" ;; esac ;; esac
done
# mess/ holds only bodies of the older layout now: the writer does not need it
rm -rf "$T/spool-bad"; mkspool "$T/spool-bad"; rmdir "$T/spool-bad/mess"
sed "s|^spool = .*|spool = $T/spool-bad|" "$CONF" >"$T/conf-bad"; chmod 644 "$T/conf-bad"
inject "$T/m-8bit" "$ENV1" -C "$T/conf-bad"
if [ "$rc" = 0 ]; then queued_in "mess/ missing: still queued" "$T/m-8bit" "$T/spool-bad"
else fail "mess/ missing: still queued" "exit $rc" "$err"; fi
# tmp/ or new/ not writable (root, whom modes do not stop, runs it as nobody)
asuser=(); is_root && asuser=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
for d in tmp new; do
  rm -rf "$T/spool-bad"; mkspool "$T/spool-bad"; is_root && chown -R nobody "$T/spool-bad"; chmod 555 "$T/spool-bad/$d"
  sed "s|^spool = .*|spool = $T/spool-bad|" "$CONF" >"$T/conf-bad"; chmod 644 "$T/conf-bad"
  "${asuser[@]}" "$SI" -C "$T/conf-bad" <"$T/m-8bit" 1<"$ENV1" 2>"$T/err"; rc=$?; err=$(cat "$T/err")
  if [ "$rc" = 74 ] || [ "$rc" = 75 ]; then ok "$d/ not writable: temporary failure"; else fail "$d/ not writable: temporary failure" "exit $rc" "$err"; fi
  is "$d/ not writable: nothing in tmp/, mess/, new/" "" "$(find "$T/spool-bad/tmp" "$T/spool-bad/mess" "$T/spool-bad/new" -mindepth 1)"
  chmod 755 "$T/spool-bad/$d"
done

# --- odd descriptors -------------------------------------------------------------------
"$SI" <"$T/m-8bit" 1<"$ENV1" 2>&-; rc=$?
is "fd 2 closed: still queued" 0 "$rc"
id=$(ls "$T/spool/new")
spool_body "$T/spool/new/$id" >"$T/got-body" 2>&1
same_file "fd 2 closed: body byte-exact" "$T/m-8bit" "$T/got-body"
spool_clean
"$SI" <&- 1<"$ENV1" 2>"$T/err"; rc=$?; err=$(cat "$T/err"); reply=$(tail -n 1 "$T/err")
refused "fd 0 closed" 75 "451 "
"$SI" <"$T/m-8bit" 1>&- 2>"$T/err"; rc=$?; err=$(cat "$T/err"); reply=$(tail -n 1 "$T/err")
refused "fd 1 closed" 75 "451 "
"$SI" <"$T/m-8bit" 1>"$T/not-readable" 2>"$T/err"; rc=$?; err=$(cat "$T/err"); reply=$(tail -n 1 "$T/err")
refused "fd 1 open for writing only" 75 "451 "

# --- trigger ----------------------------------------------------------------------------
exec 3<>"$T/spool/trigger"
inject "$T/m-8bit" "$ENV1"
c=""; read -r -t 2 -N 1 -u 3 c
is "trigger: a byte arrives after an injection" "!" "$c"
c=""; read -r -t 0.2 -N 1 -u 3 c
is "trigger: exactly one byte per injection" "" "$c"
exec 3<&-
spool_clean
start=$(date +%s%N)
timeout 2 "$SI" <"$T/m-8bit" 1<"$ENV1" 2>"$T/err"; rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
is "trigger: no reader, no blocking (exit 0 within 2 s)" 0 "$rc"
[ "$rc" = 0 ] && echo "# injection without a trigger reader took ${ms} ms"
is "trigger: no reader, message still queued" 1 "$(ls "$T/spool/new" | wc -l)"
spool_clean
rm "$T/spool/trigger"
inject "$T/m-8bit" "$ENV1"
queued "trigger fifo missing" "$T/m-8bit"
spool_clean
