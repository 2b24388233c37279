# Sourced after common.sh by tests that need a token: a SoftHSM2 of our own,
# with its configuration and tokens in the test's temp dir.
# shellcheck shell=bash

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
	cat >"$T_TMP/softhsm/softhsm2.conf" <<CFG
directories.tokendir = $T_TMP/softhsm/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
CFG
	export SOFTHSM2_CONF=$T_TMP/softhsm/softhsm2.conf
}

# softhsm_token LABEL PIN SO_PIN: a new initialised token.
softhsm_token() {
	softhsm2-util --init-token --free --label "$1" --pin "$2" \
	    --so-pin "$3" >/dev/null
}

# softhsm_serial LABEL: the token's serial number.
softhsm_serial() {
	pkcs11-tool --module "$SOFTHSM_MODULE" --list-token-slots 2>/dev/null |
	    awk -v l="$1" '
		/token label/ { sub(/^[^:]*: /, ""); lab = $0 }
		/serial num/ { sub(/^[^:]*: /, ""); if (lab == l) print; lab = "" }'
}

# softhsm_objects LABEL PIN: how many objects the token holds (logged in).
softhsm_objects() {
	pkcs11-tool --module "$SOFTHSM_MODULE" --token-label "$1" --login \
	    --pin "$2" --list-objects 2>/dev/null | grep -c ' Object;'
}
