/*
 * Making a key pair on a token: the checks before (label, id; the type and
 * size in pkcs11_caps.c), the templates, reading the new pair back
 * (removing it if that fails), and the stub that names it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include <p11-kit/pkcs11.h>

#include "hwkey/backend.h"
#include "hwkey/buf.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "hwkey/sshkey.h"
#include "backends.h"
#include "pkcs11_impl.h"

/* Why a token refused C_GenerateKeyPair, in words, with what to try. */
static int
keygen_error(struct hwk_ctx *ctx, CK_RV rv, const struct p11_conn *c,
    const struct p11_opts *o, const struct hwk_genparams *gp)
{
	int r;

	if (gp->type == HWK_KEY_ECDSA)
		r = hwk_p11_rv_error(ctx, rv, "token %s could not generate an "
		    "ECDSA key on P-%u", c->name, gp->bits);
	else if (gp->type == HWK_KEY_ED25519)
		r = hwk_p11_rv_error(ctx, rv, "token %s could not generate an "
		    "Ed25519 key", c->name);
	else
		r = hwk_p11_rv_error(ctx, rv, "token %s could not generate an "
		    "RSA-%u key", c->name, gp->bits);
	switch (rv) {
	case CKR_DEVICE_MEMORY:
		r = hwk_ctx_error(ctx, HWK_ERR_DEVICE_FULL, "token %s has no "
		    "room for another key (CKR_DEVICE_MEMORY)", c->name);
		hwk_ctx_hint(ctx, "Remove a key you no longer use (pkcs11-tool "
		    "--login --delete-object ...), or use another token.");
		break;
	case CKR_USER_NOT_LOGGED_IN:
	case CKR_USER_TYPE_INVALID:
		if (o->login == CKU_USER)
			hwk_ctx_hint(ctx, "This token makes keys for its "
			    "security officer only: add --login so (on a "
			    "YubiKey with ykcs11, the SO PIN is the management "
			    "key).");
		else
			hwk_ctx_hint(ctx, "This token makes keys for its user, "
			    "not its security officer: leave out --login so.");
		break;
	case CKR_FUNCTION_NOT_SUPPORTED:
		hwk_ctx_hint(ctx, "The module cannot generate keys; OpenSC's "
		    "PIV driver is one such.  For a YubiKey use ykcs11 "
		    "(--module libykcs11.so).");
		break;
	case CKR_ATTRIBUTE_VALUE_INVALID:
	case CKR_TEMPLATE_INCONSISTENT:
	case CKR_TEMPLATE_INCOMPLETE:
		hwk_ctx_hint(ctx, "Some tokens take only certain key ids; on a "
		    "YubiKey (ykcs11) use --id 01, 02, 03 or 04 for the PIV "
		    "slots 9a, 9c, 9d, 9e.");
		break;
	case CKR_KEY_SIZE_RANGE:
		if (gp->type == HWK_KEY_RSA)
			hwk_ctx_hint(ctx, "Try -b 2048.");
		else
			hwk_ctx_hint(ctx, "Try -t ecdsa -b 256.");
		break;
	case CKR_CURVE_NOT_SUPPORTED:
	case CKR_DOMAIN_PARAMS_INVALID:
		hwk_ctx_hint(ctx, "Try -t ecdsa -b 256, the curve every token "
		    "with ECDSA makes.");
		break;
	}
	return r;
}

static void
attr_add(CK_ATTRIBUTE *t, CK_ULONG *n, CK_ATTRIBUTE_TYPE type, void *p,
    CK_ULONG len)
{
	t[*n].type = type;
	t[*n].pValue = p;
	t[*n].ulValueLen = len;
	(*n)++;
}

/*
 * The mechanism and the public template's own part for a key of gp's
 * type: RSA's size and exponent, or the curve (CKA_EC_PARAMS).
 */
static void
keygen_type(const struct hwk_genparams *gp, CK_MECHANISM *mech,
    CK_KEY_TYPE *kt, CK_ULONG *mbits, CK_ATTRIBUTE *t, CK_ULONG *n)
{
	static CK_BYTE e[] = { 0x01, 0x00, 0x01 };	/* 65537, as OpenSSH's */
	static CK_BBOOL no = CK_FALSE;
	const struct p11_curve *cv = hwk_p11_curve(gp->type, gp->bits);

	if (gp->type == HWK_KEY_RSA || cv == NULL) {
		mech->mechanism = CKM_RSA_PKCS_KEY_PAIR_GEN;
		*kt = CKK_RSA;
		*mbits = gp->bits;
		attr_add(t, n, CKA_ENCRYPT, &no, sizeof(no));
		attr_add(t, n, CKA_MODULUS_BITS, mbits, sizeof(*mbits));
		attr_add(t, n, CKA_PUBLIC_EXPONENT, e, sizeof(e));
		return;
	}
	mech->mechanism = gp->type == HWK_KEY_ECDSA ? CKM_EC_KEY_PAIR_GEN :
	    CKM_EC_EDWARDS_KEY_PAIR_GEN;
	*kt = gp->type == HWK_KEY_ECDSA ? CKK_EC : CKK_EC_EDWARDS;
	attr_add(t, n, CKA_EC_PARAMS, (void *)cv->der, cv->derlen);
}

/*
 * C_GenerateKeyPair; the last attribute of the private template is
 * CKA_EXTRACTABLE, which ykcs11 refuses (its keys can never leave the
 * card anyway): then once more without it.  check_private() still makes
 * sure of the result.
 */
static CK_RV
keygen_call(struct p11_key *pk, CK_MECHANISM *mech, CK_ATTRIBUTE *pubt,
    CK_ULONG np, CK_ATTRIBUTE *privt, CK_ULONG nq, CK_OBJECT_HANDLE *pub,
    CK_OBJECT_HANDLE *priv)
{
	CK_FUNCTION_LIST *fn = pk->conn->mod->fn;
	CK_RV rv;

	rv = fn->C_GenerateKeyPair(pk->conn->sess, mech, pubt, np, privt, nq,
	    pub, priv);
	if (rv == CKR_ATTRIBUTE_TYPE_INVALID)
		rv = fn->C_GenerateKeyPair(pk->conn->sess, mech, pubt, np,
		    privt, nq - 1, pub, priv);
	return rv;
}

/* C_GenerateKeyPair with our templates; both handles on success. */
static CK_RV
keygen(struct p11_key *pk, const struct hwk_genparams *gp,
    CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
	CK_MECHANISM mech = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
	CK_OBJECT_CLASS pubc = CKO_PUBLIC_KEY, privc = CKO_PRIVATE_KEY;
	CK_KEY_TYPE kt = CKK_RSA;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ULONG mbits = 0;
	CK_ATTRIBUTE pubt[10], privt[11];
	CK_ULONG np = 0, nq = 0;
	size_t labellen = pk->label != NULL ? strlen(pk->label) : 0;
	const struct p11_curve *cv;
	CK_ULONG i;
	CK_RV rv;

	/* Only attributes that ykcs11, the strictest module, also knows. */
	attr_add(pubt, &np, CKA_CLASS, &pubc, sizeof(pubc));
	attr_add(pubt, &np, CKA_KEY_TYPE, &kt, sizeof(kt));
	attr_add(pubt, &np, CKA_TOKEN, &yes, sizeof(yes));
	attr_add(pubt, &np, CKA_PRIVATE, &no, sizeof(no));
	attr_add(pubt, &np, CKA_VERIFY, &yes, sizeof(yes));
	keygen_type(gp, &mech, &kt, &mbits, pubt, &np);
	attr_add(pubt, &np, CKA_ID, pk->id, pk->idlen);
	attr_add(privt, &nq, CKA_CLASS, &privc, sizeof(privc));
	attr_add(privt, &nq, CKA_KEY_TYPE, &kt, sizeof(kt));
	attr_add(privt, &nq, CKA_TOKEN, &yes, sizeof(yes));
	attr_add(privt, &nq, CKA_PRIVATE, &yes, sizeof(yes));
	attr_add(privt, &nq, CKA_SENSITIVE, &yes, sizeof(yes));
	attr_add(privt, &nq, CKA_SIGN, &yes, sizeof(yes));
	if (kt == CKK_RSA)
		attr_add(privt, &nq, CKA_DECRYPT, &no, sizeof(no));
	attr_add(privt, &nq, CKA_ID, pk->id, pk->idlen);
	if (labellen > 0) {
		attr_add(pubt, &np, CKA_LABEL, pk->label, labellen);
		attr_add(privt, &nq, CKA_LABEL, pk->label, labellen);
	}
	/* Last, so that it can be left out for modules that refuse it. */
	attr_add(privt, &nq, CKA_EXTRACTABLE, &no, sizeof(no));
	rv = keygen_call(pk, &mech, pubt, np, privt, nq, pub, priv);
	/*
	 * Ed25519 by its OID is PKCS#11 3.0's way; tokens of an older mind
	 * know the curve by its name only.
	 */
	if (gp->type == HWK_KEY_ED25519 && (rv == CKR_ATTRIBUTE_VALUE_INVALID ||
	    rv == CKR_CURVE_NOT_SUPPORTED || rv == CKR_DOMAIN_PARAMS_INVALID) &&
	    (cv = hwk_p11_curve_named(gp->type)) != NULL) {
		for (i = 0; i < np; i++)
			if (pubt[i].type == CKA_EC_PARAMS) {
				pubt[i].pValue = (void *)cv->der;
				pubt[i].ulValueLen = cv->derlen;
			}
		rv = keygen_call(pk, &mech, pubt, np, privt, nq, pub, priv);
	}
	return rv;
}

/* The new key's label (--label, else the comment) is one we read back. */
static int
label_fits(struct hwk_ctx *ctx, const struct p11_opts *o,
    const struct hwk_genparams *gp)
{
	const char *label = o->label != NULL ? o->label : gp->comment;

	if (label == NULL || strlen(label) <= HWK_P11_LABEL_MAX)
		return HWK_OK;
	hwk_ctx_error(ctx, HWK_ERR_USAGE, "%s is %zu bytes, and a key's label "
	    "on a token is at most %d", o->label != NULL ? "--label" :
	    "the comment (the key's label on the token)", strlen(label),
	    HWK_P11_LABEL_MAX);
	hwk_ctx_hint(ctx, "Give a shorter --label (the comment in the .pub "
	    "can stay as it is).");
	return HWK_ERR_USAGE;
}

/* Refuses a private key the token left readable: not sensitive, extractable. */
static int
check_private(struct hwk_ctx *ctx, struct p11_conn *c, CK_OBJECT_HANDLE obj)
{
	CK_BBOOL sens = CK_FALSE, extr = CK_TRUE;
	CK_ATTRIBUTE a[] = {
		{ CKA_SENSITIVE, &sens, sizeof(sens) },
		{ CKA_EXTRACTABLE, &extr, sizeof(extr) },
	};
	int readable, extractable;
	CK_RV rv;

	rv = c->mod->fn->C_GetAttributeValue(c->sess, obj, a, 2);
	/* A module that does not keep an attribute says so per attribute. */
	if (rv != CKR_OK && rv != CKR_ATTRIBUTE_TYPE_INVALID &&
	    rv != CKR_ATTRIBUTE_SENSITIVE)
		return hwk_p11_rv_error(ctx, rv, "cannot read CKA_SENSITIVE "
		    "and CKA_EXTRACTABLE of the new private key on token %s, "
		    "to check that it cannot be read out", c->name);
	readable = a[0].ulValueLen == sizeof(sens) && sens != CK_TRUE;
	extractable = a[1].ulValueLen == sizeof(extr) && extr != CK_FALSE;
	if (readable || extractable)
		return hwk_ctx_error(ctx, HWK_ERR_DEVICE, "token %s made a "
		    "private key that can be read out: %s%s%s", c->name,
		    readable ? "CKA_SENSITIVE is false" : "",
		    readable && extractable ? " and " : "",
		    extractable ? "CKA_EXTRACTABLE is true" : "");
	return HWK_OK;
}

/*
 * The label the token gave the new key, which is not always the one asked
 * for (ykcs11 names keys after their slot): the stub must name the object
 * that is there.  NULL when it has none.
 */
static int
read_label(struct hwk_ctx *ctx, struct p11_conn *c, CK_OBJECT_HANDLE obj,
    char **labelp)
{
	uint8_t *l;
	size_t len;
	int r;

	*labelp = NULL;
	if ((r = hwk_p11_attr_read(ctx, c, obj, CKA_LABEL,
	    "the new key's label", HWK_P11_LABEL_MAX, 1, &l, &len)) != 0)
		return r;
	*labelp = (char *)l;
	return HWK_OK;
}

/*
 * The id the token gave the new key, which is not always the one asked
 * for (ykcs11 reads the first byte of a longer one): the stub must name
 * the id that is there.  A module that does not say leaves ours.
 */
static int
read_id(struct hwk_ctx *ctx, struct p11_key *pk)
{
	char asked[2 * HWK_P11_ID_MAX + 1], got[2 * HWK_P11_ID_MAX + 1];
	uint8_t *v;
	size_t len;
	int r;

	if ((r = hwk_p11_attr_read(ctx, pk->conn, pk->priv, CKA_ID,
	    "the new key's id", HWK_P11_ID_MAX, 1, &v, &len)) != 0 ||
	    v == NULL)
		return r;
	if (len != pk->idlen || memcmp(v, pk->id, len) != 0) {
		hwk_p11_id_format(pk->id, pk->idlen, asked, sizeof(asked));
		hwk_p11_id_format(v, len, got, sizeof(got));
		hwk_ctx_notice(ctx, "Token %s stored the key under id %s, not "
		    "%s.", pk->conn->name, got, asked);
		memcpy(pk->id, v, len);
		pk->idlen = len;
	}
	free(v);
	return HWK_OK;
}

int
hwk_p11_check(struct hwk_ctx *ctx, const struct hwk_genparams *gp)
{
	struct p11_opts o;
	struct p11_tok tok;
	int r;

	if ((r = hwk_p11_params_check(ctx, gp)) != 0)
		return r;
	if ((r = hwk_p11_opts_get(ctx, &o)) != 0)
		return r;
	if ((r = label_fits(ctx, &o, gp)) != 0) {
		hwk_p11_opts_clear(&o);
		return r;
	}
	if ((r = hwk_p11_token_select(ctx, &o, o.uri, gp->type, &tok)) == 0 &&
	    (r = hwk_p11_size_fits(ctx, &tok, gp)) == 0)
		r = hwk_p11_id_fits(ctx, &o, &tok);
	hwk_p11_opts_clear(&o);
	return r;
}

/*
 * The id of the new key into pk: --id if no object has it yet, else the
 * smallest one free.
 */
static int
gen_id(struct hwk_ctx *ctx, const struct p11_opts *o,
    const struct p11_tok *tok, struct p11_key *pk)
{
	char idhex[2 * HWK_P11_ID_MAX + 1];
	int r, taken;
	CK_RV rv;

	if (o->idlen == 0)
		return hwk_p11_id_fresh(ctx, pk->conn, pk->id, &pk->idlen);
	memcpy(pk->id, o->id, o->idlen);
	pk->idlen = o->idlen;
	if ((rv = hwk_p11_id_taken(pk->conn, pk->id, pk->idlen, &taken)) !=
	    CKR_OK)
		return hwk_p11_rv_error(ctx, rv, "cannot search token %s",
		    tok->name);
	if (!taken)
		return HWK_OK;
	hwk_p11_id_format(pk->id, pk->idlen, idhex, sizeof(idhex));
	r = hwk_ctx_error(ctx, HWK_ERR_EXISTS, "id %s is already used on "
	    "token %s", idhex, tok->name);
	hwk_ctx_hint(ctx, "Leave out --id for a free one, or remove the old "
	    "key first (pkcs11-tool --login --delete-object --id %s).", idhex);
	return r;
}

/* The token made the key asked for: its type, and its size or curve. */
static int
same_kind(struct hwk_ctx *ctx, const struct p11_conn *c,
    const struct hwk_genparams *gp, const EVP_PKEY *pkey)
{
	/* RSA's size is the token's business, as it always was. */
	if (hwk_p11_pkey_type(pkey) == gp->type && (gp->type !=
	    HWK_KEY_ECDSA || hwk_pkey_bits(pkey) == gp->bits))
		return HWK_OK;
	return hwk_ctx_error(ctx, HWK_ERR_DEVICE, "token %s made another key "
	    "than the one asked for (%s of %u bits)", c->name,
	    hwk_pkey_ssh_type(pkey) != NULL ? hwk_pkey_ssh_type(pkey) :
	    "an unknown type", hwk_pkey_bits(pkey));
}

/*
 * The new pair read back: its public key, the id and label the token gave
 * it, and that its private half cannot be read out.  On failure the pair
 * is removed, and the error says so, or why it could not be.
 */
static int
gen_read_back(struct hwk_ctx *ctx, struct p11_key *pk,
    const struct hwk_genparams *gp, EVP_PKEY **pkeyp)
{
	char detail[1024], advice[1024], left[1024];
	int r;

	free(pk->label);
	pk->label = NULL;
	if ((r = hwk_p11_pub_read(ctx, pk->conn, pk->pub, pkeyp)) == 0 &&
	    (r = same_kind(ctx, pk->conn, gp, *pkeyp)) == 0 &&
	    (r = read_id(ctx, pk)) == 0 &&
	    (r = check_private(ctx, pk->conn, pk->priv)) == 0 &&
	    (r = read_label(ctx, pk->conn, pk->priv, &pk->label)) == 0)
		return HWK_OK;
	snprintf(detail, sizeof(detail), "%s", hwk_ctx_detail(ctx));
	snprintf(advice, sizeof(advice), "%s", hwk_ctx_advice(ctx));
	if (hwk_p11_pair_destroy(ctx, pk) == 0) {
		hwk_ctx_error(ctx, r, "%s; the new key was removed from the "
		    "token", detail);
		if (*advice != '\0')
			hwk_ctx_hint(ctx, "%s", advice);
	} else {
		/* Both why it failed and why the key is still there. */
		snprintf(left, sizeof(left), "%s", hwk_ctx_detail(ctx));
		snprintf(advice, sizeof(advice), "%s", hwk_ctx_advice(ctx));
		hwk_ctx_error(ctx, r, "%s; and then %s", detail, left);
		hwk_ctx_hint(ctx, "%s", advice);
	}
	return r;
}

int
hwk_p11_generate(struct hwk_ctx *ctx, const struct hwk_genparams *gp,
    struct hwk_key **keyp)
{
	struct p11_opts o;
	struct p11_tok tok;
	struct p11_key *pk = NULL;
	EVP_PKEY *pkey = NULL;
	const char *label;
	int r;
	CK_RV rv;

	*keyp = NULL;
	if ((r = hwk_p11_opts_get(ctx, &o)) != 0)
		return r;
	if ((r = hwk_p11_params_check(ctx, gp)) != 0 ||
	    (r = label_fits(ctx, &o, gp)) != 0 ||
	    (r = hwk_p11_token_select(ctx, &o, o.uri, gp->type, &tok)) != 0 ||
	    (r = hwk_p11_size_fits(ctx, &tok, gp)) != 0 ||
	    (r = hwk_p11_id_fits(ctx, &o, &tok)) != 0)
		goto out;
	if ((pk = calloc(1, sizeof(*pk))) == NULL) {
		r = HWK_ERR_NOMEM;
		goto out;
	}
	pk->pub = pk->priv = CK_INVALID_HANDLE;
	label = o.label != NULL ? o.label : gp->comment;
	if (label != NULL && (pk->label = strdup(label)) == NULL) {
		r = HWK_ERR_NOMEM;
		goto out;
	}
	if ((r = hwk_p11_conn_open(ctx, &tok, 1, &pk->conn)) != 0 ||
	    (r = hwk_p11_conn_login(ctx, pk->conn, o.login,
	    o.pin_source)) != 0)
		goto out;
	pk->epoch = pk->conn->epoch;
	if ((r = gen_id(ctx, &o, &tok, pk)) != 0)
		goto out;
	if ((rv = keygen(pk, gp, &pk->pub, &pk->priv)) != CKR_OK) {
		pk->pub = pk->priv = CK_INVALID_HANDLE;
		r = keygen_error(ctx, rv, pk->conn, &o, gp);
		goto out;
	}
	/* The pair exists: from here on a failure must remove it. */
	if ((r = gen_read_back(ctx, pk, gp, &pkey)) != 0)
		goto out;
	hwk_p11_priv_set(pk, pk->priv);
	if ((r = hwk_key_new(&hwk_backend_pkcs11, keyp)) != 0 ||
	    (r = hwk_key_set_comment(*keyp, gp->comment)) != 0) {
		hwk_p11_pair_destroy(ctx, pk);
		hwk_key_free(keyp);
		goto out;
	}
	(*keyp)->pkey = pkey;
	(*keyp)->impl = pk;
	pkey = NULL;
	pk = NULL;
 out:
	EVP_PKEY_free(pkey);
	hwk_p11_key_free(&pk);
	hwk_p11_opts_clear(&o);
	return r;
}

/* Nonzero if stub reads back as naming the key pk on its token. */
static int
stub_reads_back(const char *stub, const struct p11_key *pk)
{
	struct hwk_p11_stub st;
	char want[HWK_P11_NAME_MAX], got[HWK_P11_NAME_MAX];
	int ok;

	if (hwk_p11_stub_parse((const uint8_t *)stub, strlen(stub), &st,
	    NULL) != 0)
		return 0;
	hwk_p11_token_name(&pk->conn->ti, want, sizeof(want));
	hwk_p11_token_name(&st.token, got, sizeof(got));
	ok = st.idlen == pk->idlen && memcmp(st.id, pk->id, pk->idlen) == 0 &&
	    strcmp(want, got) == 0;
	hwk_p11_stub_clear(&st);
	return ok;
}

int
hwk_p11_write_stub(struct hwk_ctx *ctx, const struct hwk_key *key,
    const struct hwk_genparams *gp, struct hwk_buf *out)
{
	const struct p11_key *pk = key->impl;
	const char *label;
	char *stub = NULL;
	int r;

	(void)gp;
	if (pk == NULL)
		return hwk_ctx_error(ctx, HWK_ERR_INVALID_ARG, "not a key on "
		    "a token");
	/*
	 * The key is found by its id; the label is a courtesy to the reader,
	 * and percent-encoded a long one would make a stub too long to read.
	 */
	label = pk->label;
	if (label != NULL && strlen(label) > HWK_P11_STUB_LABEL_MAX)
		label = NULL;
	for (;;) {
		if ((r = hwk_p11_stub_format(&pk->conn->ti, pk->id, pk->idlen,
		    label, pk->conn->mod->path, &stub)) != 0)
			return hwk_ctx_error(ctx, r, "cannot write the key's "
			    "URI");
		/* A stub that does not read back would strand the key. */
		if (stub_reads_back(stub, pk))
			break;
		if (label == NULL) {
			r = hwk_ctx_error(ctx, HWK_ERR_TOO_LARGE, "the key's "
			    "URI would be %zu bytes, and hwkeygen reads back "
			    "%d at most", strlen(stub), HWK_P11_STUB_MAX);
			hwk_ctx_hint(ctx, "The module's path makes it long: "
			    "give --module a shorter path to the module (a "
			    "symbolic link will do).");
			free(stub);
			return r;
		}
		label = NULL;
		free(stub);
		stub = NULL;
	}
	if (label == NULL && pk->label != NULL && *pk->label != '\0')
		hwk_ctx_notice(ctx, "The key's label is too long to repeat in "
		    "its file, which names the key by its id.");
	r = hwk_buf_put(out, stub, strlen(stub));
	free(stub);
	return r;
}
