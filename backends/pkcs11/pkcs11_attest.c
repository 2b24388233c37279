/*
 * PIV attestation on tokens (docs/attestation.md): the attestation
 * certificate ykcs11 gives for a key's slot and the slot f9 certificate
 * that signed it, and the verifier's checks of both, with no token: the
 * chain to the roots, the attested key, and Yubico's extensions.  The
 * chain alone proves it: no challenge.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "hwkey/attest.h"
#include "hwkey/backend.h"
#include "hwkey/buf.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "hwkey/sshkey.h"
#include "backends.h"
#include "pkcs11_impl.h"

/* ykcs11's labels: the f9 certificate, and "... 9a" for a slot's. */
#define ATTEST_LABEL	"X.509 Certificate for PIV Attestation"
#define CERT_MAX	8192
#define FIND_MAX	8

/* The certificates of c's token matching tmpl, at most FIND_MAX. */
static CK_RV
find_certs(struct p11_conn *c, CK_ATTRIBUTE *tmpl, CK_ULONG n,
    CK_OBJECT_HANDLE *objs, CK_ULONG *count)
{
	CK_FUNCTION_LIST *fn = c->mod->fn;
	CK_RV rv, rv2;

	*count = 0;
	if ((rv = fn->C_FindObjectsInit(c->sess, tmpl, n)) != CKR_OK)
		return rv;
	rv = fn->C_FindObjects(c->sess, objs, FIND_MAX, count);
	rv2 = fn->C_FindObjectsFinal(c->sess);
	if (*count > FIND_MAX)
		*count = FIND_MAX;
	return rv != CKR_OK ? rv : rv2;
}

/* CKA_VALUE of obj into ev as name. */
static int
put_value(struct hwk_ctx *ctx, struct p11_conn *c, CK_OBJECT_HANDLE obj,
    const char *name, struct hwk_attest *ev)
{
	uint8_t *v = NULL;
	size_t len = 0;
	int r;

	if ((r = hwk_p11_attr_read(ctx, c, obj, CKA_VALUE, "a certificate",
	    CERT_MAX, 0, &v, &len)) != 0)
		return r;
	r = hwk_attest_put_bytes(ev, name, 0, v, len);
	free(v);
	return r;
}

/*
 * The slot's attestation certificate: of the certificates with the key's
 * id (its own may be one), the one ykcs11 labels as the attestation.
 */
static int
put_slot_cert(struct hwk_ctx *ctx, struct p11_key *pk, struct hwk_attest *ev)
{
	CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_ID, pk->id, pk->idlen },
	};
	CK_OBJECT_HANDLE objs[FIND_MAX];
	CK_ULONG n, i;
	uint8_t *label;
	size_t len;
	CK_RV rv;
	int r, hit;

	if ((rv = find_certs(pk->conn, tmpl, 2, objs, &n)) != CKR_OK)
		return hwk_p11_rv_error(ctx, rv, "cannot search token %s",
		    pk->conn->name);
	for (i = 0; i < n; i++) {
		if ((r = hwk_p11_attr_read(ctx, pk->conn, objs[i], CKA_LABEL,
		    "a label", HWK_P11_STUB_LABEL_MAX, 1, &label, &len)) != 0)
			return r;
		hit = label != NULL && len > strlen(ATTEST_LABEL " ") &&
		    strncmp((char *)label, ATTEST_LABEL " ",
		    strlen(ATTEST_LABEL " ")) == 0;
		free(label);
		if (hit)
			return put_value(ctx, pk->conn, objs[i],
			    "piv_attestation", ev);
	}
	hwk_ctx_error(ctx, HWK_ERR_UNSUPPORTED, "token %s gives no PIV "
	    "attestation for this key", pk->conn->name);
	hwk_ctx_hint(ctx, "YubiKeys attest keys made on them, through "
	    "Yubico's ykcs11 module (--module libykcs11.so); an imported key "
	    "has no attestation.");
	return HWK_ERR_UNSUPPORTED;
}

/* The op attest: the slot's attestation and the f9 certificate. */
int
hwk_p11_attest(struct hwk_ctx *ctx, struct hwk_key *key,
    struct hwk_attest *ev)
{
	struct p11_key *pk = key->impl;
	CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_LABEL, ATTEST_LABEL, strlen(ATTEST_LABEL) },
	};
	CK_OBJECT_HANDLE objs[FIND_MAX];
	CK_ULONG n;
	CK_RV rv;
	int r;

	if ((r = hwk_attest_put_str(ev, "backend", 0, "pkcs11")) != 0 ||
	    (r = hwk_attest_put_str(ev, "token", 0, pk->conn->name)) != 0 ||
	    (r = put_slot_cert(ctx, pk, ev)) != 0)
		return r;
	if ((rv = find_certs(pk->conn, tmpl, 2, objs, &n)) != CKR_OK)
		return hwk_p11_rv_error(ctx, rv, "cannot search token %s",
		    pk->conn->name);
	if (n == 0)
		return hwk_ctx_error(ctx, HWK_ERR_UNSUPPORTED, "token %s has "
		    "no attestation certificate (PIV slot f9)",
		    pk->conn->name);
	return put_value(ctx, pk->conn, objs[0], "piv_intermediate", ev);
}

static int
fail(struct hwk_ctx *ctx, const char *what)
{
	return hwk_ctx_error(ctx, HWK_ERR_FORMAT, "attestation failed: %s",
	    what);
}

/*
 * f9's certificate leads to a root, and signed the slot's.  The slot's is
 * checked by its signature alone: Yubico's f9 certificates are not all
 * marked as CAs, which X509_verify_cert would refuse.
 */
static int
check_chain(struct hwk_ctx *ctx, const char *roots, X509 *att, X509 *f9)
{
	X509_STORE *st = NULL;
	X509_STORE_CTX *sc = NULL;
	EVP_PKEY *k;
	int r = HWK_ERR_NOMEM;

	if ((st = X509_STORE_new()) == NULL ||
	    (sc = X509_STORE_CTX_new()) == NULL)
		goto out;
	if (X509_STORE_load_file(st, roots) != 1) {
		r = hwk_ctx_error(ctx, HWK_ERR_INVALID_ARG, "--ca %s: no PEM "
		    "certificates to read", roots);
		goto out;
	}
	if (!X509_STORE_CTX_init(sc, st, f9, NULL))
		goto out;
	if (X509_verify_cert(sc) != 1) {
		r = hwk_ctx_error(ctx, HWK_ERR_FORMAT, "attestation failed: "
		    "the token's attestation certificate (slot f9) does not "
		    "lead to a root of %s (%s)", roots,
		    X509_verify_cert_error_string(X509_STORE_CTX_get_error(sc)));
		goto out;
	}
	if ((k = X509_get0_pubkey(f9)) == NULL || X509_verify(att, k) != 1 ||
	    X509_NAME_cmp(X509_get_issuer_name(att),
	    X509_get_subject_name(f9)) != 0) {
		r = fail(ctx, "the key's attestation was not signed by the "
		    "token's attestation key (slot f9)");
		goto out;
	}
	r = HWK_OK;
 out:
	X509_STORE_CTX_free(sc);
	X509_STORE_free(st);
	return r;
}

/* The raw value of Yubico's extension 1.3.6.1.4.1.41482.3.<n>, or NULL. */
static const ASN1_OCTET_STRING *
yk_ext(X509 *x, int n)
{
	char oid[40];
	ASN1_OBJECT *o;
	int i;

	snprintf(oid, sizeof(oid), "1.3.6.1.4.1.41482.3.%d", n);
	if ((o = OBJ_txt2obj(oid, 1)) == NULL)
		return NULL;
	i = X509_get_ext_by_OBJ(x, o, -1);
	ASN1_OBJECT_free(o);
	return i < 0 ? NULL : X509_EXTENSION_get_data(X509_get_ext(x, i));
}

static const char *
policy_word(int v, int touch)
{
	static const char *const pin[] = { "default", "never",
	    "once per session", "always" };
	static const char *const tch[] = { "default", "never", "always",
	    "cached for 15 s" };

	if (v < 0 || v > 3)
		return "unknown";
	return touch ? tch[v] : pin[v];
}

/* The device and the policies, from the extensions YubiKeys write. */
static int
verdict_piv(X509 *att, struct hwk_attest *v)
{
	const ASN1_OCTET_STRING *fw = yk_ext(att, 3), *sn = yk_ext(att, 7),
	    *pol = yk_ext(att, 8);
	const unsigned char *p;
	ASN1_INTEGER *ai = NULL;
	char text[256], serial[32] = "unknown", firmware[32] = "unknown";
	long s;
	int r;

	if (fw != NULL && ASN1_STRING_length(fw) == 3) {
		p = ASN1_STRING_get0_data(fw);
		snprintf(firmware, sizeof(firmware), "%u.%u.%u", p[0], p[1],
		    p[2]);
	}
	if (sn != NULL) {
		p = ASN1_STRING_get0_data(sn);
		if ((ai = d2i_ASN1_INTEGER(NULL, &p,
		    ASN1_STRING_length(sn))) != NULL &&
		    (s = ASN1_INTEGER_get(ai)) >= 0)
			snprintf(serial, sizeof(serial), "%ld", s);
		ASN1_INTEGER_free(ai);
	}
	snprintf(text, sizeof(text), "PIV token, serial %s, firmware %s",
	    serial, firmware);
	if ((r = hwk_attest_put_str(v, "device", 0, text)) != 0)
		return r;
	p = pol != NULL && ASN1_STRING_length(pol) >= 2 ?
	    ASN1_STRING_get0_data(pol) : NULL;
	snprintf(text, sizeof(text), "made on the token and cannot leave it; "
	    "PIN policy: %s; touch policy: %s",
	    p != NULL ? policy_word(p[0], 0) : "unknown",
	    p != NULL ? policy_word(p[1], 1) : "unknown");
	return hwk_attest_put_str(v, "protection", 0, text);
}

/* The op attest_verify for PIV: the chain proves it, with no challenge. */
int
hwk_p11_attest_verify(struct hwk_ctx *ctx, const struct hwk_attest *ev,
    const char *roots, const struct hwk_attest *secret,
    const struct hwk_attest *resp, struct hwk_attest *v)
{
	const char *line = hwk_attest_str(ev, "ssh_key", 0);
	struct hwk_pubkey *ssh = NULL;
	EVP_PKEY *pkey = NULL;
	X509 *att = NULL, *f9 = NULL;
	char fp[HWK_FP_LEN];
	int r;

	if (secret != NULL || resp != NULL)
		return hwk_ctx_error(ctx, HWK_ERR_USAGE, "a token's evidence "
		    "needs no challenge: leave out --challenge and --response");
	if (line == NULL || hwk_pubkey_from_line(line, &ssh) != 0 ||
	    hwk_pubkey_to_evp(ssh, &pkey) != 0) {
		r = fail(ctx, "the SSH key of the evidence does not parse");
		goto out;
	}
	if ((att = hwk_attest_cert(ev, "piv_attestation", 0)) == NULL ||
	    (f9 = hwk_attest_cert(ev, "piv_intermediate", 0)) == NULL) {
		r = fail(ctx, "a certificate of the evidence is missing or "
		    "does not parse");
		goto out;
	}
	if ((r = check_chain(ctx, roots, att, f9)) != 0)
		goto out;
	if (X509_get0_pubkey(att) == NULL ||
	    EVP_PKEY_eq(X509_get0_pubkey(att), pkey) != 1) {
		r = fail(ctx, "the attested key is not the SSH key");
		goto out;
	}
	if ((r = hwk_fingerprint(ssh->blob, ssh->bloblen, fp, NULL)) != 0 ||
	    (r = hwk_attest_put_str(v, "fingerprint", 0, fp)) != 0 ||
	    (r = hwk_attest_put_str(v, "key_type", 0, ssh->type)) != 0)
		goto out;
	r = verdict_piv(att, v);
 out:
	X509_free(att);
	X509_free(f9);
	EVP_PKEY_free(pkey);
	hwk_pubkey_free(&ssh);
	return r;
}

/* The op attest_challenge: PIV evidence needs none. */
int
hwk_p11_attest_challenge(struct hwk_ctx *ctx, const struct hwk_attest *ev,
    const char *roots, struct hwk_attest *chal, struct hwk_attest *secret)
{
	(void)ev;
	(void)roots;
	(void)chal;
	(void)secret;
	hwk_ctx_error(ctx, HWK_ERR_USAGE, "a token's evidence needs no "
	    "challenge: its certificate chain proves it");
	hwk_ctx_hint(ctx, "Check it with --attest-verify KEY.attest --ca "
	    "ROOTS.pem alone.");
	return HWK_ERR_USAGE;
}
