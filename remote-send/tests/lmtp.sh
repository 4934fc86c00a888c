#!/bin/bash
# lmtp.sh - remote-send against a real LMTP server, Dovecot's lmtp (Debian
# dovecot-lmtpd) in an instance of its own under $T (root only, as CI
# runs), over a unix socket and over TCP: one reply per recipient after
# the data (delivered; over quota 552 5.2.2), an unknown user refused at
# RCPT, and the message as stored byte for byte (dot-stuffing undone).
. "$(dirname "$0")/rs.bash"
is_root || { skip "Dovecot LMTP tests" "a Dovecot instance needs root"; exit 0; }
command -v dovecot >/dev/null && [ -x /usr/lib/dovecot/lmtp ] ||
  { skip "Dovecot LMTP tests" "dovecot-lmtpd not installed"; exit 0; }

D=$T/dovecot
P=$(free_port)
mkdir -p "$D/mail"
chown nobody:nogroup "$D/mail"
cat >"$D/users" <<U
alice::65534:65534::$D/mail/alice::
small::65534:65534::$D/mail/small::userdb_quota_rule=*:storage=10B
U
cat >"$D/dovecot.conf" <<C
base_dir = $D/run
state_dir = $D/state
instance_name = postern-test-$$
protocols = lmtp
listen = 127.0.0.1
log_path = $D/log
ssl = no
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = 1
auth_username_format = %Ln
mail_location = maildir:~/Maildir
userdb {
  driver = passwd-file
  args = $D/users
}
passdb {
  driver = passwd-file
  args = $D/users
}
mail_plugins = quota
plugin {
  quota = maildir:User quota
  quota_rule = *:storage=1G
}
service lmtp {
  unix_listener $D/lmtp {
    mode = 0666
  }
  inet_listener lmtp {
    address = 127.0.0.1
    port = $P
  }
}
C
dovecot -c "$D/dovecot.conf" 2>"$D/start.log" || { fail "Dovecot instance" "$(cat "$D/start.log" "$D/log" 2>/dev/null)"; exit 0; }
at_exit "kill \$(cat '$D/run/master.pid' 2>/dev/null) 2>/dev/null; sleep 0.2"
wait_port 127.0.0.1 "$P" && [ -S "$D/lmtp" ] || { fail "Dovecot listening" "$(cat "$D/log")"; exit 0; }
stored() { ls "$D/mail/$1/Maildir/new" 2>/dev/null | wc -l; }

printf 'From: a@b.test\nSubject: lmtp\n\nline one\n.leading dot\n..two dots\nand some more text to go over ten bytes\n' >"$T/lmsg"
send "$T/lmsg" "lmtp:unix:$D/lmtp" a@b.test alice@x.test small@x.test nobody@x.test
is "Dovecot LMTP: exit 0" 0 "$RC"
expect "Dovecot LMTP (unix socket): delivered, its own reply after the data" alice@x.test ok "250 2.0.0 <alice@x.test> * Saved ($D/lmtp after end of data)"
expect "Dovecot LMTP: over quota, 552 after the data" small@x.test fail "552 5.2.2 <small@x.test> Quota exceeded*after end of data*"
expect "Dovecot LMTP: unknown user refused at RCPT" nobody@x.test fail "550 5.1.1 <nobody@x.test>*after RCPT TO*"
is "Dovecot LMTP: stored for alice only" "1 0" "$(stored alice) $(stored small)"
f=$(ls "$D/mail/alice/Maildir/new/"* 2>/dev/null | head -1)
[ -n "$f" ] && tail -n 4 "$f" | cmp -s - <(tail -n 4 "$T/lmsg") && ok "Dovecot LMTP: body stored byte for byte, dots unstuffed" ||
  fail "Dovecot LMTP: body" "$(cat "$f" 2>/dev/null)"

send "$T/lmsg" "lmtp:127.0.0.1:$P" a@b.test small@x.test alice@x.test
expect "Dovecot LMTP over TCP: delivered" alice@x.test ok "250 2.0.0 <alice@x.test> * Saved (127.0.0.1:$P after end of data)"
expect "Dovecot LMTP over TCP: over quota" small@x.test fail "552 5.2.2 *"
is "Dovecot LMTP over TCP: stored" 2 "$(stored alice)"
