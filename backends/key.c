/* Key objects and the calls on them that do not depend on the backend. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hwkey/backend.h"
#include "hwkey/buf.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "hwkey/sshkey.h"
#include "backends.h"

int
hwk_key_new(const struct hwk_backend *b, struct hwk_key **keyp)
{
	if ((*keyp = calloc(1, sizeof(**keyp))) == NULL)
		return HWK_ERR_NOMEM;
	(*keyp)->backend = b;
	return HWK_OK;
}

void
hwk_key_free(struct hwk_key **keyp)
{
	struct hwk_key *k;

	if (keyp == NULL || (k = *keyp) == NULL)
		return;
	hwk_key_free_impl(k);
	EVP_PKEY_free(k->pkey);
	free(k->comment);
	free(k);
	*keyp = NULL;
}

int
hwk_key_set_comment(struct hwk_key *key, const char *comment)
{
	char *c = NULL;

	if (comment != NULL && (c = strdup(comment)) == NULL)
		return HWK_ERR_NOMEM;
	free(key->comment);
	key->comment = c;
	return HWK_OK;
}

int
hwk_key_pubkey(const struct hwk_key *key, struct hwk_pubkey **pubp)
{
	*pubp = NULL;
	if (key->pkey == NULL)
		return HWK_ERR_INVALID_ARG;
	return hwk_pubkey_from_evp(key->pkey, key->comment, pubp);
}

unsigned
hwk_key_bits(const struct hwk_key *key)
{
	return key->pkey == NULL ? 0 : hwk_pkey_bits(key->pkey);
}

void
hwk_stubinfo_clear(struct hwk_stubinfo *info)
{
	hwk_pubkey_free(&info->pub);
	free(info->comment);
	memset(info, 0, sizeof(*info));
}

int
hwk_rsa_bits_check(struct hwk_ctx *ctx, unsigned bits, unsigned default_bits)
{
	char def[64];

	if (default_bits != 0)
		snprintf(def, sizeof(def), "the default is %u", default_bits);
	else
		snprintf(def, sizeof(def), "the default is %u in software, "
		    "%u on a TPM or token", HWK_RSA_DEFAULT_BITS,
		    HWK_DEVICE_RSA_DEFAULT_BITS);
	if (bits < HWK_RSA_MIN_BITS) {
		hwk_ctx_error(ctx, HWK_ERR_KEY_SIZE, "Invalid RSA key length: "
		    "%u bits is below the minimum of %u", bits,
		    HWK_RSA_MIN_BITS);
		hwk_ctx_hint(ctx, "RSA keys under %u bits are within reach of "
		    "factoring and are refused; use -b %u or more (%s).",
		    HWK_RSA_MIN_BITS, HWK_RSA_MIN_BITS, def);
		return HWK_ERR_KEY_SIZE;
	}
	if (bits > HWK_RSA_MAX_BITS) {
		hwk_ctx_error(ctx, HWK_ERR_KEY_SIZE, "Invalid RSA key length: "
		    "maximum is %u bits", HWK_RSA_MAX_BITS);
		hwk_ctx_hint(ctx, "Use -b %u or less; 3072 or 4096 are usual.",
		    HWK_RSA_MAX_BITS);
		return HWK_ERR_KEY_SIZE;
	}
	return HWK_OK;
}

int
hwk_ecdsa_bits_check(struct hwk_ctx *ctx, unsigned bits)
{
	if (hwk_ecdsa_md(bits) == NULL)
		return hwk_ctx_error(ctx, HWK_ERR_KEY_SIZE, "Invalid ECDSA key "
		    "length: valid lengths are 256, 384 or 521 bits");
	return HWK_OK;
}
