/* What hwkeygen says of errors and of keys: messages, fingerprints, art. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "hwkey/out.h"
#include "hwkey/sshkey.h"
#include "cli.h"

void
hwk_report(struct hwk_ctx *ctx, int err, const char *fmt, ...)
{
	const char *detail = ctx != NULL ? hwk_ctx_detail(ctx) : "";
	char *msg = NULL;
	va_list ap;

	/* Paths, labels and URIs in messages come from files: escaped. */
	fflush(stdout);
	fputs("hwkeygen: ", stderr);
	if (fmt != NULL) {
		va_start(ap, fmt);
		if (vasprintf(&msg, fmt, ap) < 0)
			msg = NULL;
		va_end(ap);
		hwk_out_vis_fputs(msg != NULL ? msg : fmt, stderr);
		if (*detail != '\0') {
			fputs(": ", stderr);
			hwk_out_vis_fputs(detail, stderr);
		}
	} else
		hwk_out_vis_fputs(*detail != '\0' ? detail : hwk_strerror(err),
		    stderr);
	fputc('\n', stderr);
	if (ctx != NULL && *hwk_ctx_advice(ctx) != '\0') {
		fputs("hwkeygen: ", stderr);
		hwk_out_vis_fputs(hwk_ctx_advice(ctx), stderr);
		fputc('\n', stderr);
	}
	free(msg);
	if (ctx != NULL)
		hwk_ctx_clear_error(ctx);
}

int
hwk_print_fingerprint_art(FILE *f, const struct hwk_pubkey *pub)
{
	char fp[HWK_FP_LEN], *art = NULL;
	uint8_t digest[32];
	int r;

	if ((r = hwk_fingerprint(pub->blob, pub->bloblen, fp, digest)) != 0 ||
	    (r = hwk_randomart(digest, sizeof(digest), hwk_pubkey_label(pub),
	    pub->bits, "SHA256", &art)) != 0)
		return r;
	fprintf(f, "The key fingerprint is:\n%s ", fp);
	hwk_out_vis_fputs(pub->comment != NULL ? pub->comment : "", f);
	fputc('\n', f);
	fprintf(f, "The key's randomart image is:\n%s\n", art);
	free(art);
	return HWK_OK;
}

int
hwk_print_fp_line(const struct hwk_pubkey *pub, int verbose)
{
	char fp[HWK_FP_LEN], *art = NULL;
	uint8_t digest[32];
	int r;

	if ((r = hwk_fingerprint(pub->blob, pub->bloblen, fp, digest)) != 0)
		return r;
	/* The comment is foreign text: escaped as ssh-keygen -l escapes it. */
	printf("%u %s ", pub->bits, fp);
	hwk_out_vis_fputs(pub->comment != NULL ? pub->comment : "no comment",
	    stdout);
	printf(" (%s)\n", hwk_pubkey_label(pub));
	if (verbose) {
		if ((r = hwk_randomart(digest, sizeof(digest),
		    hwk_pubkey_label(pub), pub->bits, "SHA256", &art)) != 0)
			return r;
		printf("%s\n", art);
		free(art);
	}
	return HWK_OK;
}
