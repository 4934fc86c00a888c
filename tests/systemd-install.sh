# tests/systemd-install.sh - `make install DESTDIR=<a Debian 12 root>`:
# users and groups created inside it (systemd-sysusers), owners and modes
# (spool-inject set-gid postern-inject, nothing set-uid), the spool of
# DESIGN.md (systemd-tmpfiles), maps compiled, another MTA's sendmail,
# mailq, newaliases and /usr/lib/sendmail diverted with dpkg-divert and
# restored by uninstall, an edited config kept, install-hub and
# install-nullclient enabling the right units, the useradd/groupadd path
# for systems without systemd.  Root only; boots nothing.
. "${POSTERN_TOP:-$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.bash"
. "$TOP/tests/systemd-lib.bash"
sd_prereq "install into a Debian 12 root"
sd_root inst && R=$T/inst || { fail "unpack a Debian 12 root"; exit 1; }

# A build directory with a stand-in for the sendmail front end, if it is
# not built yet, so that the diversions can be shown.
FB=$T/fakebuild
mkdir -p "$FB"
cp -p "$B"/* "$FB"/ 2>/dev/null
if [ ! -x "$FB/sendmail" ]; then
  printf '#!/bin/sh\necho postern-sendmail-stand-in\n' >"$FB/sendmail"; chmod 755 "$FB/sendmail"
fi
# Another MTA was there: a program and links, as Debian's MTAs ship them.
printf '#!/bin/sh\necho other-mta\n' >"$R/usr/sbin/sendmail"; chmod 755 "$R/usr/sbin/sendmail"
ln -s ../sbin/sendmail "$R/usr/lib/sendmail"
ln -s ../sbin/sendmail "$R/usr/bin/mailq"
ln -s ../sbin/sendmail "$R/usr/bin/newaliases"

if DESTDIR=$R BUILD=$FB "$TOP/tools/install" install >"$T/out" 2>&1; then ok "tools/install install DESTDIR=root"
else fail "tools/install install DESTDIR=root" "$(cat "$T/out")"; exit 1; fi

# --- users, owners, modes -------------------------------------------------
for u in postern-smtpd postern-queue postern-send postern-virtual; do
  if grep -q "^$u:x:[0-9]*:[0-9]*:[^:]*:[^:]*:/usr/sbin/nologin$" "$R/etc/passwd"; then ok "user $u created in the root (nologin)"
  else fail "user $u created in the root (nologin)" "$(grep "^$u:" "$R/etc/passwd")"; fi
done
if grep -q '^postern-inject:' "$R/etc/group"; then ok "group postern-inject created in the root"; else fail "group postern-inject created in the root"; fi
ginj=$(awk -F: '$1 == "postern-inject" { print $3 }' "$R/etc/group")
uq=$(awk -F: '$1 == "postern-queue" { print $3 }' "$R/etc/passwd")
gq=$(awk -F: '$1 == "postern-queue" { print $3 }' "$R/etc/group")
is "spool-inject is set-gid postern-inject, owned by root" "2755 0 $ginj" "$(stat -c '%a %u %g' "$R/usr/libexec/postern/spool-inject")"
is "nothing is set-uid" "" "$(find "$R/usr/libexec/postern" "$R/usr/sbin" "$R/usr/bin" -perm -4000 -newer "$R/etc/hostname" 2>/dev/null)"
is "the only set-gid file of postern is spool-inject" "$R/usr/libexec/postern/spool-inject" "$(find "$R/usr/libexec/postern" -perm -2000)"
bad=$(for f in "$R"/usr/libexec/postern/*; do
  case "$(basename "$f")" in spool-inject) ;; *.so) stat -c '%a %u %g %n' "$f" | grep -v '^644 0 0 ' ;;
    *) stat -c '%a %u %g %n' "$f" | grep -v '^755 0 0 ' ;; esac; done)
is "other programs are 0755 root:root, shared objects 0644" "" "$bad"
if [ -f "$B/postern-tls.so" ]; then
  if [ -f "$R/usr/libexec/postern/postern-tls.so" ]; then ok "smtp-receive's TLS object is installed beside it"
  else fail "smtp-receive's TLS object is installed beside it"; fi
fi
want="755 0 0 .
1770 $uq $ginj tmp
1770 $uq $ginj mess
1770 $uq $ginj new
700 $uq $gq queue
700 $uq $gq state
700 $uq $gq corrupt
620 $uq $ginj trigger"
is "spool owners and modes as DESIGN.md (systemd-tmpfiles --root)" "$want" \
  "$(cd "$R/var/spool/postern" && for d in . tmp mess new queue state corrupt trigger; do stat -c "%a %u %g $d" "$d"; done)"
is "trigger is a fifo" "fifo" "$(stat -c %F "$R/var/spool/postern/trigger" | cut -c1-4)"
us=$(awk -F: '$1 == "postern-smtpd" { print $3 }' "$R/etc/passwd")
is "the relay verify cache: 0700 postern-smtpd (systemd-tmpfiles --root)" "700 $us" "$(stat -c '%a %u' "$R/var/lib/postern/verify")"
is "postern.conf 0644 root" "644 0" "$(stat -c '%a %u' "$R/etc/postern/postern.conf")"
if [ -f "$R/etc/postern/aliases.cdb" ] && [ -f "$R/etc/postern/access.cdb" ]; then ok "maps compiled"; else fail "maps compiled"; fi
if grep -v '^#' "$R/etc/postern/access" | grep -q RELAY || grep -v '^#' "$R/etc/postern/relay-domains" | grep -q .; then
  fail "default maps relay for nobody" "$(cat "$R/etc/postern/access" "$R/etc/postern/relay-domains")"
else ok "default maps relay for nobody"; fi
if ls "$R"/etc/systemd/system/*.wants/postern-* >/dev/null 2>&1; then
  fail "plain install enables no unit" "$(ls "$R"/etc/systemd/system/*.wants/postern-*)"
else ok "plain install enables no unit (no listener)"; fi

# --- sendmail, mailq, newaliases the Debian way ---------------------------
for l in /usr/sbin/sendmail /usr/lib/sendmail /usr/bin/mailq /usr/bin/newaliases; do
  is "$l -> postern's front end" "/usr/libexec/postern/sendmail" "$(readlink "$R$l")"
done
div=$(chroot "$R" dpkg-divert --list 'postern' 2>/dev/null; chroot "$R" dpkg-divert --list | grep postern-orig | sort)
for l in /usr/sbin/sendmail /usr/lib/sendmail /usr/bin/mailq /usr/bin/newaliases; do
  case "$div" in *"local diversion of $l to $l.postern-orig"*) ok "$l diverted with dpkg-divert --local" ;;
    *) fail "$l diverted with dpkg-divert --local" "$div" ;; esac
done
is "the other MTA's sendmail is kept" "other-mta" "$(chroot "$R" /usr/sbin/sendmail.postern-orig)"
if grep -q 'diverted (dpkg-divert --local)' "$T/out"; then ok "install says that it diverted sendmail"; else fail "install says that it diverted sendmail" "$(cat "$T/out")"; fi

# --- a second install: idempotent, keeps an edited config ------------------
echo "hostname = edited.example.test" >>"$R/etc/postern/postern.conf"
echo "alice: bob" >>"$R/etc/postern/aliases"
if DESTDIR=$R BUILD=$FB "$TOP/tools/install" install >"$T/out2" 2>&1; then ok "second install"; else fail "second install" "$(cat "$T/out2")"; fi
if grep -q '^hostname = edited.example.test' "$R/etc/postern/postern.conf" && grep -q '^alice: bob' "$R/etc/postern/aliases" \
   && [ -f "$R/etc/postern/postern.conf.postern-new" ]; then
  ok "edited postern.conf and aliases are kept, the new default goes beside"
else fail "edited postern.conf and aliases are kept" "$(cat "$T/out2")"; fi
is "sendmail still diverted once" "1" "$(chroot "$R" dpkg-divert --list | grep -c 'of /usr/sbin/sendmail ')"
# A file still as an older install left it is not "edited": it becomes the
# new default (dpkg's conffile rule), and a map made so is compiled again.
CS=$R/var/lib/postern/conffiles
old_default() {   # old_default FILE TEXT: FILE as an older version installed it
  printf '%s\n' "$2" >"$R$1"
  awk -v f="$1" '$2 != f' "$CS" >"$CS.t"; echo "$(printf '%s\n' "$2" | sha256sum | cut -d' ' -f1) $1" >>"$CS.t"; mv "$CS.t" "$CS"
}
old_default /etc/postern/postern.conf "# postern.conf of an older version"
old_default /etc/postern/routes "old.example smtp:[old.example]"
"$B/postern-maps" compile "$R/etc/postern/routes" >/dev/null
rm -f "$R/etc/postern/postern.conf.postern-new"
DESTDIR=$R BUILD=$FB "$TOP/tools/install" install >"$T/out3" 2>&1
if cmp -s "$TOP/units/postern.conf" "$R/etc/postern/postern.conf" && [ ! -e "$R/etc/postern/postern.conf.postern-new" ] \
   && grep -q 'postern.conf: unedited, updated to the new default' "$T/out3"; then
  ok "an unedited postern.conf of an older install is updated to the new default, and install says so"
else fail "an unedited postern.conf of an older install is updated" "$(cat "$T/out3")"; fi
if ! grep -q "^old.example " "$R/etc/postern/routes" && ! "$B/postern-maps" query "$R/etc/postern/routes" old.example >/dev/null 2>&1; then
  ok "an unedited map is updated and compiled again"
else fail "an unedited map is updated and compiled again" "$(cat "$R/etc/postern/routes")"; fi
if grep -q '^alice: bob' "$R/etc/postern/aliases"; then
  ok "the edited aliases survive a third install"
else fail "the edited aliases survive a third install" "$(cat "$R/etc/postern/aliases")"; fi
is "users not duplicated" "1" "$(grep -c '^postern-smtpd:' "$R/etc/passwd")"

# --- roles ----------------------------------------------------------------
wants() { ls "$R"/etc/systemd/system/*.wants/ 2>/dev/null | grep '^postern' | sort | tr '\n' ' ' | sed 's/ $//'; }
DESTDIR=$R BUILD=$FB "$TOP/tools/install" hub >"$T/hub" 2>&1
is "install-hub enables port 25 and the queue daemon" "postern-queue.service postern-smtpd.socket" "$(wants)"
DESTDIR=$R BUILD=$FB "$TOP/tools/install" nullclient >"$T/null" 2>&1
is "install-nullclient enables only the flush path and timer" "postern-flush.path postern-flush.timer" "$(wants)"

# --- uninstall --------------------------------------------------------------
if DESTDIR=$R BUILD=$FB "$TOP/tools/install" uninstall >"$T/un" 2>&1; then ok "uninstall"; else fail "uninstall" "$(cat "$T/un")"; fi
is "uninstall restores the other MTA's sendmail" "other-mta" "$(chroot "$R" /usr/sbin/sendmail)"
is "uninstall restores the links" "../sbin/sendmail ../sbin/sendmail ../sbin/sendmail" \
  "$(readlink "$R/usr/lib/sendmail") $(readlink "$R/usr/bin/mailq") $(readlink "$R/usr/bin/newaliases")"
is "no diversion left" "" "$(chroot "$R" dpkg-divert --list | grep postern)"
is "programs and units removed" "" "$(ls -d "$R"/usr/libexec/postern "$R"/lib/systemd/system/postern* "$R"/usr/sbin/postern-maps 2>/dev/null)"
is "no unit left enabled" "" "$(wants)"
if [ -f "$R/etc/postern/postern.conf" ] && [ -d "$R/var/spool/postern/new" ] && grep -q '^postern-queue:' "$R/etc/passwd"; then
  ok "uninstall keeps the configuration, the spool and the users"
else fail "uninstall keeps the configuration, the spool and the users"; fi

# --- no dpkg (a staging DESTDIR): postern's own links are re-pointed, the
# other MTA's saved program is never overwritten, uninstall gives it back
S=$T/stage
mkdir -p "$S/usr/sbin" "$S/usr/lib" "$S/usr/bin"
printf '#!/bin/sh\necho other-mta\n' >"$S/usr/sbin/sendmail"; chmod 755 "$S/usr/sbin/sendmail"
for l in lib/sendmail bin/mailq bin/newaliases; do ln -s ../sbin/sendmail "$S/usr/$l"; done
NB=$T/nofrontend; mkdir -p "$NB"; cp -p "$FB"/* "$NB"/; rm -f "$NB/sendmail"
stage() { DESTDIR=$S BUILD=$1 "$TOP/tools/install" "$2" >>"$T/stage.out" 2>&1; }
orig() { for l in /usr/sbin/sendmail /usr/lib/sendmail /usr/bin/mailq /usr/bin/newaliases; do
  if [ -L "$S$l${1:-}" ]; then readlink "$S$l${1:-}"; else sh "$S$l${1:-}"; fi; done 2>&1 | tr '\n' ' ' | sed 's/ $//'; }
if stage "$NB" install; then ok "no dpkg: install without the front end built"; else fail "no dpkg: first install" "$(cat "$T/stage.out")"; fi
is "no dpkg: newaliases is postern-maps, the other one moved aside" "/usr/libexec/postern/postern-maps ../sbin/sendmail" \
  "$(readlink "$S/usr/bin/newaliases") $(readlink "$S/usr/bin/newaliases.postern-orig")"
if stage "$FB" install && stage "$FB" install; then ok "no dpkg: installed twice more, with the front end"
else fail "no dpkg: reinstall" "$(cat "$T/stage.out")"; fi
is "no dpkg: every name is postern's front end now" "/usr/libexec/postern/sendmail /usr/libexec/postern/sendmail /usr/libexec/postern/sendmail /usr/libexec/postern/sendmail" "$(orig)"
is "no dpkg: the other MTA's programs are still kept aside" "other-mta ../sbin/sendmail ../sbin/sendmail ../sbin/sendmail" "$(orig .postern-orig)"
# a configuration file that cannot be written ends the install: nothing
# half-copied is renamed into place, no checksum is recorded for it
printf '# an older default\n' >"$S/etc/postern/postern.conf"
sum=$(sha256sum <"$S/etc/postern/postern.conf" | cut -d' ' -f1)
awk '$2 != "/etc/postern/postern.conf"' "$S/var/lib/postern/conffiles" >"$T/cs"; echo "$sum /etc/postern/postern.conf" >>"$T/cs"
cp "$T/cs" "$S/var/lib/postern/conffiles"
ln -s /nonexistent/postern.conf "$S/etc/postern/postern.conf.postern-tmp"   # cp through it fails
if stage "$FB" install; then fail "a failed copy of postern.conf ends the install" "$(tail -n 5 "$T/stage.out")"
else ok "a failed copy of postern.conf ends the install"; fi
is "a failed copy: postern.conf and its recorded checksum unchanged" "# an older default $sum" \
  "$(cat "$S/etc/postern/postern.conf") $(awk '$2 == "/etc/postern/postern.conf" { print $1 }' "$S/var/lib/postern/conffiles")"
rm -f "$S/etc/postern/postern.conf.postern-tmp"
if stage "$FB" uninstall; then ok "no dpkg: uninstall"; else fail "no dpkg: uninstall" "$(cat "$T/stage.out")"; fi
is "no dpkg: uninstall restores the other MTA's sendmail and links" "other-mta ../sbin/sendmail ../sbin/sendmail ../sbin/sendmail" "$(orig)"
is "no dpkg: nothing left aside" "" "$(ls "$S"/usr/*/*.postern-orig 2>/dev/null)"

# --- without systemd: useradd/groupadd --------------------------------------
sd_root nosd && R2=$T/nosd || { fail "unpack a second root"; exit 1; }
rm -f "$R2/lib/systemd/systemd" "$R2/usr/lib/systemd/systemd"
if DESTDIR=$R2 BUILD=$B "$TOP/tools/install" install >"$T/nosd.out" 2>&1; then ok "install into a root without systemd"
else fail "install into a root without systemd" "$(cat "$T/nosd.out")"; fi
n=0; for u in postern-smtpd postern-queue postern-send postern-virtual; do grep -q "^$u:" "$R2/etc/passwd" && n=$((n + 1)); done
is "without systemd: users made by useradd" "4" "$n"
ginj2=$(awk -F: '$1 == "postern-inject" { print $3 }' "$R2/etc/group")
uq2=$(awk -F: '$1 == "postern-queue" { print $3 }' "$R2/etc/passwd")
is "without systemd: spool-inject set-gid postern-inject" "2755 $ginj2" "$(stat -c '%a %g' "$R2/usr/libexec/postern/spool-inject")"
is "without systemd: spool made by mkspool with the same owners" "1770 $uq2 $ginj2 700 $uq2" \
  "$(stat -c '%a %u %g' "$R2/var/spool/postern/new") $(stat -c '%a %u' "$R2/var/spool/postern/queue")"
gq2=$(awk -F: '$1 == "postern-queue" { print $3 }' "$R2/etc/group")
is "without systemd: queue/, state/, corrupt/ in group postern-queue, as tmpfiles.d gives them" "$gq2 $gq2 $gq2" \
  "$(cd "$R2/var/spool/postern" && stat -c %g queue state corrupt | tr '\n' ' ' | sed 's/ $//')"
us2=$(awk -F: '$1 == "postern-smtpd" { print $3 }' "$R2/etc/passwd")
is "without systemd: the relay verify cache 0700 postern-smtpd" "700 $us2" "$(stat -c '%a %u' "$R2/var/lib/postern/verify")"
DESTDIR=$R2 BUILD=$B "$TOP/tools/install" hub >"$T/nosd-hub" 2>&1
if grep -q 'no systemd: see' "$T/nosd-hub"; then ok "without systemd, install-hub points at the inetd/tcpserver/cron examples"
else fail "without systemd, install-hub points at the examples" "$(cat "$T/nosd-hub")"; fi
if [ -f "$R2/usr/share/doc/postern/examples/inetd.conf" ] && [ -f "$R2/usr/share/doc/postern/examples/crontab" ] \
   && [ -f "$R2/usr/share/doc/postern/examples/tcpserver" ]; then ok "inetd.conf, tcpserver and crontab examples installed"
else fail "inetd.conf, tcpserver and crontab examples installed"; fi

# The example lines at work without systemd: the inetd.conf line's user,
# program and arguments take a message on fds 0/1 (through the set-gid
# spool-inject, with no group given by a unit), and the crontab line's
# command delivers it.
chroot "$R2" useradd -m -s /bin/sh erin
printf 'hostname = nosd.example.test\n' >"$R2/etc/postern/postern.conf"
set -- $(grep -v '^#' "$R2/usr/share/doc/postern/examples/inetd.conf" | grep -m1 ' tcp ')
user=$5 prog=$6; shift 7
cat >"$T/pipe-smtp.py" <<'PY'
import subprocess, sys
p = subprocess.Popen(sys.argv[1:], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
def reply():
    while True:
        l = p.stdout.readline().decode(errors="replace")
        if not l: print("(closed)"); return
        print(l.rstrip())
        if l[3:4] != "-": return
reply()
for c in ["EHLO client.example", "MAIL FROM:<x@example.org>", "RCPT TO:<erin@nosd.example.test>", "DATA",
          "Subject: via inetd\r\n\r\nhello\r\n.", "QUIT"]:
    p.stdin.write((c + "\r\n").encode()); p.stdin.flush(); reply()
p.stdin.close(); p.wait()
PY
out=$(timeout 20 python3 "$T/pipe-smtp.py" chroot --userspec="$user:$user" "$R2" "$prog" "$@" 2>&1)
case "$out" in *"250 2.0.0 Ok: queued as"*) ok "without systemd: the inetd.conf line ($user: $prog $*) queues a message" ;;
  *) fail "without systemd: the inetd.conf line queues a message" "$out" ;; esac
cmd=$(awk '$1 == "*/15" { for (i = 7; i <= NF; i++) printf "%s ", $i }' "$R2/usr/share/doc/postern/examples/crontab")
timeout 30 chroot "$R2" $cmd >"$T/cron.out" 2>&1
if grep -qx 'Subject: via inetd' "$R2"/home/erin/Maildir/new/* 2>/dev/null; then ok "without systemd: the crontab line (${cmd% }) delivers it to erin's Maildir"
else fail "without systemd: the crontab line (${cmd% }) delivers it" "$(cat "$T/cron.out")"; fi

# --- make install on a running system ------------------------------------------
# What an administrator does on a live machine: tools/install (what `make
# install`, `make install-hub`, ... run) inside a booted root, with no
# DESTDIR, so that it talks to the running systemd: units enabled and
# started at once, roles switched live, everything stopped on uninstall.
sd_root live && R3=$T/live || { fail "unpack a third root"; exit 1; }
if sd_boot "$R3"; then ok "a live system: booted"
else fail "a live system: booted" "$(tail -n 20 "$T/boot.log")"; exit 1; fi
src=$R3/usr/src/postern
mkdir -p "$src/build"
(cd "$TOP" && tar -cf - tools units lib/*.5 */*.8 */*/*.8) | tar -C "$src" -xf -
find "$B" -maxdepth 1 -type f -exec cp -p {} "$src/build/" \;
live() { sd_run "$R3" sh -c "cd /usr/src/postern && BUILD=/usr/src/postern/build tools/install $1" >>"$T/live.out" 2>&1; }
active() { sd_run "$R3" systemctl is-active "$@" | tr '\n' ' ' | sed 's/ $//'; }
# An earlier postern's port 25 is running: an Accept=yes socket and its
# per-connection template (as before smtp-listen).  The install must
# remove the template and rebind the socket as Accept=no.
printf '[Socket]\nListenStream=25\nAccept=yes\n[Install]\nWantedBy=sockets.target\n' >"$R3/lib/systemd/system/postern-smtpd.socket"
printf '[Service]\nExecStart=/bin/echo 220 old\nStandardInput=socket\nStandardOutput=socket\n' >"$R3/lib/systemd/system/postern-smtpd@.service"
sd_run "$R3" systemctl daemon-reload; sd_run "$R3" systemctl start postern-smtpd.socket
is "a live system: the old per-connection port 25 runs (Accept=yes)" "active yes" \
  "$(active postern-smtpd.socket) $(sd_run "$R3" systemctl show -p Accept --value postern-smtpd.socket)"
if live install && live hub; then ok "a live system: install and install-hub"
else fail "a live system: install and install-hub" "$(cat "$T/live.out")"; fi
is "a live system: install-hub starts port 25 and the queue daemon at once" "active active" \
  "$(active postern-smtpd.socket postern-queue.service)"
out=$(timeout 20 "$SR" net "$R3" swaks --server 127.0.0.1 --quit-after EHLO --timeout 10 2>&1)
case "$out" in *"<-  220 "*"ESMTP"*) ok "a live system: port 25 answers" ;; *) fail "a live system: port 25 answers" "$out" ;; esac
is "a live system: the upgrade removed the @ template and rebound the socket (Accept=no, smtp-listen runs)" \
  "absent no active" "$([ -e "$R3/lib/systemd/system/postern-smtpd@.service" ] && echo present || echo absent) \
$(sd_run "$R3" systemctl show -p Accept --value postern-smtpd.socket) $(active postern-smtpd.service)"
mainpid() { sd_run "$R3" systemctl show -p MainPID --value postern-queue.service; }
pid1=$(mainpid)
restarted() { p=$(mainpid); [ -n "$p" ] && [ "$p" != 0 ] && [ "$p" != "$pid1" ]; }
if live install && wait_until 10 restarted && grep -q 'restarting postern-queue.service' "$T/live.out"; then
  ok "a live system: installing again (an upgrade) restarts the running queue daemon"
else fail "a live system: installing again restarts the running queue daemon" "pid $pid1 -> $(mainpid)" "$(tail -n 5 "$T/live.out")"; fi
if live nullclient; then ok "a live system: install-nullclient"; else fail "a live system: install-nullclient" "$(cat "$T/live.out")"; fi
is "a live system: install-nullclient stops port 25 and the daemon, starts the flush path and timer" \
  "inactive inactive active active" "$(active postern-smtpd.socket postern-queue.service postern-flush.path postern-flush.timer)"
is "a live system: then nothing listens" "" "$(sd_run "$R3" ss -Hltn)"
if live uninstall && grep -q 'postern install: removed; kept' "$T/live.out"; then ok "a live system: uninstall"
else fail "a live system: uninstall" "$(tail -n 5 "$T/live.out")"; fi
is "a live system: uninstall stops every postern unit" "" "$(sd_run "$R3" systemctl list-units --no-legend --all 'postern*' | grep -v 'not-found' )"
is "a live system: and systemd no longer knows them" "" "$(sd_run "$R3" systemctl list-unit-files --no-legend 'postern*')"
is "a live system: no sendmail left behind (there was none before)" "" "$(ls "$R3/usr/sbin/sendmail" "$R3/usr/lib/sendmail" 2>/dev/null)"
sd_stop "$R3"
