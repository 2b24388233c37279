# make install / uninstall with PREFIX and DESTDIR, and the man pages.
# hwk-test: serial (make install would rebuild what is out of date, under
# the feet of the other scripts)
# dirname without its process.
here=${0%/*}
[[ $0 == */* ]] || here=.
. "$here/../lib/common.sh"
shopt -s globstar dotglob nullglob	# what is installed is found in bash

D=$T_TMP/root
out=$(make -s -C "$TOP" install DESTDIR="$D" PREFIX=/usr 2>&1)
check_eq "make install DESTDIR=... PREFIX=/usr succeeds" 0 $?
for f in usr/bin/hwkeygen usr/bin/hwkey-agent \
    usr/share/man/man1/hwkeygen.1 usr/share/man/man1/hwkey-agent.1; do
	check "installed: /$f" test -f "$D/$f"
done
mapfile -t modes < <(stat -c %a "$D/usr/bin/hwkeygen" "$D/usr/bin/hwkey-agent")
check_eq "binaries are 0755" "755 755" "${modes[*]}"
# found PATTERN: sets FOUND to the installed files that match, one a line.
found() {
	local f
	FOUND=
	# shellcheck disable=SC2231 # $1 is a pattern
	for f in "$D"/**/$1; do FOUND+=${FOUND:+$'\n'}$f; done
}
found 70-hwkeygen.rules
rules=$FOUND
check_match "udev rules installed in a rules.d" "/rules\.d/70-hwkeygen\.rules$" "$rules"
found hwkey-agent.service
unit=$FOUND
check_match "systemd user unit installed" "/systemd/user/hwkey-agent\.service$" "$unit"
check_match "unit runs the installed agent" "^ExecStart=/usr/bin/hwkey-agent " \
    "$(<"$unit")"
found hwkey-agent.socket
sunit=$FOUND
check_match "socket unit installed beside it" \
    "/systemd/user/hwkey-agent\.socket$" "$sunit"
check_line "it listens where the service's -a points" \
    "ListenStream=%t/hwkey-agent/socket" "$(<"$sunit")"
check_line "the socket is the user's alone" "SocketMode=0600" "$(<"$sunit")"
check_line "and so is its folder" "DirectoryMode=0700" "$(<"$sunit")"
check_line "stopping the service keeps the socket's folder" \
    "RuntimeDirectoryPreserve=yes" "$(<"$unit")"
# systemd's own check, on copies whose ExecStart is the installed binary
# (which verify wants to find); an unknown key is only a warning there.
if command -v systemd-analyze >/dev/null; then
	mkdir -p "$T_TMP/units" "$T_TMP/run"
	sed "s|^ExecStart=/usr/bin/|ExecStart=$D/usr/bin/|" "$unit" \
	    >"$T_TMP/units/hwkey-agent.service"
	cp "$sunit" "$T_TMP/units/"
	out=$(cd "$T_TMP/units" && XDG_RUNTIME_DIR=$T_TMP/run \
	    systemd-analyze verify --user --man=no ./hwkey-agent.socket \
	    ./hwkey-agent.service 2>&1)
	check_eq "systemd-analyze verify passes both units, silently" \
	    "0:" "$?:$out"
else
	ok "# SKIP systemd-analyze is not installed"
fi
for c in hwkeygen hwkey-agent; do
	found "*completions/$c"
	check "bash completion for $c installed and parses" bash -n "$FOUND"
done
# The completion offers each option's values (in a shell of its own:
# it defines functions).
comp=$(PATH=$B:$PATH bash -c '. "$1"
c() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _hwkeygen
	echo "${COMPREPLY[*]}"; }
c hwkeygen --login ""; c hwkeygen --backend ""; c hwkeygen -t ecdsa -b ""
c hwkeygen --pin-source ""; c hwkeygen --tcti dev' _ \
    "$TOP/src/completion/hwkeygen" 2>&1)
check_eq "completion: --login, --backend, -b after -t ecdsa, --pin-source, --tcti" \
    "user so
auto pkcs11 tpm2 software
256 384 521
file:
device:/dev/tpmrm0 device:/dev/tpm0" "$comp"
read -r _ version _ < <("$HWK" --version)
check_eq "installed hwkeygen runs" "hwkeygen $version" \
    "$("$D/usr/bin/hwkeygen" --version)"

for m in hwkeygen hwkey-agent; do
	w=$(LC_ALL=C groff -man -ww -z "$TOP/docs/$m.1" 2>&1)
	check_eq "$m.1 renders without warnings" "" "$w"
	check_match "$m.1 documents the exit status" "EXIT STATUS" \
	    "$(<"$TOP/docs/$m.1")"
done

# Every option --help lists is in the man page's synopsis.
syn=" $(sed -n '/^\.SH SYNOPSIS/,/^\.SH DESCRIPTION/{s/\\-/-/g;p}' \
    "$TOP/docs/hwkeygen.1" | grep -Eo -- '--?[a-zA-Z][a-z0-9-]*' |
    tr '\n' ' ')"
missing=
while read -r o; do
	[[ $syn == *" $o "* ]] || missing+=" $o"
done < <("$HWK" --help | grep -Eo -- '^ +-[a-zA-Z]|--[a-z0-9-]+' |
    tr -d ' ' | sort -u)
check_eq "hwkeygen.1: the synopsis lists every option of --help" "" \
    "$missing"

# Another PREFIX: the units and completion follow it where the
# distribution's pkg-config says them relative to its prefix (systemd's,
# Debian's); udev's rules.d stays the one udev reads; make says where.
D2=$T_TMP/root2
out=$(make -s -C "$TOP" install DESTDIR="$D2" PREFIX=/opt/hwk 2>&1)
check_eq "make install PREFIX=/opt/hwk succeeds" 0 $?
check "... the programs under PREFIX" test -x "$D2/opt/hwk/bin/hwkeygen"
if pkg-config --variable=systemduserunitdir systemd >/dev/null 2>&1; then
	check "... the user units under PREFIX too" \
	    test -f "$D2/opt/hwk/lib/systemd/user/hwkey-agent.socket"
	check_line "... and it says so" \
	    "  systemd user units  /opt/hwk/lib/systemd/user" "$out"
fi
check_match "... it says where the udev rules went" \
    '^  udev rules +/.*rules\.d$' "$out"
make -s -C "$TOP" uninstall DESTDIR="$D2" PREFIX=/opt/hwk >/dev/null 2>&1
left=
for f in "$D2"/**; do [ -f "$f" ] && left+=$f$'\n'; done
check_eq "... and make uninstall with the same PREFIX removes it all" "" \
    "${left%$'\n'}"

make -s -C "$TOP" uninstall DESTDIR="$D" PREFIX=/usr >/dev/null 2>&1
left=
for f in "$D"/**; do [ -f "$f" ] && ! [ -L "$f" ] && left+=$f$'\n'; done
check_eq "make uninstall removes every file" "" "${left%$'\n'}"

done_testing
