# Sourced by common.sh: every test reads a p11-kit configuration of its own
# and never the host's, so modules the host registers (one that fails to
# start, say) play no part.  Tests register what they want with
# p11kit_register.
# shellcheck shell=bash

# p11kit_isolate ARGS...: before the temp dir is made.  p11-kit reads a
# user's ~/.config/pkcs11, but never root's: as root the script runs again
# in a mount namespace of its own, where the system's module folders are
# the test's.  Without one, the host's configuration is the one read.
p11kit_isolate() {
	[ "$EUID" -eq 0 ] || return 0
	[ -n "${HWK_P11KIT_NS:-}" ] && return 0
	if unshare --mount --propagation private true 2>/dev/null; then
		export HWK_P11KIT_NS=1
		exec unshare --mount --propagation private -- bash "$0" "$@"
	fi
	echo "# p11-kit: no mount namespace here, the host's modules count"
}

# p11kit_setup: the test's own configuration, with no module registered,
# in $HOME/.config/pkcs11 for HOME=$T_TMP/home (what the tests use).
p11kit_setup() {
	P11KIT_DIR=$T_TMP/home/.config/pkcs11
	# (common.sh made them with the temp dir.)
	[ -d "$P11KIT_DIR/modules" ] && [ -d "$T_TMP/p11kit-etc" ] ||
	    mkdir -p "$P11KIT_DIR/modules" "$T_TMP/p11kit-etc"
	printf 'user-config: only\n' >"$P11KIT_DIR/pkcs11.conf"
	# Only in a namespace other than our parent's, the one p11kit_isolate
	# left: never over the host's own folders (HWK_P11KIT_NS set by hand).
	[ -e "/proc/$PPID/ns/mnt" ] &&
	    ! [[ /proc/self/ns/mnt -ef /proc/$PPID/ns/mnt ]] || return 0
	# Root's p11-kit reads /etc/pkcs11 and the packages' module folder.
	[ -d /etc/pkcs11 ] && mount --bind "$T_TMP/p11kit-etc" /etc/pkcs11
	[ -d /usr/share/p11-kit/modules ] &&
	    mount --bind "$P11KIT_DIR/modules" /usr/share/p11-kit/modules
	return 0
}

# p11kit_register NAME MODULE: p11-kit lists MODULE under NAME.
p11kit_register() {
	printf 'module: %s\n' "$2" >"$P11KIT_DIR/modules/$1.module"
}

# p11kit_unregister NAME
p11kit_unregister() {
	rm -f "$P11KIT_DIR/modules/$1.module"
}
