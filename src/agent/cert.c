/*
 * OpenSSH certificates beside the stubs: NAME-cert.pub is offered together
 * with NAME's key, read again whenever the file changes (short-lived
 * certificates are renewed often) and dropped when it goes.
 */
#include <sys/stat.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hwkey/buf.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "hwkey/keyfile.h"
#include "hwkey/sshkey.h"
#include "agent.h"

#define CERT_SUFFIX	"-cert-v01@openssh.com"
#define CERT_TYPE_USER	1	/* PROTOCOL.certkeys: SSH2_CERT_TYPE_USER */

/* The certificate file of one identity, as last read. */
struct hwk_cert {
	struct hwk_pubkey *pub;		/* NULL: none usable in the file */
	struct stat	 st;		/* of the file that was read */
	int		 hidden;	/* removed by a client until it changes */
};

static void
nolog(int level, const char *fmt, ...)
{
	(void)level;
	(void)fmt;
}

#define LOG(a, lvl, ...) ((a)->log != NULL ? (a)->log : nolog)(lvl, __VA_ARGS__)

void
hwk_cert_free(struct hwk_cert **cp)
{
	if (cp == NULL || *cp == NULL)
		return;
	hwk_pubkey_free(&(*cp)->pub);
	free(*cp);
	*cp = NULL;
}

const struct hwk_pubkey *
hwk_identity_cert(const struct hwk_identity *id)
{
	if (id->cert == NULL || id->cert->hidden)
		return NULL;
	return id->cert->pub;
}

void
hwk_identity_cert_hide(struct hwk_identity *id)
{
	if (id->cert != NULL)
		id->cert->hidden = 1;
}

/*
 * Walks the certificate after its key (PROTOCOL.certkeys): serial, type,
 * key id, principals, validity, options, extensions, reserved, CA key and
 * the CA's signature over all before it, and nothing after.
 */
static const char *
cert_tail(struct hwk_buf *b, const uint8_t *blob, size_t len)
{
	const uint8_t *ca, *sig;
	size_t calen, siglen, signed_len;
	uint64_t serial, after, before;
	uint32_t type;
	const char *why;
	int i;

	if (hwk_buf_get_u64(b, &serial) != 0 || hwk_buf_get_u32(b, &type) != 0)
		return "truncated certificate";
	if (type != CERT_TYPE_USER)
		return "a host certificate, not a user's";
	if (hwk_buf_get_string_direct(b, NULL, NULL) != 0 ||
	    hwk_buf_get_string_direct(b, NULL, NULL) != 0 ||
	    hwk_buf_get_u64(b, &after) != 0 || hwk_buf_get_u64(b, &before) != 0)
		return "truncated certificate";
	for (i = 0; i < 3; i++)
		if (hwk_buf_get_string_direct(b, NULL, NULL) != 0)
			return "truncated certificate";
	if (hwk_buf_get_string_direct(b, &ca, &calen) != 0)
		return "truncated certificate";
	signed_len = len - hwk_buf_len(b);
	if (hwk_buf_get_string_direct(b, &sig, &siglen) != 0)
		return "truncated certificate";
	if (hwk_buf_len(b) != 0)
		return "bytes after the certificate";
	if (hwk_cert_sig_ok(ca, calen, blob, signed_len, sig, siglen,
	    &why) != 0)
		return why;
	return NULL;
}

/*
 * The blob of a certificate of key: its type is key's plus CERT_SUFFIX,
 * and after the nonce come key's own fields, byte for byte (each type's
 * public fields keep their order in its certificate).
 */
static const char *
cert_check(const uint8_t *blob, size_t len, const char *line_type,
    const struct hwk_pubkey *key)
{
	struct hwk_buf *b = NULL;
	const uint8_t *t;
	const char *why;
	size_t tlen, klen = strlen(key->type), fields = 4 + klen;

	if ((b = hwk_buf_from(blob, len)) == NULL)
		return "out of memory";
	why = "not an OpenSSH certificate";
	if (hwk_buf_get_string_direct(b, &t, &tlen) != 0 ||
	    tlen != strlen(line_type) || memcmp(t, line_type, tlen) != 0 ||
	    tlen <= strlen(CERT_SUFFIX) ||
	    strcmp(line_type + tlen - strlen(CERT_SUFFIX), CERT_SUFFIX) != 0)
		goto out;
	why = "it certifies another key";
	if (tlen != klen + strlen(CERT_SUFFIX) ||
	    memcmp(t, key->type, klen) != 0 || key->bloblen < fields)
		goto out;
	why = "truncated certificate";
	if (hwk_buf_get_string_direct(b, NULL, NULL) != 0)	/* nonce */
		goto out;
	why = "it certifies another key";
	if (hwk_buf_len(b) < key->bloblen - fields ||
	    memcmp(hwk_buf_ptr(b), key->blob + fields,
	    key->bloblen - fields) != 0)
		goto out;
	hwk_buf_consume(b, key->bloblen - fields);
	why = cert_tail(b, blob, len);
 out:
	hwk_buf_free(&b);
	return why;
}

int
hwk_cert_parse(const char *line, const struct hwk_pubkey *key,
    struct hwk_pubkey **certp, const char **whyp)
{
	struct hwk_pubkey *c = NULL;
	struct hwk_buf *blob = NULL;
	size_t tlen, blen, clen;
	const char *p, *why;
	int r = HWK_ERR_FORMAT;

	*certp = NULL;
	*whyp = "not a certificate line (type base64 [comment])";
	for (p = line; *p == ' ' || *p == '\t'; p++)
		;
	if ((tlen = strcspn(p, " \t\r\n")) == 0 || tlen > 128)
		return r;
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->type = strndup(p, tlen)) == NULL ||
	    (blob = hwk_buf_new()) == NULL) {
		r = HWK_ERR_NOMEM;
		goto out;
	}
	for (p += tlen; *p == ' ' || *p == '\t'; p++)
		;
	if ((blen = strcspn(p, " \t\r\n")) == 0 ||
	    hwk_base64_decode(p, blen, blob) != 0)
		goto out;
	if ((why = cert_check(hwk_buf_ptr(blob), hwk_buf_len(blob), c->type,
	    key)) != NULL) {
		*whyp = why;
		goto out;
	}
	for (p += blen; *p == ' ' || *p == '\t'; p++)
		;
	clen = strcspn(p, "\r\n");
	while (clen > 0 && (p[clen - 1] == ' ' || p[clen - 1] == '\t'))
		clen--;
	c->bloblen = hwk_buf_len(blob);
	if ((c->blob = malloc(c->bloblen)) == NULL ||
	    (clen > 0 && (c->comment = strndup(p, clen)) == NULL)) {
		r = HWK_ERR_NOMEM;
		goto out;
	}
	memcpy(c->blob, hwk_buf_ptr(blob), c->bloblen);
	*certp = c;
	c = NULL;
	*whyp = NULL;
	r = HWK_OK;
 out:
	hwk_pubkey_free(&c);
	hwk_buf_free(&blob);
	return r;
}

static int
same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	    a->st_size == b->st_size &&
	    a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	    a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	    a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	    a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* Reads path as it is now into id's (allocated) cert. */
static void
cert_read(struct hwk_agent *a, struct hwk_identity *id, const char *path,
    const struct stat *st)
{
	struct hwk_buf *data = NULL;
	const char *why = "cannot read it";
	char *text = NULL;
	int r;

	hwk_pubkey_free(&id->cert->pub);
	id->cert->hidden = 0;
	/* The stat of the bytes read: a change after is seen next time. */
	if ((r = hwk_file_read_stat(NULL, path, &data, &id->cert->st)) != 0)
		id->cert->st = *st;	/* unreadable: said once, not each time */
	if (r != 0 || (text = hwk_buf_dup_string(data)) == NULL ||
	    hwk_cert_parse(text, id->pub, &id->cert->pub, &why) != 0) {
		LOG(a, AGENT_LOG_ERR, "%s: ignored: %s", path, why);
		goto out;
	}
	LOG(a, AGENT_LOG_INFO, "%s: offered with %s", path, id->path);
 out:
	free(text);
	hwk_buf_free(&data);
}

/* A stat per identity; a file is parsed again only when it changed. */
void
hwk_agent_certs_refresh(struct hwk_agent *a)
{
	struct hwk_identity *id;
	char path[PATH_MAX + 16];
	struct stat st;
	size_t i;

	for (i = 0; i < a->nids; i++) {
		id = &a->ids[i];
		if (snprintf(path, sizeof(path), "%s-cert.pub", id->path) >=
		    (int)sizeof(path))
			continue;
		if (stat(path, &st) != 0) {
			if (id->cert != NULL && id->cert->pub != NULL)
				LOG(a, AGENT_LOG_INFO, "%s: gone, no longer "
				    "offered", path);
			hwk_cert_free(&id->cert);
			continue;
		}
		if (id->cert != NULL && same_file(&st, &id->cert->st))
			continue;
		if (id->cert == NULL &&
		    (id->cert = calloc(1, sizeof(*id->cert))) == NULL)
			continue;
		cert_read(a, id, path, &st);
	}
}
