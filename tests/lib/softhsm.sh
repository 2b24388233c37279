# Sourced after common.sh by tests that need a token: a SoftHSM2 of our own,
# with its configuration and tokens in the test's temp dir.
# shellcheck shell=bash

# The folder of each token softhsm_token made, by label: SoftHSM2's file
# store tells its serial and its objects without a pkcs11-tool run (~50 ms
# of CPU each, and a test asks often).
declare -gA SOFTHSM_DIRS=()

# The SoftHSM2 module, wherever the distribution put it.
softhsm_module() {
	local p
	for p in /usr/lib/softhsm/libsofthsm2.so \
	    /usr/lib/*/softhsm/libsofthsm2.so /usr/lib64/softhsm/libsofthsm2.so \
	    /usr/lib64/pkcs11/libsofthsm2.so /usr/lib/*/pkcs11/libsofthsm2.so \
	    /usr/local/lib/softhsm/libsofthsm2.so; do
		[ -f "$p" ] && { echo "$p"; return 0; }
	done
	return 1
}

# softhsm_setup: sets SOFTHSM2_CONF (a fresh, empty token folder) and
# SOFTHSM_MODULE; every module loaded from then on sees only our tokens.
softhsm_setup() {
	SOFTHSM_MODULE=$(softhsm_module) || {
		echo "# SoftHSM2 is not installed (apt-get install softhsm2)"
		return 1
	}
	mkdir -p "$T_TMP/softhsm/tokens"
	# The file store: softhsm_objects counts its files.
	printf '%s\n' "directories.tokendir = $T_TMP/softhsm/tokens" \
	    'objectstore.backend = file' 'log.level = ERROR' \
	    'slots.removable = false' >"$T_TMP/softhsm/softhsm2.conf"
	export SOFTHSM2_CONF=$T_TMP/softhsm/softhsm2.conf
}

# softhsm_token LABEL PIN SO_PIN: a new initialised token; its folder in
# SOFTHSM_DIRS[LABEL] (the one folder that was not there before).
softhsm_token() {
	local -A old=()
	local d
	for d in "$T_TMP"/softhsm/tokens/*/; do old[$d]=1; done
	softhsm2-util --init-token --free --label "$1" --pin "$2" \
	    --so-pin "$3" >/dev/null || return
	unset 'SOFTHSM_DIRS[$1]'
	for d in "$T_TMP"/softhsm/tokens/*/; do
		[ -f "${d}token.object" ] && [ -z "${old[$d]:-}" ] &&
		    SOFTHSM_DIRS[$1]=${d%/}
	done
	return 0
}

# softhsm_serial LABEL: the token's serial number.  SoftHSM2 names a
# token's folder by a UUID and takes the serial from it (its groups 4
# and 5); pkcs11-tool is asked for a token made otherwise.
softhsm_serial() {
	local d=${SOFTHSM_DIRS[$1]:-} u
	if [ -n "$d" ] && [ -d "$d" ]; then
		u=${d##*/}
		echo "${u:19:4}${u:24:12}"
		return
	fi
	softhsm_serial_tool "$1"
}

# softhsm_serial_tool LABEL: the serial as pkcs11-tool lists it.
softhsm_serial_tool() {
	pkcs11-tool --module "$SOFTHSM_MODULE" --list-token-slots 2>/dev/null |
	    awk -v l="$1" '
		/token label/ { sub(/^[^:]*: /, ""); lab = $0 }
		/serial num/ { sub(/^[^:]*: /, ""); if (lab == l) print; lab = "" }'
}

# softhsm_objects LABEL PIN: how many objects the token holds (logged in).
# The file store keeps each token object in a file <uuid>.object beside
# the token's own token.object, written as the object is made and removed
# as it is destroyed: counting those counts what pkcs11-tool --login
# --list-objects would list (softhsm_objects_tool, for a token made
# otherwise), with no process.
softhsm_objects() {
	local n
	softhsm_count n "$@" && echo "$n"
}

# softhsm_count VAR LABEL PIN: VAR is softhsm_objects' count, with no
# subshell ($(...) forks bash: ~5 ms of CPU here).
softhsm_count() {
	local -n _sc_n=$1
	local _sc_d=${SOFTHSM_DIRS[$2]:-} _sc_f
	if [ -z "$_sc_d" ] || ! [ -d "$_sc_d" ]; then
		_sc_n=$(softhsm_objects_tool "$2" "$3")
		return
	fi
	_sc_n=0
	for _sc_f in "$_sc_d"/*.object; do
		[ -f "$_sc_f" ] && [ "${_sc_f##*/}" != token.object ] &&
		    _sc_n=$((_sc_n + 1))
	done
	return 0
}

# softhsm_objects_tool LABEL PIN: the objects pkcs11-tool lists, logged in.
softhsm_objects_tool() {
	pkcs11-tool --module "$SOFTHSM_MODULE" --token-label "$1" --login \
	    --pin "$2" --list-objects 2>/dev/null | grep -c ' Object;'
}

# softhsm_mark LABEL: remembers the objects the token holds now, for
# softhsm_drop_new.
softhsm_mark() {
	local f
	declare -gA _SOFTHSM_MARK=()
	for f in "${SOFTHSM_DIRS[$1]}"/*.object; do _SOFTHSM_MARK[$f]=1; done
}

# softhsm_drop_new LABEL: removes the objects made since softhsm_mark,
# as C_DestroyObject would (their files; no process of SoftHSM2 is running
# then, and the next reads the folder afresh), in one rm rather than a
# pkcs11-tool --delete-object for each.
softhsm_drop_new() {
	local f
	local -a new=()
	for f in "${SOFTHSM_DIRS[$1]}"/*.object; do
		[ -f "$f" ] && [ -z "${_SOFTHSM_MARK[$f]:-}" ] &&
		    new+=("$f" "${f%.object}.lock")
	done
	[ "${#new[@]}" -eq 0 ] || rm -f "${new[@]}"
}
