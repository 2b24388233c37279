# Our PKCS#11 RSA-2048 and ECDSA P-256 keygen beside pkcs11-tool
# --keypairgen on the same SoftHSM2 token: runs interleaved (ours,
# theirs, ours...) so that a busy machine slows both alike, the median of
# each, and their ratio.  A
# keygen's time depends on how soon it finds primes, so single runs vary
# fivefold: the ratio comes with a bootstrap 95% interval, and a run
# through a forwarding module that times the token's keygen shows what
# each tool costs besides it.
# BENCH_N=runs of each (default 101, at least 20); BENCH_KEEP=DIR keeps
# the raw times.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/softhsm.sh"

N=${BENCH_N:-101}
BATCH=10	# pairs of keys per token: a fresh token now and then
[ "$N" -ge 20 ] 2>/dev/null || { echo "BENCH_N must be 20 or more"; exit 2; }
cd "$T_TMP" || exit 1
export HOME=$T_TMP/home
mkdir -p "$HOME"
softhsm_setup || exit 1
M=$SOFTHSM_MODULE
PIN=11112222
printf '%s\n' "$PIN" >pin
chmod 600 pin	# PIN files must be private

# Milliseconds the command takes, wall clock; its output dropped.
ms() {
	local t0=$EPOCHREALTIME t1
	"$@" >/dev/null 2>&1 || return 1
	t1=$EPOCHREALTIME
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", (b - a) * 1000 }'
}
# A new empty token, so that no run searches through many keys.
new_token() {
	softhsm2-util --delete-token --token bench >/dev/null 2>&1
	softhsm_token bench "$PIN" 33334444
}

: >ours.ms
: >theirs.ms
for i in $(seq "$N"); do
	if [ $(((i - 1) % BATCH)) -eq 0 ]; then
		new_token || { echo "cannot make a SoftHSM2 token"; exit 1; }
	fi
	# Ours takes the first free one-byte id, as it does for users.
	ms "$HWK" -q --backend pkcs11 --module "$M" --pin-source file:pin \
	    -C bench -f "k$i" >>ours.ms || { echo "hwkeygen failed"; exit 1; }
	ms pkcs11-tool --module "$M" --token-label bench --login --pin "$PIN" \
	    --keypairgen --key-type rsa:2048 --id "$(printf 8%03x "$i")" \
	    --label bench >>theirs.ms || { echo "pkcs11-tool failed"; exit 1; }
	rm -f "k$i" "k$i.pub"
done
# The same again through the forwarding test module, which times the
# token's own C_GenerateKeyPair: what is left is each tool's own cost.
FAULT=$B/tests/pkcs11_fault.so
export HWK_FAKE_REAL=$M
N2=$(((N + 1) / 2))
: >ours_o.ms
: >theirs_o.ms
# own_ms CMD...: the command's time less the keygen inside it.
own_ms() {
	local t k
	rm -f call.log
	t=$(HWK_FAKE_LOG=$T_TMP/call.log ms "$@") || return 1
	k=$(sed -n 's/^keygen_ms //p' call.log)
	awk -v t="$t" -v k="$k" 'BEGIN { printf "%.3f\n", t - k }'
}
for i in $(seq "$N2"); do
	if [ $(((i - 1) % BATCH)) -eq 0 ]; then
		new_token || { echo "cannot make a SoftHSM2 token"; exit 1; }
	fi
	own_ms "$HWK" -q --backend pkcs11 --module "$FAULT" \
	    --pin-source file:pin -C bench -f "o$i" >>ours_o.ms ||
	    { echo "hwkeygen failed"; exit 1; }
	own_ms pkcs11-tool --module "$FAULT" --token-label bench --login \
	    --pin "$PIN" --keypairgen --key-type rsa:2048 \
	    --id "$(printf 8%03x "$i")" --label bench >>theirs_o.ms ||
	    { echo "pkcs11-tool failed"; exit 1; }
	rm -f "o$i" "o$i.pub"
done

# The fixed costs without the keygen's luck: load the module, find the
# token, read the public key back (-y on a stub vs ssh-keygen -D).
"$HWK" -q --backend pkcs11 --module "$M" --pin-source file:pin -C ref \
    -f ref >/dev/null 2>&1 || { echo "hwkeygen failed"; exit 1; }
: >ours_y.ms
: >theirs_y.ms
for i in $(seq "$N"); do
	ms "$HWK" -y -f ref >>ours_y.ms || { echo "hwkeygen -y failed"; exit 1; }
	ms ssh-keygen -D "$M" >>theirs_y.ms || { echo "ssh-keygen failed"; exit 1; }
done
# ECDSA P-256: no primes to find, so the tools' own costs show more.
: >ours_ec.ms
: >theirs_ec.ms
if "$HWK" -t ecdsa --list 2>&1 | grep -q "is not supported"; then
	echo "ECDSA: skipped, hwkeygen -t ecdsa is not there yet"
else
	for i in $(seq "$N"); do
		if [ $(((i - 1) % BATCH)) -eq 0 ]; then
			new_token ||
			    { echo "cannot make a SoftHSM2 token"; exit 1; }
		fi
		ms "$HWK" -q --backend pkcs11 --module "$M" \
		    --pin-source file:pin -t ecdsa -b 256 -C bench \
		    -f "e$i" >>ours_ec.ms || { echo "hwkeygen failed"; exit 1; }
		ms pkcs11-tool --module "$M" --token-label bench --login \
		    --pin "$PIN" --keypairgen --key-type EC:prime256v1 \
		    --id "$(printf 8%03x "$i")" --label bench >>theirs_ec.ms ||
		    { echo "pkcs11-tool failed"; exit 1; }
		rm -f "e$i" "e$i.pub"
	done
fi
[ -n "${BENCH_KEEP:-}" ] && cp ./*.ms "$BENCH_KEEP"/
$PY - "$N" ours.ms theirs.ms ours_y.ms theirs_y.ms "$N2" ours_o.ms \
    theirs_o.ms ours_ec.ms theirs_ec.ms <<'PYEOF'
import random, statistics, sys
n = int(sys.argv[1])
ours = [float(l) for l in open(sys.argv[2])]
theirs = [float(l) for l in open(sys.argv[3])]
mo, mt = statistics.median(ours), statistics.median(theirs)
rng = random.Random(7)
ratios = sorted(
    statistics.median(rng.choices(ours, k=len(ours))) /
    statistics.median(rng.choices(theirs, k=len(theirs)))
    for _ in range(2000))
lo, hi = ratios[50], ratios[1949]
print("RSA-2048 keygen on a SoftHSM2 token, %d runs each, interleaved" % n)
print("  hwkeygen --backend pkcs11    median %7.1f ms" % mo)
print("  pkcs11-tool --keypairgen     median %7.1f ms" % mt)
print("  ratio %.3f (95%% interval %.2f-%.2f; target <= 1.05)%s" % (
    mo / mt, lo, hi, "" if mo / mt <= 1.05 else ": above target"))
n2 = int(sys.argv[6])
oo = statistics.median(float(l) for l in open(sys.argv[7]))
to = statistics.median(float(l) for l in open(sys.argv[8]))
print("Time outside the token's C_GenerateKeyPair, %d runs each" % n2)
print("  hwkeygen --backend pkcs11    median %7.1f ms" % oo)
print("  pkcs11-tool --keypairgen     median %7.1f ms" % to)
print("  difference %+.1f ms per key" % (oo - to))
oy = statistics.median(float(l) for l in open(sys.argv[4]))
ty = statistics.median(float(l) for l in open(sys.argv[5]))
print("Reading the key back from the token, %d runs each, interleaved" % n)
print("  hwkeygen -y (stub)           median %7.1f ms" % oy)
print("  ssh-keygen -D                median %7.1f ms" % ty)
print("  ratio %.3f" % (oy / ty))
oe = [float(l) for l in open(sys.argv[9])]
te = [float(l) for l in open(sys.argv[10])]
if oe and te:
    me, mte = statistics.median(oe), statistics.median(te)
    ratios = sorted(
        statistics.median(rng.choices(oe, k=len(oe))) /
        statistics.median(rng.choices(te, k=len(te)))
        for _ in range(2000))
    print("ECDSA P-256 keygen on a SoftHSM2 token, %d runs each, "
        "interleaved" % len(oe))
    print("  hwkeygen -t ecdsa            median %7.1f ms" % me)
    print("  pkcs11-tool EC:prime256v1    median %7.1f ms" % mte)
    # Most of a run is starting the process and the module: no primes.
    print("  ratio %.3f (95%% interval %.2f-%.2f)" % (
        me / mte, ratios[50], ratios[1949]))
PYEOF
