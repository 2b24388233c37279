/*
 * The TPM 2.0 backend: RSA and ECDSA keys created inside the TPM under
 * its storage key, so the private key never leaves it; the private file
 * holds a TSS2 PRIVATE KEY stub that tpm2-openssl and the other TPM tools
 * load.
 * Built on tpm2-tss: ESAPI for the commands and sessions, tctildr to find
 * the TPM, MU (in tpm2_keyfile.c) for the stub.  This file holds the ops
 * table, the options, and what asks the TPM only whether it is there and
 * what it is; the ops themselves live in tpm2_keygen.c, tpm2_load.c and
 * tpm2_sign.c, what the TPM can make in tpm2_caps.c.
 */
#include <stdio.h>
#include <string.h>

#include <tss2/tss2_esys.h>

#include "hwkey/backend.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "hwkey/out.h"
#include "backends.h"
#include "tpm2_int.h"

#define TPM2_DEFAULT_BITS	HWK_DEVICE_RSA_DEFAULT_BITS

/*
 * --parent, and --tcti: only the TCTI can read its settings, as it
 * connects, and a typo there must not look like a TPM that is absent.
 */
static int
tpm2_check_opts(struct hwk_ctx *ctx)
{
	const char *s = hwk_ctx_opt(ctx, "tcti");
	struct tpm2_conn *c;
	uint32_t parent;
	int r;

	if ((r = hwk_tpm2_parent_option(ctx, &parent)) != 0 || s == NULL)
		return r;
	if (*s == '\0') {
		hwk_ctx_error(ctx, HWK_ERR_USAGE, "--tcti: give the TCTI that "
		    "reaches the TPM");
		hwk_ctx_hint(ctx, "For example --tcti device:/dev/tpmrm0 or "
		    "--tcti swtpm:host=127.0.0.1,port=2321.");
		return HWK_ERR_USAGE;
	}
	/* The connection is kept for the probe; an absent TPM is no error. */
	if ((r = hwk_tpm2_keygen_conn_get(ctx, &c)) == HWK_ERR_USAGE)
		return r;
	hwk_ctx_clear_error(ctx);
	return HWK_OK;
}

/* Reaches the TPM without a command: the TCTI connects or opens the device. */
static int
tpm2_probe(struct hwk_ctx *ctx)
{
	struct tpm2_conn *c;
	int r;

	if ((r = hwk_tpm2_keygen_conn_get(ctx, &c)) == 0)
		hwk_ctx_found(ctx, "TPM at %s", c->name);
	return r;
}

static int
tpm2_claims(const uint8_t *stub, size_t len)
{
	return hwk_tpm2_keyfile_claims(stub, len);
}

static int
tpm2_stub_info(const uint8_t *stub, size_t len, struct hwk_stubinfo *info)
{
	struct hwk_tpm2_keyfile kf;
	int r;

	memset(info, 0, sizeof(*info));
	/* Without the library, loading the key says which one to install. */
	if (hwk_tpm2_mu_need(NULL) != 0)
		return HWK_ERR_UNSUPPORTED;
	if ((r = hwk_tpm2_keyfile_read(stub, len, &kf, NULL)) != 0)
		return r;
	if ((r = hwk_tpm2_pub_to_pubkey(&kf.pub.publicArea, &info->pub,
	    NULL)) == 0)
		info->protection = kf.empty_auth ? "none" : "TPM password";
	hwk_tpm2_keyfile_clear(&kf);
	return r;
}

static const struct hwk_optdesc tpm2_options[] = {
	{ "tcti", "STRING", "the TPM (default: $TPM2TOOLS_TCTI, else "
	    "/dev/tpmrm0)", HWK_OPT_BOTH },
	{ "parent", "HANDLE", "a persistent storage key 0x81xxxxxx as "
	    "parent", HWK_OPT_MAKE },
	{ NULL, NULL, NULL, 0 },
};

/* A TPM property holding four ASCII characters, as the TPM returns it. */
static void
prop_ascii(uint32_t v, char out[5])
{
	int i;

	for (i = 0; i < 4; i++) {
		out[i] = (char)((v >> (24 - 8 * i)) & 0xff);
		if (out[i] != '\0' && (out[i] < 0x20 || out[i] > 0x7e))
			out[i] = '?';
	}
	out[4] = '\0';
}

/* Who made the TPM and its firmware, from its fixed properties. */
static void
describe_fixed(struct hwk_out *out, const TPMS_CAPABILITY_DATA *cap)
{
	uint32_t manuf = 0, fw1 = 0, fw2 = 0, rev = 0, vendor[4] = { 0 };
	char text[32], word[5];
	size_t i;

	for (i = 0; i < cap->data.tpmProperties.count; i++) {
		uint32_t p = cap->data.tpmProperties.tpmProperty[i].property;
		uint32_t v = cap->data.tpmProperties.tpmProperty[i].value;

		if (p == TPM2_PT_MANUFACTURER)
			manuf = v;
		else if (p == TPM2_PT_FIRMWARE_VERSION_1)
			fw1 = v;
		else if (p == TPM2_PT_FIRMWARE_VERSION_2)
			fw2 = v;
		else if (p == TPM2_PT_REVISION)
			rev = v;
		else if (p >= TPM2_PT_VENDOR_STRING_1 &&
		    p <= TPM2_PT_VENDOR_STRING_4)
			vendor[p - TPM2_PT_VENDOR_STRING_1] = v;
	}
	prop_ascii(manuf, word);
	hwk_out_str(out, "manufacturer", word);
	text[0] = '\0';
	for (i = 0; i < 4; i++) {
		prop_ascii(vendor[i], word);
		strncat(text, word, sizeof(text) - strlen(text) - 1);
	}
	hwk_out_str(out, "vendor", text);
	snprintf(text, sizeof(text), "%u.%u.%u.%u", fw1 >> 16,
	    fw1 & 0xffff, fw2 >> 16, fw2 & 0xffff);
	hwk_out_str(out, "firmware", text);
	snprintf(text, sizeof(text), "%u.%02u", rev / 100, rev % 100);
	hwk_out_str(out, "spec_revision", text);
}

/*
 * --backends: who made the TPM, its firmware, the RSA sizes and ECDSA
 * curves it makes.
 */
static int
tpm2_describe(struct hwk_ctx *ctx, struct hwk_out *out)
{
	/* Only sizes hwkeygen makes: a TPM's RSA-1024 is below our floor. */
	static const unsigned sizes[] = { 2048, 3072, 4096 };
	static const unsigned curves[] = { 256, 384, 521 };
	TPMS_CAPABILITY_DATA *cap = NULL;
	TPMI_YES_NO more;
	struct tpm2_conn *c;
	TSS2_RC rc;
	size_t i;

	if (hwk_tpm2_keygen_conn_get(ctx, &c) != 0)
		return HWK_OK;	/* probe has said why */
	hwk_out_str(out, "tcti", c->name);
	rc = Esys_GetCapability(c->esys, ESYS_TR_NONE, ESYS_TR_NONE,
	    ESYS_TR_NONE, TPM2_CAP_TPM_PROPERTIES, TPM2_PT_FIXED,
	    TPM2_MAX_TPM_PROPERTIES, &more, &cap);
	if (rc == TSS2_RC_SUCCESS)
		describe_fixed(out, cap);
	Esys_Free(cap);
	hwk_out_begin_array(out, "rsa_bits");
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		if (hwk_tpm2_rsa_bits_test(c, sizes[i]) == TSS2_RC_SUCCESS)
			hwk_out_int(out, NULL, sizes[i]);
	hwk_out_end_array(out);
	hwk_out_begin_array(out, "ecdsa_bits");
	for (i = 0; i < sizeof(curves) / sizeof(curves[0]); i++)
		if (hwk_tpm2_ecc_bits_test(c, curves[i]) == TSS2_RC_SUCCESS)
			hwk_out_int(out, NULL, curves[i]);
	hwk_out_end_array(out);
	hwk_tpm2_keygen_conn_close();
	return HWK_OK;
}

const struct hwk_backend hwk_backend_tpm2 = {
	.name = "tpm2",
	.summary = "key made inside a TPM 2.0; the file is a TSS2 key stub",
	.flags = HWK_BF_PASSPHRASE | HWK_BF_DEVICE,
	.default_bits = TPM2_DEFAULT_BITS,
	.options = tpm2_options,
	.probe = tpm2_probe,
	.check = hwk_tpm2_check,
	.generate = hwk_tpm2_generate,
	.write_stub = hwk_tpm2_write_stub,
	.claims = tpm2_claims,
	.stub_info = tpm2_stub_info,
	.load = hwk_tpm2_load,
	.sign = hwk_tpm2_sign,
	.destroy = hwk_tpm2_destroy,
	.free_impl = hwk_tpm2_free_impl,
	.describe = tpm2_describe,
	.check_opts = tpm2_check_opts,
	.attest = hwk_tpm2_attest,
	.attest_challenge = hwk_tpm2_attest_challenge,
	.attest_respond = hwk_tpm2_attest_respond,
	.attest_verify = hwk_tpm2_attest_verify,
};
