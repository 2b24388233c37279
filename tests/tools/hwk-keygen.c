/*
 * hwk-keygen: a test-only tool that makes a key with one backend's check,
 * generate and write_stub ops, as hwkeygen does, for key types the
 * command line may not offer yet:
 *
 *   hwk-keygen -B backend [-t rsa|ecdsa|ed25519] [-b bits] [-N passphrase]
 *              [-C comment] [-o name=value]... -f keyfile
 *
 * It writes keyfile and keyfile.pub as hwkeygen does (both or neither),
 * prints the backend's notices and errors on stderr, and exits with
 * hwkeygen's codes (2 for a type or size the backend cannot make).  It
 * asks for nothing: no -N means no passphrase.
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

static int
ui_read_secret(void *arg, const char *prompt, char *buf, size_t len)
{
	(void)arg;
	(void)prompt;
	(void)buf;
	(void)len;
	return HWK_ERR_CANCELLED;	/* a prompt is a test failure */
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
	fprintf(stderr, "hwk-keygen: %s: %s\n", what, *hwk_ctx_detail(ctx) !=
	    '\0' ? hwk_ctx_detail(ctx) : hwk_strerror(r));
	if (*hwk_ctx_advice(ctx) != '\0')
		fprintf(stderr, "hwk-keygen: %s\n", hwk_ctx_advice(ctx));
	return hwk_exit_code(r);
}

struct opts {
	const char	*backend, *path;
	struct hwk_genparams gp;
};

static int
parse_type(const char *s)
{
	if (strcmp(s, "rsa") == 0)
		return HWK_KEY_RSA;
	if (strcmp(s, "ecdsa") == 0)
		return HWK_KEY_ECDSA;
	if (strcmp(s, "ed25519") == 0)
		return HWK_KEY_ED25519;
	return 0;
}

/* The command line into o and the context's options; EXIT_OK if good. */
static int
parse_opts(int argc, char **argv, struct hwk_ctx *ctx, struct opts *o)
{
	char *eq;
	int ch;

	memset(o, 0, sizeof(*o));
	o->gp.type = HWK_KEY_RSA;
	while ((ch = getopt(argc, argv, "B:b:C:f:N:o:t:")) != -1) {
		switch (ch) {
		case 'B':
			o->backend = optarg;
			break;
		case 'b':
			o->gp.bits = (unsigned)atoi(optarg);
			o->gp.bits_given = 1;
			break;
		case 'C':
			o->gp.comment = optarg;
			break;
		case 'f':
			o->path = optarg;
			break;
		case 'N':
			o->gp.passphrase = optarg;
			break;
		case 'o':
			if ((eq = strchr(optarg, '=')) == NULL)
				return EXIT_USAGE;
			*eq = '\0';
			if (hwk_ctx_set_opt(ctx, optarg, eq + 1) != 0)
				return EXIT_FAIL;
			break;
		case 't':
			if ((o->gp.type = parse_type(optarg)) == 0)
				return EXIT_USAGE;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (o->backend == NULL || o->path == NULL || optind != argc)
		return EXIT_USAGE;
	return EXIT_OK;
}

/* The size hwkeygen gives each type when -b does not say. */
static void
default_bits(const struct hwk_backend *b, struct hwk_genparams *gp)
{
	if (gp->bits_given)
		return;
	if (gp->type == HWK_KEY_RSA)
		gp->bits = b->default_bits;
	else
		gp->bits = 256;
}

/* check, generate, write_stub, and the pair written. */
static int
make_key(struct hwk_ctx *ctx, const struct hwk_backend *b,
    const struct opts *o)
{
	struct hwk_key *key = NULL;
	struct hwk_pubkey *pub = NULL;
	struct hwk_buf *stub = NULL;
	struct hwk_export ex;
	char *line = NULL, *publine = NULL;
	int r, rc = EXIT_FAIL;

	/* As hwkeygen: a type or size the backend cannot make is bad usage. */
	if ((r = hwk_backend_check(ctx, b, &o->gp)) != 0)
		return r == HWK_ERR_KEY_SIZE || r == HWK_ERR_KEY_TYPE ?
		    (fail(ctx, r, "check"), EXIT_USAGE) : fail(ctx, r, "check");
	if ((r = hwk_backend_generate(ctx, b, &o->gp, &key)) != 0)
		return fail(ctx, r, "generate");
	if ((stub = hwk_buf_new()) == NULL ||
	    (r = hwk_key_set_comment(key, o->gp.comment)) != 0 ||
	    (r = hwk_backend_write_stub(ctx, key, &o->gp, stub)) != 0 ||
	    (r = hwk_key_pubkey(key, &pub)) != 0 ||
	    (r = hwk_pubkey_format(pub, 1, &line)) != 0) {
		rc = fail(ctx, stub == NULL ? HWK_ERR_NOMEM : r, "encode");
		goto out;
	}
	if ((publine = malloc(strlen(line) + 2)) == NULL)
		goto out;
	snprintf(publine, strlen(line) + 2, "%s\n", line);
	memset(&ex, 0, sizeof(ex));
	ex.path = o->path;
	ex.priv = stub;
	ex.publine = publine;
	if ((r = hwk_export_pair(ctx, &ex)) != 0) {
		rc = fail(ctx, r, "write");
		goto out;
	}
	rc = EXIT_OK;
 out:
	if (rc != EXIT_OK)
		(void)hwk_key_destroy(ctx, key);
	free(publine);
	free(line);
	hwk_pubkey_free(&pub);
	hwk_buf_free(&stub);
	hwk_key_free(&key);
	return rc;
}

int
main(int argc, char **argv)
{
	struct hwk_ctx *ctx = NULL;
	const struct hwk_backend *b;
	struct opts o;
	int r, rc;

	if ((ctx = hwk_ctx_new()) == NULL)
		return EXIT_FAIL;
	hwk_ctx_set_ui(ctx, &ui);
	if ((rc = parse_opts(argc, argv, ctx, &o)) == EXIT_USAGE)
		goto usage;
	else if (rc != EXIT_OK)
		goto out;
	if ((b = hwk_backend_find(o.backend)) == NULL)
		goto usage;
	default_bits(b, &o.gp);
	if ((r = hwk_backends_check_opts(ctx)) != 0 ||
	    (r = hwk_backend_probe(ctx, b)) != 0) {
		rc = fail(ctx, r, o.backend);
		goto out;
	}
	rc = make_key(ctx, b, &o);
	goto out;
 usage:
	fprintf(stderr, "usage: hwk-keygen -B backend [-t rsa|ecdsa|ed25519] "
	    "[-b bits] [-N passphrase] [-C comment] [-o name=value]... "
	    "-f keyfile\n");
	rc = EXIT_USAGE;
 out:
	hwk_ctx_free(&ctx);
	return rc;
}
