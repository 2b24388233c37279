/*
 * libFuzzer harness for the TSS2 PRIVATE KEY stub reader: the PEM and DER
 * decoders and the public area conversion must refuse any input cleanly.
 * Build and run with tests/fuzz/run (clang, ASan, UBSan).
 */
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "hwkey/buf.h"
#include "tpm2_keyfile.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct hwk_tpm2_keyfile kf;
	struct hwk_buf *pem;
	EVP_PKEY *pkey = NULL;
	const char *why = NULL;

	/* The bytes as DER, and wrapped in the armour as a stub file. */
	if (hwk_tpm2_keyfile_from_der(data, len, &kf, &why) == 0 &&
	    hwk_tpm2_pub_to_evp(&kf.pub.publicArea, &pkey, &why) == 0)
		EVP_PKEY_free(pkey);
	if ((pem = hwk_buf_new()) != NULL &&
	    hwk_pem_encode(pem, HWK_TPM2_PEM_LABEL, data, len, 64) == 0)
		hwk_tpm2_keyfile_read(hwk_buf_ptr(pem), hwk_buf_len(pem), &kf,
		    &why);
	hwk_buf_free(&pem);
	/* And as text that claims to be a stub. */
	hwk_tpm2_keyfile_read(data, len, &kf, &why);
	return 0;
}
