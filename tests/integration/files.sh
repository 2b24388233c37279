# File safety: both files or neither, old pairs kept, modes, links, full
# disks and I/O errors (injected with an LD_PRELOAD shim), Ctrl-C mid-write.
# dirname without its process.
here=${0%/*}
[[ $0 == */* ]] || here=.
. "$here/../lib/common.sh"

FAULT=$B/tests/faultfs.so
cd "$T_TMP" || exit 1
export HOME=$T_TMP/home
mkdir -p "$HOME" d

# Every key here is Ed25519: what is tested is how the files are written,
# whatever they hold, and an RSA key costs a hundred times more to make.
# A pair to protect, and what it holds.
"$HWK" -q -t ed25519 -N '' -C old -f d/id || exit 1
# pair_state: both files' bytes (lengths first, so that the two cannot be
# confused), or what is left of them.
pair_state() {
	local a='' b=''
	IFS= read -rd '' a 2>/dev/null <d/id
	IFS= read -rd '' b 2>/dev/null <d/id.pub
	echo "${#a}:$a${#b}:$b"
}
state_old=$(pair_state)
no_temps() { [ -z "$(temp_files d)" ]; }
# files NAME...: those of the NAMEs that exist, or "none".
files() {
	local f out=
	for f; do [ -e "$f" ] || [ -L "$f" ] && out+="$f "; done
	echo "${out:-none}"
}

for f in write=ENOSPC write=EIO fsync=EIO rename=1 rename=2; do
	out=$(echo y | HWK_FAULT=$f LD_PRELOAD=$FAULT "$HWK" -t ed25519 -N '' \
	    -C new -f d/id 2>&1)
	rc=$?
	check_eq "$f: exit 1" 1 "$rc"
	check_match "$f: says saving failed and why" \
	    'Saving key ".*" failed: (No space left on device|Input/output error)' \
	    "$out"
	check_match "$f: says nothing was written" "nothing was written" "$out"
	check_eq "$f: old pair intact" "$state_old" "$(pair_state)"
	check "$f: no temporary files left" no_temps
done

# Without an old pair: neither file appears.
out=$(HWK_FAULT=rename=2 LD_PRELOAD=$FAULT "$HWK" -t ed25519 -N '' -f d/new \
    2>&1)
check_eq "second rename fails: no private file left alone" "none" \
    "$(files d/new d/new.pub)"

# --backup and a failure: the old pair stays in place, no backup made.
HWK_FAULT=write=ENOSPC LD_PRELOAD=$FAULT "$HWK" -q -t ed25519 -N '' \
    --backup -f d/id >/dev/null 2>&1
check_eq "--backup with a full disk: old pair in place" "$state_old" \
    "$(pair_state)"
check_eq "--backup with a full disk: no backup left" "none" \
    "$(files d/key_backup/*)"

# A signal while the files are written (TERM: background jobs of a script
# ignore INT): they are whole, or not there.
HWK_FAULT=slowfsync=1 LD_PRELOAD=$FAULT "$HWK" -q -t ed25519 -N '' -C int \
    -f d/int >/dev/null 2>&1 &
pid=$!
for ((i = 0; i < 100; i++)); do
	[ -n "$(temp_files d)" ] && break
	nap 0.05
done
kill -TERM "$pid"
wait "$pid"
rc=$?
check_eq "signal mid-write: ends by the signal" 143 "$rc"
check "signal mid-write: no temporary files left" no_temps
if [ -e d/int ] || [ -e d/int.pub ]; then
	t='' b=''
	read -r t b _ <d/int.pub
	read -r t2 b2 _ < <(ssh-keygen -y -f d/int)
	check_eq "signal mid-write: the pair that exists matches" \
	    "$t $b" "$t2 $b2"
else
	ok "signal mid-write: neither file written"
fi

# As ssh-keygen's: the private key 0600 whatever the umask, the .pub 0644
# less the umask.
(umask 077 && exec "$HWK" -q -t ed25519 -N '' -f d/u077)
(umask 000 && exec "$HWK" -q -t ed25519 -N '' -f d/u000)
check_eq "umask 077: .pub 0600, as ssh-keygen's" 600 "$(mode_of d/u077.pub)"
check_eq "umask 000: private still 0600" 600 "$(mode_of d/u000)"
check_eq "umask 000: .pub no more than 0644" 644 "$(mode_of d/u000.pub)"

# Never through a symbolic link.
ln -s "$T_TMP/target" d/link
out=$("$HWK" -q -t ed25519 -N '' -f d/link 2>&1)
check_eq "symlink: exit 1" 1 $?
check_match "symlink: says why" "is a symbolic link" "$out"
check_eq "symlink: target not created" "absent" \
    "$([ -e "$T_TMP/target" ] && echo present || echo absent)"
check_match "symlink .pub beside: refused too" "symbolic link" \
    "$(ln -sf "$T_TMP/t2" d/pl.pub; "$HWK" -q -t ed25519 -N '' -f d/pl 2>&1)"

# A folder that does not exist, or that we cannot write.
out=$("$HWK" -q -t ed25519 -N '' -f "$T_TMP/nope/id" 2>&1)
check_eq "missing folder: exit 1" 1 $?
check_match "missing folder: says what to do" "Create the directory first" \
    "$out"
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
	mkdir -p ro && chmod 755 ro && cp "$HWK" hwk && chmod 755 hwk . "$T_TMP"
	out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    env HOME=/nonexistent ./hwk -q -t ed25519 -N '' -f ro/id 2>&1)
	rc=$?
	check_eq "unwritable folder: exit 1" 1 "$rc"
	check_match "unwritable folder: says why" "Permission denied" "$out"
	check_eq "unwritable folder: nothing there" "" "$(ls ro)"
else
	ok "# SKIP unwritable folder (needs root to switch user)"
fi

# A real full file system, when we may mount one.
if [ "$(id -u)" -eq 0 ] && mkdir -p small &&
    mount -t tmpfs -o size=4k tmpfs small 2>/dev/null; then
	at_exit "umount '$T_TMP/small'"
	out=$("$HWK" -q -t ed25519 -N '' -f small/id 2>&1)
	rc=$?
	check_eq "full tmpfs: exit 1" 1 "$rc"
	check_match "full tmpfs: no space left" "No space left on device" "$out"
	check_eq "full tmpfs: nothing left behind" "" "$(ls -A small)"
else
	ok "# SKIP full tmpfs (cannot mount here)"
fi

done_testing
