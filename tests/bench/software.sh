# Software key generation beside ssh-keygen: RSA-3072 and -4096, ECDSA
# P-256 and Ed25519, and opening an encrypted key.  hwkeygen races one RSA
# keygen per CPU (up to 4): it spends more CPU time than wall time, and the
# CPU column shows how much; "1 CPU" is hwkeygen held to one by taskset.
. "$(dirname "$0")/../lib/common.sh"
N=${BENCH_N:-31}
cd "$T_TMP" || exit 1
# "auto" also looks for tokens and a TPM before it settles on software.
echo "RSA-3072 keygen, no passphrase, $N runs each, interleaved:"
$PY "$TOP/tests/bench/timeit.py" --keygen "$B/tests/keygentime.so" "$N" \
    "hwkeygen (software)" \
    "'$HWK' -q --backend software -t rsa -b 3072 -N '' -C bench -f h{i}" \
    "hwkeygen (auto)" "'$HWK' -q -t rsa -b 3072 -N '' -C bench -f a{i}" \
    "hwkeygen (1 CPU)" "taskset -c 0 '$HWK' -q --backend software -t rsa -b 3072 -N '' -C bench -f o{i}" \
    ssh-keygen "ssh-keygen -q -t rsa -b 3072 -N '' -C bench -f s{i}"
N4=${BENCH_N_4096:-$N}
echo "RSA-4096 keygen, no passphrase, $N4 runs each, interleaved:"
$PY "$TOP/tests/bench/timeit.py" --keygen "$B/tests/keygentime.so" "$N4" \
    "hwkeygen (software)" \
    "'$HWK' -q --backend software -t rsa -b 4096 -N '' -C bench -f h4{i}" \
    ssh-keygen "ssh-keygen -q -t rsa -b 4096 -N '' -C bench -f s4{i}"
echo "RSA-3072 keygen with a passphrase (bcrypt KDF, 24 rounds), $N runs each:"
$PY "$TOP/tests/bench/timeit.py" --keygen "$B/tests/keygentime.so" "$N" \
    hwkeygen "'$HWK' -q --backend software -t rsa -b 3072 -N 'pw' -a 24 -C bench -f hp{i}" \
    ssh-keygen "ssh-keygen -q -t rsa -b 3072 -N 'pw' -a 24 -C bench -f sp{i}"
# EC keys take no prime search: the run is the program itself, so more runs.
NE=${BENCH_N_EC:-$((N * 3))}
echo "ECDSA P-256 keygen, no passphrase, $NE runs each, interleaved:"
$PY "$TOP/tests/bench/timeit.py" "$NE" \
    hwkeygen "'$HWK' -q --backend software -t ecdsa -b 256 -N '' -C bench -f e{i}" \
    ssh-keygen "ssh-keygen -q -t ecdsa -b 256 -N '' -C bench -f se{i}"
echo "Ed25519 keygen, no passphrase, $NE runs each, interleaved:"
$PY "$TOP/tests/bench/timeit.py" "$NE" \
    hwkeygen "'$HWK' -q --backend software -t ed25519 -N '' -C bench -f d{i}" \
    ssh-keygen "ssh-keygen -q -t ed25519 -N '' -C bench -f sd{i}"
echo "Opening a bcrypt-24 encrypted key (-y), same file, $N runs each:"
cp "$FIXTURES/rsa2048-enc24.key" enc24 && chmod 600 enc24
$PY "$TOP/tests/bench/timeit.py" "$N" \
    hwkeygen "'$HWK' -y -P pw -f enc24" \
    ssh-keygen "ssh-keygen -y -P pw -f enc24"
