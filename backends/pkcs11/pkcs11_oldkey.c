/*
 * Keys already on tokens: the one a stub names (is it there, and how to
 * remove it by hand), erasing it when its file is replaced, and the keys
 * that no stub names, for --list.  Only erasing asks for the PIN.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include <p11-kit/pkcs11.h>
#include <p11-kit/uri.h>

#include "hwkey/backend.h"
#include "hwkey/buf.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "hwkey/sshkey.h"
#include "pkcs11_impl.h"

#define OLD_OBJS_MAX	8	/* objects of a class under an id erased */
#define UNNAMED_MAX	256	/* public keys of a token --list reads */

/* The key a stub names: its token, and a session there. */
struct old_key {
	struct p11_opts	 o;
	struct hwk_p11_stub st;
	P11KitUri	*uri;
	struct p11_tok	 tok;
	struct p11_conn	*c;
	char		 idhex[2 * HWK_P11_ID_MAX + 1];
};

static void
old_close(struct old_key *k)
{
	hwk_p11_conn_put(&k->c);
	p11_kit_uri_free(k->uri);
	k->uri = NULL;
	hwk_p11_stub_clear(&k->st);
	hwk_p11_opts_clear(&k->o);
}

/*
 * Finds the token of the key stub names and opens a session there; where
 * (if given) gets the token's name and the id as soon as the stub tells.
 */
static int
old_open(struct hwk_ctx *ctx, const uint8_t *stub, size_t len, int rw,
    struct old_key *k, struct hwk_devkey *where)
{
	char name[HWK_P11_NAME_MAX];
	int r;

	memset(k, 0, sizeof(*k));
	if ((r = hwk_p11_lib_need(ctx)) != 0 ||
	    (r = hwk_p11_opts_get(ctx, &k->o)) != 0)
		return r;
	if ((r = hwk_p11_stub_parse(stub, len, &k->st, &k->uri)) != 0)
		return hwk_ctx_error(ctx, r, "not a PKCS#11 key stub");
	hwk_p11_id_format(k->st.id, k->st.idlen, k->idhex, sizeof(k->idhex));
	if (where != NULL) {
		hwk_p11_token_name(&k->st.token, name, sizeof(name));
		snprintf(where->device, sizeof(where->device), "token %s",
		    name);
		snprintf(where->id, sizeof(where->id), "%s", k->idhex);
	}
	if ((r = hwk_p11_token_select(ctx, &k->o, k->uri, 0, &k->tok)) != 0)
		return r;
	return hwk_p11_conn_open(ctx, &k->tok, rw, &k->c);
}

/* s in single quotes for a shell, if it needs them. */
static void
shell_quote(const char *s, char *buf, size_t len)
{
	size_t n = 0;

	if (len == 0)
		return;
	if (*s != '\0' && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN"
	    "OPQRSTUVWXYZ0123456789-_./:=+@%,") == strlen(s)) {
		snprintf(buf, len, "%s", s);
		return;
	}
	buf[n++] = '\'';
	for (; *s != '\0' && n + 5 < len; s++) {
		if (*s == '\'') {
			memcpy(buf + n, "'\\''", 4);
			n += 4;
		} else
			buf[n++] = *s;
	}
	buf[n++] = '\'';
	buf[n] = '\0';
}

/* The pkcs11-tool command that removes the objects under idhex by hand. */
static void
remove_cmd(const struct p11_conn *c, const char *idhex, int cert, char *buf,
    size_t len)
{
	char label[sizeof(c->ti.label) + 1], ql[160], qm[768];

	hwk_p11_field(c->ti.label, sizeof(c->ti.label), label, sizeof(label));
	shell_quote(label, ql, sizeof(ql));
	shell_quote(c->mod->path, qm, sizeof(qm));
	snprintf(buf, len, "for t in privkey pubkey%s; do pkcs11-tool --module "
	    "%s --token-label %s --login --delete-object --type $t --id %s; "
	    "done", cert ? " cert" : "", qm, ql, idhex);
}

/* The public key and label of the public key object h, into where. */
static void
describe_key(struct p11_conn *c, CK_OBJECT_HANDLE h, struct hwk_devkey *where)
{
	EVP_PKEY *pkey = NULL;
	uint8_t *label = NULL;
	size_t len;

	if (hwk_p11_pub_read(NULL, c, h, &pkey) == 0)
		hwk_pubkey_from_evp(pkey, NULL, &where->pub);
	EVP_PKEY_free(pkey);
	if (hwk_p11_attr_read(NULL, c, h, CKA_LABEL, "a label",
	    HWK_P11_LABEL_MAX, 1, &label, &len) == 0 && label != NULL)
		snprintf(where->label, sizeof(where->label), "%s",
		    (char *)label);
	free(label);
}

int
hwk_p11_locate(struct hwk_ctx *ctx, const uint8_t *stub, size_t len,
    struct hwk_devkey *where)
{
	struct old_key k;
	CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE, cert = CK_INVALID_HANDLE;
	CK_OBJECT_HANDLE priv = CK_INVALID_HANDLE;
	CK_RV rv;
	int r;

	memset(where, 0, sizeof(*where));
	if ((r = old_open(ctx, stub, len, 0, &k, where)) != 0)
		goto out;
	snprintf(where->device, sizeof(where->device), "token %s", k.tok.name);
	/* Without the PIN a token shows its public objects only. */
	if ((rv = hwk_p11_find_by_id(k.c, CKO_PUBLIC_KEY, k.st.id, k.st.idlen,
	    &pub)) != CKR_OK ||
	    (rv = hwk_p11_find_by_id(k.c, CKO_CERTIFICATE, k.st.id,
	    k.st.idlen, &cert)) != CKR_OK ||
	    (rv = hwk_p11_find_by_id(k.c, CKO_PRIVATE_KEY, k.st.id,
	    k.st.idlen, &priv)) != CKR_OK) {
		r = hwk_p11_rv_error(ctx, rv, "cannot search token %s",
		    k.tok.name);
		goto out;
	}
	if (pub == CK_INVALID_HANDLE && cert == CK_INVALID_HANDLE &&
	    priv == CK_INVALID_HANDLE) {
		r = hwk_ctx_error(ctx, HWK_ERR_NOT_FOUND, "token %s shows no "
		    "key with id %s", k.tok.name, k.idhex);
		goto out;
	}
	if (pub != CK_INVALID_HANDLE)
		describe_key(k.c, pub, where);
	remove_cmd(k.c, k.idhex, cert != CK_INVALID_HANDLE, where->remove,
	    sizeof(where->remove));
	r = HWK_OK;
 out:
	old_close(&k);
	return r;
}

/*
 * Refuses to erase another key than want: the stub's id may have been
 * given to a new key since (a token reset, a key deleted by hand).  A key
 * whose public half cannot be read is taken on its id and token alone.
 */
static int
same_key(struct hwk_ctx *ctx, struct old_key *k, const struct hwk_pubkey *want)
{
	CK_OBJECT_HANDLE h;
	EVP_PKEY *got = NULL, *w = NULL;
	int r = HWK_OK;

	if (want == NULL || hwk_pubkey_to_evp(want, &w) != 0)
		return HWK_OK;
	if (hwk_p11_find_by_id(k->c, CKO_PUBLIC_KEY, k->st.id, k->st.idlen,
	    &h) == CKR_OK && h == CK_INVALID_HANDLE)
		hwk_p11_find_by_id(k->c, CKO_PRIVATE_KEY, k->st.id,
		    k->st.idlen, &h);
	if (h != CK_INVALID_HANDLE && hwk_p11_pub_read(NULL, k->c, h,
	    &got) == 0 && EVP_PKEY_eq(got, w) != 1) {
		r = hwk_ctx_error(ctx, HWK_ERR_WRONG_DEVICE, "token %s holds "
		    "another key under id %s than the old .pub names: it was "
		    "left alone", k->tok.name, k->idhex);
	}
	EVP_PKEY_free(got);
	EVP_PKEY_free(w);
	return r;
}

/*
 * Destroys every object of class cls under the key's id; *n counts them.
 * Found one at a time: a handle may go stale as another object goes.
 */
static CK_RV
destroy_class(struct old_key *k, CK_OBJECT_CLASS cls, unsigned *n)
{
	CK_OBJECT_HANDLE h;
	unsigned i;
	CK_RV rv;

	for (i = 0; i < OLD_OBJS_MAX; i++) {
		if ((rv = hwk_p11_find_by_id(k->c, cls, k->st.id, k->st.idlen,
		    &h)) != CKR_OK)
			return rv;
		if (h == CK_INVALID_HANDLE)
			return CKR_OK;
		if ((rv = k->c->mod->fn->C_DestroyObject(k->c->sess, h)) !=
		    CKR_OK)
			return rv;
		(*n)++;
	}
	return CKR_OK;
}

/* Why the old key could not be erased, with what removes it by hand. */
static int
erase_error(struct hwk_ctx *ctx, struct old_key *k, CK_RV rv)
{
	char cmd[1280];
	int r;

	r = hwk_p11_rv_error(ctx, rv, "cannot delete the old key (id %s) "
	    "from token %s", k->idhex, k->tok.name);
	if (rv == CKR_TOKEN_WRITE_PROTECTED || rv == CKR_SESSION_READ_ONLY)
		hwk_ctx_hint(ctx, "The token is read-only; remove the key "
		    "where it can be written.");
	else {
		remove_cmd(k->c, k->idhex, 1, cmd, sizeof(cmd));
		hwk_ctx_hint(ctx, "Remove it by hand: %s", cmd);
	}
	return r;
}

int
hwk_p11_erase(struct hwk_ctx *ctx, const uint8_t *stub, size_t len,
    const struct hwk_pubkey *want)
{
	static const CK_OBJECT_CLASS order[] = {
		CKO_PRIVATE_KEY, CKO_PUBLIC_KEY, CKO_CERTIFICATE,
	};
	struct old_key k;
	const char *left;
	unsigned n = 0;
	size_t i;
	CK_RV rv;
	int r;

	if ((r = old_open(ctx, stub, len, 1, &k, NULL)) != 0 ||
	    (r = hwk_p11_conn_login(ctx, k.c, k.o.login,
	    k.o.pin_source)) != 0 ||
	    (r = same_key(ctx, &k, want)) != 0)
		goto out;
	/* The private key first: once it is gone, the key is. */
	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if ((rv = destroy_class(&k, order[i], &n)) != CKR_OK) {
			r = erase_error(ctx, &k, rv);
			goto out;
		}
	if (n == 0) {
		r = hwk_ctx_error(ctx, HWK_ERR_NOT_FOUND, "the old key (id %s) "
		    "is no longer on token %s", k.idhex, k.tok.name);
		goto out;
	}
	if ((rv = hwk_p11_left_behind(k.c, k.st.id, k.st.idlen, &left)) !=
	    CKR_OK) {
		r = hwk_p11_rv_error(ctx, rv, "token %s said it deleted the "
		    "old key (id %s), but a session to check it could not be "
		    "had", k.tok.name, k.idhex);
		goto out;
	}
	if (left != NULL) {
		r = hwk_ctx_error(ctx, HWK_ERR_DEVICE, "token %s still holds "
		    "the old key's %s (id %s): its module said it was deleted, "
		    "but a new session finds it again", k.tok.name, left,
		    k.idhex);
		hwk_ctx_hint(ctx, "On a YubiKey with firmware 5.7 or later, "
		    "remove it with: ykman piv keys delete %s.",
		    hwk_p11_piv_slot(k.st.id, k.st.idlen));
		goto out;
	}
	r = HWK_OK;
 out:
	old_close(&k);
	return r;
}

/* The stubs --list read, parsed: the token and id each names. */
struct named {
	struct hwk_p11_stub st;
	P11KitUri	*uri;
};

/* Nonzero if one of the stubs names the key under id on the token ti. */
static int
is_named(const struct named *nm, size_t n, const CK_TOKEN_INFO *ti,
    const uint8_t *id, size_t idlen)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (nm[i].st.idlen == idlen &&
		    memcmp(nm[i].st.id, id, idlen) == 0 &&
		    hwk_p11_uri_match(nm[i].uri, NULL, 0, NULL, ti))
			return 1;
	return 0;
}

/* The key under public key object h, if no stub names it. */
static void
unnamed_key(struct p11_conn *c, CK_OBJECT_HANDLE h, const struct named *nm,
    size_t n, void (*found)(void *, const struct hwk_devkey *), void *arg)
{
	struct hwk_devkey dk;
	uint8_t *id = NULL;
	size_t idlen;

	memset(&dk, 0, sizeof(dk));
	if (hwk_p11_attr_read(NULL, c, h, CKA_ID, "an id", HWK_P11_ID_MAX, 1,
	    &id, &idlen) != 0 || id == NULL || is_named(nm, n, &c->ti, id,
	    idlen))
		goto out;
	snprintf(dk.device, sizeof(dk.device), "token %s", c->name);
	hwk_p11_id_format(id, idlen, dk.id, sizeof(dk.id));
	describe_key(c, h, &dk);
	remove_cmd(c, dk.id, 0, dk.remove, sizeof(dk.remove));
	found(arg, &dk);
 out:
	hwk_devkey_clear(&dk);
	free(id);
}

/* The keys on the token in slot of m that no stub names. */
static void
unnamed_token(struct hwk_ctx *ctx, struct p11_mod *m, CK_SLOT_ID slot,
    const struct named *nm, size_t n,
    void (*found)(void *, const struct hwk_devkey *), void *arg)
{
	CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
	CK_ATTRIBUTE tmpl[] = { { CKA_CLASS, &cls, sizeof(cls) } };
	CK_OBJECT_HANDLE objs[UNNAMED_MAX];
	struct hwk_devkey dk;
	struct p11_tok t;
	struct p11_conn *c = NULL;
	CK_ULONG count = 0, i;

	memset(&t, 0, sizeof(t));
	t.mod = m;
	t.slot = slot;
	if (m->fn->C_GetTokenInfo(slot, &t.ti) != CKR_OK ||
	    !(t.ti.flags & CKF_TOKEN_INITIALIZED))
		return;
	hwk_p11_token_name(&t.ti, t.name, sizeof(t.name));
	if (hwk_p11_conn_open(ctx, &t, 0, &c) != 0) {
		hwk_ctx_clear_error(ctx);
		return;
	}
	if (m->fn->C_FindObjectsInit(c->sess, tmpl, 1) == CKR_OK) {
		if (m->fn->C_FindObjects(c->sess, objs, UNNAMED_MAX,
		    &count) != CKR_OK || count > UNNAMED_MAX)
			count = 0;
		m->fn->C_FindObjectsFinal(c->sess);
	}
	for (i = 0; i < count; i++)
		unnamed_key(c, objs[i], nm, n, found, arg);
	/* A token that shows nothing without its PIN may hide keys. */
	if (count == 0 && (t.ti.flags & CKF_LOGIN_REQUIRED)) {
		memset(&dk, 0, sizeof(dk));
		snprintf(dk.device, sizeof(dk.device), "token %s", t.name);
		dk.hidden = 1;
		found(arg, &dk);
	}
	hwk_p11_conn_put(&c);
}

int
hwk_p11_unnamed(struct hwk_ctx *ctx, const struct hwk_buf *const *stubs,
    size_t n, void (*found)(void *arg, const struct hwk_devkey *key),
    void *arg)
{
	struct p11_opts o;
	struct p11_mod *m, *only = NULL;
	struct named *nm = NULL;
	CK_SLOT_ID *slots = NULL;
	CK_ULONG ns, j;
	size_t i, k = 0;
	int r;

	if ((r = hwk_p11_lib_need(ctx)) != 0 ||
	    (r = hwk_p11_opts_get(ctx, &o)) != 0)
		return r;
	if (n > 0 && (nm = calloc(n, sizeof(*nm))) == NULL) {
		r = HWK_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < n; i++)
		if (hwk_p11_stub_parse(hwk_buf_ptr(stubs[i]),
		    hwk_buf_len(stubs[i]), &nm[k].st, &nm[k].uri) == 0)
			k++;
	/* The tokens key generation would look at: --module's, or p11-kit's. */
	if (o.module != NULL)
		r = hwk_p11_mod_load(ctx, &o, o.module, 1, &only);
	else
		r = hwk_p11_mods_registered(ctx);
	if (r != 0)
		goto out;
	for (m = hwk_p11_mod_next(only, NULL); m != NULL;
	    m = hwk_p11_mod_next(only, m)) {
		if (hwk_p11_slot_list(m, &slots, &ns) != CKR_OK)
			continue;
		for (j = 0; j < ns; j++)
			unnamed_token(ctx, m, slots[j], nm, k, found, arg);
		free(slots);
		slots = NULL;
	}
 out:
	for (i = 0; i < k; i++) {
		p11_kit_uri_free(nm[i].uri);
		hwk_p11_stub_clear(&nm[i].st);
	}
	free(nm);
	hwk_p11_opts_clear(&o);
	return r;
}
