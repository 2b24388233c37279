/*
 * The table of backends, in the order --backend auto tries them: a token
 * first, then a TPM, then software, which always works.  A new backend is
 * one file in backends/ and one line here.
 */
#include <stdio.h>
#include <string.h>

#include "hwkey/backend.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "backends.h"

static const struct hwk_backend *const builtin[] = {
	&hwk_backend_pkcs11,
	&hwk_backend_tpm2,
	&hwk_backend_software,
	NULL,
};

static const struct hwk_backend *const *table = builtin;

const struct hwk_backend *const *
hwk_backends(void)
{
	return table;
}

void
hwk_backends_override(const struct hwk_backend *const *t)
{
	table = t != NULL ? t : builtin;
}

const struct hwk_backend *
hwk_backend_find(const char *name)
{
	const struct hwk_backend *const *b;

	for (b = table; *b != NULL; b++)
		if (strcmp((*b)->name, name) == 0)
			return *b;
	return NULL;
}

const struct hwk_backend *
hwk_backend_for_stub(const uint8_t *stub, size_t len)
{
	const struct hwk_backend *const *b;

	for (b = table; *b != NULL; b++)
		if (hwk_backend_claims(*b, stub, len))
			return *b;
	return NULL;
}

int
hwk_backends_check_opts(struct hwk_ctx *ctx)
{
	const struct hwk_backend *const *b;
	int r;

	for (b = table; *b != NULL; b++)
		if ((r = hwk_backend_check_opts(ctx, *b)) != 0)
			return r;
	return HWK_OK;
}

const char *
hwk_key_type_name(int type)
{
	switch (type) {
	case HWK_KEY_RSA:
		return "rsa";
	case HWK_KEY_ECDSA:
		return "ecdsa";
	case HWK_KEY_ED25519:
		return "ed25519";
	}
	return NULL;
}

void
hwk_genparams_for(const struct hwk_backend *b, const struct hwk_genparams *gp,
    struct hwk_genparams *out)
{
	*out = *gp;
	if (!gp->bits_given)
		out->bits = gp->type == HWK_KEY_RSA ? b->default_bits :
		    HWK_ECDSA_DEFAULT_BITS;	/* Ed25519's size, too */
	if (!(b->flags & HWK_BF_PASSPHRASE))
		out->passphrase = NULL;
}

/* Adds "text, " to the list of backends passed over. */
static void
passed_over(char *why, size_t whylen, size_t *used, const char *text)
{
	int n;

	n = snprintf(why + *used, whylen - *used, "%s, ", text);
	if (n > 0 && (size_t)n < whylen - *used)
		*used += (size_t)n;
}

/*
 * Whether b can make gp's keys: HWK_ERR_KEY_TYPE passes it over with a
 * reason in why.  What its probe found is kept for the line auto prints.
 */
static int
check_type(struct hwk_ctx *ctx, const struct hwk_backend *b,
    const struct hwk_genparams *gp, char *why, size_t whylen, size_t *used)
{
	struct hwk_genparams bgp;
	char found[256], text[128];
	int r;

	snprintf(found, sizeof(found), "%s", hwk_ctx_found_text(ctx));
	hwk_genparams_for(b, gp, &bgp);
	if ((r = hwk_backend_check(ctx, b, &bgp)) == HWK_ERR_KEY_TYPE) {
		if (bgp.type == HWK_KEY_ECDSA)
			snprintf(text, sizeof(text), "%s: cannot make ecdsa "
			    "%u-bit keys", b->name, bgp.bits);
		else
			snprintf(text, sizeof(text), "%s: cannot make %s keys",
			    b->name, hwk_key_type_name(bgp.type) != NULL ?
			    hwk_key_type_name(bgp.type) : "such");
		passed_over(why, whylen, used, text);
		return r;
	}
	/* A refusal keeps its words, and the line what the probe found. */
	hwk_ctx_found(ctx, "%s", found);
	return r;
}

/* "no token (...), TPM at X: using tpm2", after the search. */
static void
say_chosen(struct hwk_ctx *ctx, const struct hwk_backend *b, char *why,
    size_t whylen, size_t used)
{
	if (*hwk_ctx_found_text(ctx) != '\0')
		snprintf(why + used, whylen - used, "%s: using %s",
		    hwk_ctx_found_text(ctx), b->name);
	else if (used >= 2)
		snprintf(why + used - 2, whylen - used + 2, ": using %s",
		    b->name);
	else
		snprintf(why, whylen, "using %s", b->name);
}

int
hwk_backend_auto(struct hwk_ctx *ctx, unsigned need,
    const struct hwk_genparams *gp, const struct hwk_backend **bp, char *why,
    size_t whylen)
{
	const struct hwk_backend *const *b;
	size_t used = 0;
	int r = HWK_OK;

	*bp = NULL;
	if (whylen > 0)
		why[0] = '\0';
	for (b = table; *b != NULL; b++) {
		if (((*b)->flags & need) != need)
			continue;
		hwk_ctx_clear_error(ctx);
		if ((r = hwk_backend_probe(ctx, *b)) == 0) {
			if ((r = check_type(ctx, *b, gp, why, whylen,
			    &used)) != HWK_ERR_KEY_TYPE) {
				*bp = *b;
				break;
			}
			continue;	/* check_type said why */
		}
		/* Absent devices are passed over, wrong words are not. */
		if (r == HWK_ERR_USAGE)
			return r;
		/* Say what was passed over, in the words of its probe. */
		passed_over(why, whylen, &used, *hwk_ctx_detail(ctx) != '\0' ?
		    hwk_ctx_detail(ctx) : (*b)->name);
	}
	if (*bp == NULL) {
		hwk_ctx_clear_error(ctx);
		if (used >= 2)
			why[used - 2] = '\0';
		return hwk_ctx_error(ctx, HWK_ERR_NO_DEVICE,
		    "no %s is usable: %s", need & HWK_BF_DEVICE ?
		    "hardware backend" : "backend",
		    used >= 2 ? why : "none is built in");
	}
	say_chosen(ctx, *bp, why, whylen, used);
	/* The check's refusal stays for the caller to report. */
	if (r == HWK_OK)
		hwk_ctx_clear_error(ctx);
	return r;
}
