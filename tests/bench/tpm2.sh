# make bench, tpm2: on one swtpm, N runs of each taken in turns (the order
# rotates every round): our TPM RSA-2048 keygen, tpm2-openssl's genpkey,
# and a bare tpm2_create under a ready persistent parent; then the same
# three for ECDSA P-256.  It prints the medians and their ratios, the TPM
# commands each one sends, and the signatures per second of a TPM key
# kept loaded, RSA-2048 and ECDSA P-256, as the agent keeps it.
#
# All three go through tcti_spy.so, which also times each TPM command.
# The TPM's own RSA key generation (its TPM2_Create) is the same command
# for all three and its time is random (a prime search: 80 to 500 ms on
# swtpm), so the medians of the whole runs carry that noise; the medians
# of "run minus the TPM's TPM2_Create" compare what each tool adds.
# BENCH_N sets N (default 41, at least 20).
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/swtpm.sh"

N=${BENCH_N:-41}
[ "$N" -ge 20 ] || N=20
SPY=$B/tests/tcti_spy.so
cd "$T_TMP" || exit 1
export HOME=$T_TMP/home
mkdir -p "$HOME"
make -s -C "$TOP" build/tests/tcti_spy.so \
    build/tests/tools/hwk-sign >/dev/null || exit 1
start_swtpm || exit 1
# The ready parent: the same ECC P-256 SRK our keygen re-creates, kept.
tpm2_createprimary -Q -C o -G ecc -c srk.ctx \
    -a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|restricted|decrypt' &&
    tpm2_evictcontrol -Q -C o -c srk.ctx 0x81000001 &&
    tpm2_flushcontext -t || exit 1
export TPM2TOOLS_TCTI="$SPY:$SWTPM_TCTI" TPM2OPENSSL_TCTI="$SPY:$SWTPM_TCTI"

ours=("$HWK" --backend tpm2 -N '' -q -f "$T_TMP/k")
theirs=(openssl genpkey -provider tpm2 -algorithm RSA -pkeyopt bits:2048
    -out "$T_TMP/o.pem")
bare=(tpm2_create -Q -C 0x81000001 -G rsa2048 -u "$T_TMP/c.pub"
    -r "$T_TMP/c.priv")

# count NAME CMD...: the TPM commands CMD sends.
count() {
	local log=$T_TMP/$1.log
	shift
	rm -f "$log"
	HWK_SPY_LOG=$log "$@" >/dev/null 2>&1 </dev/null
	rm -f "$T_TMP/k" "$T_TMP/k.pub" "$T_TMP/o.pem" "$T_TMP/c.pub" \
	    "$T_TMP/c.priv"
	wc -l <"$log"
}
names() {
	sed 's/0x0000018a/TestParms/; s/0x00000131/CreatePrimary/;
	    s/0x00000176/StartAuthSession/; s/0x00000153/Create/;
	    s/0x00000165/FlushContext/; s/0x00000173/ReadPublic/;
	    s/0x0000017a/GetCapability/; s/0x00000157/Load/;
	    s/0x00000178/ECC_Parameters/' "$T_TMP/$1.log" |
	    tr '\n' ' '
}
# ECDSA P-256.
ec_ours=("$HWK" --backend tpm2 -t ecdsa -b 256 -N '' -q -f "$T_TMP/k")
ec_name="hwkeygen (ours)"
ec_theirs=(openssl genpkey -provider tpm2 -algorithm EC -pkeyopt
    group:P-256 -out "$T_TMP/o.pem")
ec_bare=(tpm2_create -Q -C 0x81000001 -G ecc256 -u "$T_TMP/c.pub"
    -r "$T_TMP/c.priv")

c_ours=$(count ours "${ours[@]}")
c_pass=$(count pass "$HWK" --backend tpm2 -N 'a passphrase' -q -f "$T_TMP/k")
c_theirs=$(count theirs "${theirs[@]}")
c_bare=$(count bare "${bare[@]}")
c_ec_ours=$(count ec_ours "${ec_ours[@]}")
c_ec_theirs=$(count ec_theirs "${ec_theirs[@]}")
c_ec_bare=$(count ec_bare "${ec_bare[@]}")

# Each command as one argument, its words joined by the unit separator.
join() { local IFS=$'\x1f'; echo "$*"; }
# compare TITLE OURS_NAME OURS THEIRS BARE: N runs of each, in turns.
compare() {
	$PY - "$N" "$T_TMP" "$1" "$2" "$3" "$4" "$5" <<'PYEOF'
import os, random, statistics, subprocess, sys, time

n, tmp, title, ours_name = int(sys.argv[1]), sys.argv[2], sys.argv[3], \
    sys.argv[4]
cmds = [a.split("\x1f") for a in sys.argv[5:8]]
runs = [
    (ours_name, cmds[0], [tmp + "/k", tmp + "/k.pub"]),
    ("openssl genpkey", cmds[1], [tmp + "/o.pem"]),
    ("tpm2_create", cmds[2], [tmp + "/c.pub", tmp + "/c.priv"]),
]
total = [[] for _ in runs]
besides = [[] for _ in runs]    # the run minus the TPM's TPM2_Create
times_file = tmp + "/times"
env = dict(os.environ, HWK_SPY_TIMES=times_file)

def once(i):
    name, cmd, outs = runs[i]
    if os.path.exists(times_file):
        os.remove(times_file)
    t = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    dt = time.perf_counter() - t
    create = sum(int(us) for cc, us in
                 (l.split() for l in open(times_file)) if cc == "0x00000153")
    total[i].append(dt * 1000)
    besides[i].append(dt * 1000 - create / 1000)
    for f in outs:
        os.remove(f)

for i in range(len(runs)):          # warm the caches once, not counted
    once(i)
    total[i].clear()
    besides[i].clear()
for r in range(n):
    for k in range(len(runs)):      # ours, theirs, bare; rotated each round
        once((r + k) % len(runs))

def ratio_range(a, b):
    # 95% of the ratios of medians of resampled runs: how far noise goes.
    rng = random.Random(1)
    r = sorted(statistics.median(rng.choices(a, k=len(a))) /
               statistics.median(rng.choices(b, k=len(b)))
               for _ in range(2000))
    return r[50], r[1949]

def report(title, data, targets):
    med = [statistics.median(d) for d in data]
    print(title)
    for (name, _, _), m, d in zip(runs, med, data):
        print("  %-16s median %6.1f ms   (min %6.1f, max %6.1f)" % (
              name, m, min(d), max(d)))
    for j, target in targets:
        ratio = med[0] / med[j]
        lo, hi = ratio_range(data[0], data[j])
        print("  ours / %-15s %5.2f  (noise: %.2f..%.2f)  target <= %.2f: "
              "%s" % (runs[j][0], ratio, lo, hi, target,
              "met" if ratio <= target else "MISSED"))

print("%s keygen on swtpm, %d runs of each, taken in turns" % (title, n))
report("Whole run (what a user waits for):", total, ((1, 1.0), (2, 1.05)))
report("Whole run minus the TPM's own TPM2_Create (what each tool adds):",
       besides, ((1, 1.0), (2, 1.05)))
PYEOF
}
compare RSA-2048 "hwkeygen (ours)" "$(join "${ours[@]}")" \
    "$(join "${theirs[@]}")" "$(join "${bare[@]}")"
rc=$?
echo "TPM commands sent by one keygen:"
echo "  hwkeygen, no passphrase   $c_ours: $(names ours)"
echo "  hwkeygen, a passphrase    $c_pass: $(names pass)"
echo "  openssl genpkey           $c_theirs: $(names theirs)"
echo "  tpm2_create               $c_bare: $(names bare)"
if [ "$c_ours" -le 4 ]; then echo "  ours <= 4: met"; else
	echo "  ours <= 4: MISSED"; fi

compare "ECDSA P-256" "$ec_name" "$(join "${ec_ours[@]}")" \
    "$(join "${ec_theirs[@]}")" "$(join "${ec_bare[@]}")" || rc=1
echo "TPM commands sent by one ECDSA P-256 keygen:"
echo "  ${ec_name%% *}, no passphrase $c_ec_ours: $(names ec_ours)"
echo "  openssl genpkey           $c_ec_theirs: $(names ec_theirs)"
echo "  tpm2_create               $c_ec_bare: $(names ec_bare)"
if [ "$c_ec_ours" -le "$c_ours" ]; then
	echo "  ECDSA's <= RSA's ($c_ours): met"
else
	echo "  ECDSA's <= RSA's ($c_ours): MISSED"
fi

# Signatures by a key loaded once and kept, as hwkey-agent keeps it: the
# TPM's TPM2_Sign and our checks, without the agent's socket.
"$HWK" --backend tpm2 -N '' -q -f "$T_TMP/srsa" &&
    "$HWK" --backend tpm2 -t ecdsa -b 256 -N '' -q -f "$T_TMP/sec" \
    </dev/null || exit 1
echo "the data an SSH server would have us sign" >"$T_TMP/data"
S=$((N * 5))
$PY - "$B/tests/tools/hwk-sign" "$T_TMP" "$S" <<'PYEOF' || rc=1
import statistics, subprocess, sys, time

sign, tmp, s = sys.argv[1], sys.argv[2], int(sys.argv[3])
print("Signatures per second, a TPM key kept loaded (%d in a row, median "
      "of 5):" % s)
rates = {}
for name, key in (("RSA-2048 (rsa-sha2-256)", "srsa"),
                  ("ECDSA P-256", "sec")):
    r = []
    for _ in range(5):
        t = time.perf_counter()
        subprocess.run([sign, "-n", str(s), "-f", tmp + "/" + key, "-i",
                        tmp + "/data", "-s", tmp + "/sig"], check=True,
                       stdin=subprocess.DEVNULL)
        r.append(s / (time.perf_counter() - t))
    rates[name] = statistics.median(r)
    print("  %-24s %7.1f/s" % (name, rates[name]))
PYEOF
exit $rc
