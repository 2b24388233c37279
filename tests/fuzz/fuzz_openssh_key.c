/* libFuzzer harness: openssh-key-v1 files, armoured or not. */
#include <stdint.h>
#include <stdlib.h>

#include "hwkey/buf.h"
#include "hwkey/openssh_key.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

static void
try(const uint8_t *text, size_t len)
{
	struct hwk_openssh_info info;
	EVP_PKEY *k = NULL;
	char *c = NULL;

	if (hwk_openssh_info(text, len, &info) != 0)
		return;
	/* Keep the KDF cheap: a fuzzer's round count could be anything. */
	if (info.rounds <= 2) {
		hwk_openssh_info_clear(&info);
		if (hwk_openssh_read(text, len, "fuzz", &k, &c, &info) == 0) {
			EVP_PKEY_free(k);
			free(c);
		}
	}
	hwk_openssh_info_clear(&info);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct hwk_buf *b = hwk_buf_new();

	try(data, len);
	/* Also as the raw body, so the fuzzer need not learn base64. */
	if (b != NULL && hwk_pem_encode(b, HWK_OPENSSH_LABEL, data, len, 70) == 0)
		try(hwk_buf_ptr(b), hwk_buf_len(b));
	hwk_buf_free(&b);
	return 0;
}
