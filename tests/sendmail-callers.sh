# tests/sendmail-callers.sh - sendmail(8) as the programs that call it
# use it, end to end: sendmail -> spool-inject -> queue-run --once ->
# local-deliver -> Maildir.  The command lines of cron (cronie), anacron,
# systemd-cron, mutt, PHP, Symfony/Laravel (-bs), Alpine, mdadm,
# unattended-upgrades and GNU mail, each a test case; the real programs
# mutt (batch mode), bsd-mailx and git send-email --sendmail-cmd; Python's
# subprocess with every flag; bodies byte for byte, single-dot lines
# included.
. "$POSTERN_TOP/tests/lib.bash"
. "$TOP/spool-inject/sendmail/tests/sendmail.bash"
sm_setup

# the body every caller sends: dots, From at a line start, 8-bit, blanks
printf 'first line\n.\n..\n. \n.x\nFrom the start\n>From quoted\ntrailing blanks   \n\tindented\ngr\303\274\303\237e\n\nlast line\n' >"$T/body"
body_ok() {   # body_ok NAME BOX: the newest message's body is $T/body
  local f; f=$(sm_last "$2")
  if [ -z "$f" ]; then fail "$1" "nothing in $2" "$(cat "$T/sm.err" 2>/dev/null)" "$(tail -5 "$T/log" 2>/dev/null)"; return; fi
  sm_body "$f" >"$T/got"
  same_file "$1" "$T/body" "$T/got"
}
hdr_is() {   # hdr_is NAME BOX FIELD EXPECTED
  local f v; f=$(sm_last "$2"); v=$(sm_header "$f" "$3")
  is "$1" "$4" "$v"
}

# --- cron (cronie): -FCronDaemon -i -odi -oem -oi -t -f root
{ printf 'From: root (Cron Daemon)\nTo: alice\nSubject: Cron <alice@mx> /usr/bin/backup\nMIME-Version: 1.0\n'
  printf 'Content-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\nX-Cron-Env: <SHELL=/bin/sh>\n\n'
  cat "$T/body"; } | sm -FCronDaemon -i -odi -oem -oi -t -f root
is "cronie: exit 0" 0 "$?"
sm_deliver
body_ok "cronie: body delivered byte for byte (dots kept with -i)" alice
hdr_is "cronie: To: root qualified" alice To "alice@example.test"
hdr_is "cronie: From: kept, qualified, comment kept" alice From "root@example.test (Cron Daemon)"
grep -q '^Return-Path: <root@example.test>$' "$(sm_last alice)" && ok "cronie: envelope sender root@domain" || fail "cronie: envelope sender" "$(head -3 "$(sm_last alice)")"

# --- the issue's cron style: -FCronDaemon -i -B8BITMIME -oem root
{ printf 'Subject: cron style\n\n'; cat "$T/body"; } | sm -FCronDaemon -i -B8BITMIME -oem root
is "cron style: exit 0" 0 "$?"
sm_newest_env | grep -q '^B8BITMIME$' && ok "cron style: -B8BITMIME in the envelope" || fail "cron style: BODY tag" "$(sm_newest_env)"
sm_deliver
body_ok "cron style: bare root reaches root's alias, byte for byte" rootbox
hdr_is "cron style: From: added with the -F name" rootbox From "CronDaemon <$ME@example.test>"

# --- anacron: -FAnacron -odi user
printf 'Subject: Anacron job '"'"'cron.daily'"'"' on mx\n\n/etc/cron.daily/logrotate: ok\n' | sm -FAnacron -odi bob
is "anacron: exit 0" 0 "$?"
sm_deliver
is "anacron: delivered" 1 "$(sm_count bob)"
hdr_is "anacron: From: Anacron <caller@domain>" bob From "Anacron <$ME@example.test>"
[ -n "$(sm_header "$(sm_last bob)" Date)" ] && ok "anacron: Date: added" || fail "anacron: Date: added"
case "$(sm_header "$(sm_last bob)" Message-ID)" in "<"*"@example.test>") ok "anacron: Message-ID: added, in the mail domain" ;; *) fail "anacron: Message-ID" "$(cat "$(sm_last bob)")" ;; esac

# --- systemd-cron: -i -B 8BITMIME user
{ printf 'Subject: [mx] result of daily.service\nContent-Type: text/plain; charset=utf-8\n\n'; cat "$T/body"; } | sm -i -B 8BITMIME carol
is "systemd-cron: exit 0" 0 "$?"
sm_deliver
body_ok "systemd-cron: body byte for byte" carol

# --- mutt's command line: -oem -oi -B8BITMIME -f from -N dsn -R ret -- rcpts
{ printf 'From: Alice <alice@example.test>\nTo: dave@example.test\nSubject: mutt style\n\n'; cat "$T/body"; } |
  sm -oem -oi -B8BITMIME -f alice@example.test -N success,failure -R hdrs -V mutt.1234 -- dave@example.test -dash@example.test
is "mutt line: exit 0" 0 "$?"
env=$(sm_newest_env)
case "$env" in *"Falice@example.test"*"Emutt.1234"*"RHDRS"*"B8BITMIME"*"Tdave@example.test"*"NSUCCESS,FAILURE"*"T-dash@example.test"*"NSUCCESS,FAILURE"*) ok "mutt line: sender, ENVID, RET, BODY, NOTIFY per recipient, -- then a recipient starting with -" ;;
  *) fail "mutt line: envelope" "$env" ;; esac
sm_deliver
body_ok "mutt line: body byte for byte" dave

# --- PHP mail(): -t -i, header lines ending in CRLF
{ printf 'To: erin@example.test\r\nSubject: php\r\nX-PHP-Originating-Script: 33:index.php\r\n\r\n'; sed 's/$/\r/' "$T/body"; } | sm -t -i
is "PHP: exit 0" 0 "$?"
sm_deliver
body_ok "PHP: CRLF turned into LF, body byte for byte" erin
hdr_is "PHP: From: added for the caller" erin From "$ME_NAME <$ME@example.test>"

# --- mdadm: -t -fX through /usr/lib/sendmail
mkdir -p "$T/usr/lib"; ln -s "$B/sendmail" "$T/usr/lib/sendmail"
printf 'From: mdadm monitoring <root>\nTo: frank@example.test\nSubject: Fail event on /dev/md0:mx\n\nA Fail event had been detected on md device /dev/md0.\n' |
  "$T/usr/lib/sendmail" -t -fmdadm@example.test 2>"$T/sm.err"
is "mdadm: exit 0" 0 "$?"
sm_deliver
grep -q '^Return-Path: <mdadm@example.test>$' "$(sm_last frank)" && ok "mdadm: glued -f sets the sender" || fail "mdadm: -fX" "$(head -3 "$(sm_last frank)")"

# --- unattended-upgrades: -oi -t
{ printf 'Subject: unattended-upgrades result for mx: SUCCESS\nTo: root\nContent-Type: text/plain; charset=utf-8\n\n'; cat "$T/body"; } | sm -oi -t
is "unattended-upgrades: exit 0" 0 "$?"
sm_deliver
body_ok "unattended-upgrades: -t to root (qualified, aliased), byte for byte" rootbox

# --- GNU mail (mailutils): -oi -f user@host -t
{ printf 'To: alice@example.test\nSubject: gnu mail\n\n'; cat "$T/body"; } | sm -oi -f someone@mx.example.test -t
is "GNU mail: exit 0" 0 "$?"
sm_deliver
body_ok "GNU mail: byte for byte" alice

# --- Symfony Mailer / Laravel (-bs) and Alpine (-bs -odb -oem): SMTP on stdin/stdout
cat >"$T/bs.py" <<'PY'
import subprocess, sys
# speak SMTP with "sendmail -bs" as Symfony's SendmailTransport does:
# write a command, read the (multi-line) reply
p = subprocess.Popen(sys.argv[1:], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
def reply():
    lines = []
    while True:
        l = p.stdout.readline().decode()
        if not l: raise SystemExit("eof after " + repr(lines))
        lines.append(l.rstrip("\r\n"))
        if l[3:4] != "-": return lines
def cmd(c, want):
    p.stdin.write(c.encode() + b"\r\n"); p.stdin.flush()
    r = reply()
    if not r[-1].startswith(want): raise SystemExit("%s -> %r" % (c, r))
    return r
r = reply()
assert r[0].startswith("220"), r
cmd("EHLO symfony.local", "250")
cmd("MAIL FROM:<app@example.test>", "250")
cmd("RCPT TO:<bob@example.test>", "250")
cmd("DATA", "354")
body = open(sys.stdin.fileno(), "rb").read()
data = b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n" for l in body.split(b"\n")[:-1])
p.stdin.write(b"From: app@example.test\r\nTo: bob@example.test\r\nSubject: via -bs\r\n\r\n" + data + b".\r\n"); p.stdin.flush()
r = reply()
if not r[-1].startswith("250"): raise SystemExit("DATA -> %r" % r)
cmd("QUIT", "221")
p.stdin.close()
sys.exit(p.wait())
PY
python3 "$T/bs.py" "$SM" -bs <"$T/body" 2>"$T/bs.err"
is "Symfony (-bs): SMTP session through smtp-receive, exit 0" 0 "$?"
python3 "$T/bs.py" "$SM" -bs -odb -oem <"$T/body" 2>>"$T/bs.err"
is "Alpine (-bs -odb -oem): exit 0" 0 "$?"
sm_deliver
is "-bs: both messages delivered" 3 "$(sm_count bob)"
body_ok "-bs: dot-stuffing undone, body byte for byte" bob

# --- real mutt in batch mode
if command -v mutt >/dev/null; then
  mkdir -p "$T/mutthome"
  cat >"$T/muttrc" <<RC
set sendmail="$SM -oem -oi"
set from="Alice Example <alice@example.test>"
set use_from=yes
set use_envelope_from=yes
set dsn_notify="failure,delay"
set dsn_return="hdrs"
set record=""
set charset="utf-8"
set send_charset="utf-8"
set copy=no
RC
  HOME=$T/mutthome mutt -n -F "$T/muttrc" -s "mutt batch" -- carol@example.test <"$T/body" >"$T/mutt.out" 2>&1
  is "mutt: batch send exits 0" 0 "$?"
  sm_deliver
  f=$(sm_last carol)
  grep -q '^Return-Path: <alice@example.test>$' "$f" && ok "mutt: envelope sender from use_envelope_from (-f)" || fail "mutt: -f" "$(head -20 "$f")"
  hdr_is "mutt: Subject" carol Subject "mutt batch"
  case "$(sm_header "$f" Content-Transfer-Encoding)" in 8bit|"") body_ok "mutt: body byte for byte" carol ;;
    *) sm_body "$f" | grep -q '^\.$' && ok "mutt: body (mutt encoded it) has the dot line" || fail "mutt: body" "$(cat "$f")" ;; esac
else skip "mutt" "mutt not installed (tools/deps test)"; fi

# --- real bsd-mailx
if command -v bsd-mailx >/dev/null; then
  printf 'set sendmail=%s\n' "$SM" >"$T/mailrc"
  MAILRC=$T/mailrc HOME=$T/mutthome bsd-mailx -s "mailx test" dave@example.test <"$T/body" >"$T/mailx.out" 2>&1
  is "bsd-mailx: exits 0" 0 "$?"
  sm_deliver
  hdr_is "bsd-mailx: Subject" dave Subject "mailx test"
  body_ok "bsd-mailx: body byte for byte (mailx runs sendmail -i)" dave
else skip "bsd-mailx" "bsd-mailx not installed (tools/deps test)"; fi

# --- real git send-email --sendmail-cmd
if git send-email -h >/dev/null 2>&1 || git send-email --help >/dev/null 2>&1; then
  ( cd "$T" && git init -q repo && cd repo && git config user.name "Dev Eloper" && git config user.email dev@example.test &&
    cp "$T/body" file.txt && git add file.txt && git commit -qm "add the file" &&
    printf 'more\n.\n' >>file.txt && git commit -qam "a second change with a dot line" &&
    git format-patch -q -2 -o "$T/patches" ) >"$T/git.out" 2>&1
  ( cd "$T/repo" && HOME=$T/mutthome git send-email --sendmail-cmd="$SM" --to=erin@example.test --from="Dev Eloper <dev@example.test>" \
      --envelope-sender=auto --confirm=never --suppress-cc=all --no-thread --quiet --8bit-encoding=UTF-8 "$T/patches"/*.patch ) >>"$T/git.out" 2>&1
  is "git send-email: exits 0" 0 "$?"
  sm_deliver
  is "git send-email: both patches delivered" 3 "$(sm_count erin)"
  f=$(grep -l 'Subject: \[PATCH 2/2\]' "$T/mail/erin/new/"* | head -1)
  p2=$(ls "$T/patches"/0002-*.patch)
  sed '1,/^$/d' "$p2" >"$T/patch.body"
  [ -n "$f" ] && sm_body "$f" >"$T/got" && same_file "git send-email: the patch body arrives byte for byte" "$T/patch.body" "$T/got" \
    || fail "git send-email: patch 2/2 delivered" "$(cat "$T/git.out")"
  grep -q '^Return-Path: <dev@example.test>$' "$f" && ok "git send-email: envelope sender" || fail "git send-email: sender" "$(head -3 "$f")"
else skip "git send-email" "git-email not installed (tools/deps test)"; fi

# --- Python's subprocess with every flag of the issue
cat >"$T/flags.py" <<'PY'
import os, pwd, subprocess, sys, glob
sm, spool = sys.argv[1], sys.argv[2]
me = pwd.getpwuid(os.getuid()).pw_name   # the caller: root in CI
msg = b"To: alice@example.test\nSubject: flags\n\nbody\n.\nafter dot\n"
def newest():
    ids = sorted(os.listdir(os.path.join(spool, "new")))
    if not ids: return "", b""
    i = ids[-1]
    d = open(os.path.join(spool, "new", i), "rb").read()   # one file: head, envelope, body (lib/spool.h)
    body, envlen = int(d[18:28]), int(d[29:39])
    return d[40:40 + envlen].decode(), d[body:]
def case(name, args, want_env=(), want_msg=(), body_has=None, rc=0, data=msg):
    before = len(os.listdir(os.path.join(spool, "new")))
    r = subprocess.run([sm] + args, input=data, capture_output=True)
    env, m = newest()
    problems = []
    if r.returncode != rc: problems.append("exit %d, want %d: %s" % (r.returncode, rc, r.stderr.decode(errors="replace")))
    if rc == 0 and len(os.listdir(os.path.join(spool, "new"))) != before + 1: problems.append("not queued")
    for w in want_env:
        if w not in env.split("\n"): problems.append("envelope lacks %r: %r" % (w, env))
    for w in want_msg:
        if w.encode() not in m: problems.append("message lacks %r" % w)
    if body_has is not None and (body_has.encode() in m) != True: problems.append("body lacks %r: %r" % (body_has, m))
    if problems:
        print("not ok - python subprocess: " + name); [print("# " + p) for p in problems]
    else: print("ok - python subprocess: " + name)
case("-t", ["-t"], ["Talice@example.test"])
case("-i keeps a dot line", ["-i", "bob@example.test"], ["Tbob@example.test"], body_has="\n.\nafter dot\n")
case("no -i: a dot line ends the input", ["bob@example.test"], body_has="body\n")
case("-oi", ["-oi", "bob@example.test"], body_has=".\nafter dot\n")
case("-odi", ["-odi", "bob@example.test"])
case("-odb", ["-odb", "bob@example.test"])
case("-oem", ["-oem", "bob@example.test"])
case("-f X", ["-f", "x@example.test", "bob@example.test"], ["Fx@example.test"])
case("-fX", ["-fx@example.test", "bob@example.test"], ["Fx@example.test"])
case("-r X", ["-r", "r@example.test", "bob@example.test"], ["Fr@example.test"])
case("-f ''", ["-f", "", "bob@example.test"], ["F"])
case("-f '<>'", ["-f", "<>", "bob@example.test"], ["F"])
case("-F name", ["-F", "Full Name", "bob@example.test"], want_msg=["From: Full Name <%s@example.test>" % me], data=b"Subject: x\n\nb\n")
case("-FX", ["-FOther", "bob@example.test"], want_msg=["From: Other <%s@example.test>" % me], data=b"Subject: x\n\nb\n")
case("-B 8BITMIME", ["-B", "8BITMIME", "bob@example.test"], ["B8BITMIME"])
case("-B8BITMIME", ["-B8BITMIME", "bob@example.test"], ["B8BITMIME"])
case("-N", ["-N", "delay,failure", "bob@example.test"], ["NDELAY,FAILURE"])
case("-N never", ["-Nnever", "bob@example.test"], ["NNEVER"])
case("-R", ["-R", "full", "bob@example.test"], ["RFULL"])
case("-V", ["-V", "env id+1", "bob@example.test"], ["Eenv+20id+2B1"])
case("-bm", ["-bm", "bob@example.test"])
case("--", ["--", "bob@example.test"])
case("options after recipients", ["bob@example.test", "-i", "-f", "s@example.test"], ["Fs@example.test"])
case("bundled -ti", ["-ti"], ["Talice@example.test"], body_has=".\nafter dot\n")
case("-v", ["-v", "bob@example.test"])
case("-h -n -U -G -L -X -O -o", ["-h", "17", "-n", "-U", "-G", "-L", "app", "-X", "/dev/null", "-O", "DeliveryMode=b", "-om", "bob@example.test"])
case("-C config", ["-C", os.environ["POSTERN_CONF"], "bob@example.test"])
case("-SMTPUTF8", ["-SMTPUTF8", "bob@example.test"], ["U"])
case("an address list in one argument", ["Bob <bob@example.test>, carol"], ["Tbob@example.test", "Tcarol@example.test"])
r = subprocess.run([sm, "-bp"], capture_output=True)
print(("ok" if r.returncode == 0 and b"messages" in r.stdout else "not ok") + " - python subprocess: -bp lists the queue")
r = subprocess.run([sm, "-q"], capture_output=True)
print(("ok" if r.returncode == 0 else "not ok") + " - python subprocess: -q runs the queue")
if r.returncode: print("# " + r.stderr.decode(errors="replace"))
left = len(os.listdir(os.path.join(spool, "new"))) + len([f for f in os.listdir(os.path.join(spool, "queue")) if f[0].isdigit()])
print(("ok" if left <= 3 else "not ok") + " - python subprocess: -q delivered what it could (only the root-less and null-sender leftovers may stay)")
for name, args, want in (("-bv", ["-bv", "bob@example.test"], 0), ("-bi", ["-bi"], 0), ("-bd", ["-bd"], 69),
                         ("-q15m", ["-q15m"], 0), ("-qRexample", ["-qRexample"], 0), ("-bh", ["-bh"], 0)):
    r = subprocess.run([sm] + args, capture_output=True)
    print(("ok" if r.returncode == want else "not ok") + " - python subprocess: %s exits %d" % (name, want))
    if r.returncode != want: print("# exit %d: %s" % (r.returncode, r.stderr.decode(errors="replace")))
r = subprocess.run([sm, "-x", "bob@example.test"], capture_output=True)
print(("ok" if r.returncode == 64 and b"-x" in r.stderr else "not ok") + " - python subprocess: an unknown flag is exit 64 naming it")
try:
    subprocess.run([sm, "bob@example.test\x00evil"], input=b"x\n")
    print("not ok - python subprocess: a NUL cannot be passed")
except ValueError:
    print("ok - python subprocess: a NUL in an argument cannot even be passed (the OS refuses)")
PY
python3 "$T/flags.py" "$SM" "$T/spool" 2>&1
