# tests/systemd-install.sh - `make install DESTDIR=<a Debian 12 root>`:
# users and groups created inside it (systemd-sysusers), owners and modes
# (spool-inject set-gid postern-inject, nothing set-uid), the spool of
# DESIGN.md (systemd-tmpfiles), maps compiled, another MTA's sendmail,
# mailq, newaliases and /usr/lib/sendmail diverted with dpkg-divert and
# restored by uninstall, an edited config kept, install-hub and
# install-nullclient enabling the right units, the useradd/groupadd path
# for systems without systemd.  Root only; boots nothing.
. "${POSTERN_TOP:-$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"
. "$TOP/tests/systemd-lib.bash"
sd_prereq "install into a Debian 12 root"
R=$(sd_root inst) || { fail "unpack a Debian 12 root"; exit 1; }

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
bad=$(for f in "$R"/usr/libexec/postern/*; do [ "$(basename "$f")" = spool-inject ] || stat -c '%a %u %g %n' "$f"; done | grep -v '^755 0 0 ')
is "other programs are 0755 root:root" "" "$bad"
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

# --- without systemd: useradd/groupadd --------------------------------------
R2=$(sd_root nosd) || { fail "unpack a second root"; exit 1; }
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
DESTDIR=$R2 BUILD=$B "$TOP/tools/install" hub >"$T/nosd-hub" 2>&1
if grep -q 'no systemd: see' "$T/nosd-hub"; then ok "without systemd, install-hub points at the inetd/tcpserver/cron examples"
else fail "without systemd, install-hub points at the examples" "$(cat "$T/nosd-hub")"; fi
if [ -f "$R2/usr/share/doc/postern/examples/inetd.conf" ] && [ -f "$R2/usr/share/doc/postern/examples/crontab" ] \
   && [ -f "$R2/usr/share/doc/postern/examples/tcpserver" ]; then ok "inetd.conf, tcpserver and crontab examples installed"
else fail "inetd.conf, tcpserver and crontab examples installed"; fi
