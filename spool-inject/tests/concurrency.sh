# spool-inject/tests/concurrency.sh - parallel injectors into one spool:
# every one succeeds, ids are unique and sort by arrival (DESIGN.md
# invariant 3), and every message in new/ (one file, lib/spool.h) has its
# own envelope and its own byte-exact body; half of the workers send
# envelopes of several 4 KiB units, so bodies are moved up while others
# write beside them.
# WORKERS and PER_WORKER may be set in the environment.
. "${POSTERN_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.bash"

workers=${WORKERS:-8}
per=${PER_WORKER:-25}
total=$((workers * per))
mkspool "$T/spool"
mkconf "$T/conf" spool_reserve=0
export POSTERN_CONF=$T/conf

# worker W: PER injections in a row; one line "W I EXIT REPLY" each
worker() {
  local w=$1 i d=$T/w$1
  mkdir -p "$d"
  for ((i = 1; i <= per; i++)); do
    { printf 'Subject: worker %d message %d\n\n' "$w" "$i"; head -c $(( (w * 7919 + i * 104729) % 20000 )) /dev/urandom; } >"$d/m$i"
    { printf 'V1\nFs@example.org\nTr%d-%d@example.org\n' "$w" "$i"
      [ $((w % 2)) = 0 ] && seq -f "Textra-$w-$i-%.0f@example.org" 1 $((i * 20))
      printf '\n'; } >"$d/e$i"
    timeout -k 2 20 "$B/spool-inject" <"$d/m$i" 1<"$d/e$i" 2>"$d/err$i"
    echo "$w $i $? $(tail -n 1 "$d/err$i")" >>"$d/results"
  done
}
start=$(date +%s%N)
pids=()
for ((w = 1; w <= workers; w++)); do worker "$w" & pids+=($!); done
wait "${pids[@]}"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "# $total injections by $workers parallel injectors in $ms ms"

cat "$T"/w*/results >"$T/all" 2>/dev/null
is "one result per injection" "$total" "$(wc -l <"$T/all")"
bad=$(awk '$3 != 0 || $4 != 250' "$T/all")
is "every injector exited 0 with 250" "" "$bad"
awk '{print $NF}' "$T/all" | sort >"$T/ids"
is "all ids unique" "$total" "$(sort -u "$T/ids" | wc -l)"
is "every id well-formed" "" "$(grep -Ev '^[0-9]{10}\.[0-9]{6}\.[0-9]+$' "$T/ids")"
is "$total files in new/" "$total" "$(ls "$T/spool/new" | wc -l)"
is "nothing in mess/ (one file per message)" "" "$(ls "$T/spool/mess")"
is "nothing left in tmp/" "" "$(ls "$T/spool/tmp")"
is "new/ holds exactly the ids of the replies" "" "$(ls "$T/spool/new" | sort | diff - "$T/ids")"

# each envelope names its worker and message; its body must be that one
mismatch=""
uid=$(id -u)
while read -r w i rc code ok as queued as2 id; do
  e=$T/spool/new/$id
  spool_envelope "$e" >"$T/got-env" 2>&1
  d=$(sed -n 4p "$T/got-env")
  { printf 'V1\nFs@example.org\nP%s\n%s\n' "$uid" "$d"; sed 1,2d "$T/w$w/e$i"; } >"$T/want"
  cmp -s "$T/want" "$T/got-env" || mismatch="$mismatch envelope:$w-$i:$id"
  spool_body "$e" | cmp -s "$T/w$w/m$i" - || mismatch="$mismatch body:$w-$i:$id"
  [ -z "$(spool_head_check "$e")" ] || mismatch="$mismatch head:$w-$i:$id"
done <"$T/all"
is "every message's head, envelope and body belong together, byte-exact" "" "$mismatch"

# ids of one worker, injected one after the other, sort in that order
unsorted=""
for ((w = 1; w <= workers; w++)); do
  awk '{print $NF}' "$T/w$w/results" >"$T/order"
  sort -c "$T/order" 2>/dev/null || unsorted="$unsorted worker$w"
done
is "ids sort by arrival" "" "$unsorted"
