/*
 * hwkeygen's attestation commands (docs/attestation.md): --attest writes
 * KEY.attest for a key in a device; --attest-challenge and --attest-verify
 * check it with no device; --attest-respond answers on the device.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "hwkey/attest.h"
#include "hwkey/backend.h"
#include "hwkey/buf.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "hwkey/keyfile.h"
#include "hwkey/out.h"
#include "hwkey/sshkey.h"
#include "hwkey/stubfile.h"
#include "cli.h"

#define SECRET_SUFFIX	".secret"

/* What the command line may combine; called by check_args (args.c). */
int
hwk_cli_attest_check(struct hwk_cli_opts *o)
{
	int n = (o->attest_challenge != NULL) + (o->attest_respond != NULL) +
	    (o->attest_verify != NULL);
	const char *bad = NULL;

	if (n > 1 || (n == 1 && (o->attest || o->print_public ||
	    o->fingerprint || o->list || o->backends)))
		bad = "--attest, --attest-challenge, --attest-respond and "
		    "--attest-verify are commands of their own";
	else if ((o->attest_challenge != NULL || o->attest_verify != NULL) &&
	    o->ca == NULL)
		bad = "the verifier needs the roots it trusts: --ca ROOTS.pem";
	else if ((o->attest_challenge != NULL || o->attest_respond != NULL) &&
	    o->output == NULL)
		bad = "say where to write it: -o FILE";
	else if ((o->challenge == NULL) != (o->response == NULL))
		bad = "--challenge and --response go together";
	else if (o->challenge != NULL && o->attest_verify == NULL)
		bad = "--challenge and --response are for --attest-verify";
	else if (o->ca != NULL && o->attest_challenge == NULL &&
	    o->attest_verify == NULL)
		bad = "--ca is for --attest-challenge and --attest-verify";
	else if (o->output != NULL && o->attest_challenge == NULL &&
	    o->attest_respond == NULL)
		bad = "-o is for --attest-challenge and --attest-respond";
	else if (o->attest && (o->print_public || o->fingerprint ||
	    o->list || o->backends))
		bad = "--attest cannot be combined with -y, -l, --list or "
		    "--backends";
	else if (o->attest && o->backend != NULL &&
	    strcmp(o->backend, "auto") != 0 &&
	    (hwk_backend_find(o->backend)->flags & HWK_BF_DEVICE) == 0)
		bad = "--attest needs a key made in a TPM or on a token, and "
		    "this backend keeps the key in a file";
	else if (o->attest && o->backend != NULL &&
	    strcmp(o->backend, "auto") != 0 &&
	    hwk_backend_attest_able(NULL, hwk_backend_find(o->backend)) != 0)
		bad = "--attest: hwkeygen cannot attest keys of this backend";
	else if (o->json && n == 1 && o->attest_verify == NULL)
		bad = "--json goes with --attest-verify";
	if (bad != NULL) {
		fprintf(stderr, "hwkeygen: %s\nTry 'hwkeygen --help' for more "
		    "information.\n", bad);
		return HWK_ERR_USAGE;
	}
	/* A key that must be attested must be made in a device. */
	if (o->attest && !hwk_cli_attest_mode(o))
		o->require_hw = 1;
	return HWK_OK;
}

/* Nonzero if the command is one of this file's (not generation). */
int
hwk_cli_attest_mode(const struct hwk_cli_opts *o)
{
	if (o->attest_challenge != NULL || o->attest_respond != NULL ||
	    o->attest_verify != NULL)
		return 1;
	/* --attest alone with an existing key attests that key. */
	return o->attest && !o->gen_opts && o->have_path &&
	    access(o->path, F_OK) == 0;
}

/* path, all or nothing: a temporary file beside it, fsynced, renamed. */
static int
write_file(struct hwk_ctx *ctx, const char *path, const struct hwk_buf *b,
    mode_t mode)
{
	char tmp[PATH_MAX];
	const uint8_t *p = hwk_buf_ptr(b);
	size_t left = hwk_buf_len(b);
	ssize_t n;
	int fd = -1, r = HWK_ERR_SYSTEM;

	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >=
	    (int)sizeof(tmp))
		return hwk_ctx_error(ctx, HWK_ERR_INVALID_ARG, "%s: the path "
		    "is too long", path);
	if ((fd = mkstemp(tmp)) < 0) {
		tmp[0] = '\0';
		goto out;
	}
	if (fchmod(fd, mode) != 0)
		goto out;
	while (left > 0) {
		if ((n = write(fd, p, left)) < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto out;
		p += n;
		left -= (size_t)n;
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		fd = -1;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto out;
	tmp[0] = '\0';
	r = HWK_OK;
 out:
	if (r != 0)
		hwk_ctx_error(ctx, r, "cannot write %s: %s", path,
		    strerror(errno));
	if (fd >= 0)
		close(fd);
	if (tmp[0] != '\0')
		unlink(tmp);
	return r;
}

static int
write_doc(struct hwk_ctx *ctx, const char *path, const struct hwk_attest *a,
    mode_t mode)
{
	struct hwk_buf *b;
	int r;

	if ((b = hwk_buf_new()) == NULL)
		return HWK_ERR_NOMEM;
	if ((r = hwk_attest_write(a, b)) == 0)
		r = write_file(ctx, path, b, mode);
	hwk_buf_free(&b);	/* wipes: a secret may be in it */
	return r;
}

/* Hex of the SHA-256 of bytes: what binds a challenge to its evidence. */
static void
sha256_hex(const uint8_t *p, size_t len, char hex[65])
{
	uint8_t d[32];
	size_t i;

	memset(d, 0, sizeof(d));
	EVP_Digest(p, len, d, NULL, EVP_sha256(), NULL);
	for (i = 0; i < sizeof(d); i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

/*
 * A file of attestation, with the format it must have; the hex SHA-256 of
 * its bytes into hex if asked.
 */
static int
read_doc(struct hwk_ctx *ctx, const char *path, const char *format,
    const char *what, struct hwk_attest *a, char hex[65])
{
	struct hwk_buf *b = NULL;
	const char *f;
	int r;

	memset(a, 0, sizeof(*a));
	if ((r = hwk_file_read(ctx, path, &b)) != 0)
		return r;
	if (hex != NULL)
		sha256_hex(hwk_buf_ptr(b), hwk_buf_len(b), hex);
	r = hwk_attest_read(hwk_buf_ptr(b), hwk_buf_len(b), a);
	hwk_buf_free(&b);
	if (r == 0 && ((f = hwk_attest_str(a, "format", 0)) == NULL ||
	    strcmp(f, format) != 0))
		r = HWK_ERR_FORMAT;
	if (r != 0) {
		hwk_attest_clear(a);
		return hwk_ctx_error(ctx, r == HWK_ERR_NOMEM ? r :
		    HWK_ERR_FORMAT, "%s is not %s", path, what);
	}
	return HWK_OK;
}

/* The backend a file names, which alone knows what it holds. */
static int
doc_backend(struct hwk_ctx *ctx, const struct hwk_attest *a,
    const char *path, const struct hwk_backend **bp)
{
	const char *name = hwk_attest_str(a, "backend", 0);

	if (name == NULL || (*bp = hwk_backend_find(name)) == NULL)
		return hwk_ctx_error(ctx, HWK_ERR_FORMAT, "%s names no device "
		    "kind hwkeygen knows", path);
	return HWK_OK;
}

/*
 * Refuses, before a device is asked, a key no proof can be given for: one
 * in a file, or of a backend that attests nothing.
 */
static int
able(struct hwk_ctx *ctx, const struct hwk_backend *b, const char *path)
{
	if ((b->flags & HWK_BF_DEVICE) == 0) {
		hwk_ctx_error(ctx, HWK_ERR_UNSUPPORTED, "%s is a key in a file "
		    "(%s backend): nothing can prove where it was made", path,
		    b->name);
		hwk_ctx_hint(ctx, "Attestation is for keys made in a TPM or "
		    "on a token: hwkeygen --backend tpm2 --attest");
		return HWK_ERR_UNSUPPORTED;
	}
	if (hwk_backend_attest_able(ctx, b) != 0) {
		hwk_ctx_hint(ctx, "Attestation is available for TPM keys and "
		    "for PIV keys on tokens.");
		return HWK_ERR_UNSUPPORTED;
	}
	return HWK_OK;
}

/*
 * KEY.attest for key, whose public half is pub: written beside the key
 * file, 0644 as a .pub.  The passphrase a new key was just given, if any,
 * opens it again without a prompt.
 */
int
hwk_cli_attest_key(struct hwk_cli_opts *o, struct hwk_ctx *ctx,
    struct hwk_key *key, const struct hwk_pubkey *pub, const char *pass)
{
	struct hwk_attest ev;
	char path[PATH_MAX + 8], *line = NULL, *sp;
	int r;

	memset(&ev, 0, sizeof(ev));
	if ((r = able(ctx, key->backend, o->path)) != 0)
		goto out;
	if (pass != NULL && *pass != '\0' &&
	    (r = hwk_ctx_set_opt(ctx, "passphrase", pass)) != 0)
		goto out;
	/* The key without its comment: a comment is no part of the key. */
	if ((r = hwk_pubkey_format(pub, 0, &line)) != 0)
		goto out;
	if ((sp = strchr(line, ' ')) != NULL && (sp = strchr(sp + 1, ' ')))
		*sp = '\0';
	snprintf(path, sizeof(path), "%s.attest", o->path);
	if ((r = hwk_attest_put_str(&ev, "format", 0, HWK_ATTEST_EVIDENCE)) ||
	    (r = hwk_attest_put_str(&ev, "ssh_key", 0, line)) ||
	    (r = hwk_key_attest(ctx, key, &ev)) != 0 ||
	    (r = write_doc(ctx, path, &ev, 0644)) != 0)
		goto out;
	if (!o->quiet)
		fprintf(o->info, "The key's attestation has been saved in %s\n",
		    path);
 out:
	if (r != 0)
		hwk_report(ctx, r, "no attestation was written");
	free(line);
	hwk_attest_clear(&ev);
	return r;
}

/* --attest -f KEY: an existing key, opened as -y opens it. */
static int
attest_existing(struct hwk_cli_opts *o, struct hwk_ctx *ctx)
{
	struct hwk_stubfile *sf = NULL;
	struct hwk_key *key = NULL;
	struct hwk_pubkey *pub = NULL;
	int r;

	if ((r = hwk_stubfile_read(ctx, o->path, &sf)) != 0) {
		hwk_report(ctx, r, NULL);
		return r;
	}
	if (sf->backend == NULL) {
		r = hwk_ctx_error(ctx, HWK_ERR_FORMAT, "%s is no key file "
		    "hwkeygen reads", o->path);
		hwk_report(ctx, r, "no attestation was written");
		goto out;
	}
	if ((r = able(ctx, sf->backend, o->path)) != 0) {
		hwk_report(ctx, r, "no attestation was written");
		goto out;
	}
	if ((r = hwk_stubfile_load(ctx, sf, &key)) != 0) {
		hwk_report(ctx, r, "Load key \"%s\"", o->path);
		goto out;
	}
	if ((r = hwk_key_pubkey(key, &pub)) != 0) {
		hwk_report(ctx, r, "cannot encode the public key");
		goto out;
	}
	r = hwk_cli_attest_key(o, ctx, key, pub, NULL);
 out:
	hwk_pubkey_free(&pub);
	hwk_key_free(&key);
	hwk_stubfile_free(&sf);
	return r;
}

/* --attest-challenge KEY.attest --ca ROOTS -o CHALLENGE */
static int
challenge(struct hwk_cli_opts *o, struct hwk_ctx *ctx)
{
	const struct hwk_backend *b;
	struct hwk_attest ev, chal, secret;
	char hex[65], spath[PATH_MAX + 8];
	int r;

	memset(&chal, 0, sizeof(chal));
	memset(&secret, 0, sizeof(secret));
	snprintf(spath, sizeof(spath), "%s%s", o->output, SECRET_SUFFIX);
	if ((r = read_doc(ctx, o->attest_challenge, HWK_ATTEST_EVIDENCE,
	    "a key's attestation (KEY.attest)", &ev, hex)) != 0)
		goto out;
	if ((r = doc_backend(ctx, &ev, o->attest_challenge, &b)) != 0 ||
	    (r = hwk_attest_put_str(&chal, "format", 0,
	    HWK_ATTEST_CHALLENGE)) != 0 ||
	    (r = hwk_attest_put_str(&chal, "backend", 0, b->name)) != 0 ||
	    (r = hwk_attest_put_str(&chal, "evidence_sha256", 0, hex)) != 0 ||
	    (r = hwk_attest_put_str(&secret, "format", 0,
	    HWK_ATTEST_SECRET)) != 0 ||
	    (r = hwk_attest_put_str(&secret, "evidence_sha256", 0, hex)) != 0)
		goto out;
	if ((r = hwk_backend_attest_challenge(ctx, b, &ev, o->ca, &chal,
	    &secret)) != 0)
		goto out;
	/* The secret first: a challenge never exists without it. */
	if ((r = write_doc(ctx, spath, &secret, 0600)) != 0 ||
	    (r = write_doc(ctx, o->output, &chal, 0644)) != 0)
		goto out;
	if (!o->quiet)
		printf("The evidence holds so far. Challenge saved in %s, its "
		    "secret in %s (keep it here)\n", o->output, spath);
 out:
	if (r != 0)
		hwk_report(ctx, r, "no challenge was written");
	hwk_attest_clear(&ev);
	hwk_attest_clear(&chal);
	hwk_attest_clear(&secret);
	return r;
}

/* --attest-respond CHALLENGE -o RESPONSE */
static int
respond(struct hwk_cli_opts *o, struct hwk_ctx *ctx)
{
	const struct hwk_backend *b;
	struct hwk_attest chal, resp;
	int r;

	memset(&resp, 0, sizeof(resp));
	if ((r = read_doc(ctx, o->attest_respond, HWK_ATTEST_CHALLENGE,
	    "an attestation challenge", &chal, NULL)) != 0)
		goto out;
	if ((r = doc_backend(ctx, &chal, o->attest_respond, &b)) != 0 ||
	    (r = hwk_backend_attest_respond(ctx, b, &chal, &resp)) != 0 ||
	    (r = write_doc(ctx, o->output, &resp, 0644)) != 0)
		goto out;
	if (!o->quiet)
		printf("Response saved in %s\n", o->output);
 out:
	if (r != 0)
		hwk_report(ctx, r, "no response was written");
	hwk_attest_clear(&chal);
	hwk_attest_clear(&resp);
	return r;
}

static int
print_verdict(const struct hwk_cli_opts *o, const struct hwk_attest *v)
{
	static const char *const rows[][2] = {
		{ "fingerprint", "Key" }, { "key_type", "Type" },
		{ "device", "Device" }, { "device_reported", "Reported" },
		{ "protection", "Protection" },
	};
	struct hwk_out *out;
	size_t i;
	const char *s;
	int r;

	if (!o->json) {
		printf("Attestation verified: the key was made in the device "
		    "and cannot leave it.\n");
		for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
			if ((s = hwk_attest_str(v, rows[i][0], 0)) != NULL) {
				printf("%-11s ", rows[i][1]);
				hwk_out_vis_fputs(s, stdout);
				putchar('\n');
			}
		return HWK_OK;
	}
	if ((out = hwk_out_new(1)) == NULL)
		return HWK_ERR_NOMEM;
	hwk_out_begin_object(out, NULL);
	hwk_out_bool(out, "verified", 1);
	for (i = 0; i < v->n; i++)
		hwk_out_str(out, v->item[i].name, v->item[i].value);
	hwk_out_end_object(out);
	r = hwk_out_print(out, stdout) == 0 ? HWK_OK : HWK_ERR_SYSTEM;
	hwk_out_free(&out);
	return r;
}

/* The challenge's secret, made for this very evidence. */
static int
read_secret(struct hwk_ctx *ctx, const struct hwk_cli_opts *o,
    const char *hex, struct hwk_attest *secret)
{
	char spath[PATH_MAX + 8];
	const char *h;
	int r;

	snprintf(spath, sizeof(spath), "%s%s", o->challenge, SECRET_SUFFIX);
	if ((r = read_doc(ctx, spath, HWK_ATTEST_SECRET, "the secret of an "
	    "attestation challenge", secret, NULL)) != 0)
		return r;
	if ((h = hwk_attest_str(secret, "evidence_sha256", 0)) == NULL ||
	    strcmp(h, hex) != 0)
		return hwk_ctx_error(ctx, HWK_ERR_FORMAT, "attestation failed: "
		    "the challenge %s was made for other evidence than %s",
		    o->challenge, o->attest_verify);
	return HWK_OK;
}

/* --attest-verify KEY.attest --ca ROOTS [--challenge C --response R] */
static int
verify(struct hwk_cli_opts *o, struct hwk_ctx *ctx)
{
	const struct hwk_backend *b;
	struct hwk_attest ev, secret, resp, v;
	char hex[65];
	int r, have = o->challenge != NULL;

	memset(&secret, 0, sizeof(secret));
	memset(&resp, 0, sizeof(resp));
	memset(&v, 0, sizeof(v));
	if ((r = read_doc(ctx, o->attest_verify, HWK_ATTEST_EVIDENCE,
	    "a key's attestation (KEY.attest)", &ev, hex)) != 0)
		goto out;
	if ((r = doc_backend(ctx, &ev, o->attest_verify, &b)) != 0)
		goto out;
	if (have && ((r = read_secret(ctx, o, hex, &secret)) != 0 ||
	    (r = read_doc(ctx, o->response, HWK_ATTEST_RESPONSE, "a response "
	    "to an attestation challenge", &resp, NULL)) != 0))
		goto out;
	if ((r = hwk_backend_attest_verify(ctx, b, &ev, o->ca,
	    have ? &secret : NULL, have ? &resp : NULL, &v)) != 0)
		goto out;
	r = print_verdict(o, &v);
 out:
	if (r != 0)
		hwk_report(ctx, r, NULL);
	hwk_attest_clear(&ev);
	hwk_attest_clear(&secret);
	hwk_attest_clear(&resp);
	hwk_attest_clear(&v);
	return r;
}

int
hwk_cli_attest(struct hwk_cli_opts *o, struct hwk_ctx *ctx)
{
	if (o->attest_challenge != NULL)
		return challenge(o, ctx);
	if (o->attest_respond != NULL)
		return respond(o, ctx);
	if (o->attest_verify != NULL)
		return verify(o, ctx);
	return attest_existing(o, ctx);
}
