/*
 * A TPM key from its stub: the key object, loading it into the TPM under
 * its parent when signing begins, its password (kept, asked, wiped), and
 * letting go of it again.
 */
#include <sys/mman.h>

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <tss2/tss2_esys.h>

#include "hwkey/backend.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "hwkey/secret.h"
#include "backends.h"
#include "tpm2_int.h"

#define PASS_MAX	HWK_SECRET_MAX	/* as -N, -P and the prompt */

/*
 * The key this process holds in a TPM without a resource manager, where
 * every program shares three object slots: at most one (see hwk_tpm2_key_load).
 */
static struct tpm2_key *resident;

struct tpm2_key *
hwk_tpm2_key_new(void)
{
	struct tpm2_key *tk;

	if ((tk = calloc(1, sizeof(*tk))) == NULL)
		return NULL;
	/*
	 * It keeps the password while the agent holds the key: not in swap.
	 * Best effort, and never undone: munlock() would unlock the whole
	 * page, with the other keys on it.
	 */
	(void)mlock(tk, sizeof(*tk));
	tk->handle = ESYS_TR_NONE;
	tk->session = ESYS_TR_NONE;
	return tk;
}

/* A key object around a stub; takes tk. */
int
hwk_tpm2_key_wrap(struct hwk_ctx *ctx, struct tpm2_key *tk,
    struct hwk_key **keyp)
{
	EVP_PKEY *pkey = NULL;
	const char *why = NULL;
	int r;

	*keyp = NULL;
	if ((r = hwk_tpm2_pub_to_evp(&tk->kf.pub.publicArea, &pkey,
	    &why)) != 0) {
		hwk_ctx_error(ctx, r, "the TPM key cannot be used: %s",
		    why != NULL && *why != '\0' ? why : hwk_strerror(r));
		goto out;
	}
	if ((r = hwk_key_new(&hwk_backend_tpm2, keyp)) != 0)
		goto out;
	(*keyp)->pkey = pkey;
	(*keyp)->impl = tk;
	pkey = NULL;
	tk = NULL;
 out:
	EVP_PKEY_free(pkey);
	if (tk != NULL) {
		hwk_tpm2_keyfile_clear(&tk->kf);
		free(tk);
	}
	return r;
}

/* Reads the stub only: -y and -l work with no TPM, signing connects later. */
int
hwk_tpm2_load(struct hwk_ctx *ctx, const uint8_t *stub, size_t len,
    struct hwk_key **keyp)
{
	struct tpm2_key *tk;
	const char *why = NULL;
	TPMA_OBJECT a;
	int r;

	*keyp = NULL;
	if ((r = hwk_tpm2_mu_need(ctx)) != 0)
		return r;
	if ((tk = hwk_tpm2_key_new()) == NULL)
		return HWK_ERR_NOMEM;
	if ((r = hwk_tpm2_keyfile_read(stub, len, &tk->kf, &why)) != 0) {
		/* No reason for failures of our own, such as no memory. */
		hwk_ctx_error(ctx, r, "not a usable TPM key file: %s",
		    why != NULL && *why != '\0' ? why : hwk_strerror(r));
		goto fail;
	}
	a = tk->kf.pub.publicArea.objectAttributes;
	if ((r = hwk_tpm2_parent_supported(ctx, tk->kf.parent)) != 0)
		goto fail;
	if (a & TPMA_OBJECT_RESTRICTED) {
		r = hwk_ctx_error(ctx, HWK_ERR_KEY_TYPE, "the TPM key is "
		    "restricted (an attestation or storage key): it cannot "
		    "sign SSH data");
		goto fail;
	}
	return hwk_tpm2_key_wrap(ctx, tk, keyp);
 fail:
	hwk_tpm2_keyfile_clear(&tk->kf);
	free(tk);
	return r;
}

/*
 * Overwrites ESYS's copy of the password on the loaded key with zeros.
 * Esys_TR_SetAuth sends nothing, so this works even when ESYS refuses
 * every command after a lost one.  Out of our reach: the HMAC key ESYS
 * derived from the password for the last command, kept in its session
 * object until the next command or the session's flush (freed unwiped);
 * and all of it once ESYS is finalized, which frees without wiping:
 * hence this comes before every hwk_tpm2_conn_close of a loaded key.
 */
static void
auth_wipe_esys(struct tpm2_key *tk)
{
	TPM2B_AUTH none;

	if (tk->conn.esys == NULL || tk->handle == ESYS_TR_NONE)
		return;
	memset(&none, 0, sizeof(none));
	(void)Esys_TR_SetAuth(tk->conn.esys, tk->handle, &none);
}

/* Flushes what the key holds in the TPM and ends the connection. */
void
hwk_tpm2_key_unload(struct tpm2_key *tk)
{
	if (tk->conn.esys != NULL) {
		if (tk->handle != ESYS_TR_NONE) {
			auth_wipe_esys(tk);
			hwk_tpm2_conn_flush(&tk->conn, &tk->handle);
		}
		hwk_tpm2_conn_flush(&tk->conn, &tk->session);
	}
	tk->handle = tk->session = ESYS_TR_NONE;
	tk->authed = 0;
	hwk_tpm2_conn_close(&tk->conn);
	if (resident == tk)
		resident = NULL;
}

/* Why TPM2_Load refused the key, in words. */
static int
load_refused(struct hwk_ctx *ctx, struct tpm2_key *tk, TSS2_RC rc)
{
	if (hwk_tpm2_rc_base(rc) == TPM2_RC_INTEGRITY) {
		hwk_ctx_error(ctx, HWK_ERR_WRONG_DEVICE, "this key file "
		    "belongs to another TPM (or to a parent key that was "
		    "replaced): the TPM at %s cannot unwrap it",
		    tk->conn.name);
		hwk_ctx_hint(ctx, "A TPM key works only in the TPM that made "
		    "it, and not after that TPM was cleared.");
		return HWK_ERR_WRONG_DEVICE;
	}
	return hwk_tpm2_rc_error(ctx, &tk->conn, rc, "loading the key "
	    "(TPM2_Load)");
}

/*
 * Loads the key under its parent, with a salted session if it has a
 * password; *rcp keeps the answer of a TPM2_Load or session that failed.
 */
int
hwk_tpm2_key_load(struct hwk_ctx *ctx, struct tpm2_key *tk, TSS2_RC *rcp)
{
	ESYS_TR parent = ESYS_TR_NONE;
	TSS2_RC rc;
	int r;

	if (tk->handle != ESYS_TR_NONE)
		return HWK_OK;
	/*
	 * Without a resource manager each key held takes one of the TPM's
	 * three object slots from every program: let go of the one this
	 * process holds (its key, session and connection) before the next.
	 */
	if (resident != NULL && resident != tk)
		hwk_tpm2_key_unload(resident);
	if (tk->conn.esys == NULL &&
	    (r = hwk_tpm2_conn_open(ctx, &tk->conn)) != 0)
		return r;
	if ((r = hwk_tpm2_parent_open(ctx, &tk->conn, tk->kf.parent,
	    &parent)) != 0)
		goto out;
	rc = Esys_Load(tk->conn.esys, parent, ESYS_TR_PASSWORD, ESYS_TR_NONE,
	    ESYS_TR_NONE, &tk->kf.priv, &tk->kf.pub, &tk->handle);
	if (rc != TSS2_RC_SUCCESS) {
		tk->handle = ESYS_TR_NONE;
		*rcp = rc;
		r = load_refused(ctx, tk, rc);
		goto out;
	}
	/* Salted, so the HMAC of the password gives a listener nothing. */
	if (!tk->kf.empty_auth && (r = hwk_tpm2_session_start(ctx, &tk->conn,
	    parent, ESYS_TR_NONE, 0, &tk->session, rcp)) != 0)
		goto out;
	r = HWK_OK;
 out:
	hwk_tpm2_parent_close(&tk->conn, tk->kf.parent, &parent);
	/* ESYS is no use after a lost command: start over next time. */
	if (r == 0 && tk->conn.norphans > 0)
		r = hwk_ctx_error(ctx, HWK_ERR_NO_DEVICE, "lost the TPM at %s "
		    "while flushing the storage key", tk->conn.name);
	if (r != 0)
		hwk_tpm2_key_unload(tk);
	else if (tk->conn.sharing != TPM_SHARED)
		resident = tk;
	return r;
}

/*
 * Forgets the password: it was wrong, or the key is done with.  ESYS's
 * copy goes too, or a wrong password would stay in its memory as long as
 * the key stays loaded (in the agent, until the next attempt).
 */
void
hwk_tpm2_key_auth_forget(struct tpm2_key *tk)
{
	auth_wipe_esys(tk);
	explicit_bzero(&tk->auth, sizeof(tk->auth));
	tk->have_auth = 0;
	tk->authed = 0;
}

/*
 * Sets the key's password, if it has one: the one it took before (the key
 * was loaded again), else -P, else a prompt.
 */
int
hwk_tpm2_key_auth(struct hwk_ctx *ctx, struct tpm2_key *tk)
{
	const char *p;
	char pass[PASS_MAX];
	size_t n;
	TSS2_RC rc;
	int r;

	if (tk->kf.empty_auth || tk->authed)
		return HWK_OK;
	pass[0] = '\0';
	if (tk->have_auth)
		goto set;
	if ((p = hwk_ctx_opt(ctx, "passphrase")) != NULL) {
		if (strlen(p) >= sizeof(pass)) {
			r = hwk_ctx_error(ctx, HWK_ERR_WRONG_PASSPHRASE, "wrong "
			    "passphrase for the TPM key (too long)");
			goto out;
		}
		strcpy(pass, p);
	} else if ((r = hwk_ctx_read_secret(ctx, "Enter passphrase: ", pass,
	    sizeof(pass))) != 0)
		goto out;
	if ((n = strlen(pass)) > HWK_TPM2_AUTH_MAX) {
		r = hwk_ctx_error(ctx, HWK_ERR_WRONG_PASSPHRASE, "wrong "
		    "passphrase for the TPM key (TPM passwords are at most %d "
		    "bytes)", HWK_TPM2_AUTH_MAX);
		goto out;
	}
	tk->auth.size = (UINT16)n;
	memcpy(tk->auth.buffer, pass, n);
	tk->have_auth = 1;
 set:
	if ((rc = Esys_TR_SetAuth(tk->conn.esys, tk->handle, &tk->auth)) !=
	    TSS2_RC_SUCCESS) {
		r = hwk_tpm2_rc_error(ctx, &tk->conn, rc,
		    "setting the password");
		goto out;
	}
	tk->authed = 1;
	r = HWK_OK;
 out:
	explicit_bzero(pass, sizeof(pass));
	return r;
}

/* Nothing of a new key stays in the TPM; only what signing loaded is flushed. */
int
hwk_tpm2_destroy(struct hwk_ctx *ctx, struct hwk_key *key)
{
	(void)ctx;
	if (key->impl != NULL)
		hwk_tpm2_key_unload(key->impl);
	return HWK_OK;
}

void
hwk_tpm2_free_impl(struct hwk_key *key)
{
	struct tpm2_key *tk = key->impl;

	if (tk == NULL)
		return;
	hwk_tpm2_key_unload(tk);
	hwk_tpm2_key_auth_forget(tk);
	hwk_tpm2_keyfile_clear(&tk->kf);
	free(tk);
	key->impl = NULL;
}
