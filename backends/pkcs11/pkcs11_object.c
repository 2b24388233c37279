/*
 * Objects on a token: finding keys by their CKA_ID, choosing an id for a
 * new one, reading attributes, and removing a pair so that it stays gone.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <p11-kit/pkcs11.h>

#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "hwkey/sshkey.h"
#include "pkcs11_impl.h"

/* Up to max objects matching tmpl, in session sess of c's token. */
static CK_RV
find_in(struct p11_conn *c, CK_SESSION_HANDLE sess, CK_ATTRIBUTE *tmpl,
    CK_ULONG n, CK_OBJECT_HANDLE *objs, CK_ULONG max, CK_ULONG *count)
{
	CK_FUNCTION_LIST *fn = c->mod->fn;
	CK_RV rv, rv2;

	*count = 0;
	if ((rv = fn->C_FindObjectsInit(sess, tmpl, n)) != CKR_OK)
		return rv;
	rv = fn->C_FindObjects(sess, objs, max, count);
	rv2 = fn->C_FindObjectsFinal(sess);
	if (*count > max)	/* a module's slip: objs holds max at most */
		*count = max;
	return rv != CKR_OK ? rv : rv2;
}

/* Up to max objects matching tmpl. */
static CK_RV
find(struct p11_conn *c, CK_ATTRIBUTE *tmpl, CK_ULONG n,
    CK_OBJECT_HANDLE *objs, CK_ULONG max, CK_ULONG *count)
{
	return find_in(c, c->sess, tmpl, n, objs, max, count);
}

/* The first object of a class with an id, or CK_INVALID_HANDLE. */
CK_RV
hwk_p11_find_by_id(struct p11_conn *c, CK_OBJECT_CLASS cls, const uint8_t *id,
    size_t idlen, CK_OBJECT_HANDLE *obj)
{
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_ID, (void *)id, idlen },
	};
	CK_ULONG n;
	CK_RV rv;

	*obj = CK_INVALID_HANDLE;
	if ((rv = find(c, tmpl, 2, obj, 1, &n)) == CKR_OK && n == 0)
		*obj = CK_INVALID_HANDLE;
	return rv;
}

/* Nonzero if any object (key, certificate, data) has this id. */
CK_RV
hwk_p11_id_taken(struct p11_conn *c, const uint8_t *id, size_t idlen,
    int *taken)
{
	CK_ATTRIBUTE tmpl[] = { { CKA_ID, (void *)id, idlen } };
	CK_OBJECT_HANDLE obj;
	CK_ULONG n;
	CK_RV rv;

	rv = find(c, tmpl, 1, &obj, 1, &n);
	*taken = rv == CKR_OK && n > 0;
	return rv;
}

/*
 * Nonzero for a YubiKey through ykcs11, which takes one-byte key ids only
 * (the PIV slots) and reads just the first byte of a longer one: a key
 * meant for a new id would land in, and replace, the key of another.
 */
static int
one_byte_ids(const CK_TOKEN_INFO *ti)
{
	char model[sizeof(ti->model) + 1];

	hwk_p11_field(ti->model, sizeof(ti->model), model, sizeof(model));
	return strncmp(model, "YubiKey", 7) == 0;
}

/* Refuses an --id that a token of one-byte ids would cut short. */
int
hwk_p11_id_fits(struct hwk_ctx *ctx, const struct p11_opts *o,
    const struct p11_tok *t)
{
	if (o->idlen <= 1 || !one_byte_ids(&t->ti))
		return HWK_OK;
	hwk_ctx_error(ctx, HWK_ERR_USAGE, "--id: token %s takes one-byte key "
	    "ids only", t->name);
	hwk_ctx_hint(ctx, "Use --id 01, 02, 03 or 04 for the PIV slots 9a, "
	    "9c, 9d, 9e.");
	return HWK_ERR_USAGE;
}

/*
 * The smallest one-byte id no object uses: a YubiKey's ykcs11 takes 1 to
 * 4 for its slots 9a, 9c, 9d, 9e (and only one-byte ids), and any other
 * token is content with it.  Random bytes only if all 255 are in use,
 * and never on a token that would read only the first of them.
 */
int
hwk_p11_id_fresh(struct hwk_ctx *ctx, struct p11_conn *c, uint8_t *id,
    size_t *len)
{
	unsigned v;
	int taken;
	CK_RV rv;

	for (v = 1; v <= 255; v++) {
		id[0] = (uint8_t)v;
		if ((rv = hwk_p11_id_taken(c, id, 1, &taken)) != CKR_OK)
			return hwk_p11_rv_error(ctx, rv, "cannot search "
			    "token %s", c->name);
		if (!taken) {
			*len = 1;
			return HWK_OK;
		}
	}
	if (one_byte_ids(&c->ti)) {
		hwk_ctx_error(ctx, HWK_ERR_DEVICE_FULL, "every one-byte key id "
		    "on token %s is in use, and it takes no longer ones",
		    c->name);
		hwk_ctx_hint(ctx, "Remove a key you no longer use from the "
		    "token first.");
		return HWK_ERR_DEVICE_FULL;
	}
	if (RAND_bytes(id, 16) != 1)
		return hwk_ctx_error(ctx, HWK_ERR_CRYPTO, "no random bytes for "
		    "a key id");
	*len = 16;
	return HWK_OK;
}

/* The RSA public key of obj (a public or a private key object). */
int
hwk_p11_rsa_read(struct hwk_ctx *ctx, struct p11_conn *c, CK_OBJECT_HANDLE obj,
    EVP_PKEY **pkeyp)
{
	CK_ATTRIBUTE a[] = {
		{ CKA_MODULUS, NULL, 0 },
		{ CKA_PUBLIC_EXPONENT, NULL, 0 },
	};
	uint8_t *n = NULL, *e = NULL;
	CK_ULONG nlen, elen;
	CK_RV rv;
	int r;

	*pkeyp = NULL;
	if ((rv = c->mod->fn->C_GetAttributeValue(c->sess, obj, a, 2)) !=
	    CKR_OK) {
		r = hwk_p11_rv_error(ctx, rv, "cannot read the public key from "
		    "token %s", c->name);
		goto out;
	}
	if (a[0].ulValueLen == 0 ||
	    a[0].ulValueLen > HWK_P11_RSA_MAX_BYTES + 1 ||
	    a[1].ulValueLen == 0 || a[1].ulValueLen > 8) {
		r = hwk_ctx_error(ctx, HWK_ERR_FORMAT, "token %s gave an RSA "
		    "public key of impossible size", c->name);
		goto out;
	}
	nlen = a[0].ulValueLen;
	elen = a[1].ulValueLen;
	if ((n = malloc(nlen)) == NULL || (e = malloc(elen)) == NULL) {
		r = HWK_ERR_NOMEM;
		goto out;
	}
	a[0].pValue = n;
	a[1].pValue = e;
	if ((rv = c->mod->fn->C_GetAttributeValue(c->sess, obj, a, 2)) !=
	    CKR_OK) {
		r = hwk_p11_rv_error(ctx, rv, "cannot read the public key from "
		    "token %s", c->name);
		goto out;
	}
	/* What the module says it wrote must fit where it wrote it. */
	if (a[0].ulValueLen == 0 || a[0].ulValueLen > nlen ||
	    a[1].ulValueLen == 0 || a[1].ulValueLen > elen) {
		r = hwk_ctx_error(ctx, HWK_ERR_FORMAT, "token %s gave an RSA "
		    "public key longer than it said it was", c->name);
		goto out;
	}
	if ((r = hwk_rsa_from_ne(n, a[0].ulValueLen, e, a[1].ulValueLen,
	    pkeyp)) != 0)
		r = hwk_ctx_error(ctx, r, "token %s gave an RSA public key "
		    "that OpenSSL refuses", c->name);
 out:
	free(n);
	free(e);
	return r;
}

/*
 * One attribute of obj, as many bytes as the module says and a NUL after
 * them; lengths over max are refused.  optional: an attribute the module
 * does not keep, will not tell or leaves empty gives NULL, not an error.
 */
int
hwk_p11_attr_read(struct hwk_ctx *ctx, struct p11_conn *c, CK_OBJECT_HANDLE obj,
    CK_ATTRIBUTE_TYPE type, const char *what, size_t max, int optional,
    uint8_t **valp, size_t *lenp)
{
	CK_ATTRIBUTE a = { type, NULL, 0 };
	uint8_t *v = NULL;
	CK_ULONG room;
	CK_RV rv;

	*valp = NULL;
	*lenp = 0;
	rv = c->mod->fn->C_GetAttributeValue(c->sess, obj, &a, 1);
	if (optional && (rv == CKR_ATTRIBUTE_TYPE_INVALID ||
	    rv == CKR_ATTRIBUTE_SENSITIVE || (rv == CKR_OK &&
	    (a.ulValueLen == 0 || a.ulValueLen == CK_UNAVAILABLE_INFORMATION))))
		return HWK_OK;
	if (rv != CKR_OK)
		return hwk_p11_rv_error(ctx, rv, "cannot read %s on token %s",
		    what, c->name);
	if (a.ulValueLen > max)
		return hwk_ctx_error(ctx, HWK_ERR_FORMAT, "token %s gave %s "
		    "of impossible size (%lu bytes)", c->name, what,
		    (unsigned long)a.ulValueLen);
	room = a.ulValueLen;
	if ((v = calloc(1, room + 1)) == NULL)
		return HWK_ERR_NOMEM;
	a.pValue = v;
	if ((rv = c->mod->fn->C_GetAttributeValue(c->sess, obj, &a, 1)) !=
	    CKR_OK) {
		free(v);
		return hwk_p11_rv_error(ctx, rv, "cannot read %s on token %s",
		    what, c->name);
	}
	/* What the module says it wrote must fit where it wrote it. */
	if (a.ulValueLen > room) {
		free(v);
		return hwk_ctx_error(ctx, HWK_ERR_FORMAT, "token %s gave %s "
		    "longer than it said it was", c->name, what);
	}
	*valp = v;
	*lenp = a.ulValueLen;
	return HWK_OK;
}

/*
 * What of the key a session of its own still finds under its id, or NULL:
 * ykcs11 answers CKR_OK to C_DestroyObject on a key yet drops only its
 * session's copy (and the certificate), and the key, still in its PIV
 * slot, is back in the next session.  The other session is closed again,
 * which keeps the login of ours.
 */
CK_RV
hwk_p11_left_behind(struct p11_conn *c, const uint8_t *id, size_t idlen,
    const char **whatp)
{
	static const struct {
		CK_OBJECT_CLASS	 cls;
		const char	*what;
	} kinds[] = {
		{ CKO_PRIVATE_KEY, "private key" },
		{ CKO_PUBLIC_KEY, "public key" },
		{ CKO_CERTIFICATE, "certificate" },
	};
	CK_OBJECT_CLASS cls;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_ID, (void *)id, idlen },
	};
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE obj;
	CK_ULONG n;
	size_t i;
	CK_RV rv;

	*whatp = NULL;
	if ((rv = c->mod->fn->C_OpenSession(c->slot, CKF_SERIAL_SESSION, NULL,
	    NULL, &s)) != CKR_OK)
		return rv;
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		cls = kinds[i].cls;
		if ((rv = find_in(c, s, tmpl, 2, &obj, 1, &n)) != CKR_OK)
			break;
		if (n > 0) {
			*whatp = kinds[i].what;
			break;
		}
	}
	c->mod->fn->C_CloseSession(s);
	return rv;
}

/* The PIV slot a one-byte ykcs11 id stands for, for messages. */
const char *
hwk_p11_piv_slot(const uint8_t *id, size_t idlen)
{
	static const char *const slots[] = { NULL, "9a", "9c", "9d", "9e" };

	return idlen == 1 && id[0] >= 1 && id[0] <= 4 ? slots[id[0]] : "SLOT";
}

/*
 * Erases the pair, private half first; both are tried whatever happens.
 * Only a session of its own that finds nothing under the id makes it
 * gone: a module's CKR_OK is not enough (ykcs11).
 */
int
hwk_p11_pair_destroy(struct hwk_ctx *ctx, struct p11_key *pk)
{
	CK_FUNCTION_LIST *fn = pk->conn->mod->fn;
	CK_RV rv1 = CKR_OK, rv2 = CKR_OK, rv;
	char idhex[2 * HWK_P11_ID_MAX + 1];
	const char *left;

	if (pk->priv == CK_INVALID_HANDLE && pk->pub == CK_INVALID_HANDLE &&
	    !pk->lingers)
		return HWK_OK;
	hwk_p11_id_format(pk->id, pk->idlen, idhex, sizeof(idhex));
	if (pk->priv != CK_INVALID_HANDLE &&
	    (rv1 = fn->C_DestroyObject(pk->conn->sess, pk->priv)) == CKR_OK)
		pk->priv = CK_INVALID_HANDLE;
	if (pk->pub != CK_INVALID_HANDLE &&
	    (rv2 = fn->C_DestroyObject(pk->conn->sess, pk->pub)) == CKR_OK)
		pk->pub = CK_INVALID_HANDLE;
	if (rv1 != CKR_OK || rv2 != CKR_OK) {
		hwk_p11_rv_error(ctx, rv1 != CKR_OK ? rv1 : rv2,
		    "cannot remove the new key (id %s) from token %s", idhex,
		    pk->conn->name);
		hwk_ctx_hint(ctx, "Remove it by hand: pkcs11-tool --module %s "
		    "--login --delete-object --type privkey --id %s (and "
		    "--type pubkey).", pk->conn->mod->path, idhex);
		return hwk_p11_rv_err(rv1 != CKR_OK ? rv1 : rv2);
	}
	pk->lingers = 1;
	if ((rv = hwk_p11_left_behind(pk->conn, pk->id, pk->idlen, &left)) !=
	    CKR_OK) {
		hwk_p11_rv_error(ctx, rv, "token %s said it removed the new "
		    "key (id %s), but a session to check it could not be had",
		    pk->conn->name, idhex);
		hwk_ctx_hint(ctx, "See for yourself: pkcs11-tool --module %s "
		    "--login --list-objects --id %s.", pk->conn->mod->path,
		    idhex);
		return hwk_p11_rv_err(rv);
	}
	if (left != NULL) {
		hwk_ctx_error(ctx, HWK_ERR_DEVICE, "token %s still holds the "
		    "new key's %s (id %s): its module said the key was "
		    "removed, but a new session finds it again", pk->conn->name,
		    left, idhex);
		hwk_ctx_hint(ctx, "The key stays in its slot until another key "
		    "is made there.  On a YubiKey with firmware 5.7 or later, "
		    "remove it with: ykman piv keys delete %s.",
		    hwk_p11_piv_slot(pk->id, pk->idlen));
		return HWK_ERR_DEVICE;
	}
	pk->lingers = 0;
	return HWK_OK;
}

/*
 * Takes h as pk's private key, with whether it wants the PIN again at each
 * signature (CKA_ALWAYS_AUTHENTICATE, YubiKey slot 9c): the one place that
 * sets pk->priv to a key, so that no way of finding it skips the question.
 */
void
hwk_p11_priv_set(struct p11_key *pk, CK_OBJECT_HANDLE h)
{
	CK_BBOOL aa = CK_FALSE;
	CK_ATTRIBUTE a = { CKA_ALWAYS_AUTHENTICATE, &aa, sizeof(aa) };

	pk->priv = h;
	pk->always_auth = 0;
	if (h != CK_INVALID_HANDLE && pk->conn->mod->fn->C_GetAttributeValue(
	    pk->conn->sess, h, &a, 1) == CKR_OK && a.ulValueLen == sizeof(aa))
		pk->always_auth = aa == CK_TRUE;
}

void
hwk_p11_key_free(struct p11_key **pkp)
{
	struct p11_key *pk = *pkp;

	*pkp = NULL;
	if (pk == NULL)
		return;
	hwk_p11_conn_put(&pk->conn);
	free(pk->label);
	free(pk);
}
