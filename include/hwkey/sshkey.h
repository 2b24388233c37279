/*
 * SSH public keys as OpenSSH writes them: the wire blob, the .pub line,
 * the SHA256 fingerprint and the randomart of `ssh-keygen -lv`; OpenSSL's
 * keys to and from blobs (pkey.c), and SSH signatures (signature.c).
 */
#ifndef HWKEY_SSHKEY_H
#define HWKEY_SSHKEY_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

struct hwk_buf;

#define HWK_FP_LEN		(7 + 43 + 1)	/* "SHA256:" + base64 + NUL */
#define HWK_RSA_MIN_BITS	2048
#define HWK_RSA_MAX_BITS	16384
#define HWK_RSA_DEFAULT_BITS	3072

/* A public key of any SSH type, as read from a .pub line or made here. */
struct hwk_pubkey {
	char		*type;		/* wire name: "ssh-rsa", ... */
	uint8_t		*blob;
	size_t		 bloblen;
	unsigned	 bits;		/* 0 when the type does not say */
	char		*comment;	/* NULL when there is none */
};

void	hwk_pubkey_free(struct hwk_pubkey **kp);
int	hwk_pubkey_from_blob(const uint8_t *blob, size_t len,
	    const char *comment, struct hwk_pubkey **kp);
/* One line of a .pub or authorized_keys file: "type base64 [comment]". */
int	hwk_pubkey_from_line(const char *line, struct hwk_pubkey **kp);
/* The public key of an RSA, ECDSA (NIST P-256/384/521) or Ed25519 key. */
int	hwk_pubkey_from_evp(const EVP_PKEY *pkey, const char *comment,
	    struct hwk_pubkey **kp);
/* The OpenSSL key of an ssh-rsa, ecdsa-sha2-nistp* or ssh-ed25519 blob. */
int	hwk_pubkey_to_evp(const struct hwk_pubkey *k, EVP_PKEY **pkeyp);
/* "RSA", "ED25519", ...: the name ssh-keygen -l prints. */
const char *hwk_pubkey_label(const struct hwk_pubkey *k);
/* "type base64 comment" with no newline; the comment as ssh-keygen writes it. */
int	hwk_pubkey_format(const struct hwk_pubkey *k, int with_comment,
	    char **linep);

/* A BIGNUM parameter of pkey ("n", "d", ...) as an mpint; wiped after. */
int	hwk_buf_put_pkey_bn(struct hwk_buf *b, const EVP_PKEY *pkey,
	    const char *name);
/* The SSH key type of pkey ("ssh-rsa", ...); NULL if SSH has none for it. */
const char *hwk_pkey_ssh_type(const EVP_PKEY *pkey);
/* The size ssh-keygen -l prints: RSA's modulus, the curve, 256 for Ed25519. */
unsigned hwk_pkey_bits(const EVP_PKEY *pkey);
/* The public blob of a key of any of those types (public or private). */
int	hwk_pkey_put_blob(const EVP_PKEY *pkey, struct hwk_buf *b);
/* The ssh-rsa blob of an RSA key (public or private). */
int	hwk_rsa_put_blob(const EVP_PKEY *pkey, struct hwk_buf *b);
/* An RSA public key from n and e as unsigned big-endian magnitudes. */
int	hwk_rsa_from_ne(const uint8_t *n, size_t nlen, const uint8_t *e,
	    size_t elen, EVP_PKEY **pkeyp);
unsigned hwk_rsa_bits(const EVP_PKEY *pkey);
/* The curve of an ECDSA key, 256, 384 or 521; 0 for any other key. */
unsigned hwk_ecdsa_bits(const EVP_PKEY *pkey);
/* The hash RFC 5656 pairs with a curve: SHA-256, -384, -512; else NULL. */
const EVP_MD *hwk_ecdsa_md(unsigned bits);
/*
 * An ECDSA key on the curve "nistp256", "nistp384" or "nistp521" from its
 * uncompressed point Q and, for a key pair, its private scalar d (NULL:
 * the public key).  OpenSSL checks Q is on the curve, and Q = dG.
 */
int	hwk_ecdsa_from_point(const char *curve_id, const uint8_t *q,
	    size_t qlen, const BIGNUM *d, EVP_PKEY **pkeyp);

/*
 * Appends the SSH signature (string alg, string signature) of a raw
 * signature by pkey, in the form the backends' sign op returns.  alg is
 * "ssh-rsa", "rsa-sha2-256" or "rsa-sha2-512" for RSA; for ECDSA and
 * Ed25519 it is the key's type, or NULL.  RSA's is zero-padded to the
 * modulus, ECDSA's r || s becomes mpint r, mpint s, Ed25519's 64 bytes
 * stay as they are.  On failure b may hold a part of it.
 */
int	hwk_sig_put_blob(const EVP_PKEY *pkey, const char *alg,
	    const uint8_t *raw, size_t rawlen, struct hwk_buf *b);

/* "SHA256:<base64 without padding>" of a blob, and the raw digest. */
int	hwk_fingerprint(const uint8_t *blob, size_t len, char fp[HWK_FP_LEN],
	    uint8_t digest[32]);
/* The drunken-bishop picture, lines joined by '\n', no final newline. */
int	hwk_randomart(const uint8_t *digest, size_t len, const char *label,
	    unsigned bits, const char *alg, char **artp);

#endif /* HWKEY_SSHKEY_H */
