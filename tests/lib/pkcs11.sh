# Sourced after common.sh and softhsm.sh by the pkcs11_*.sh tests: a
# SoftHSM2 token of the test's own (hwk-test), its PINs in files, the fake
# modules, what tells what a token holds, and readers of stubs, keys and
# logs that do in bash what sed, cut, grep and ls did (a process costs
# more than its check on this machine, and so does a $(...) of bash).
# shellcheck shell=bash

FAULT=$B/tests/pkcs11_fault.so
STRICT=$B/tests/pkcs11_strict.so
PIN=246810
SOPIN=13579135
MGMKEY=010203040506070801020304050607080102030405060708
# The fake modules live in build/tests/, which stubs may not name unless
# allowed (the default is /usr/lib*/*,/usr/local/lib*/*).
ALLOW=(--module-allow "$B/tests/*")

# pkcs11_setup: into the temp dir, with a HOME of its own, and a token
# hwk-test (serial $SERIAL) in SoftHSM2 ($M) that the fake modules forward
# to; the PIN in ./pin, a wrong one in ./badpin, ykcs11's management key in
# ./mgmkey.
pkcs11_setup() {
	cd "$T_TMP" || return 1
	export HOME=$T_TMP/home
	softhsm_setup || return 1
	M=$SOFTHSM_MODULE
	softhsm_token hwk-test "$PIN" "$SOPIN" || return 1
	SERIAL=$(softhsm_serial hwk-test)
	printf '%s\n' "$PIN" >pin
	printf 'wrong-pin\n' >badpin
	printf '%s\n' "$MGMKEY" >mgmkey
	chmod 600 pin badpin mgmkey
	export HWK_FAKE_REAL=$M HWK_STRICT_USER_PIN=$PIN
}

# hwkeygen on our token, PIN from the file unless told otherwise.
gen() { "$HWK" -q --backend pkcs11 --module "$M" --pin-source file:pin "$@"; }
# objects [VAR]: how many objects our token holds, printed or into VAR.
# shellcheck disable=SC2120 # (no argument: print)
objects() {
	if [ $# -eq 0 ]; then softhsm_objects hwk-test "$PIN"; else
		softhsm_count "$1" hwk-test "$PIN"; fi
}
# stub_id [-v VAR] STUB: the id= of a stub, percent-encoded as p11-kit
# writes it (the last one of each line, as
# sed -n 's/.*[;:]id=\([^;?]*\).*/\1/p' prints it); with -v, into VAR.
stub_id() {
	local _si_l _si_re='^.*[;:]id=([^;?]*)' _si_out=
	if [ "$1" = -v ]; then
		local -n _si_v=$2
		shift 2
	else
		local _si_v
	fi
	while IFS= read -r _si_l || [ -n "$_si_l" ]; do
		[[ $_si_l =~ $_si_re ]] && _si_out+=${BASH_REMATCH[1]}$'\n'
	done <"$1"
	_si_v=$_si_out
	while [[ $_si_v == *$'\n' ]]; do _si_v=${_si_v%$'\n'}; done	# as $(...)
	[ -R _si_v ] || printf '%s' "$_si_out"
}
# blob [-v VAR]: each line of stdin up to its second space, as
# cut -d' ' -f1,2 (a public key's type and key, without its comment);
# with -v, into VAR.
# shellcheck disable=SC2120 # (no argument: print)
blob() {
	local _bl_l _bl_re='^([^ ]* [^ ]*) ' _bl_out=
	if [ "${1:-}" = -v ]; then
		local -n _bl_v=$2
	else
		local _bl_v
	fi
	while IFS= read -r _bl_l || [ -n "$_bl_l" ]; do
		[[ $_bl_l =~ $_bl_re ]] && _bl_l=${BASH_REMATCH[1]}
		_bl_out+=$_bl_l$'\n'
	done
	_bl_v=$_bl_out
	while [[ $_bl_v == *$'\n' ]]; do _bl_v=${_bl_v%$'\n'}; done	# as $(...)
	[ -R _bl_v ] || printf '%s' "$_bl_out"
}
# pick_object VAR CLASS ID LISTING: VAR is the block of pkcs11-tool's
# --list-objects LISTING for the one object of a class (pubkey, privkey)
# with that id (hex, either case), or empty.
pick_object() {
	local -n _pk_v=$1
	local _pk_l _pk_blk='' _pk_hit=-1 _pk_want
	case $2 in
	pubkey) _pk_want='Public Key Object' ;;
	*) _pk_want='Private Key Object' ;;
	esac
	while IFS= read -r _pk_l; do
		if [[ $_pk_l == *'Object;'* ]]; then
			[ "$_pk_hit" -eq 1 ] && break
			_pk_blk='' _pk_hit=-1
			[[ $_pk_l == "$_pk_want"* ]] && _pk_hit=0
		fi
		_pk_blk+=${_pk_blk:+$'\n'}$_pk_l
		[[ $_pk_hit -eq 0 &&
		    $_pk_l =~ ^[[:space:]]*ID:[[:space:]]+([^[:space:]]+) &&
		    ${BASH_REMATCH[1],,} == "${3,,}" ]] && _pk_hit=1
	done <<<"$4"
	_pk_v=
	[ "$_pk_hit" -eq 1 ] && _pk_v=$_pk_blk
	return 0
}
# alone STUB: a copy without its .pub, so that -y must ask the token.
alone() { cp "$1" "$1-alone" && echo "$1-alone"; }
# present [-v VAR] PATH...: those of PATH that exist, one a line; for a
# glob that matches nothing, nothing (as ls 2>/dev/null, without its
# process).  With -v, into VAR: no $(...) to fork (~5 ms of CPU here).
present() {
	local _pr_f
	if [ "${1:-}" = -v ]; then
		local -n _pr_v=$2
		shift 2
		_pr_v=
		for _pr_f in "$@"; do
			if [ -e "$_pr_f" ] || [ -L "$_pr_f" ]; then
				_pr_v+=${_pr_v:+$'\n'}$_pr_f
			fi
		done
		return 0
	fi
	for _pr_f in "$@"; do
		if [ -e "$_pr_f" ] || [ -L "$_pr_f" ]; then
			printf '%s\n' "$_pr_f"
		fi
	done
}
# count_lines REGEX FILE: how many lines of FILE match the extended regex
# (grep -Ec without its process; nothing for a file that is not there).
count_lines() {
	local l n=0
	[ -f "$2" ] || return 2
	while IFS= read -r l || [ -n "$l" ]; do
		[[ $l =~ $1 ]] && n=$((n + 1))
	done <"$2"
	echo "$n"
}
# in_file REGEX FILE: a line of FILE matches (grep -Eq).
in_file() {
	local l
	[ -f "$2" ] || return 2
	while IFS= read -r l || [ -n "$l" ]; do
		[[ $l =~ $1 ]] && return 0
	done <"$2"
	return 1
}
# join_lines REGEX FILE: the lines of FILE that match, joined by spaces
# (grep -E REGEX FILE | tr '\n' ' ' | sed 's/ $//').
join_lines() {
	local l IFS=' '
	local -a hit=()
	[ -f "$2" ] || return 2
	while IFS= read -r l || [ -n "$l" ]; do
		[[ $l =~ $1 ]] && hit+=("$l")
	done <"$2"
	printf '%s\n' "${hit[*]}"
}
