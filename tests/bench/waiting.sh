# What a person waits for in the interactive flow, beside ssh-keygen: each
# question answered after ANSWER seconds (BENCH_ANSWER, 1), the wait is the
# run less the answering.  hwkeygen makes the key while the questions are
# asked; ssh-keygen makes it before the first.
. "$(dirname "$0")/../lib/common.sh"
N=${BENCH_N_PTY:-15}
A=${BENCH_ANSWER:-1}
cd "$T_TMP" || exit 1
for bits in 3072 4096; do
	echo "RSA-$bits, interactive, $A s an answer, empty passphrase, $N runs each:"
	$PY "$TOP/tests/bench/pty_wait.py" "$N" "$A" \
	    hwkeygen "$HWK --backend software -t rsa -b $bits -C bench" \
	    ssh-keygen "ssh-keygen -t rsa -b $bits -C bench"
done
