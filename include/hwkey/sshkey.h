/*
 * SSH public keys as OpenSSH writes them: the wire blob, the .pub line,
 * the SHA256 fingerprint and the randomart of `ssh-keygen -lv`.
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
int	hwk_pubkey_from_evp(const EVP_PKEY *pkey, const char *comment,
	    struct hwk_pubkey **kp);
/* The RSA public key of an ssh-rsa blob. */
int	hwk_pubkey_to_evp(const struct hwk_pubkey *k, EVP_PKEY **pkeyp);
/* "RSA", "ED25519", ...: the name ssh-keygen -l prints. */
const char *hwk_pubkey_label(const struct hwk_pubkey *k);
/* "type base64 comment" with no newline; the comment as ssh-keygen writes it. */
int	hwk_pubkey_format(const struct hwk_pubkey *k, int with_comment,
	    char **linep);

/* A BIGNUM parameter of pkey ("n", "d", ...) as an mpint; wiped after. */
int	hwk_buf_put_pkey_bn(struct hwk_buf *b, const EVP_PKEY *pkey,
	    const char *name);
/* The ssh-rsa blob of an RSA key (public or private). */
int	hwk_rsa_put_blob(const EVP_PKEY *pkey, struct hwk_buf *b);
/* An RSA public key from n and e as unsigned big-endian magnitudes. */
int	hwk_rsa_from_ne(const uint8_t *n, size_t nlen, const uint8_t *e,
	    size_t elen, EVP_PKEY **pkeyp);
unsigned hwk_rsa_bits(const EVP_PKEY *pkey);

/* "SHA256:<base64 without padding>" of a blob, and the raw digest. */
int	hwk_fingerprint(const uint8_t *blob, size_t len, char fp[HWK_FP_LEN],
	    uint8_t digest[32]);
/* The drunken-bishop picture, lines joined by '\n', no final newline. */
int	hwk_randomart(const uint8_t *digest, size_t len, const char *label,
	    unsigned bits, const char *alg, char **artp);

#endif /* HWKEY_SSHKEY_H */
