/*
 * hwk-sign: a test-only tool that opens a private file with whichever
 * backend claims it and signs a file with it, as the agent will, so tests
 * can check signatures with openssl before hwkey-agent exists.
 *
 *   hwk-sign [-a sha1|sha256|sha512|ecdsa|ed25519] [-b] [-k] [-n count]
 *            [-P passphrase] [-o name=value]... -f keyfile -i datafile
 *            -s sigfile
 *
 * The key is loaded once and signs count times (the last signature is
 * written); a passphrase not given with -P is read from stdin.  With -k a
 * failed signature is reported and the next one tried with the same key
 * object, as the agent does; the exit code is then the last signature's.
 * The signature written is the sign op's raw form (backend.h), or with -b
 * the SSH signature blob (string alg, string signature).  Without -a an
 * RSA key signs with SHA-256, others with their one algorithm.
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
#include "hwkey/sshkey.h"
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

/* The algorithm a key signs with when -a does not say. */
static int
default_alg(const struct hwk_key *key)
{
	const char *type = hwk_pkey_ssh_type(key->pkey);

	if (type != NULL && strcmp(type, "ssh-ed25519") == 0)
		return HWK_SIG_ED25519;
	if (type != NULL && strncmp(type, "ecdsa-", 6) == 0)
		return HWK_SIG_ECDSA;
	return HWK_SIG_RSA_SHA256;
}

/* The SSH name of an RSA algorithm; the others are named by the key. */
static const char *
alg_name(int alg)
{
	switch (alg) {
	case HWK_SIG_RSA_SHA1:		return "ssh-rsa";
	case HWK_SIG_RSA_SHA256:	return "rsa-sha2-256";
	case HWK_SIG_RSA_SHA512:	return "rsa-sha2-512";
	}
	return NULL;
}

/* The sign op's signature as an SSH signature blob, in place of it. */
static int
to_blob(const struct hwk_key *key, int alg, uint8_t **sigp, size_t *lenp)
{
	struct hwk_buf *b = hwk_buf_new();
	int r;

	if (b == NULL)
		return HWK_ERR_NOMEM;
	if ((r = hwk_sig_put_blob(key->pkey, alg_name(alg), *sigp, *lenp,
	    b)) == 0) {
		free(*sigp);
		*lenp = hwk_buf_len(b);
		if ((*sigp = malloc(*lenp)) == NULL)
			r = HWK_ERR_NOMEM;
		else
			memcpy(*sigp, hwk_buf_ptr(b), *lenp);
	}
	hwk_buf_free(&b);
	return r;
}

static int
fail(struct hwk_ctx *ctx, int r, const char *what)
{
	fprintf(stderr, "hwk-sign: %s: %s\n", what, *hwk_ctx_detail(ctx) !=
	    '\0' ? hwk_ctx_detail(ctx) : hwk_strerror(r));
	if (*hwk_ctx_advice(ctx) != '\0')
		fprintf(stderr, "hwk-sign: %s\n", hwk_ctx_advice(ctx));
	return hwk_exit_code(r);
}

static int
parse_alg(const char *s)
{
	static const struct {
		const char	*name;
		int		 alg;
	} algs[] = {
		{ "sha1", HWK_SIG_RSA_SHA1 }, { "sha256", HWK_SIG_RSA_SHA256 },
		{ "sha512", HWK_SIG_RSA_SHA512 }, { "ecdsa", HWK_SIG_ECDSA },
		{ "ed25519", HWK_SIG_ED25519 },
	};
	size_t i;

	for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
		if (strcmp(s, algs[i].name) == 0)
			return algs[i].alg;
	return 0;
}

/* Signs count times, keeping the last signature; the exit code is its. */
static int
sign_times(struct hwk_ctx *ctx, struct hwk_key *key, int alg,
    const struct hwk_buf *data, int count, int keep_going, uint8_t **sigp,
    size_t *slenp)
{
	int i, r, rc = EXIT_OK;

	for (i = 0; i < count; i++) {
		hwk_freezero(*sigp, *slenp);
		*sigp = NULL;
		*slenp = 0;
		hwk_ctx_clear_error(ctx);
		rc = EXIT_OK;
		if ((r = hwk_key_sign(ctx, key, alg, hwk_buf_ptr(data),
		    hwk_buf_len(data), sigp, slenp)) != 0) {
			rc = fail(ctx, r, "sign");
			if (!keep_going)
				break;
		}
	}
	return rc;
}

struct opts {
	const char	*keyf, *dataf, *sigf;
	int		 alg, blob, count, keep_going;
};

/* The command line into o and the context's options; EXIT_OK if good. */
static int
parse_opts(int argc, char **argv, struct hwk_ctx *ctx, struct opts *o)
{
	char *eq;
	int ch;

	memset(o, 0, sizeof(*o));
	o->count = 1;
	while ((ch = getopt(argc, argv, "a:bf:i:kn:o:P:s:")) != -1) {
		switch (ch) {
		case 'a':
			if ((o->alg = parse_alg(optarg)) == 0)
				return EXIT_USAGE;
			break;
		case 'b':
			o->blob = 1;
			break;
		case 'f':
			o->keyf = optarg;
			break;
		case 'i':
			o->dataf = optarg;
			break;
		case 'k':
			o->keep_going = 1;
			break;
		case 'n':
			if ((o->count = atoi(optarg)) < 1)
				return EXIT_USAGE;
			break;
		case 'o':
			if ((eq = strchr(optarg, '=')) == NULL)
				return EXIT_USAGE;
			*eq = '\0';
			if (hwk_ctx_set_opt(ctx, optarg, eq + 1) != 0)
				return EXIT_FAIL;
			break;
		case 'P':
			if (hwk_ctx_set_opt(ctx, "passphrase", optarg) != 0)
				return EXIT_FAIL;
			break;
		case 's':
			o->sigf = optarg;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (o->keyf == NULL || o->dataf == NULL || o->sigf == NULL ||
	    optind != argc)
		return EXIT_USAGE;
	return EXIT_OK;
}

int
main(int argc, char **argv)
{
	struct hwk_ctx *ctx = NULL;
	struct hwk_stubfile *sf = NULL;
	struct hwk_buf *data = NULL;
	struct hwk_key *key = NULL;
	struct opts o;
	uint8_t *sig = NULL;
	size_t slen = 0;
	FILE *f;
	int r, rc;

	if ((ctx = hwk_ctx_new()) == NULL)
		return EXIT_FAIL;
	hwk_ctx_set_ui(ctx, &ui);
	if ((rc = parse_opts(argc, argv, ctx, &o)) == EXIT_USAGE)
		goto usage;
	else if (rc != EXIT_OK)
		goto out;
	rc = EXIT_FAIL;
	if ((r = hwk_stubfile_read(ctx, o.keyf, &sf)) != 0 ||
	    (r = hwk_file_read(ctx, o.dataf, &data)) != 0) {
		rc = fail(ctx, r, "read");
		goto out;
	}
	if (sf->backend == NULL) {
		fprintf(stderr, "hwk-sign: %s: no backend knows this file\n",
		    o.keyf);
		goto out;
	}
	if ((r = hwk_stubfile_load(ctx, sf, &key)) != 0) {
		rc = fail(ctx, r, o.keyf);
		goto out;
	}
	if (o.alg == 0)
		o.alg = default_alg(key);
	if ((rc = sign_times(ctx, key, o.alg, data, o.count, o.keep_going,
	    &sig, &slen)) != EXIT_OK)
		goto out;
	rc = EXIT_FAIL;
	if (o.blob && (r = to_blob(key, o.alg, &sig, &slen)) != 0) {
		rc = fail(ctx, r, "encode");
		goto out;
	}
	if ((f = fopen(o.sigf, "wb")) == NULL ||
	    fwrite(sig, 1, slen, f) != slen || fclose(f) != 0) {
		perror(o.sigf);
		goto out;
	}
	rc = EXIT_OK;
	goto out;
 usage:
	fprintf(stderr, "usage: hwk-sign [-a sha1|sha256|sha512|ecdsa|ed25519] "
	    "[-b] [-k] [-n count] [-P passphrase] [-o name=value]... "
	    "-f keyfile -i datafile -s sigfile\n");
	rc = EXIT_USAGE;
 out:
	hwk_key_free(&key);
	free(sig);
	hwk_stubfile_free(&sf);
	hwk_buf_free(&data);
	hwk_ctx_free(&ctx);
	return rc;
}
