/*
 * session-bind@openssh.com (OpenSSH PROTOCOL.agent), kept as ssh-agent
 * keeps it: on every agent connection it opens, ssh says which SSH
 * session it serves (host key, session id, the host key's signature over
 * the id) and whether it is a forwarded one.  A signature asked for over
 * a forwarded connection is refused unless the agent runs with
 * --allow-forwarded, so a host you forward the agent to cannot use keys
 * you did not mean it to.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "hwkey/buf.h"
#include "hwkey/error.h"
#include "hwkey/sshkey.h"
#include "agent.h"
#include "conn.h"

#define RSA_MIN_VERIFY_BITS	1024	/* ssh-agent's SSH_RSA_MINIMUM_MODULUS_SIZE */

static void
nolog(int level, const char *fmt, ...)
{
	(void)level;
	(void)fmt;
}

#define LOG(a, lvl, ...) ((a)->log != NULL ? (a)->log : nolog)(lvl, __VA_ARGS__)

/* The hash of signature algorithm alg by key k; HWK_ERR_FORMAT if unfit. */
static int
sig_md(const struct hwk_pubkey *k, const EVP_PKEY *pk, const char *alg,
    const EVP_MD **mdp)
{
	*mdp = NULL;
	if (strcmp(k->type, "ssh-ed25519") == 0)
		return strcmp(alg, k->type) == 0 ? HWK_OK : HWK_ERR_FORMAT;
	if (strncmp(k->type, "ecdsa-sha2-", 11) == 0) {
		if (strcmp(alg, k->type) != 0 ||
		    (*mdp = hwk_ecdsa_md(hwk_ecdsa_bits(pk))) == NULL)
			return HWK_ERR_FORMAT;
		return HWK_OK;
	}
	if (hwk_rsa_bits(pk) < RSA_MIN_VERIFY_BITS)
		return HWK_ERR_KEY_SIZE;
	if (strcmp(alg, "rsa-sha2-256") == 0)
		*mdp = EVP_sha256();
	else if (strcmp(alg, "rsa-sha2-512") == 0)
		*mdp = EVP_sha512();
	else if (strcmp(alg, "ssh-rsa") == 0)
		*mdp = EVP_sha1();	/* ssh-agent takes it from a host too */
	return *mdp != NULL ? HWK_OK : HWK_ERR_FORMAT;
}

/* ECDSA's SSH signature (mpint r, mpint s) as the DER OpenSSL verifies. */
static int
ecdsa_der(const uint8_t *s, size_t slen, uint8_t **derp, size_t *derlenp)
{
	struct hwk_buf *b = NULL;
	ECDSA_SIG *es = NULL;
	BIGNUM *br = NULL, *bs = NULL;
	const uint8_t *rv, *sv;
	size_t rlen, svlen;
	int n, r = HWK_ERR_FORMAT;

	*derp = NULL;
	if ((b = hwk_buf_from(s, slen)) == NULL)
		return HWK_ERR_NOMEM;
	if (hwk_buf_get_mpint_direct(b, &rv, &rlen) != 0 ||
	    hwk_buf_get_mpint_direct(b, &sv, &svlen) != 0 ||
	    hwk_buf_len(b) != 0)
		goto out;
	r = HWK_ERR_CRYPTO;
	if ((es = ECDSA_SIG_new()) == NULL ||
	    (br = BN_bin2bn(rv, (int)rlen, NULL)) == NULL ||
	    (bs = BN_bin2bn(sv, (int)svlen, NULL)) == NULL ||
	    ECDSA_SIG_set0(es, br, bs) != 1)
		goto out;
	br = bs = NULL;		/* owned by es */
	if ((n = i2d_ECDSA_SIG(es, derp)) <= 0)
		goto out;
	*derlenp = (size_t)n;
	r = HWK_OK;
 out:
	BN_free(br);
	BN_free(bs);
	ECDSA_SIG_free(es);
	hwk_buf_free(&b);
	return r;
}

/* RSA's signature left-padded to the modulus, as ssh-agent accepts it. */
static int
rsa_padded(const EVP_PKEY *pk, const uint8_t *s, size_t slen, uint8_t **outp,
    size_t *outlenp)
{
	int mod = EVP_PKEY_get_size(pk);

	*outp = NULL;
	if (mod <= 0 || slen > (size_t)mod || slen == 0)
		return HWK_ERR_FORMAT;
	if ((*outp = OPENSSL_zalloc((size_t)mod)) == NULL)
		return HWK_ERR_NOMEM;
	memcpy(*outp + (size_t)mod - slen, s, slen);
	*outlenp = (size_t)mod;
	return HWK_OK;
}

/*
 * The plain key of an OpenSSH host certificate (PROTOCOL.certkeys): type,
 * nonce, then the key's own fields; NULL *plainp if key is no certificate.
 * Whether a CA vouches for the host is ssh's business: the agent only
 * checks that the key signed the session id.
 */
static int
cert_plain(const uint8_t *key, size_t keylen, struct hwk_buf **plainp)
{
	static const char suffix[] = "-cert-v01@openssh.com";
	struct hwk_buf *b = NULL, *p = NULL;
	const uint8_t *t, *f;
	size_t tlen, flen, n, i;
	int r = HWK_ERR_FORMAT;

	*plainp = NULL;
	if ((b = hwk_buf_from(key, keylen)) == NULL)
		return HWK_ERR_NOMEM;
	if (hwk_buf_get_string_direct(b, &t, &tlen) != 0)
		goto out;
	n = strlen(suffix);
	if (tlen <= n || memcmp(t + tlen - n, suffix, n) != 0) {
		r = HWK_OK;
		goto out;
	}
	tlen -= n;
	/* RSA: e, n; ECDSA: curve, Q; Ed25519: the key. */
	n = tlen == 7 && memcmp(t, "ssh-rsa", 7) == 0 ? 2 :
	    tlen > 11 && memcmp(t, "ecdsa-sha2-", 11) == 0 ? 2 : 1;
	if ((p = hwk_buf_new()) == NULL) {
		r = HWK_ERR_NOMEM;
		goto out;
	}
	if (hwk_buf_put_string(p, t, tlen) != 0 ||
	    hwk_buf_get_string_direct(b, NULL, NULL) != 0)	/* nonce */
		goto out;
	for (i = 0; i < n; i++)
		if (hwk_buf_get_string_direct(b, &f, &flen) != 0 ||
		    hwk_buf_put_string(p, f, flen) != 0)
			goto out;
	*plainp = p;
	p = NULL;
	r = HWK_OK;
 out:
	hwk_buf_free(&p);
	hwk_buf_free(&b);
	return r;
}

int
hwk_bind_verify(const uint8_t *key, size_t keylen, const uint8_t *sig,
    size_t siglen, const uint8_t *data, size_t datalen)
{
	struct hwk_pubkey *k = NULL;
	struct hwk_buf *b = NULL, *plain = NULL;
	EVP_PKEY *pk = NULL;
	EVP_MD_CTX *mctx = NULL;
	const EVP_MD *md;
	const uint8_t *s;
	uint8_t *conv = NULL;
	size_t slen, convlen = 0;
	char *alg = NULL;
	int r;

	if ((r = cert_plain(key, keylen, &plain)) != 0)
		goto out;
	if (plain != NULL) {
		key = hwk_buf_ptr(plain);
		keylen = hwk_buf_len(plain);
	}
	if ((r = hwk_pubkey_from_blob(key, keylen, NULL, &k)) != 0 ||
	    (r = hwk_pubkey_to_evp(k, &pk)) != 0)
		goto out;
	if ((b = hwk_buf_from(sig, siglen)) == NULL) {
		r = HWK_ERR_NOMEM;
		goto out;
	}
	if (hwk_buf_get_cstring(b, &alg, NULL) != 0 ||
	    hwk_buf_get_string_direct(b, &s, &slen) != 0 ||
	    hwk_buf_len(b) != 0) {
		r = HWK_ERR_FORMAT;
		goto out;
	}
	if ((r = sig_md(k, pk, alg, &md)) != 0)
		goto out;
	if (strncmp(k->type, "ecdsa-sha2-", 11) == 0)
		r = ecdsa_der(s, slen, &conv, &convlen);
	else if (strcmp(k->type, "ssh-rsa") == 0)
		r = rsa_padded(pk, s, slen, &conv, &convlen);
	if (r != 0)
		goto out;
	if (conv != NULL) {
		s = conv;
		slen = convlen;
	}
	if ((mctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit(mctx, NULL, md, NULL, pk) != 1) {
		r = HWK_ERR_CRYPTO;
		goto out;
	}
	r = EVP_DigestVerify(mctx, s, slen, data, datalen) == 1 ? HWK_OK :
	    HWK_ERR_FORMAT;
 out:
	EVP_MD_CTX_free(mctx);
	EVP_PKEY_free(pk);
	hwk_pubkey_free(&k);
	hwk_buf_free(&b);
	hwk_buf_free(&plain);
	free(alg);
	OPENSSL_free(conv);
	return r;
}

/* Records a verified binding on c, by ssh-agent's rules. */
static int
record(struct hwk_agent *a, struct hwk_conn *c, const uint8_t *key,
    size_t keylen, const uint8_t *sid, size_t sidlen, int fwd,
    const char *fp)
{
	struct hwk_bind *bd;
	size_t i;
	int sid_match;

	for (i = 0; i < c->nbinds; i++) {
		bd = &c->binds[i];
		/* A connection bound to log in is used for nothing else. */
		if (!bd->forwarded) {
			LOG(a, AGENT_LOG_ERR, "session-bind refused: the "
			    "connection is already bound for a login to %s",
			    bd->fp);
			return HWK_ERR_INVALID_ARG;
		}
		sid_match = bd->sidlen == sidlen &&
		    CRYPTO_memcmp(bd->sid, sid, sidlen) == 0;
		if (sid_match && bd->hostkeylen == keylen &&
		    memcmp(bd->hostkey, key, keylen) == 0)
			return HWK_OK;	/* the same binding again */
		if (sid_match) {
			LOG(a, AGENT_LOG_ERR, "session-bind refused: its "
			    "session id is bound to another host key than %s",
			    fp);
			return HWK_ERR_INVALID_ARG;
		}
	}
	if (c->nbinds >= CONN_MAX_BINDS) {
		LOG(a, AGENT_LOG_ERR, "session-bind refused: a connection "
		    "has at most %d", CONN_MAX_BINDS);
		return HWK_ERR_TOO_LARGE;
	}
	if ((bd = reallocarray(c->binds, c->nbinds + 1, sizeof(*bd))) == NULL)
		return HWK_ERR_NOMEM;
	c->binds = bd;
	bd = &c->binds[c->nbinds];
	memset(bd, 0, sizeof(*bd));
	if ((bd->hostkey = malloc(keylen)) == NULL)
		return HWK_ERR_NOMEM;
	memcpy(bd->hostkey, key, keylen);
	bd->hostkeylen = keylen;
	memcpy(bd->sid, sid, sidlen);
	bd->sidlen = sidlen;
	bd->forwarded = fwd;
	memcpy(bd->fp, fp, sizeof(bd->fp));
	c->nbinds++;
	return HWK_OK;
}

int
hwk_bind_session(struct hwk_agent *a, struct hwk_conn *c, struct hwk_buf *req)
{
	const uint8_t *key, *sid, *sig;
	size_t keylen, sidlen, siglen;
	char fp[HWK_FP_LEN];
	uint8_t fwd;
	int r;

	if (hwk_buf_get_string_direct(req, &key, &keylen) != 0 ||
	    hwk_buf_get_string_direct(req, &sid, &sidlen) != 0 ||
	    hwk_buf_get_string_direct(req, &sig, &siglen) != 0 ||
	    hwk_buf_get_u8(req, &fwd) != 0 || hwk_buf_len(req) != 0) {
		LOG(a, AGENT_LOG_ERR, "session-bind refused: malformed");
		r = HWK_ERR_FORMAT;
		goto out;
	}
	if ((r = hwk_fingerprint(key, keylen, fp, NULL)) != 0)
		goto out;
	if (sidlen == 0 || sidlen > CONN_MAX_SID) {
		LOG(a, AGENT_LOG_ERR, "session-bind refused: a session id of "
		    "%zu bytes", sidlen);
		r = HWK_ERR_FORMAT;
		goto out;
	}
	if ((r = hwk_bind_verify(key, keylen, sig, siglen, sid,
	    sidlen)) != 0) {
		LOG(a, AGENT_LOG_ERR, "session-bind refused: the signature of "
		    "host key %s does not verify", fp);
		goto out;
	}
	/* Refused by the rules below, the hops it had stay what they were. */
	if (c != NULL && (r = record(a, c, key, keylen, sid, sidlen,
	    fwd != 0, fp)) != 0)
		return r;
	LOG(a, AGENT_LOG_DEBUG, "session-bind to host key %s%s", fp,
	    fwd ? " (forwarded)" : "");
 out:
	/* Unverified, it could hide a forward: the connection signs no more. */
	if (r != 0 && c != NULL)
		c->bind_failed = 1;
	return r;
}

/* 0 if the connection may have a signature by what (a key's name). */
static int
may_sign(struct hwk_agent *a, struct hwk_conn *c, const char *what)
{
	struct hwk_bind *last;
	char via[CONN_NAME_MAX + HWK_FP_LEN + 4];
	char to[CONN_NAME_MAX + HWK_FP_LEN + 4];
	size_t i;

	if (c == NULL)
		return HWK_OK;
	if (c->bind_failed) {
		LOG(a, AGENT_LOG_ERR, "%s: refused a signature for %s (pid %d): "
		    "a session-bind on its connection did not verify",
		    what, hwk_conn_prog(c), (int)c->pid);
		return HWK_ERR_INVALID_ARG;
	}
	/* Forwarded if any hop was: the first one is, after a forward. */
	for (i = 0; i < c->nbinds && !c->binds[i].forwarded; i++)
		;
	if (i == c->nbinds || a->allow_forwarded)
		return HWK_OK;
	last = &c->binds[c->nbinds - 1];
	hwk_conn_host(&c->binds[i], via, sizeof(via));
	if (!last->forwarded)
		hwk_conn_host(last, to, sizeof(to));
	LOG(a, AGENT_LOG_INFO, "%s: refused a signature for %s (pid %d) "
	    "through the agent forwarded to host %s%s%s; start the agent with "
	    "--allow-forwarded to allow it", what, hwk_conn_prog(c),
	    (int)c->pid, via, last->forwarded ? "" : ", for a login to host ",
	    last->forwarded ? "" : to);
	return HWK_ERR_INVALID_ARG;
}

int
hwk_bind_may_sign(struct hwk_agent *a, struct hwk_conn *c,
    const struct hwk_identity *id)
{
	return may_sign(a, c, id->path);
}

int
hwk_bind_may_pass(struct hwk_agent *a, struct hwk_conn *c)
{
	return may_sign(a, c, "a key of the upstream agent");
}
