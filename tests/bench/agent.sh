# Signatures per second through hwkey-agent: a TPM key against reloading the
# key for every signature (what `openssl pkeyutl -provider tpm2` does per
# call), an ECDSA TPM key beside the RSA one, a token key against
# OpenSSH's ssh-agent on the same token, and a software key of ssh-agent's
# through hwkey-agent --upstream against asking ssh-agent directly.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/swtpm.sh"
. "$TOP/tests/lib/softhsm.sh"

N=${BENCH_N:-41}
cd "$T_TMP" || exit 1
export HOME=$T_TMP/home
mkdir -p "$HOME"
start_swtpm || exit 1
softhsm_setup || exit 1
softhsm_token bench 123456 87654321 >/dev/null || exit 1
printf '123456\n' >pin
chmod 600 pin
printf '#!/bin/sh\necho 123456\n' >askpass
chmod 700 askpass
SIGNPY="$PY $TOP/tests/bench/agent_sign.py"

"$HWK" -q --backend tpm2 -N '' -C bench -f tpm || exit 1
"$HWK" -q --backend pkcs11 --module "$SOFTHSM_MODULE" --pin-source file:pin \
    -C bench -f token || exit 1
# An ECDSA P-256 TPM key beside the RSA one, when this build's TPM backend
# makes them.
keys="tpm token"
if "$HWK" -q --backend tpm2 -t ecdsa -N '' -C bench -f tpm-ec \
    2>tpm-ec.err; then
	keys="$keys tpm-ec"
fi
if "$HWK" -q --backend pkcs11 --module "$SOFTHSM_MODULE" \
    --pin-source file:pin -t ecdsa -C bench-ec -f token-ec 2>token-ec.err; then
	keys="$keys token-ec"
fi
mkdir -m 700 a
# Through the TCTI spy, to count the TPM commands each signature costs.
HWK_SPY_LOG=$T_TMP/spy.log "$B/hwkey-agent" -D -a "$T_TMP/a/s" \
    --tcti "$B/tests/tcti_spy.so:$SWTPM_TCTI" --pin-source file:pin $keys \
    >/dev/null 2>agent.log &
pid=$!
at_exit "kill_wait $pid"
for _ in $(seq 100); do [ -S a/s ] && break; sleep 0.05; done

# TPM: steady signatures through the agent (one TPM2_Sign each) ...
echo "TPM RSA-2048 signatures (rsa-sha2-256), swtpm:"
$SIGNPY a/s tpm.pub 1 2 >/dev/null	# warm-up: loads the key
: >spy.log
ours=$($SIGNPY a/s tpm.pub $((N * 5)) 2)
echo "  hwkey-agent (key kept loaded):     $ours"
echo "  TPM commands per signature after warm-up: $($PY -c "import sys; print('%.2f' % (int(sys.argv[1]) / int(sys.argv[2])))" "$(grep -c . spy.log)" $((N * 5)))"
# ... against loading the key for every signature, as pkeyutl does.
openssl dgst -sha256 -binary -out dgst tpm.pub
theirs=$($PY - "$N" <<'PYEOF'
import subprocess, sys, time
n = int(sys.argv[1])
cmd = ["openssl", "pkeyutl", "-provider", "tpm2", "-provider", "default",
       "-sign", "-inkey", "tpm", "-in", "dgst", "-out", "sig",
       "-pkeyopt", "digest:sha256"]
ts = []
for _ in range(n):
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    ts.append(time.perf_counter() - t0)
ts.sort()
print("%.1f sig/s (median %.2f ms)" % (1 / ts[len(ts) // 2],
                                       ts[len(ts) // 2] * 1000))
PYEOF
)
echo "  openssl pkeyutl -provider tpm2:    $theirs"
$PY -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); print('  ratio hwkey-agent / reload = %.1fx' % (a / b))" \
    "${ours%% *}" "${theirs%% *}"

# ECDSA beside RSA: the same agent, the same TPM, steady signatures.
echo "TPM ECDSA P-256 signatures (ecdsa-sha2-nistp256) beside RSA-2048, swtpm:"
if [ -f tpm-ec ]; then
	$SIGNPY a/s tpm-ec.pub 1 >/dev/null	# warm-up: loads the key
	ec=$($SIGNPY a/s tpm-ec.pub $((N * 5)))
	rsa=$($SIGNPY a/s tpm.pub $((N * 5)) 2)
	echo "  ECDSA P-256: $ec"
	echo "  RSA-2048:    $rsa"
	$PY -c "import sys; print('  ratio ECDSA / RSA = %.2f' % (float(sys.argv[1]) / float(sys.argv[2])))" \
	    "${ec%% *}" "${rsa%% *}"
else
	echo "  not measured: $(head -1 tpm-ec.err)"
fi

# Token: hwkey-agent against ssh-agent with ssh-add -s, same SoftHSM2 token.
eval "$(ssh-agent -s -a "$T_TMP/ssh-agent.sock")" >/dev/null
at_exit "kill_wait $SSH_AGENT_PID"
SSH_ASKPASS=$T_TMP/askpass SSH_ASKPASS_REQUIRE=force \
    ssh-add -s "$SOFTHSM_MODULE" </dev/null >/dev/null 2>&1 || {
	echo "ssh-add -s failed"; exit 1; }
echo "Token RSA-2048 signatures (rsa-sha2-256), SoftHSM2, $((N * 5)) per round:"
for round in 1 2; do
	ours=$($SIGNPY a/s token.pub $((N * 5)) 2)
	theirs=$($SIGNPY "$T_TMP/ssh-agent.sock" token.pub $((N * 5)) 2)
	o=${ours%% *} t=${theirs%% *}
	echo "  round $round: hwkey-agent $ours"
	echo "           ssh-agent   $theirs"
	$PY -c "import sys; print('           ratio hwkey-agent / ssh-agent = %.2f' % (float(sys.argv[1]) / float(sys.argv[2])))" "$o" "$t"
done
echo "Token ECDSA P-256 signatures (ecdsa-sha2-nistp256), SoftHSM2, $((N * 5)) each:"
if [ -f token-ec ]; then
	ours=$($SIGNPY a/s token-ec.pub $((N * 5)))
	theirs=$($SIGNPY "$T_TMP/ssh-agent.sock" token-ec.pub $((N * 5)))
	echo "  hwkey-agent $ours"
	echo "  ssh-agent   $theirs"
	$PY -c "import sys; print('  ratio hwkey-agent / ssh-agent = %.2f' % (float(sys.argv[1]) / float(sys.argv[2])))" \
	    "${ours%% *}" "${theirs%% *}"
else
	echo "  not measured: $(head -1 token-ec.err)"
fi

# A software key held by ssh-agent: asked directly, and through a
# hwkey-agent that has it as its upstream (--upstream), requests taking
# turns on one connection to each.
echo "Software Ed25519 signatures, ssh-agent directly and through hwkey-agent --upstream, $((N * 10)) each:"
ssh-keygen -q -t ed25519 -N '' -C bench-sw -f sw || exit 1
ssh-add -q sw 2>/dev/null || { echo "ssh-add sw failed"; exit 1; }
mkdir -m 700 u
"$B/hwkey-agent" -D -a "$T_TMP/u/s" --upstream "$SSH_AUTH_SOCK" \
    >/dev/null 2>upstream-agent.log &
at_exit "kill_wait $!"
for _ in $(seq 100); do [ -S u/s ] && break; sleep 0.05; done
for round in 1 2; do
	out=$($SIGNPY "$SSH_AUTH_SOCK,$T_TMP/u/s" sw.pub $((N * 10)) 0) || exit 1
	direct=${out%%$'\n'*} through=${out#*$'\n'}
	echo "  round $round: ssh-agent directly   $direct"
	echo "           through --upstream   $through"
	$PY -c "import sys; print('           ratio through / directly = %.2f (time per signature; goal <= 1.2)' % (float(sys.argv[1]) / float(sys.argv[2])))" \
	    "${direct%% *}" "${through%% *}"
done
