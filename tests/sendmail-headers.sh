# tests/sendmail-headers.sh - the header and envelope sendmail(8) builds,
# end to end into a Maildir: missing From:/Date:/Message-ID: added,
# unqualified addresses qualified in the envelope and in From/To/Cc, -t
# with Bcc (gone from the delivered copy, still delivered) and with
# Resent- fields, RFC 5322 address lists (comments, quoted strings,
# groups, folding, encoded words untouched), the -F / $NAME / gecos full
# name, X-Authentication-Warning: and Sender: for an untrusted caller,
# sendmail_trusted_users, sendmail_rewrite_sender, line ends, the mbox
# From line, and the header limits.
. "$POSTERN_TOP/tests/lib.bash"
. "$TOP/spool-inject/sendmail/tests/sendmail.bash"
sm_setup

# --- -t with Bcc, groups, comments, quoted strings, folding, encoded words
cat >"$T/m1" <<'M'
From: =?UTF-8?Q?J=C3=B6rg?= (the admin) <alice>
To: "Bob, the builder" <bob@example.test>, carol (comment),
	team: dave@example.test, "erin"@example.test;
Cc: undisclosed-recipients:;
Bcc: hidden@example.test
Subject: =?UTF-8?Q?gr=C3=BC=C3=9Fe?= and a long
 folded subject
Return-Path: <forged@evil.test>

body
M
sm -t <"$T/m1"
is "-t: exit 0" 0 "$?"
env=$(sm_newest_env)
for r in bob carol dave erin hidden; do
  case "$env" in *"T$r@example.test"*) ok "-t: $r is a recipient" ;; *) fail "-t: $r is a recipient" "$env" ;; esac
done
msg=$(sm_newest_msg)
case "$msg" in *Bcc*|*hidden*) fail "-t: Bcc: gone from the queued copy" "$msg" ;; *) ok "-t: Bcc: gone from the queued copy" ;; esac
case "$msg" in *forged@evil*) fail "Return-Path: from the caller removed" "$msg" ;; *) ok "Return-Path: from the caller removed" ;; esac
sm_deliver
is "-t: Bcc recipient still delivered" 1 "$(sm_count hidden)"
f=$(sm_last hidden)
grep -qi '^bcc:' "$f" && fail "-t: no Bcc: in the delivered copy" "$(cat "$f")" || ok "-t: no Bcc: in the delivered copy"
is "To: qualified, comments, quoted strings, groups and folding kept" \
  '"Bob, the builder" <bob@example.test>, carol@example.test (comment), team: dave@example.test, "erin"@example.test;' \
  "$(sm_header "$f" To)"
is "From: encoded word and comment untouched, address qualified" \
  '=?UTF-8?Q?J=C3=B6rg?= (the admin) <alice@example.test>' "$(sm_header "$f" From)"
is "Subject: encoded words and folding untouched" '=?UTF-8?Q?gr=C3=BC=C3=9Fe?= and a long folded subject' "$(sm_header "$f" Subject)"
is "Cc: empty group kept" 'undisclosed-recipients:;' "$(sm_header "$f" Cc)"
case "$(sed -n 3p "$f")" in "Received: by mx.example.test (postern sendmail, from userid $(id -u));") ok "Received: on top, with the uid" ;;
  *) fail "Received: on top" "$(head -5 "$f")" ;; esac

# --- received_hide_submitter: no uid in the Received: line
qr_conf "received_hide_submitter=yes"
printf 'Subject: hidden\n\nx\n' | sm alice
msg=$(sm_newest_msg)
case "$msg" in "Received: by mx.example.test (postern sendmail);"*) ok "received_hide_submitter: Received: without the uid" ;;
  *) fail "received_hide_submitter: Received: without the uid" "$(printf '%s\n' "$msg" | head -3)" ;; esac
case "$msg" in *userid*) fail "received_hide_submitter: no userid anywhere" "$msg" ;; *) ok "received_hide_submitter: no userid anywhere" ;; esac
qr_conf
sm_deliver

# --- -t plus arguments: added; a recipient twice is queued once
printf 'To: alice\nCc: alice@EXAMPLE.test\n\nx\n' | sm -t bob alice@example.test
env=$(sm_newest_env)
is "-t with arguments: arguments added, duplicates once" "Tbob@example.test Talice@example.test" "$(echo "$env" | grep '^T' | tr '\n' ' ' | sed 's/ $//')"
sm_deliver

# --- Resent- fields win for -t
printf 'To: alice\nResent-To: frank\nResent-From: carol\n\nresent\n' | sm -t
is "-t: Resent-To: used instead of To:" "Tfrank@example.test" "$(sm_newest_env | grep '^T')"
sm_deliver

# --- -t with nothing to send to, and a broken To:
printf 'Subject: nobody\n\nx\n' | sm -t
is "-t without recipients: exit 65" 65 "$?"
grep -q 'No recipient addresses found' "$T/sm.err" && ok "-t without recipients: says so" || fail "-t without recipients: message" "$(cat "$T/sm.err")"
printf 'To: "unterminated <a@b.test>\n\nx\n' | sm -t
is "-t with a To: that is no address list: exit 65" 65 "$?"
grep -q 'bad address list in To:' "$T/sm.err" && ok "-t with a bad To:: names the field" || fail "-t bad To: message" "$(cat "$T/sm.err")"

# --- missing From:, Date:, Message-ID: added; full name from -F, $NAME, gecos
n0=$(sm_queued)
printf 'Subject: s\n\nx\n' | NAME='Named "Person"' sm alice
f=$(mktemp -p "$T"); sm_newest_msg >"$f"
is "From: from \$NAME, quoted" "\"Named \\\"Person\\\"\" <$ME@example.test>" "$(sm_header "$f" From)"
printf 'Subject: s\n\nx\n' | NAME=ignored sm -F 'Jörg Ä' alice
sm_newest_msg >"$f"
is "From: from -F (wins over \$NAME), RFC 2047 encoded" "=?UTF-8?B?SsO2cmcgw4Q=?= <$ME@example.test>" "$(sm_header "$f" From)"
printf 'Subject: s\n\nx\n' | env -u NAME "$SM" -f '' alice 2>"$T/sm.err"
sm_newest_msg >"$f"
is "From: for the null sender" "$ME_NAME <MAILER-DAEMON@mx.example.test>" "$(sm_header "$f" From)"
case "$(sm_header "$f" Date)" in [A-Z][a-z][a-z],\ [0-9]*\ [A-Z][a-z][a-z]\ 20[0-9][0-9]\ [0-9][0-9]:[0-9][0-9]:[0-9][0-9]\ [+-][0-9][0-9][0-9][0-9]) ok "Date: in RFC 5322 form" ;;
  *) fail "Date: form" "$(sm_header "$f" Date)" ;; esac
case "$(sm_header "$f" Message-ID)" in "<"*"@example.test>") ok "Message-ID: added, in the mail domain, not the host's" ;;
  *) fail "Message-ID: in the mail domain" "$(sm_header "$f" Message-ID)" ;; esac
printf 'Date: Mon, 1 Jan 2024 00:00:00 +0000\nMessage-ID: <mine@x.test>\nFrom: a@b.test\n\nx\n' | sm alice
sm_newest_msg >"$f"
is "existing Date: kept" 'Mon, 1 Jan 2024 00:00:00 +0000' "$(sm_header "$f" Date)"
is "existing Message-ID: kept, none added" 1 "$(grep -ci '^message-id:' "$f")"
is "existing From: kept, none added" 1 "$(grep -ci '^from:' "$f")"

# --- line ends, mbox From line, a missing final newline, no header at all
printf 'From alice Mon Jan  1 00:00:00 2024\r\nSubject: crlf\r\n\r\nline 1\r\nline 2 with bare \r inside\r\nno final newline' | sm -i alice
sm_newest_msg >"$f"
grep -q '^From alice' "$f" && fail "mbox From line dropped" "$(cat "$f")" || ok "mbox From line dropped"
printf 'line 1\nline 2 with bare \r inside\nno final newline\n' >"$T/want"
sed '1,/^$/d' "$f" >"$T/got"
same_file "CRLF to LF, bare CR kept, final newline added" "$T/want" "$T/got"
printf 'just text, no header\n' | sm alice
sm_newest_msg >"$f"
is "no header: ours added, the text is the body" "just text, no header" "$(sed '1,/^$/d' "$f")"
sm_deliver

# --- the caller's identity: untrusted -f, Sender:, trusted users
if is_root; then who=$U; else who=$(id -un); fi
printf 'From: boss@far.test\nSender: liar@far.test\nTo: alice\n\nx\n' | qr_as_user "$SM" -f boss@far.test -t 2>"$T/sm.err"
is "untrusted caller: queued" 0 "$?"
sm_newest_msg >"$f"
is "untrusted -f: X-Authentication-Warning:" "mx.example.test: $who set sender to boss@far.test using -f" "$(sm_header "$f" X-Authentication-Warning)"
is "untrusted, From: not his: Sender: names him" "$who@example.test" "$(sm_header "$f" Sender)"
is "untrusted: his own Sender: replaced" 1 "$(grep -ci '^sender:' "$f")"
grep -q "^P$(id -u "$who")\$" "$T/spool/new/$(ls "$T/spool/new" | sort | tail -1)" && ok "spool-inject records the submitting uid" || fail "P tag" "$(sm_newest_env)"
printf 'To: alice\n\nx\n' | qr_as_user "$SM" -r "$who" -t 2>"$T/sm.err"
sm_newest_msg >"$f"
grep -qi '^x-authentication-warning:' "$f" && fail "-r with his own name: no warning" "$(cat "$f")" || ok "-r with his own name: no warning"
grep -qi '^sender:' "$f" && fail "From: added for himself: no Sender:" "$(cat "$f")" || ok "From: added for himself: no Sender:"
if is_root; then
  printf 'To: alice\n\nx\n' | sm -f boss@far.test -t
  sm_newest_msg >"$f"
  grep -qi '^x-authentication-warning:\|^sender:' "$f" && fail "root is trusted: no warning, no Sender:" "$(cat "$f")" || ok "root is trusted: no warning, no Sender:"
else skip "root is trusted: no warning, no Sender:" "needs root"; fi
qr_conf "sendmail_trusted_users=nobody, $who"
printf 'From: boss@far.test\nTo: alice\n\nx\n' | qr_as_user "$SM" -f boss@far.test -t 2>"$T/sm.err"
sm_newest_msg >"$f"
grep -qi '^x-authentication-warning:\|^sender:' "$f" && fail "sendmail_trusted_users: no warning, no Sender:" "$(cat "$f")" || ok "sendmail_trusted_users: no warning, no Sender:"
qr_conf "sendmail_trusted_users=%$(id -gn "$who")"
printf 'To: alice\n\nx\n' | qr_as_user "$SM" -f boss@far.test -t 2>"$T/sm.err"
sm_newest_msg >"$f"
grep -qi '^x-authentication-warning:' "$f" && fail "sendmail_trusted_users %group" "$(cat "$f")" || ok "sendmail_trusted_users: %group"
qr_conf
sm_deliver

# --- sendmail_rewrite_sender: local senders become one address
qr_conf "sendmail_rewrite_sender=robot@smart.example"
printf 'From: Cron Daemon <root>\nTo: alice\n\nx\n' | sm -t
env=$(sm_newest_env); sm_newest_msg >"$f"
case "$env" in *"Frobot@smart.example"*) ok "rewrite: envelope sender" ;; *) fail "rewrite: envelope sender" "$env" ;; esac
is "rewrite: local From: rewritten, display name kept" "Cron Daemon <robot@smart.example>" "$(sm_header "$f" From)"
printf 'From: x@far.test\nTo: alice\n\nx\n' | sm -t -f other@far.test
env=$(sm_newest_env); sm_newest_msg >"$f"
case "$env" in *"Fother@far.test"*) ok "rewrite: a remote sender is left alone" ;; *) fail "rewrite: remote sender" "$env" ;; esac
is "rewrite: a remote From: is left alone" "x@far.test" "$(sm_header "$f" From)"
printf 'To: alice\n\nx\n' | sm -t -f ''
case "$(sm_newest_env)" in *$'\nF\n'*) ok "rewrite: the null sender stays null" ;; *) fail "rewrite: null sender" "$(sm_newest_env)" ;; esac
qr_conf "sendmail_rewrite_sender=not an address"
printf 'To: alice\n\nx\n' | sm -t
is "rewrite: a bad address in the config is a config error (78)" 78 "$?"
qr_conf
sm_deliver

# --- header limits: refused, never cut; nothing queued
n0=$(sm_queued)
{ printf 'Subject: '; head -c 70000 /dev/zero | tr '\0' x; printf '\n\nbody\n'; } | sm alice
is "a 70 KB header field: exit 65" 65 "$?"
grep -q 'header field too long' "$T/sm.err" && ok "a 70 KB header field: says so" || fail "long header message" "$(cat "$T/sm.err")"
{ for i in $(seq 2000); do printf 'X-Filler-%d: %s\n' "$i" "$(head -c 600 /dev/zero | tr '\0' y)"; done; printf '\nbody\n'; } | sm alice
is "a 1.2 MB header section: exit 65" 65 "$?"
printf 'Subject: a\0b\n\nx\n' | sm alice
is "a NUL in a header: exit 65" 65 "$?"
printf 'Subject: a\rBcc: evil@x.test\n\nx\n' | sm alice
is "a bare CR in a header (smuggling): exit 65" 65 "$?"
is "nothing queued by the refused messages" "$n0" "$(sm_queued)"
qr_conf message_size_limit=2k
{ printf 'Subject: big\n\n'; head -c 5000 /dev/zero | tr '\0' 'z'; } | sm alice
is "over message_size_limit: exit 65" 65 "$?"
grep -q '552 5.3.4' "$T/sm.err" && ok "over message_size_limit: 552 5.3.4" || fail "size limit message" "$(cat "$T/sm.err")"
is "over message_size_limit: nothing queued" "$n0" "$(sm_queued)"
qr_conf
# the fixed header exactly at message_size_limit leaves no room for a body
# (a budget of 0 is not "no limit"): sendmail refuses it itself, before the
# injector runs (a missing injector would make it 71)
exact='From: alice@example.test\nDate: Thu, 1 Jan 2026 00:00:00 +0000\nMessage-ID: <exact@example.test>\nSubject: exact\n\n'
printf "$exact" | sm alice
h=$(sm_newest_msg | wc -c)
qr_conf "message_size_limit=$h" "injector=$T/nonexistent"
{ printf "$exact"; head -c 5000000 /dev/zero | tr '\0' z; } | sm alice
is "header exactly at message_size_limit, a 5 MB body: refused by sendmail itself (65)" 65 "$?"
grep -q '552 5.3.4' "$T/sm.err" && ok "header exactly at message_size_limit: 552 5.3.4" || fail "exact limit message" "$(cat "$T/sm.err")"
qr_conf "message_size_limit=$h"
printf "$exact" | sm alice
is "header exactly at message_size_limit, no body: queued (0)" 0 "$?"
is "header exactly at message_size_limit, no body: all $h bytes queued" "$h" "$(sm_newest_msg | wc -c)"
qr_conf
