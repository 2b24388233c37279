/*
 * hwk-sign: a test-only tool that opens a private file with whichever
 * backend claims it and signs a file with it, as the agent will, so tests
 * can check signatures with openssl before hwkey-agent exists.
 *
 *   hwk-sign [-a sha1|sha256|sha512] [-k] [-n count] [-P passphrase]
 *            [-o name=value]... -f keyfile -i datafile -s sigfile
 *
 * The key is loaded once and signs count times (the last signature is
 * written); a passphrase not given with -P is read from stdin.  With -k a
 * failed signature is reported and the next one tried with the same key
 * object, as the agent does; the exit code is then the last signature's.
 * The exit codes are hwkeygen's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hwkey/backend.h"
#include "hwkey/buf.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "hwkey/keyfile.h"
#include "hwkey/stubfile.h"
#include "prompt.h"

static int
ui_read_secret(void *arg, const char *prompt, char *buf, size_t len)
{
	(void)arg;
	return hwk_prompt_secret(prompt, buf, len);
}

static void
ui_notice(void *arg, const char *msg)
{
	(void)arg;
	fprintf(stderr, "%s\n", msg);
}

static const struct hwk_ui ui = { ui_read_secret, ui_notice, NULL };

static int
fail(struct hwk_ctx *ctx, int r, const char *what)
{
	fprintf(stderr, "hwk-sign: %s: %s\n", what, *hwk_ctx_detail(ctx) !=
	    '\0' ? hwk_ctx_detail(ctx) : hwk_strerror(r));
	if (*hwk_ctx_advice(ctx) != '\0')
		fprintf(stderr, "hwk-sign: %s\n", hwk_ctx_advice(ctx));
	return hwk_exit_code(r);
}

int
main(int argc, char **argv)
{
	struct hwk_ctx *ctx = NULL;
	struct hwk_stubfile *sf = NULL;
	struct hwk_buf *data = NULL;
	struct hwk_key *key = NULL;
	const char *keyf = NULL, *dataf = NULL, *sigf = NULL;
	uint8_t *sig = NULL;
	size_t slen = 0;
	char *eq;
	FILE *f;
	int alg = HWK_SIG_RSA_SHA256, count = 1, keep_going = 0, ch, i, r;
	int rc = EXIT_FAIL;

	if ((ctx = hwk_ctx_new()) == NULL)
		return EXIT_FAIL;
	hwk_ctx_set_ui(ctx, &ui);
	while ((ch = getopt(argc, argv, "a:f:i:kn:o:P:s:")) != -1) {
		switch (ch) {
		case 'a':
			if (strcmp(optarg, "sha1") == 0)
				alg = HWK_SIG_RSA_SHA1;
			else if (strcmp(optarg, "sha256") == 0)
				alg = HWK_SIG_RSA_SHA256;
			else if (strcmp(optarg, "sha512") == 0)
				alg = HWK_SIG_RSA_SHA512;
			else
				goto usage;
			break;
		case 'f':
			keyf = optarg;
			break;
		case 'i':
			dataf = optarg;
			break;
		case 'k':
			keep_going = 1;
			break;
		case 'n':
			if ((count = atoi(optarg)) < 1)
				goto usage;
			break;
		case 'o':
			if ((eq = strchr(optarg, '=')) == NULL)
				goto usage;
			*eq = '\0';
			if (hwk_ctx_set_opt(ctx, optarg, eq + 1) != 0)
				goto out;
			break;
		case 'P':
			if (hwk_ctx_set_opt(ctx, "passphrase", optarg) != 0)
				goto out;
			break;
		case 's':
			sigf = optarg;
			break;
		default:
			goto usage;
		}
	}
	if (keyf == NULL || dataf == NULL || sigf == NULL || optind != argc)
		goto usage;
	if ((r = hwk_stubfile_read(ctx, keyf, &sf)) != 0 ||
	    (r = hwk_file_read(ctx, dataf, &data)) != 0) {
		rc = fail(ctx, r, "read");
		goto out;
	}
	if (sf->backend == NULL) {
		fprintf(stderr, "hwk-sign: %s: no backend knows this file\n",
		    keyf);
		goto out;
	}
	if ((r = hwk_stubfile_load(ctx, sf, &key)) != 0) {
		rc = fail(ctx, r, keyf);
		goto out;
	}
	for (i = 0; i < count; i++) {
		hwk_freezero(sig, slen);
		sig = NULL;
		slen = 0;
		hwk_ctx_clear_error(ctx);
		if ((r = hwk_key_sign(ctx, key, alg, hwk_buf_ptr(data),
		    hwk_buf_len(data), &sig, &slen)) != 0) {
			rc = fail(ctx, r, "sign");
			if (!keep_going || i == count - 1)
				goto out;
		}
	}
	if ((f = fopen(sigf, "wb")) == NULL ||
	    fwrite(sig, 1, slen, f) != slen || fclose(f) != 0) {
		perror(sigf);
		goto out;
	}
	rc = EXIT_OK;
	goto out;
 usage:
	fprintf(stderr, "usage: hwk-sign [-a sha1|sha256|sha512] [-k] "
	    "[-n count] [-P passphrase] [-o name=value]... -f keyfile "
	    "-i datafile -s sigfile\n");
	rc = EXIT_USAGE;
 out:
	hwk_key_free(&key);
	free(sig);
	hwk_stubfile_free(&sf);
	hwk_buf_free(&data);
	hwk_ctx_free(&ctx);
	return rc;
}
