# tests/queue-forged.sh - local-spawn does not trust queue-run (issue 13
# item 9): a compromised queue-run, played by tests/queue-forged.py running
# as the queue user and talking to a root local-spawn over the spawn
# protocol, cannot become another account nor make it run a |program or
# write a /file that neither root's aliases or virtual map nor the user's
# own account gives it; system accounts (uid below local_min_uid, unless in
# local_allowed_users) and, when configured, accounts with a refused shell
# are not mail recipients.  What root's maps give is still delivered.
. "$POSTERN_TOP/tests/lib.bash"
. "$TOP/queue-run/tests/qr.bash"
is_root || { skip "forged local-spawn requests" "needs root (local-spawn must run as root)"; exit 0; }
command -v python3 >/dev/null || { skip "forged local-spawn requests" "python3 is not installed"; exit 0; }
qr_setup
V=pv$(printf '%05d' $((RANDOM % 100000)))$$; V=${V:0:30}     # the victim: an ordinary account
mkdir -p "$T/vhome"
qr_make_user "$V" "$T/vhome" || { fail "create user $V"; exit 0; }
chown "$V:$V" "$T/vhome"; chmod 755 "$T/vhome" "$T"
mkdir -p "$T/drop" "$T/lists"; chmod 1777 "$T/drop"; chmod 755 "$T/lists"
printf '#!/bin/sh\nid -un >%s/drop/"$1"; cat >/dev/null\n' "$T" >"$T/progs/who"
chmod 755 "$T/progs/who"
printf '"|who inc"\n:include:%s/lists/rootinc\n' "$T" >"$T/lists/owned"; chown "$V" "$T/lists/owned"; chmod 644 "$T/lists/owned"
printf '"|who nested"\n' >"$T/lists/rootinc"; chmod 644 "$T/lists/rootinc"     # root's, inside the user's
ln -s "$T/lists/owned" "$T/lists/link"
qr_map aliases <<M
prog: "|who legit"
owned: :include:$T/lists/owned
linked: :include:$T/lists/link
M
echo "vbox@example.test $T/mail/vbox/" | qr_map virtual
printf 'Subject: forged\n\nx\n' >"$T/msg"; chmod 644 "$T/msg"
uid=$(id -u "$U"); gid=$(id -g "$U")

# forge REQUEST-LINES...: the compromised queue-run's requests; the lines
# local-spawn answered with ("job TAB code TAB line") in $T/out
forge() {
  printf '%s\n' "$@" | timeout -k 5 120 python3 "$TOP/tests/queue-forged.py" "$B/local-spawn" "$T/conf" "$uid" "$gid" "$T/msg" \
    >"$T/out" 2>>"$T/log"
}
answer() { awk -F'\t' -v j="$1" '$1 == j { sub(/^[^\t]*\t/, ""); sub(/\t/, " "); print }' "$T/out"; }
t=$(printf '\t')

forge "$V${t}q1${t}s@x.test${t}nosuch@example.test${t}|who forged" \
      "$V${t}q2${t}s@x.test${t}nosuch@example.test${t}$T/drop/forged.mbox" \
      "$V${t}q3${t}s@x.test${t}$U@example.test${t}~" \
      "daemon${t}q4${t}s@x.test${t}daemon@example.test${t}~" \
      "root${t}q5${t}s@x.test${t}root@example.test${t}~" \
      "$V${t}q6${t}s@x.test${t}prog@example.test${t}|who legit" \
      "$U${t}q7${t}s@x.test${t}owned@example.test${t}|who inc" \
      "$U${t}q8${t}s@x.test${t}vbox@example.test${t}$T/mail/elsewhere/" \
      "$V${t}q9${t}s@x.test${t}$V@far.test${t}~" \
      "$U${t}q10${t}s@x.test${t}prog@example.test${t}|who legit" \
      "$V${t}q11${t}s@x.test${t}owned@example.test${t}|who inc" \
      "$U${t}q12${t}s@x.test${t}vbox@example.test${t}$T/mail/vbox/" \
      "$V${t}q13${t}s@x.test${t}$V+tag@example.test${t}~" \
      "$V${t}q14${t}s@x.test${t}owned@example.test${t}|who nested" \
      "$V${t}q15${t}s@x.test${t}linked@example.test${t}|who inc"
case "$(answer 1)" in "75 nosuch@example.test	defer	4.7.0 not a delivery of this recipient"*) ok "forged |program as another user: deferred (4.7.0)" ;;
  *) fail "forged |program as another user: deferred (4.7.0)" "$(answer 1)" ;; esac
is "forged |program: never ran" "absent" "$([ -e "$T/drop/forged" ] && echo "ran as $(cat "$T/drop/forged")" || echo absent)"
case "$(answer 2)" in "75 "*"defer	4.7.0 "*) ok "forged /file as another user: deferred" ;; *) fail "forged /file: deferred" "$(answer 2)" ;; esac
is "forged /file: never written" "absent" "$([ -e "$T/drop/forged.mbox" ] && echo present || echo absent)"
case "$(answer 3)" in "75 $U@example.test	defer	4.7.0 the recipient is not this user's address"*) ok "another user's own mail (~) for a recipient not his: deferred" ;;
  *) fail "~ for another recipient: deferred" "$(answer 3)" ;; esac
case "$(answer 4)" in "67 daemon@example.test	fail	5.1.1 not a mail recipient (a system account, uid below local_min_uid): daemon") ok "a system account (uid below local_min_uid) is not a mail recipient: 5.1.1" ;;
  *) fail "a system account is not a mail recipient" "$(answer 4)" ;; esac
case "$(answer 5)" in "75 root@example.test	defer	4.3.5 refusing to deliver as root") ok "root: refused" ;; *) fail "root: refused" "$(answer 5)" ;; esac
case "$(answer 6)" in "75 "*"defer	4.7.0 "*) ok "a root alias's |program as the wrong user (not virtual_user): deferred" ;;
  *) fail "alias program as the wrong user" "$(answer 6)" ;; esac
case "$(answer 7)" in "75 "*"defer	4.7.0 "*) ok "an :include: item as another user than the file's owner: deferred" ;;
  *) fail "include item as the wrong user" "$(answer 7)" ;; esac
case "$(answer 8)" in "75 "*"defer	4.7.0 "*) ok "a virtual mailbox other than the map's: deferred" ;;
  *) fail "virtual mailbox not the map's" "$(answer 8)" ;; esac
case "$(answer 9)" in "75 "*"defer	4.7.0 not a local domain: far.test") ok "~ for an address in a domain not local: deferred" ;;
  *) fail "~ in a domain not local" "$(answer 9)" ;; esac
is "what root's aliases give: |program as virtual_user runs" "0 $U" "$(answer 10 | cut -d' ' -f1) $(cat "$T/drop/legit" 2>/dev/null)"
is "what a user's :include: gives: |program as its owner runs" "0 $V" "$(answer 11 | cut -d' ' -f1) $(cat "$T/drop/inc" 2>/dev/null)"
is "what the virtual map gives: the mailbox as virtual_user" "0 1" "$(answer 12 | cut -d' ' -f1) $(qr_maildir_count "$T/mail/vbox")"
is "a user's own mail (~, with an extension): delivered as the user" "0 1" "$(answer 13 | cut -d' ' -f1) $(qr_maildir_count "$T/vhome/Maildir")"
is "a root-owned include inside a user's: its items run as that user" "0 $V" "$(answer 14 | cut -d' ' -f1) $(cat "$T/drop/nested" 2>/dev/null)"
case "$(answer 15)" in "75 "*"defer	4.7.0 "*) ok "an :include: through a symbolic link gives nothing: deferred" ;;
  *) fail "an include through a symlink" "$(answer 15)" ;; esac
grep -q "local-spawn: id=q1 to=nosuch@example.test user=$V dest=\"|who forged\" status=refused reason=" "$T/log" \
  && ok "a refused request is logged" || fail "a refused request is logged" "$(grep local-spawn "$T/log")"

# local-deliver's code runs in local-spawn's forked child, without an
# exec: that child has exactly the user's credentials, no capabilities,
# none of local-spawn's descriptors (its socket to queue-run, its
# signalfd), and it is not dumpable (the user cannot read its memory)
# (read after the message: the parent has long left posix_spawn, which
# blocks every signal for a moment)
printf '#!/bin/sh\ncat >/dev/null\ncat /proc/$PPID/status >%s/drop/ld.status\nls -l /proc/$PPID/fd >%s/drop/ld.fds 2>&1\ntr "\\0" " " </proc/$PPID/cmdline >%s/drop/ld.cmd\n{ cat /proc/$PPID/environ >/dev/null 2>&1 && echo readable || echo denied; } >%s/drop/ld.env\n' "$T" "$T" "$T" "$T" >"$T/progs/probe"
chmod 755 "$T/progs/probe"
printf '"|probe"\n' >"$T/vhome/.forward"; chown "$V:$V" "$T/vhome/.forward"; chmod 644 "$T/vhome/.forward"
forge "$V${t}q1${t}s@x.test${t}$V@example.test${t}~"
rm -f "$T/vhome/.forward"
vuid=$(id -u "$V"); vgid=$(id -g "$V")
st() { awk -v f="$1:" '$1 == f { $1 = ""; sub(/^ /, ""); gsub(/\t/, " "); print }' "$T/drop/ld.status" 2>/dev/null; }
is "in-process delivery: delivered" 0 "$(answer 1 | cut -d' ' -f1)"
is "in-process delivery: the child's uids are all the user's" "$vuid $vuid $vuid $vuid" "$(st Uid)"
is "in-process delivery: its gids are all the user's" "$vgid $vgid $vgid $vgid" "$(st Gid)"
is "in-process delivery: its groups are the user's (initgroups)" "$(id -G "$V")" "$(st Groups | sed 's/ *$//')"
is "in-process delivery: no capabilities" "0000000000000000 0000000000000000" "$(st CapPrm) $(st CapEff)"
# (signals 1-31: glibc keeps 32 and 33 for itself, no sigaction can reset
# them, and an exec would keep them ignored too when our caller ignored them)
is "in-process delivery: no signal blocked, only SIGPIPE and SIGXFSZ ignored (local-deliver's own)" \
  "0000000000000000 $(printf '%016x' $(( (1 << 12) | (1 << 24) )))" "$(st SigBlk) $(printf '%016x' $(( 0x$(st SigIgn) & 0x7fffffff )))"
is "in-process delivery: no socket or signalfd of local-spawn's" "" "$(grep -E 'socket:|signalfd' "$T/drop/ld.fds")"
case "$(cat "$T/drop/ld.cmd" 2>/dev/null)" in *local-spawn*) ok "in-process delivery: local-spawn's child, no exec of local-deliver" ;;
  *) fail "in-process delivery: local-spawn's child" "$(cat "$T/drop/ld.cmd" 2>/dev/null)" ;; esac
is "in-process delivery: not dumpable: the user's program cannot read its environment (or memory)" "denied" "$(cat "$T/drop/ld.env" 2>/dev/null)"

# a map that root does not own (here: the queue user's) gives nothing
chown "$U" "$T/maps/aliases.cdb"
forge "$U${t}q1${t}s@x.test${t}prog@example.test${t}|who notroot"
case "$(answer 1)" in "75 "*"defer	4.7.0 map not owned by root or writable by others: $T/maps/aliases.cdb") ok "an aliases map not owned by root: deferred" ;;
  *) fail "an aliases map not owned by root" "$(answer 1)" ;; esac
chown root "$T/maps/aliases.cdb"

# a running local-spawn reads postern.conf again when it changes (queue-run's
# SIGHUP cannot reach a root process): the next request follows the new file
qr_conf
rm -f "$T/go"
{ printf '%s\n' "daemon${t}q1${t}s@x.test${t}daemon@example.test${t}~" "#wait $T/go" \
    "daemon${t}q2${t}s@x.test${t}daemon@example.test${t}~"; } >"$T/req"
forge_bg() { timeout -k 5 120 python3 "$TOP/tests/queue-forged.py" "$B/local-spawn" "$T/conf" "$uid" "$gid" "$T/msg" <"$T/req" >"$T/out" 2>>"$T/log"; }
forge_bg &
fb=$!
for i in $(seq 100); do [ -n "$(answer 1)" ] && break; sleep 0.1; done
qr_conf local_allowed_users=daemon
touch "$T/go"
wait "$fb"
case "$(answer 1)/$(answer 2)" in *"not a mail recipient"*/*"not a mail recipient"*) fail "a running local-spawn follows a changed postern.conf" "$(cat "$T/out")" ;;
  *"not a mail recipient"*/?*) ok "a running local-spawn follows a changed postern.conf (local_allowed_users)" ;;
  *) fail "a running local-spawn follows a changed postern.conf" "$(cat "$T/out")" ;; esac
grep -q 'local-spawn: status=reloaded' "$T/log" && ok "local-spawn logs that it read postern.conf again" ||
  fail "local-spawn logs that it read postern.conf again" "$(tail -3 "$T/log")"

# local_allowed_users lets a system account receive; local_refuse_shells
# takes accounts with such a shell out (qr_make_user's is nologin)
qr_conf local_allowed_users=daemon,nobody
forge "daemon${t}q1${t}s@x.test${t}daemon@example.test${t}~"
case "$(answer 1)" in *"not a mail recipient"*) fail "local_allowed_users: a listed system account is a recipient" "$(answer 1)" ;;
  *) ok "local_allowed_users: a listed system account is a recipient" ;; esac
qr_conf local_refuse_shells="/bin/false nologin"
forge "$V${t}q1${t}s@x.test${t}$V@example.test${t}~"
case "$(answer 1)" in "67 $V@example.test	fail	5.1.1 not a mail recipient (its shell is in local_refuse_shells): $V") ok "local_refuse_shells: an account with a refused shell is not a recipient" ;;
  *) fail "local_refuse_shells" "$(answer 1)" ;; esac
qr_conf
