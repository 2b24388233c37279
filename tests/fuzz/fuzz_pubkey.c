/* libFuzzer harness: .pub lines and key blobs, and what is made of them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hwkey/sshkey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct hwk_pubkey *k = NULL;
	char fp[HWK_FP_LEN], *line, *out = NULL, *art = NULL;
	uint8_t d[32];
	EVP_PKEY *pk = NULL;

	if (hwk_pubkey_from_blob(data, len, "c", &k) == 0) {
		hwk_pubkey_format(k, 1, &out);
		free(out);
		if (hwk_pubkey_to_evp(k, &pk) == 0)
			EVP_PKEY_free(pk);
		hwk_pubkey_free(&k);
	}
	if ((line = malloc(len + 1)) == NULL)
		return 0;
	memcpy(line, data, len);
	line[len] = '\0';
	if (hwk_pubkey_from_line(line, &k) == 0) {
		if (hwk_fingerprint(k->blob, k->bloblen, fp, d) == 0 &&
		    hwk_randomart(d, sizeof(d), hwk_pubkey_label(k), k->bits,
		    "SHA256", &art) == 0)
			free(art);
		hwk_pubkey_free(&k);
	}
	free(line);
	return 0;
}
