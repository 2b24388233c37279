/*
 * hwkey-agent's SIGN_REQUEST: which key, which algorithm, whether this
 * connection may have it, and the signature; a token's signature is
 * started in the PKCS#11 helper and finished by the poll loop when the
 * helper answers, so that a slow token holds up its own client alone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hwkey/backend.h"
#include "hwkey/buf.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "hwkey/sshkey.h"
#include "hwkey/stubfile.h"
#include "agent.h"
#include "conn.h"
#include "p11helper.h"

#define PASS_ON		1	/* not ours: for the upstream (proto.c) */

/* The wait of a client that left while its token request was out. */
static struct hwk_wait *orphan;

static void
nolog(int level, const char *fmt, ...)
{
	(void)level;
	(void)fmt;
}

#define LOG(a, lvl, ...) ((a)->log != NULL ? (a)->log : nolog)(lvl, __VA_ARGS__)

static int
failure(struct hwk_buf *reply)
{
	return hwk_buf_put_u8(reply, AGENT_FAILURE);
}

/*
 * The signature algorithm for the key and the client's flags; -1 if
 * refused.  The flags choose RSA's hash only: ECDSA's follows the curve
 * and Ed25519 has none to choose, so both sign as their key type.
 */
static int
sig_alg(struct hwk_agent *a, const struct hwk_identity *id, uint32_t flags,
    const char **algp)
{
	if (strcmp(id->pub->type, "ssh-ed25519") == 0) {
		*algp = id->pub->type;
		return HWK_SIG_ED25519;
	}
	if (strncmp(id->pub->type, "ecdsa-sha2-", 11) == 0) {
		*algp = id->pub->type;
		return HWK_SIG_ECDSA;
	}
	if (flags & AGENT_RSA_SHA2_256) {
		*algp = "rsa-sha2-256";
		return HWK_SIG_RSA_SHA256;
	}
	if (flags & AGENT_RSA_SHA2_512) {
		*algp = "rsa-sha2-512";
		return HWK_SIG_RSA_SHA512;
	}
	if (a->allow_sha1) {
		*algp = "ssh-rsa";
		return HWK_SIG_RSA_SHA1;
	}
	LOG(a, AGENT_LOG_INFO, "%s: refused an ssh-rsa (SHA-1) signature; "
	    "start the agent with --allow-sha1 to allow it", id->path);
	return -1;
}

/*
 * The answer to a signature the device made (r == 0) or did not: the
 * SIGN_RESPONSE, or FAILURE and the failure logged.  id is NULL when the
 * key was removed while its signature was on its way.
 */
static int
sign_answer(struct hwk_agent *a, struct hwk_identity *id, const char *alg,
    const uint8_t *raw, size_t rawlen, int r, struct hwk_buf *reply)
{
	struct hwk_buf *sig = NULL;
	size_t start = hwk_buf_len(reply);

	if (r == 0 && (id == NULL || id->key == NULL))
		return failure(reply);
	if (r != 0)
		goto fail;
	if ((sig = hwk_buf_new()) == NULL) {
		r = HWK_ERR_NOMEM;
		goto fail;
	}
	if ((r = hwk_sig_put_blob(id->key->pkey, alg, raw, rawlen,
	    sig)) != 0) {
		hwk_ctx_error(a->ctx, r, "the device's signature does not fit "
		    "the key");
		goto fail;
	}
	if ((r = hwk_buf_put_u8(reply, AGENT_SIGN_RESPONSE)) != 0 ||
	    (r = hwk_buf_put_stringb(reply, sig)) != 0)
		goto fail;
	id->signatures++;
	LOG(a, AGENT_LOG_DEBUG, "%s: %s signature", id->path, alg);
	hwk_buf_free(&sig);
	return HWK_OK;
 fail:
	hwk_buf_free(&sig);
	LOG(a, AGENT_LOG_ERR, "%s: signature failed: %s", id != NULL ?
	    id->path : "a key removed since", *hwk_ctx_detail(a->ctx) != '\0' ?
	    hwk_ctx_detail(a->ctx) : hwk_strerror(r));
	/*
	 * Open afresh next time unless only the PIN or password was wrong;
	 * a token key whose helper went opens itself again in a new one.
	 */
	if (id != NULL && r != HWK_ERR_PIN_INCORRECT &&
	    r != HWK_ERR_WRONG_PASSPHRASE && !hwk_agent_p11_reopens(id->key)) {
		hwk_key_free(&id->key);
		id->unlocked = 0;	/* what add gave went with it */
	}
	hwk_buf_consume_end(reply, hwk_buf_len(reply) - start);
	return failure(reply);
}

/* A copy of len bytes at p into *dp; 0 or HWK_ERR_NOMEM. */
static int
copy(const uint8_t *p, size_t len, uint8_t **dp, size_t *lenp)
{
	if ((*dp = malloc(len != 0 ? len : 1)) == NULL)
		return HWK_ERR_NOMEM;
	memcpy(*dp, p, len);
	*lenp = len;
	return HWK_OK;
}

/*
 * The token's signature goes on in the helper, its answer to come: of
 * data by algno, once the key is opened by stub when stub is given.
 */
static int
sign_later(struct hwk_conn *c, const struct hwk_identity *id,
    const char *alg, int algno, const uint8_t *data, size_t datalen,
    const uint8_t *stub, size_t stublen)
{
	struct hwk_wait *w;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return HWK_ERR_NOMEM;
	w->kind = WAIT_HELPER;
	w->algno = algno;
	snprintf(w->alg, sizeof(w->alg), "%s", alg);
	if (copy(id->pub->blob, id->pub->bloblen, &w->blob,
	    &w->bloblen) != 0 || (stub != NULL && (copy(data, datalen,
	    &w->data, &w->datalen) != 0 || copy(stub, stublen, &w->stub,
	    &w->stublen) != 0))) {
		hwk_wait_free(&w);
		return HWK_ERR_NOMEM;
	}
	c->wait = w;
	return HWK_AGENT_WAIT;
}

/*
 * A token key not open yet is opened in the helper (its token may log in
 * then, and wait for a PIN pad), its signature after: both to come.
 */
static int
open_later(struct hwk_agent *a, struct hwk_conn *c, struct hwk_identity *id,
    const char *alg, int algno, const uint8_t *data, size_t datalen)
{
	struct hwk_stubfile *sf = NULL;
	int r;

	if ((r = hwk_stubfile_read(a->ctx, id->path, &sf)) != 0)
		return r;
	if (!hwk_agent_p11_owns(sf->backend))
		r = 1;		/* not a token's stub now: as usual */
	else if ((r = hwk_agent_p11_open_start(a->ctx, hwk_buf_ptr(sf->data),
	    hwk_buf_len(sf->data))) == 0)
		r = sign_later(c, id, alg, algno, data, datalen,
		    hwk_buf_ptr(sf->data), hwk_buf_len(sf->data));
	hwk_stubfile_free(&sf);
	return r;
}

/* The signature, its policy passed: here and now, or in the helper. */
static int
sign_now(struct hwk_agent *a, struct hwk_conn *c, struct hwk_identity *id,
    const char *alg, int algno, const uint8_t *data, size_t datalen,
    struct hwk_buf *reply)
{
	uint8_t *raw = NULL;
	size_t rawlen = 0;
	int later, r;

	hwk_ctx_clear_error(a->ctx);
	hwk_askpass_about(c, id);	/* a PIN prompt names key and asker */
	later = c != NULL && c->can_wait && hwk_agent_p11_owns(id->backend);
	r = 1;		/* 1: here and now, waiting for the device */
	if (later && id->key == NULL)
		r = open_later(a, c, id, alg, algno, data, datalen);
	else if (later && (r = hwk_agent_p11_sign_start(a->ctx, id->key,
	    algno, data, datalen)) == 0)
		r = sign_later(c, id, alg, algno, data, datalen, NULL, 0);
	if (r == 1 && (r = hwk_agent_open_identity(a, id)) == 0)
		r = hwk_key_sign(a->ctx, id->key, algno, data, datalen, &raw,
		    &rawlen);
	if (r != HWK_AGENT_WAIT)
		r = sign_answer(a, id, alg, raw, rawlen, r, reply);
	hwk_askpass_about(NULL, NULL);
	free(raw);
	return r;
}

/* --confirm's question goes on the screen; the signature after a yes. */
static int
confirm_later(struct hwk_agent *a, struct hwk_conn *c,
    const struct hwk_identity *id, const char *alg, int algno,
    const uint8_t *data, size_t datalen, struct hwk_buf *reply)
{
	struct hwk_wait *w;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return HWK_ERR_NOMEM;
	w->kind = WAIT_CONFIRM;
	w->pid = -1;
	w->fd = -1;
	w->algno = algno;
	snprintf(w->alg, sizeof(w->alg), "%s", alg);
	if (copy(id->pub->blob, id->pub->bloblen, &w->blob,
	    &w->bloblen) != 0 || copy(data, datalen, &w->data,
	    &w->datalen) != 0) {
		hwk_wait_free(&w);
		return HWK_ERR_NOMEM;
	}
	if (hwk_confirm_start(a, c, id, w) != 0) {
		hwk_wait_free(&w);
		return failure(reply);
	}
	c->wait = w;
	return HWK_AGENT_WAIT;
}

int
hwk_agent_sign(struct hwk_agent *a, struct hwk_conn *c, struct hwk_buf *req,
    struct hwk_buf *reply)
{
	struct hwk_identity *id;
	const uint8_t *blob, *data;
	const char *alg;
	size_t bloblen, datalen;
	uint32_t flags;
	int algno, waits = c != NULL && c->can_wait;

	if (hwk_buf_get_string_direct(req, &blob, &bloblen) != 0 ||
	    hwk_buf_get_string_direct(req, &data, &datalen) != 0 ||
	    hwk_buf_get_u32(req, &flags) != 0 || hwk_buf_len(req) != 0)
		return failure(reply);
	if (a->locked) {
		LOG(a, AGENT_LOG_INFO, "sign refused: the agent is locked");
		return failure(reply);
	}
	if ((id = hwk_agent_find_identity(a, blob, bloblen)) == NULL) {
		/* Our rule on forwarded requests holds for its keys too. */
		if (a->upstream != NULL)
			return hwk_bind_may_pass(a, c) == 0 ? PASS_ON :
			    failure(reply);
		LOG(a, AGENT_LOG_DEBUG, "sign refused: unknown key");
		return failure(reply);
	}
	/*
	 * A token signature waits its turn before anything is asked, and
	 * so does a question while another is on the screen.
	 */
	if (waits && ((hwk_agent_p11_owns(id->backend) &&
	    hwk_agent_p11_busy()) || (a->confirm && hwk_confirm_busy())))
		return HWK_AGENT_TURN;
	if ((algno = sig_alg(a, id, flags, &alg)) < 0 ||
	    hwk_bind_may_sign(a, c, id) != 0)
		return failure(reply);
	if (waits && a->confirm)
		return confirm_later(a, c, id, alg, algno, data, datalen,
		    reply);
	if (hwk_confirm_sign(a, c, id) != 0)
		return failure(reply);
	return sign_now(a, c, id, alg, algno, data, datalen, reply);
}

int
hwk_agent_confirm_step(struct hwk_agent *a, struct hwk_conn *c,
    struct hwk_buf *reply)
{
	struct hwk_wait *w = c->wait;
	struct hwk_identity *id;
	int r;

	c->wait = NULL;		/* the signature may wait in its turn */
	id = hwk_agent_find_identity(a, w->blob, w->bloblen);
	if (hwk_confirm_end(a, c, id != NULL ? id->path : "a key removed "
	    "since", w) != 0 || id == NULL || a->locked)
		r = failure(reply);
	else
		r = sign_now(a, c, id, w->alg, w->algno, w->data, w->datalen,
		    reply);
	hwk_wait_free(&w);
	if (r == HWK_AGENT_WAIT)
		return 0;	/* in the helper now: c has its wait */
	return r != 0 ? r : 1;
}

/*
 * The key the helper opened for id: kept, and (if sign) its signature
 * started (0: its answer to come).  Else the failure, or 1 if the
 * signature is to be made here and now.
 */
static int
opened(struct hwk_agent *a, struct hwk_wait *w, struct hwk_identity *id,
    struct hwk_buf *ans, int rc, int sign)
{
	struct hwk_pubkey *kpub = NULL;
	struct hwk_key *key = NULL;

	if (rc == 0)
		rc = hwk_agent_p11_open_end(a->ctx, ans, w->stub, w->stublen,
		    &key);
	free(w->stub);
	w->stub = NULL;		/* the next answer is the signature */
	if (rc == 0 && id == NULL)
		rc = hwk_ctx_error(a->ctx, HWK_ERR_NOT_FOUND, "the key was "
		    "removed while it was opened");
	if (rc != 0)
		goto out;
	/* Opened meanwhile another way: that one signs. */
	if (id->key == NULL && (rc = hwk_key_pubkey(key, &kpub)) == 0) {
		if (kpub->bloblen != id->pub->bloblen ||
		    memcmp(kpub->blob, id->pub->blob, kpub->bloblen) != 0)
			rc = hwk_ctx_error(a->ctx, HWK_ERR_FORMAT, "the key "
			    "does not match %s.pub", id->path);
		else {
			id->key = key;
			key = NULL;
			if (!sign)
				LOG(a, AGENT_LOG_DEBUG, "%s: opened for a "
				    "client that has gone; kept open",
				    id->path);
		}
	}
	if (rc == 0 && sign)
		rc = hwk_agent_p11_sign_start(a->ctx, id->key, w->algno,
		    w->data, w->datalen);
 out:
	hwk_pubkey_free(&kpub);
	hwk_key_free(&key);	/* the helper is idle: it lets go of it */
	return rc;
}

void
hwk_agent_sign_orphan(struct hwk_wait *w)
{
	hwk_wait_free(&orphan);	/* one request out at a time: none */
	orphan = w;
}

int
hwk_agent_sign_step(struct hwk_agent *a, struct hwk_conn *c,
    struct hwk_buf *reply)
{
	struct hwk_wait *w = c != NULL ? c->wait : orphan;
	struct hwk_identity *id = NULL;
	struct hwk_buf *ans;
	uint8_t *raw = NULL;
	size_t rawlen = 0;
	int rc, r;

	if ((ans = hwk_buf_new()) == NULL)
		return HWK_ERR_NOMEM;
	if (w != NULL && w->kind == WAIT_HELPER)
		id = hwk_agent_find_identity(a, w->blob, w->bloblen);
	/* A PIN asked on the way names the key and the asker. */
	hwk_askpass_about(id != NULL ? c : NULL, id);
	hwk_ctx_clear_error(a->ctx);
	r = p11c_step(a->ctx, ans, &rc);
	hwk_askpass_about(NULL, NULL);
	if (r == 1 && w != NULL && w->kind == WAIT_HELPER) {
		if (w->stub != NULL && (rc = opened(a, w, id, ans, rc,
		    c != NULL)) == 0 && c != NULL) {
			r = 0;		/* the signature is on its way */
			goto out;
		}
		/* Its client gone: a key it opened is kept, no more. */
		if (c == NULL) {
			hwk_wait_free(&orphan);
			goto out;
		}
		if (rc == 1)
			rc = hwk_key_sign(a->ctx, id->key, w->algno, w->data,
			    w->datalen, &raw, &rawlen);
		else if (rc == 0)
			rc = hwk_agent_p11_sign_end(a->ctx, ans, &raw, &rawlen);
		/* The key, removed and added again since, is not the one. */
		if (id != NULL && rc == 0 && id->key == NULL)
			id = NULL;
		r = sign_answer(a, id, w->alg, raw, rawlen, rc, reply);
		r = r != 0 ? r : 1;
	}
 out:
	hwk_buf_free(&ans);
	free(raw);
	return r;
}
