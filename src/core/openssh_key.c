/*
 * openssh-key-v1 reader and writer for RSA, ECDSA and Ed25519 keys, byte for
 * byte as ssh-keygen writes them: unencrypted, or aes256-ctr with a bcrypt
 * KDF.  The reader also takes the other AES modes ssh-keygen -Z can choose.
 * The key's own fields are openssh_privkey.c's.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "hwkey/buf.h"
#include "hwkey/error.h"
#include "hwkey/kdf_ahead.h"
#include "hwkey/openssh_key.h"
#include "hwkey/sshkey.h"
#include "bcrypt_pbkdf.h"
#include "openssh_privkey.h"

#define MAGIC		"openssh-key-v1"	/* with its NUL: 15 bytes */
#define WRAP		70

struct cipher {
	const char	*name;		/* OpenSSH's */
	const char	*evp;		/* OpenSSL's */
	size_t		 block;
	size_t		 keylen;
	size_t		 ivlen;
	size_t		 taglen;
};

static const struct cipher ciphers[] = {
	{ "none", NULL, 8, 0, 0, 0 },
	{ "aes128-ctr", "AES-128-CTR", 16, 16, 16, 0 },
	{ "aes192-ctr", "AES-192-CTR", 16, 24, 16, 0 },
	{ "aes256-ctr", "AES-256-CTR", 16, 32, 16, 0 },
	{ "aes128-cbc", "AES-128-CBC", 16, 16, 16, 0 },
	{ "aes192-cbc", "AES-192-CBC", 16, 24, 16, 0 },
	{ "aes256-cbc", "AES-256-CBC", 16, 32, 16, 0 },
	{ "aes128-gcm@openssh.com", "AES-128-GCM", 16, 16, 12, 16 },
	{ "aes256-gcm@openssh.com", "AES-256-GCM", 16, 32, 12, 16 },
	{ NULL, NULL, 0, 0, 0, 0 },
};

static const struct cipher *
cipher_find(const char *name)
{
	const struct cipher *c;

	for (c = ciphers; c->name != NULL; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

/* En- or decrypts len bytes of in into out; the GCM tag follows in or out. */
static int
cipher_crypt(const struct cipher *c, const uint8_t *keyiv, int enc,
    const uint8_t *in, size_t len, uint8_t *out)
{
	EVP_CIPHER *ciph = NULL;
	EVP_CIPHER_CTX *ctx = NULL;
	int n, fin, r = HWK_ERR_CRYPTO;

	if ((ciph = EVP_CIPHER_fetch(NULL, c->evp, NULL)) == NULL ||
	    (ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    !EVP_CipherInit_ex2(ctx, ciph, NULL, NULL, enc, NULL))
		goto out;
	if (c->taglen > 0 && !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN,
	    (int)c->ivlen, NULL))
		goto out;
	if (!EVP_CipherInit_ex2(ctx, NULL, keyiv, keyiv + c->keylen, enc,
	    NULL) || !EVP_CIPHER_CTX_set_padding(ctx, 0))
		goto out;
	if (c->taglen > 0 && !enc && !EVP_CIPHER_CTX_ctrl(ctx,
	    EVP_CTRL_GCM_SET_TAG, (int)c->taglen, (void *)(in + len)))
		goto out;
	if (!EVP_CipherUpdate(ctx, out, &n, in, (int)len) || (size_t)n != len)
		goto out;
	if (!EVP_CipherFinal_ex(ctx, out + n, &fin) || fin != 0) {
		/* With GCM a bad tag means a wrong passphrase. */
		r = c->taglen > 0 ? HWK_ERR_WRONG_PASSPHRASE : HWK_ERR_CRYPTO;
		goto out;
	}
	if (c->taglen > 0 && enc && !EVP_CIPHER_CTX_ctrl(ctx,
	    EVP_CTRL_GCM_GET_TAG, (int)c->taglen, out + len))
		goto out;
	r = HWK_OK;
 out:
	EVP_CIPHER_CTX_free(ctx);
	EVP_CIPHER_free(ciph);
	return r;
}

/*
 * The private section before encryption: the check words, the key and its
 * comment, padded to the cipher's block with 1, 2, 3, ... (PROTOCOL.key).
 */
static int
put_private(struct hwk_buf *priv, const EVP_PKEY *key, const char *comment,
    const struct hwk_openssh_opts *opts, size_t block)
{
	uint32_t check;
	uint8_t i;
	int r;

	if (opts->fixed_check)
		check = opts->check;
	else if (RAND_bytes((uint8_t *)&check, sizeof(check)) != 1)
		return HWK_ERR_CRYPTO;
	if ((r = hwk_buf_put_u32(priv, check)) != 0 ||
	    (r = hwk_buf_put_u32(priv, check)) != 0 ||
	    (r = hwk_openssh_privkey_put(priv, key)) != 0 ||
	    (r = hwk_buf_put_cstring(priv, comment != NULL ? comment : "")))
		return r;
	for (i = 1; hwk_buf_len(priv) % block != 0; i++)
		if ((r = hwk_buf_put_u8(priv, i)) != 0)
			return r;
	return HWK_OK;
}

/*
 * The salt: the tests' fixed one, or that of a KDF run ahead for this
 * passphrase (*derived: keyiv is set too), or a new random one.
 */
static int
kdf_salt(const struct hwk_openssh_opts *opts, const char *pass,
    unsigned rounds, uint8_t salt[HWK_KDF_SALT_LEN], uint8_t keyiv[64],
    const struct cipher *c, int *derived)
{
	int r;

	*derived = 0;
	if (opts->salt != NULL) {
		memcpy(salt, opts->salt, HWK_KDF_SALT_LEN);
		return HWK_OK;
	}
	if (opts->kdf != NULL) {
		r = hwk_kdf_ahead_take(opts->kdf, pass, rounds, salt,
		    HWK_KDF_SALT_LEN, keyiv, c->keylen + c->ivlen);
		if (r == 0)
			*derived = 1;
		if (r != HWK_ERR_INVALID_ARG)	/* not for this passphrase */
			return r;
	}
	return RAND_bytes(salt, HWK_KDF_SALT_LEN) == 1 ? HWK_OK :
	    HWK_ERR_CRYPTO;
}

int
hwk_openssh_write(const EVP_PKEY *key, const char *comment,
    const struct hwk_openssh_opts *opts, struct hwk_buf *out)
{
	struct hwk_buf *pub = NULL, *priv = NULL, *kdfopts = NULL, *enc = NULL;
	const struct cipher *c;
	const char *pass = opts->passphrase;
	int encrypted = pass != NULL && *pass != '\0';
	uint8_t salt[HWK_KDF_SALT_LEN], keyiv[64], *p;
	unsigned rounds = opts->rounds > 0 ? opts->rounds : HWK_KDF_ROUNDS;
	int r, derived = 0;

	if (hwk_pkey_ssh_type(key) == NULL)
		return HWK_ERR_KEY_TYPE;
	c = cipher_find(encrypted ? "aes256-ctr" : "none");
	if ((pub = hwk_buf_new()) == NULL || (priv = hwk_buf_new()) == NULL ||
	    (kdfopts = hwk_buf_new()) == NULL || (enc = hwk_buf_new()) == NULL) {
		r = HWK_ERR_NOMEM;
		goto out;
	}
	if ((r = hwk_pkey_put_blob(key, pub)) != 0)
		goto out;

	if ((r = put_private(priv, key, comment, opts, c->block)) != 0)
		goto out;

	if ((r = hwk_buf_put(enc, MAGIC, sizeof(MAGIC))) != 0 ||
	    (r = hwk_buf_put_cstring(enc, c->name)) != 0 ||
	    (r = hwk_buf_put_cstring(enc, encrypted ? "bcrypt" : "none")) != 0)
		goto out;
	if (encrypted) {
		if ((r = kdf_salt(opts, pass, rounds, salt, keyiv, c,
		    &derived)) != 0)
			goto out;
		if ((r = hwk_buf_put_string(kdfopts, salt, sizeof(salt))) != 0 ||
		    (r = hwk_buf_put_u32(kdfopts, rounds)) != 0)
			goto out;
	}
	if ((r = hwk_buf_put_stringb(enc, kdfopts)) != 0 ||
	    (r = hwk_buf_put_u32(enc, 1)) != 0 ||
	    (r = hwk_buf_put_stringb(enc, pub)) != 0 ||
	    (r = hwk_buf_put_u32(enc, (uint32_t)hwk_buf_len(priv))) != 0 ||
	    (r = hwk_buf_reserve(enc, hwk_buf_len(priv) + c->taglen, &p)) != 0)
		goto out;
	if (encrypted) {
		if ((!derived && (r = hwk_bcrypt_pbkdf(pass, strlen(pass), salt,
		    sizeof(salt), keyiv, c->keylen + c->ivlen, rounds)) != 0) ||
		    (r = cipher_crypt(c, keyiv, 1, hwk_buf_ptr(priv),
		    hwk_buf_len(priv), p)) != 0)
			goto out;
	} else
		memcpy(p, hwk_buf_ptr(priv), hwk_buf_len(priv));
	r = hwk_pem_encode(out, HWK_OPENSSH_LABEL, hwk_buf_ptr(enc),
	    hwk_buf_len(enc), WRAP);
 out:
	explicit_bzero(keyiv, sizeof(keyiv));
	hwk_buf_free(&pub);
	hwk_buf_free(&priv);
	hwk_buf_free(&kdfopts);
	hwk_buf_free(&enc);
	return r;
}

void
hwk_openssh_info_clear(struct hwk_openssh_info *info)
{
	hwk_pubkey_free(&info->pub);
	memset(info, 0, sizeof(*info));
}

/*
 * Parses the armour and header.  On success *bodyp holds the decoded file
 * positioned at the encrypted section's length.
 */
static int
parse_header(const uint8_t *text, size_t len, struct hwk_openssh_info *info,
    struct hwk_buf **bodyp)
{
	struct hwk_buf *body = NULL, *kdf = NULL;
	char *cipher = NULL, *kdfname = NULL;
	const uint8_t *blob, *salt;
	size_t bloblen, saltlen;
	uint8_t magic[sizeof(MAGIC)];
	uint32_t nkeys, rounds;
	int r;

	memset(info, 0, sizeof(*info));
	*bodyp = NULL;
	if ((body = hwk_buf_new()) == NULL)
		return HWK_ERR_NOMEM;
	if ((r = hwk_pem_decode((const char *)text, len, HWK_OPENSSH_LABEL,
	    body)) != 0)
		goto out;
	if ((r = hwk_buf_get(body, magic, sizeof(magic))) != 0)
		goto out;
	if (memcmp(magic, MAGIC, sizeof(MAGIC)) != 0) {
		r = HWK_ERR_FORMAT;
		goto out;
	}
	if ((r = hwk_buf_get_cstring(body, &cipher, NULL)) != 0 ||
	    (r = hwk_buf_get_cstring(body, &kdfname, NULL)) != 0 ||
	    (r = hwk_buf_get_stringb(body, &kdf)) != 0 ||
	    (r = hwk_buf_get_u32(body, &nkeys)) != 0)
		goto out;
	if (strlen(cipher) >= sizeof(info->cipher) ||
	    strlen(kdfname) >= sizeof(info->kdf) || nkeys != 1) {
		r = HWK_ERR_FORMAT;
		goto out;
	}
	strcpy(info->cipher, cipher);
	strcpy(info->kdf, kdfname);
	if (strcmp(kdfname, "bcrypt") == 0) {
		if ((r = hwk_buf_get_string_direct(kdf, &salt, &saltlen)) != 0 ||
		    (r = hwk_buf_get_u32(kdf, &rounds)) != 0)
			goto out;
		if (saltlen == 0 || saltlen > sizeof(info->salt) ||
		    rounds == 0 || hwk_buf_len(kdf) != 0) {
			r = HWK_ERR_FORMAT;
			goto out;
		}
		memcpy(info->salt, salt, saltlen);
		info->saltlen = saltlen;
		info->rounds = rounds;
	} else if (strcmp(kdfname, "none") != 0 || hwk_buf_len(kdf) != 0) {
		r = HWK_ERR_FORMAT;
		goto out;
	}
	/* "none" cipher goes with "none" kdf and the other way round. */
	if ((strcmp(cipher, "none") == 0) != (strcmp(kdfname, "none") == 0)) {
		r = HWK_ERR_FORMAT;
		goto out;
	}
	if ((r = hwk_buf_get_string_direct(body, &blob, &bloblen)) != 0 ||
	    (r = hwk_pubkey_from_blob(blob, bloblen, NULL, &info->pub)) != 0)
		goto out;
	*bodyp = body;
	body = NULL;
 out:
	free(cipher);
	free(kdfname);
	hwk_buf_free(&kdf);
	hwk_buf_free(&body);
	if (r != 0)
		hwk_openssh_info_clear(info);
	return r;
}

int
hwk_openssh_info(const uint8_t *text, size_t len, struct hwk_openssh_info *info)
{
	struct hwk_buf *body = NULL;
	int r;

	r = parse_header(text, len, info, &body);
	hwk_buf_free(&body);
	return r;
}

int
hwk_openssh_encrypted(const struct hwk_openssh_info *info)
{
	return strcmp(info->cipher, "none") != 0;
}

/* The decrypted private section: checks, one key, comment, padding. */
static int
parse_private(struct hwk_buf *priv, const struct hwk_openssh_info *info,
    EVP_PKEY **keyp, char **commentp, uint32_t *checkp)
{
	struct hwk_openssh_privkey k;
	EVP_PKEY *key = NULL;
	struct hwk_buf *blob = NULL;
	char *comment = NULL;
	uint32_t check1, check2;
	uint8_t pad;
	size_t i;
	int r;

	memset(&k, 0, sizeof(k));
	if ((r = hwk_buf_get_u32(priv, &check1)) != 0 ||
	    (r = hwk_buf_get_u32(priv, &check2)) != 0)
		goto out;
	if (check1 != check2) {
		r = HWK_ERR_WRONG_PASSPHRASE;
		goto out;
	}
	/* The key's fields are checked once the section is read whole. */
	if ((r = hwk_openssh_privkey_get(priv, info->pub->type, &k)) != 0 ||
	    (r = hwk_buf_get_cstring(priv, &comment, NULL)) != 0)
		goto out;
	/*
	 * Padding 1, 2, 3, ... to the end, of any length, as OpenSSH reads it:
	 * PuTTY pads to 16 even where a block is 8.  The section's length is
	 * a multiple of the block size, checked by the caller.
	 */
	for (i = 1; hwk_buf_len(priv) > 0; i++) {
		if ((r = hwk_buf_get_u8(priv, &pad)) != 0)
			goto out;
		if (pad != (i & 0xff)) {
			r = HWK_ERR_FORMAT;
			goto out;
		}
	}
	if ((r = hwk_openssh_privkey_to_evp(&k, &key)) != 0)
		goto out;
	/* The private half must belong to the public key of the header. */
	if ((blob = hwk_buf_new()) == NULL) {
		r = HWK_ERR_NOMEM;
		goto out;
	}
	if ((r = hwk_pkey_put_blob(key, blob)) != 0)
		goto out;
	if (hwk_buf_len(blob) != info->pub->bloblen ||
	    memcmp(hwk_buf_ptr(blob), info->pub->blob, info->pub->bloblen)) {
		r = HWK_ERR_FORMAT;
		goto out;
	}
	*keyp = key;
	key = NULL;
	if (commentp != NULL) {
		*commentp = comment;
		comment = NULL;
	}
	*checkp = check1;
	r = HWK_OK;
 out:
	hwk_openssh_privkey_clear(&k);
	EVP_PKEY_free(key);
	hwk_buf_free(&blob);
	free(comment);
	return r;
}

int
hwk_openssh_read(const uint8_t *text, size_t len, const char *passphrase,
    EVP_PKEY **keyp, char **commentp, struct hwk_openssh_info *info)
{
	struct hwk_openssh_info tmp;
	struct hwk_buf *body = NULL, *priv = NULL;
	const struct cipher *c;
	uint8_t keyiv[64], *out;
	uint32_t enclen;
	int r;

	*keyp = NULL;
	if (commentp != NULL)
		*commentp = NULL;
	if (info == NULL)
		info = &tmp;
	if ((r = parse_header(text, len, info, &body)) != 0)
		return r;
	if ((c = cipher_find(info->cipher)) == NULL) {
		r = HWK_ERR_UNSUPPORTED;
		goto out;
	}
	if ((r = hwk_buf_get_u32(body, &enclen)) != 0)
		goto out;
	if (enclen < c->block || enclen % c->block != 0) {
		r = HWK_ERR_FORMAT;
		goto out;
	}
	if (hwk_buf_len(body) < c->taglen ||
	    hwk_buf_len(body) - c->taglen < enclen) {
		r = HWK_ERR_TRUNCATED;
		goto out;
	}
	if (hwk_buf_len(body) - c->taglen != enclen) {
		r = HWK_ERR_FORMAT;	/* trailing bytes */
		goto out;
	}
	if ((priv = hwk_buf_new()) == NULL) {
		r = HWK_ERR_NOMEM;
		goto out;
	}
	if ((r = hwk_buf_reserve(priv, enclen, &out)) != 0)
		goto out;
	if (c->evp == NULL)
		memcpy(out, hwk_buf_ptr(body), enclen);
	else {
		if (passphrase == NULL || *passphrase == '\0') {
			r = HWK_ERR_WRONG_PASSPHRASE;
			goto out;
		}
		if ((r = hwk_bcrypt_pbkdf(passphrase, strlen(passphrase),
		    info->salt, info->saltlen, keyiv, c->keylen + c->ivlen,
		    info->rounds)) != 0 ||
		    (r = cipher_crypt(c, keyiv, 0, hwk_buf_ptr(body), enclen,
		    out)) != 0)
			goto out;
	}
	r = parse_private(priv, info, keyp, commentp, &info->check);
 out:
	explicit_bzero(keyiv, sizeof(keyiv));
	hwk_buf_free(&body);
	hwk_buf_free(&priv);
	if (info == &tmp)
		hwk_openssh_info_clear(&tmp);
	return r;
}
