# make install / uninstall with PREFIX and DESTDIR, and the man pages.
# hwk-test: serial (make install would rebuild what is out of date, under
# the feet of the other scripts)
. "$(dirname "$0")/../lib/common.sh"

D=$T_TMP/root
out=$(make -s -C "$TOP" install DESTDIR="$D" PREFIX=/usr 2>&1)
check_eq "make install DESTDIR=... PREFIX=/usr succeeds" 0 $?
for f in usr/bin/hwkeygen usr/bin/hwkey-agent \
    usr/share/man/man1/hwkeygen.1 usr/share/man/man1/hwkey-agent.1; do
	check "installed: /$f" test -f "$D/$f"
done
check_eq "binaries are 0755" "755 755" \
    "$(stat -c %a "$D/usr/bin/hwkeygen" "$D/usr/bin/hwkey-agent" | xargs)"
rules=$(find "$D" -name 70-hwkeygen.rules)
check_match "udev rules installed in a rules.d" "/rules\.d/70-hwkeygen\.rules$" "$rules"
unit=$(find "$D" -name hwkey-agent.service)
check_match "systemd user unit installed" "/systemd/user/hwkey-agent\.service$" "$unit"
check_match "unit runs the installed agent" "^ExecStart=/usr/bin/hwkey-agent " \
    "$(<"$unit")"
for c in hwkeygen hwkey-agent; do
	f=$(find "$D" -path "*completions/$c")
	check "bash completion for $c installed and parses" bash -n "$f"
done
check_eq "installed hwkeygen runs" "hwkeygen $("$HWK" --version | cut -d' ' -f2)" \
    "$("$D/usr/bin/hwkeygen" --version)"

for m in hwkeygen hwkey-agent; do
	w=$(LC_ALL=C groff -man -ww -z "$TOP/docs/$m.1" 2>&1)
	check_eq "$m.1 renders without warnings" "" "$w"
	check_match "$m.1 documents the exit status" "EXIT STATUS" \
	    "$(<"$TOP/docs/$m.1")"
done

make -s -C "$TOP" uninstall DESTDIR="$D" PREFIX=/usr >/dev/null 2>&1
check_eq "make uninstall removes every file" "" "$(find "$D" -type f)"

done_testing
