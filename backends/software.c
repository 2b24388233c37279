/*
 * The software backend: the key (RSA, ECDSA or Ed25519) is made by OpenSSL
 * in memory and kept in an OpenSSH private key file, encrypted when it has
 * a passphrase.  It is the fallback on machines with neither a token nor a
 * TPM.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "hwkey/backend.h"
#include "hwkey/buf.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "hwkey/openssh_key.h"
#include "hwkey/out.h"
#include "hwkey/race.h"
#include "hwkey/secret.h"
#include "hwkey/sshkey.h"
#include "backends.h"

#define PASS_MAX	HWK_SECRET_MAX	/* as -N, -P and the prompt */

static int
sw_probe(struct hwk_ctx *ctx)
{
	(void)ctx;
	return HWK_OK;		/* OpenSSL is always there */
}

static int
sw_check(struct hwk_ctx *ctx, const struct hwk_genparams *gp)
{
	switch (gp->type) {
	case HWK_KEY_RSA:
		return hwk_rsa_bits_check(ctx, gp->bits,
		    HWK_RSA_DEFAULT_BITS);
	case HWK_KEY_ECDSA:
		return hwk_ecdsa_bits_check(ctx, gp->bits);
	case HWK_KEY_ED25519:
		return HWK_OK;		/* one size */
	}
	return hwk_ctx_error(ctx, HWK_ERR_KEY_TYPE, "unknown key type %d",
	    gp->type);
}

static int
sw_generate(struct hwk_ctx *ctx, const struct hwk_genparams *gp,
    struct hwk_key **keyp)
{
	EVP_PKEY *pkey = NULL;
	char group[8];
	int r;

	*keyp = NULL;
	if ((r = sw_check(ctx, gp)) != 0)
		return r;
	switch (gp->type) {
	case HWK_KEY_RSA:
		/* One keygen per free CPU, the first key kept: less waiting. */
		hwk_rsa_race(gp->bits,
		    hwk_race_idle(hwk_race_width(HWK_RSA_RACERS_MAX)), gp->stop,
		    &pkey);
		break;
	case HWK_KEY_ECDSA:
		/* OpenSSL names the NIST curves "P-256", "P-384", "P-521". */
		snprintf(group, sizeof(group), "P-%u", gp->bits);
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", group);
		break;
	case HWK_KEY_ED25519:
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		break;
	}
	if (pkey == NULL && gp->type == HWK_KEY_ED25519) {
		r = hwk_ctx_error(ctx, HWK_ERR_CRYPTO,
		    "OpenSSL could not generate an Ed25519 key");
		goto out;
	} else if (pkey == NULL) {
		r = hwk_ctx_error(ctx, HWK_ERR_CRYPTO,
		    "OpenSSL could not generate an %s-%u key",
		    gp->type == HWK_KEY_RSA ? "RSA" : "ECDSA", gp->bits);
		goto out;
	}
	if ((r = hwk_key_new(&hwk_backend_software, keyp)) != 0 ||
	    (r = hwk_key_set_comment(*keyp, gp->comment)) != 0) {
		hwk_key_free(keyp);
		goto out;
	}
	(*keyp)->pkey = pkey;
	pkey = NULL;
 out:
	EVP_PKEY_free(pkey);
	return r;
}

static int
sw_write_stub(struct hwk_ctx *ctx, const struct hwk_key *key,
    const struct hwk_genparams *gp, struct hwk_buf *out)
{
	struct hwk_openssh_opts o;
	int r;

	memset(&o, 0, sizeof(o));
	o.passphrase = gp->passphrase;
	o.rounds = gp->kdf_rounds;
	o.kdf = gp->kdf;	/* used only if it matches the passphrase */
	if ((r = hwk_openssh_write(key->pkey, gp->comment, &o, out)) != 0)
		return hwk_ctx_error(ctx, r, "cannot encode the private key: %s",
		    hwk_strerror(r));
	return HWK_OK;
}

static const char *const pem_labels[] = {
	"-----BEGIN " HWK_OPENSSH_LABEL "-----",
	"-----BEGIN RSA PRIVATE KEY-----",
	"-----BEGIN PRIVATE KEY-----",
	"-----BEGIN ENCRYPTED PRIVATE KEY-----",
	NULL,
};

/* Index of the armour that opens the stub, or -1. */
static int
stub_kind(const uint8_t *stub, size_t len)
{
	size_t skip = 0, n;
	int i;

	while (skip < len && (stub[skip] == ' ' || stub[skip] == '\t' ||
	    stub[skip] == '\r' || stub[skip] == '\n'))
		skip++;
	for (i = 0; pem_labels[i] != NULL; i++) {
		n = strlen(pem_labels[i]);
		if (len - skip >= n && memcmp(stub + skip, pem_labels[i], n) == 0)
			return i;
	}
	return -1;
}

static int
sw_claims(const uint8_t *stub, size_t len)
{
	return stub_kind(stub, len) >= 0;
}

static int
pem_encrypted(const uint8_t *stub, size_t len, int kind)
{
	return kind == 3 || memmem(stub, len, "Proc-Type: 4,ENCRYPTED",
	    strlen("Proc-Type: 4,ENCRYPTED")) != NULL;
}

static int
sw_stub_info(const uint8_t *stub, size_t len, struct hwk_stubinfo *info)
{
	struct hwk_openssh_info oi;
	int kind = stub_kind(stub, len), r;

	memset(info, 0, sizeof(*info));
	if (kind < 0)
		return HWK_ERR_FORMAT;
	if (kind > 0) {		/* PEM: the public half is inside the secret */
		info->protection = pem_encrypted(stub, len, kind) ?
		    "passphrase" : "none";
		return HWK_OK;
	}
	if ((r = hwk_openssh_info(stub, len, &oi)) != 0)
		return r;
	info->protection = hwk_openssh_encrypted(&oi) ? "passphrase" : "none";
	info->pub = oi.pub;
	oi.pub = NULL;
	/* The comment is in the private section: readable if not encrypted. */
	if (!hwk_openssh_encrypted(&oi)) {
		EVP_PKEY *k = NULL;

		hwk_openssh_info_clear(&oi);
		if (hwk_openssh_read(stub, len, NULL, &k, &info->comment,
		    &oi) == 0 && info->comment != NULL &&
		    *info->comment == '\0') {
			free(info->comment);
			info->comment = NULL;
		}
		EVP_PKEY_free(k);
	}
	hwk_openssh_info_clear(&oi);
	return HWK_OK;
}

/* The passphrase from -P, else from a prompt. */
static int
get_passphrase(struct hwk_ctx *ctx, char *buf, size_t len)
{
	const char *p = hwk_ctx_opt(ctx, "passphrase");

	if (p != NULL) {
		if (strlen(p) >= len)
			return hwk_ctx_error(ctx, HWK_ERR_TOO_LARGE,
			    "the passphrase is longer than %zu characters",
			    len - 1);
		strcpy(buf, p);
		return HWK_OK;
	}
	return hwk_ctx_read_secret(ctx, "Enter passphrase: ", buf, len);
}

struct pem_cb {
	struct hwk_ctx	*ctx;
	int		 err;
};

static int
pem_pass_cb(char *buf, int size, int rwflag, void *arg)
{
	struct pem_cb *cb = arg;
	char pass[PASS_MAX];
	size_t n;

	(void)rwflag;
	if ((cb->err = get_passphrase(cb->ctx, pass, sizeof(pass))) != 0)
		return -1;
	n = strlen(pass);
	if (n >= (size_t)size) {
		explicit_bzero(pass, sizeof(pass));
		return -1;
	}
	memcpy(buf, pass, n);
	explicit_bzero(pass, sizeof(pass));
	return (int)n;
}

static int
load_pem(struct hwk_ctx *ctx, const uint8_t *stub, size_t len,
    EVP_PKEY **pkeyp)
{
	struct pem_cb cb = { ctx, 0 };
	BIO *bio;

	*pkeyp = NULL;
	if ((bio = BIO_new_mem_buf(stub, (int)len)) == NULL)
		return HWK_ERR_NOMEM;
	*pkeyp = PEM_read_bio_PrivateKey(bio, NULL, pem_pass_cb, &cb);
	BIO_free(bio);
	if (*pkeyp != NULL)
		return HWK_OK;
	if (cb.err != 0)
		return cb.err;
	return hwk_ctx_error(ctx, HWK_ERR_FORMAT, "invalid format or "
	    "incorrect passphrase supplied to decrypt private key");
}

/* "invalid format", with the reason when there is more to say. */
static int
format_error(struct hwk_ctx *ctx, int r)
{
	if (r == HWK_ERR_FORMAT)
		return hwk_ctx_error(ctx, r, "%s", hwk_strerror(r));
	return hwk_ctx_error(ctx, r, "%s: %s", hwk_strerror(HWK_ERR_FORMAT),
	    hwk_strerror(r));
}

static int
sw_load(struct hwk_ctx *ctx, const uint8_t *stub, size_t len,
    struct hwk_key **keyp)
{
	struct hwk_openssh_info oi;
	EVP_PKEY *pkey = NULL;
	char pass[PASS_MAX], *comment = NULL;
	int kind = stub_kind(stub, len), r;

	*keyp = NULL;
	pass[0] = '\0';
	memset(&oi, 0, sizeof(oi));
	if (kind < 0)
		return hwk_ctx_error(ctx, HWK_ERR_FORMAT,
		    "not a private key file");
	if (kind > 0) {
		if ((r = load_pem(ctx, stub, len, &pkey)) != 0)
			goto out;
		if (hwk_pkey_ssh_type(pkey) == NULL) {
			r = hwk_ctx_error(ctx, HWK_ERR_KEY_TYPE, "the key is "
			    "not an RSA, ECDSA (NIST P-256, P-384, P-521) or "
			    "Ed25519 key");
			goto out;
		}
	} else {
		if ((r = hwk_openssh_info(stub, len, &oi)) != 0) {
			r = format_error(ctx, r);
			goto out;
		}
		if (hwk_openssh_encrypted(&oi) &&
		    (r = get_passphrase(ctx, pass, sizeof(pass))) != 0)
			goto out;
		hwk_openssh_info_clear(&oi);
		r = hwk_openssh_read(stub, len, pass, &pkey, &comment, &oi);
		if (r == HWK_ERR_WRONG_PASSPHRASE) {
			r = hwk_ctx_error(ctx, r, "incorrect passphrase "
			    "supplied to decrypt private key");
			goto out;
		} else if (r == HWK_ERR_UNSUPPORTED) {
			r = hwk_ctx_error(ctx, r, "the key is encrypted with "
			    "%s, which hwkeygen cannot decrypt", oi.cipher);
			goto out;
		} else if (r == HWK_ERR_KEY_TYPE) {
			r = hwk_ctx_error(ctx, r, "the key is of type %s; "
			    "hwkeygen handles RSA, ECDSA and Ed25519 keys",
			    oi.pub != NULL ? oi.pub->type : "unknown");
			goto out;
		} else if (r != 0) {
			r = format_error(ctx, r);
			goto out;
		}
	}
	if ((r = hwk_key_new(&hwk_backend_software, keyp)) != 0 ||
	    (r = hwk_key_set_comment(*keyp, comment)) != 0) {
		hwk_key_free(keyp);
		goto out;
	}
	(*keyp)->pkey = pkey;
	pkey = NULL;
 out:
	explicit_bzero(pass, sizeof(pass));
	hwk_openssh_info_clear(&oi);
	EVP_PKEY_free(pkey);
	free(comment);
	return r;
}

static const EVP_MD *
rsa_md(int alg)
{
	switch (alg) {
	case HWK_SIG_RSA_SHA1:		return EVP_sha1();
	case HWK_SIG_RSA_SHA256:	return EVP_sha256();
	case HWK_SIG_RSA_SHA512:	return EVP_sha512();
	}
	return NULL;
}

/* OpenSSL's signature of data: PKCS#1 v1.5, DER for ECDSA, Ed25519's. */
static int
digest_sign(EVP_PKEY *pkey, const EVP_MD *h, const uint8_t *data,
    size_t len, uint8_t **sigp, size_t *siglenp)
{
	EVP_MD_CTX *md = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	uint8_t *sig = NULL;
	size_t slen = 0;
	int r = HWK_ERR_CRYPTO;

	/* Ed25519 hashes inside: it takes no digest, and data in one go. */
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(md, &pctx, h, NULL, pkey) != 1)
		goto out;
	if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA &&
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1)
		goto out;
	if (EVP_DigestSign(md, NULL, &slen, data, len) != 1 ||
	    (sig = malloc(slen)) == NULL ||
	    EVP_DigestSign(md, sig, &slen, data, len) != 1)
		goto out;
	*sigp = sig;
	*siglenp = slen;
	sig = NULL;
	r = HWK_OK;
 out:
	free(sig);
	EVP_MD_CTX_free(md);
	return r;
}

/* OpenSSL's DER ECDSA-Sig-Value as r || s, each as long as the field. */
static int
ecdsa_raw(const uint8_t *der, size_t derlen, size_t half, uint8_t **rawp)
{
	ECDSA_SIG *es = NULL;
	const BIGNUM *r_, *s_;
	const uint8_t *p = der;
	uint8_t *raw = NULL;
	int r = HWK_ERR_CRYPTO;

	if ((es = d2i_ECDSA_SIG(NULL, &p, (long)derlen)) == NULL ||
	    p != der + derlen)
		goto out;
	ECDSA_SIG_get0(es, &r_, &s_);
	if ((raw = malloc(2 * half)) == NULL) {
		r = HWK_ERR_NOMEM;
		goto out;
	}
	if (BN_bn2binpad(r_, raw, (int)half) < 0 ||
	    BN_bn2binpad(s_, raw + half, (int)half) < 0)
		goto out;
	*rawp = raw;
	raw = NULL;
	r = HWK_OK;
 out:
	free(raw);
	ECDSA_SIG_free(es);
	return r;
}

/* The hash of alg for this key; 0 if the key cannot make alg's signatures. */
static int
sign_md(const EVP_PKEY *pkey, int alg, const EVP_MD **hp)
{
	*hp = NULL;
	switch (alg) {
	case HWK_SIG_RSA_SHA1:
	case HWK_SIG_RSA_SHA256:
	case HWK_SIG_RSA_SHA512:
		*hp = rsa_md(alg);
		return EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA;
	case HWK_SIG_ECDSA:
		*hp = hwk_ecdsa_md(hwk_ecdsa_bits(pkey));
		return *hp != NULL;
	case HWK_SIG_ED25519:
		return EVP_PKEY_get_base_id(pkey) == EVP_PKEY_ED25519;
	}
	return 0;
}

static int
sw_sign(struct hwk_ctx *ctx, struct hwk_key *key, int alg,
    const uint8_t *data, size_t len, uint8_t **sigp, size_t *siglenp)
{
	const EVP_MD *h;
	uint8_t *sig = NULL, *der = NULL;
	size_t slen = 0, half;
	int r;

	*sigp = NULL;
	*siglenp = 0;
	if (alg < HWK_SIG_RSA_SHA1 || alg > HWK_SIG_ED25519)
		return hwk_ctx_error(ctx, HWK_ERR_UNSUPPORTED,
		    "unknown signature algorithm %d", alg);
	if (!sign_md(key->pkey, alg, &h))
		return hwk_ctx_error(ctx, HWK_ERR_UNSUPPORTED, "this key "
		    "cannot make signatures of algorithm %d", alg);
	if ((r = digest_sign(key->pkey, h, data, len, &sig, &slen)) != 0) {
		r = hwk_ctx_error(ctx, r, "signing failed");
		goto out;
	}
	if (alg == HWK_SIG_ECDSA) {
		/* The raw r || s devices give, as the sign op promises. */
		half = (hwk_ecdsa_bits(key->pkey) + 7) / 8;
		der = sig;
		sig = NULL;
		if ((r = ecdsa_raw(der, slen, half, &sig)) != 0) {
			r = hwk_ctx_error(ctx, r, "signing failed");
			goto out;
		}
		slen = 2 * half;
	}
	*sigp = sig;
	*siglenp = slen;
	sig = NULL;
	r = HWK_OK;
 out:
	free(sig);
	free(der);
	return r;
}

static int
sw_describe(struct hwk_ctx *ctx, struct hwk_out *out)
{
	(void)ctx;
	hwk_out_str(out, "library", OpenSSL_version(OPENSSL_VERSION));
	hwk_out_int(out, "rsa_bits_min", HWK_RSA_MIN_BITS);
	hwk_out_int(out, "rsa_bits_max", HWK_RSA_MAX_BITS);
	/* Named as the devices name theirs, so a script reads one shape. */
	hwk_out_begin_array(out, "ecdsa_bits");
	hwk_out_int(out, NULL, 256);
	hwk_out_int(out, NULL, 384);
	hwk_out_int(out, NULL, 521);
	hwk_out_end_array(out);
	hwk_out_bool(out, "ed25519", 1);
	hwk_out_str(out, "key_file", "openssh-key-v1, aes256-ctr + bcrypt "
	    "with a passphrase");
	return HWK_OK;
}

const struct hwk_backend hwk_backend_software = {
	.name = "software",
	.summary = "key made by OpenSSL, kept in an OpenSSH private key file",
	.flags = HWK_BF_PASSPHRASE | HWK_BF_KDF | HWK_BF_EARLY,
	.default_bits = HWK_RSA_DEFAULT_BITS,
	.options = NULL,
	.probe = sw_probe,
	.check = sw_check,
	.generate = sw_generate,
	.write_stub = sw_write_stub,
	.claims = sw_claims,
	.stub_info = sw_stub_info,
	.load = sw_load,
	.sign = sw_sign,
	.destroy = NULL,
	.free_impl = NULL,
	.describe = sw_describe,
};
