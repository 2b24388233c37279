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

int
hwk_backend_auto(struct hwk_ctx *ctx, unsigned need,
    const struct hwk_backend **bp, char *why, size_t whylen)
{
	const struct hwk_backend *const *b;
	size_t used = 0;
	int n, r;

	*bp = NULL;
	if (whylen > 0)
		why[0] = '\0';
	for (b = table; *b != NULL; b++) {
		if (((*b)->flags & need) != need)
			continue;
		hwk_ctx_clear_error(ctx);
		if ((r = hwk_backend_probe(ctx, *b)) == 0) {
			*bp = *b;
			break;
		}
		/* Absent devices are passed over, wrong words are not. */
		if (r == HWK_ERR_USAGE)
			return r;
		/* Say what was passed over, in the words of its probe. */
		n = snprintf(why + used, whylen - used, "%s, ",
		    *hwk_ctx_detail(ctx) != '\0' ? hwk_ctx_detail(ctx) :
		    (*b)->name);
		if (n > 0 && (size_t)n < whylen - used)
			used += (size_t)n;
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
	/* "no token (...), TPM at X: using tpm2" */
	if (*hwk_ctx_found_text(ctx) != '\0')
		snprintf(why + used, whylen - used, "%s: using %s",
		    hwk_ctx_found_text(ctx), (*bp)->name);
	else if (used >= 2)
		snprintf(why + used - 2, whylen - used + 2, ": using %s",
		    (*bp)->name);
	else
		snprintf(why, whylen, "using %s", (*bp)->name);
	hwk_ctx_clear_error(ctx);
	return HWK_OK;
}
