/* hwkeygen -y and -l: the public key and the fingerprint of a key file. */
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hwkey/backend.h"
#include "hwkey/buf.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "hwkey/out.h"
#include "hwkey/sshkey.h"
#include "hwkey/stubfile.h"
#include "cli.h"

/* ssh-keygen's refusal of a private key file others can read. */
static int
refuse_open_file(struct hwk_ctx *ctx, const char *path, const struct stat *st)
{
	fprintf(stderr,
	    "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
	    "@         WARNING: UNPROTECTED PRIVATE KEY FILE!          @\n"
	    "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
	    "Permissions 0%3.3o for '%s' are too open.\n"
	    "It is required that your private key files are NOT accessible "
	    "by others.\n"
	    "This private key will be ignored.\n",
	    (unsigned)st->st_mode & 0777, path);
	hwk_ctx_error(ctx, HWK_ERR_SYSTEM, "Load key \"%s\": bad permissions",
	    path);
	hwk_ctx_hint(ctx, "Make it yours alone: chmod 600 %s", path);
	hwk_report(ctx, HWK_ERR_SYSTEM, NULL);
	return HWK_ERR_SYSTEM;
}

/* Opens a private file with the backend whose format it is. */
static int
load_stub(struct hwk_ctx *ctx, const struct hwk_stubfile *sf,
    struct hwk_key **keyp)
{
	int r;

	*keyp = NULL;
	if (hwk_stubfile_too_open(sf))
		return refuse_open_file(ctx, sf->path, &sf->st);
	if ((r = hwk_stubfile_load(ctx, sf, keyp)) == 0)
		return HWK_OK;
	if (sf->backend == NULL)
		hwk_report(ctx, r, NULL);
	else if (r == HWK_ERR_CANCELLED && *hwk_ctx_detail(ctx) == '\0')
		/* The prompt met the end of the input: no secret to try. */
		hwk_report(ctx, r, "Load key \"%s\": no passphrase given "
		    "(input ended)", sf->path);
	else
		hwk_report(ctx, r, "Load key \"%s\"", sf->path);
	return r;
}

/* A copy of the comment of path.pub, if there is one. */
static char *
pub_comment(const struct hwk_stubfile *sf)
{
	if (sf->pubfile == NULL || sf->pubfile->comment == NULL)
		return NULL;
	return strdup(sf->pubfile->comment);
}

/*
 * The .pub of a private file that does not hold its public key (a token's
 * stub): it answers -y without the device, and without loading the module
 * the stub names.  NULL if the stub holds the key itself, or no .pub reads.
 */
static const struct hwk_pubkey *
stub_pub(const struct hwk_stubfile *sf)
{
	if (sf->backend == NULL || sf->info_rc != 0 || sf->info.pub != NULL)
		return NULL;
	return sf->pubfile;
}

int
hwk_cli_print_public(struct hwk_cli_opts *o, struct hwk_ctx *ctx)
{
	struct hwk_stubfile *sf = NULL;
	struct hwk_key *key = NULL;
	struct hwk_pubkey *pub = NULL;
	const struct hwk_pubkey *spub;
	char *line = NULL, *c;
	int r;

	if (!o->have_path && (r = hwk_cli_ask_filename(o, "Enter file in "
	    "which the key is")) != 0)
		return r;
	if ((r = hwk_stubfile_read(ctx, o->path, &sf)) != 0) {
		hwk_report(ctx, r, NULL);
		return r;
	}
	if ((spub = stub_pub(sf)) != NULL) {
		/* An empty comment is none: no blank after the key. */
		if ((r = hwk_pubkey_format(spub, spub->comment != NULL &&
		    *spub->comment != '\0', &line)) != 0) {
			hwk_report(ctx, r, "cannot encode the public key");
			goto out;
		}
		printf("%s\n", line);
		goto out;
	}
	if ((r = load_stub(ctx, sf, &key)) != 0)
		goto out;
	/* A stub keeps no comment: take the one of its .pub. */
	if (key->comment == NULL || *key->comment == '\0') {
		c = pub_comment(sf);
		hwk_key_set_comment(key, c);
		free(c);
	}
	if (key->comment != NULL && *key->comment == '\0')
		hwk_key_set_comment(key, NULL);
	if ((r = hwk_key_pubkey(key, &pub)) != 0 ||
	    (r = hwk_pubkey_format(pub, 1, &line)) != 0) {
		hwk_report(ctx, r, "cannot encode the public key");
		goto out;
	}
	/* Escaped on a terminal; as it is into a file, a .pub to be. */
	if (isatty(STDOUT_FILENO))
		hwk_out_vis_fputs(line, stdout);
	else
		fputs(line, stdout);
	putchar('\n');
 out:
	free(line);
	hwk_pubkey_free(&pub);
	hwk_key_free(&key);
	hwk_stubfile_free(&sf);
	return r;
}

/* Every key line of a public key file; HWK_ERR_FORMAT if none parses. */
static int
fingerprint_public_text(const char *text, int verbose)
{
	struct hwk_pubkey *pub = NULL;
	const char *p = text, *nl;
	char *line;
	int n = 0, r;

	while (*p != '\0') {
		nl = strchr(p, '\n');
		line = strndup(p, nl != NULL ? (size_t)(nl - p) : strlen(p));
		if (line == NULL)
			return HWK_ERR_NOMEM;
		if (line[strspn(line, " \t\r")] != '\0' &&
		    line[strspn(line, " \t\r")] != '#' &&
		    hwk_pubkey_from_line(line, &pub) == 0) {
			r = hwk_print_fp_line(pub, verbose);
			hwk_pubkey_free(&pub);
			if (r != 0) {
				free(line);
				return r;
			}
			n++;
		}
		free(line);
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	return n > 0 ? HWK_OK : HWK_ERR_FORMAT;
}

/* A private file's public half: its .pub, what it says, or the key. */
static int
fingerprint_private(const struct hwk_cli_opts *o, struct hwk_ctx *ctx,
    struct hwk_stubfile *sf)
{
	struct hwk_key *key = NULL;
	struct hwk_pubkey *pub = NULL;
	char *c;
	int r;

	/* Its .pub first, as ssh-keygen does. */
	if (sf->pubfile != NULL)
		return hwk_print_fp_line(sf->pubfile, o->verbose);
	if (sf->info_rc != 0 && sf->info_rc != HWK_ERR_UNSUPPORTED) {
		fprintf(stderr, "hwkeygen: %s is not a valid key file: it is "
		    "damaged or truncated\n", o->path);
		return HWK_ERR_FORMAT;
	}
	if (sf->info_rc == 0 && sf->info.pub != NULL) {
		free(sf->info.pub->comment);
		sf->info.pub->comment = sf->info.comment;
		sf->info.comment = NULL;
		return hwk_print_fp_line(sf->info.pub, o->verbose);
	}
	/* The public half is not in the file: open the key. */
	if ((r = load_stub(ctx, sf, &key)) != 0)
		goto out;
	c = pub_comment(sf);
	if (c == NULL || *c == '\0' || hwk_key_set_comment(key, c) != 0)
		hwk_key_set_comment(key, key->comment);
	free(c);
	if (key->comment != NULL && *key->comment == '\0')
		hwk_key_set_comment(key, NULL);
	if ((r = hwk_key_pubkey(key, &pub)) == 0)
		r = hwk_print_fp_line(pub, o->verbose);
 out:
	hwk_pubkey_free(&pub);
	hwk_key_free(&key);
	return r;
}

int
hwk_cli_fingerprint(struct hwk_cli_opts *o, struct hwk_ctx *ctx)
{
	struct hwk_stubfile *sf = NULL;
	char *text = NULL;
	int r;

	if (!o->have_path && (r = hwk_cli_ask_filename(o, "Enter file in "
	    "which the key is")) != 0)
		return r;
	if ((r = hwk_stubfile_read(ctx, o->path, &sf)) != 0) {
		hwk_report(ctx, r, NULL);
		return r;
	}
	if (sf->backend != NULL) {
		r = fingerprint_private(o, ctx, sf);
		goto out;
	}
	/* A public key file: every key line in it. */
	if ((text = hwk_buf_dup_string(sf->data)) == NULL)
		r = HWK_ERR_NOMEM;
	else
		r = fingerprint_public_text(text, o->verbose);
	if (r != 0)
		fprintf(stderr, "hwkeygen: %s is not a key file\n", o->path);
 out:
	hwk_stubfile_free(&sf);
	free(text);
	return r;
}
