/*
 * libFuzzer harness for the files of attestation: the JSON reader, and
 * the TPM and PIV verifiers' parsing of KEY.attest (base64, the TSS's
 * unmarshalling, the certificates) up to the first check that needs the
 * roots, which here are none.  Build and run with tests/fuzz/run.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hwkey/attest.h"
#include "hwkey/ctx.h"
#include "pkcs11_impl.h"
#include "tpm2_int.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct hwk_attest a, chal, secret, v;
	struct hwk_ctx *ctx;

	if (hwk_attest_read(data, len, &a) != 0)
		return 0;
	if ((ctx = hwk_ctx_new()) != NULL) {
		memset(&chal, 0, sizeof(chal));
		memset(&secret, 0, sizeof(secret));
		hwk_tpm2_attest_challenge(ctx, &a, "/dev/null", &chal,
		    &secret);
		hwk_attest_clear(&chal);
		hwk_attest_clear(&secret);
		memset(&v, 0, sizeof(v));
		hwk_p11_attest_verify(ctx, &a, "/dev/null", NULL, NULL, &v);
		hwk_attest_clear(&v);
		hwk_ctx_free(&ctx);
	}
	hwk_attest_clear(&a);
	return 0;
}
