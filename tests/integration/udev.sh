# The udev rules: well-formed, and accepted by udev itself where we can ask.
# hwk-test: serial (it puts our rules into the machine's /run/udev/rules.d)
# dirname without its process.
here=${0%/*}
[[ $0 == */* ]] || here=.
. "$here/../lib/common.sh"

RULES=$TOP/udev/70-hwkeygen.rules

# A structural check that needs nothing: every rule is KEY op "value" pairs.
out=$($PY - "$RULES" <<'PYEOF'
import re, sys
keys = r"(ACTION|SUBSYSTEM|SUBSYSTEMS|KERNEL|KERNELS|DRIVER|DRIVERS|DEVPATH|TAG|TAGS|ATTR\{[^}]+\}|ATTRS\{[^}]+\}|ENV\{[^}]+\}|MODE|OWNER|GROUP|RUN\{[^}]+\}|IMPORT\{[^}]+\}|GOTO|LABEL|TEST|PROGRAM|RESULT)"
pair = re.compile(r'\s*' + keys + r'\s*(==|!=|\+=|-=|:=|=)\s*"[^"]*"\s*(,|$)')
bad = 0
for n, line in enumerate(open(sys.argv[1]), 1):
    line = line.rstrip("\n")
    if not line.strip() or line.lstrip().startswith("#"):
        continue
    pos = 0
    while pos < len(line):
        m = pair.match(line, pos)
        if not m:
            print("line %d: cannot parse at: %s" % (n, line[pos:]))
            bad += 1
            break
        pos = m.end()
    for k, op in re.findall(r'(ACTION|SUBSYSTEM|KERNEL|ATTRS?\{[^}]+\})\s*(=|\+=)(?!=)', line):
        print("line %d: %s is a match key but is assigned" % (n, k))
        bad += 1
sys.exit(1 if bad else 0)
PYEOF
)
check_eq "rules are well-formed key/value pairs" "" "$out"
check_match "TPM resource manager gets uaccess" 'SUBSYSTEM=="tpmrm".*TAG\+="uaccess"' "$(<"$RULES")"
check_match "YubiKeys (1050) are security tokens" 'idVendor\}=="1050".*ID_SECURITY_TOKEN\}="1"' "$(<"$RULES")"
check_match "CCID readers are tagged" '0b\?\?\?\?.*ID_SMARTCARD_READER\}="1"' "$(<"$RULES")"
# first A B: the one udev reads first (byte order).
first() {
	local LC_ALL=C
	if [[ $1 < $2 ]]; then echo "$1"; else echo "$2"; fi
}
check_eq "sorts before 73-seat-late.rules" "70-hwkeygen.rules" \
    "$(first "${RULES##*/}" 73-seat-late.rules)"

# udev's own parser, reading the rules from /run/udev/rules.d (root only).
if [ "$EUID" -eq 0 ] && command -v udevadm >/dev/null &&
    [ -e /sys/class/tty/tty0 ]; then
	mkdir -p /run/udev/rules.d
	tmp=/run/udev/rules.d/70-hwkeygen-lint-$$.rules
	cp "$RULES" "$tmp"
	at_exit "rm -f '$tmp'"
	out=$(udevadm test --action=add /sys/class/tty/tty0 2>&1)
	check_match "udevadm reads the rules" "Reading rules file: $tmp" "$out"
	errors=
	while IFS= read -r l; do
		[[ $l == *"$tmp:"* ]] && errors+=$l$'\n'
	done <<<"$out"
	check_eq "udevadm finds no error in them" "" "${errors%$'\n'}"
	rm -f "$tmp"
else
	ok "# SKIP udevadm lint (needs root and udevadm)"
fi

done_testing
