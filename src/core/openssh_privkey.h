/*
 * The key inside an openssh-key-v1 private section, for each type: the
 * fields OpenSSH writes there (PROTOCOL.key; sshkey_private_serialize).
 */
#ifndef HWKEY_OPENSSH_PRIVKEY_H
#define HWKEY_OPENSSH_PRIVKEY_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/bn.h>
#include <openssl/evp.h>

struct hwk_buf;

/*
 * The fields as read, before they are checked.  The byte strings point
 * into the buffer they were read from, which must outlive them (and
 * wipes them: the Ed25519 seed is among them).
 */
struct hwk_openssh_privkey {
	char		*type;
	char		*curve;		/* ECDSA: "nistp256", ... */
	BIGNUM		*bn[6];		/* RSA: n e d iqmp p q; ECDSA: d */
	const uint8_t	*pub;		/* ECDSA: Q; Ed25519: the public key */
	size_t		 publen;
	const uint8_t	*priv;		/* Ed25519: seed || public key */
	size_t		 privlen;
};

/* Appends the key type and the private fields of key. */
int	hwk_openssh_privkey_put(struct hwk_buf *b, const EVP_PKEY *key);
/*
 * Reads a key type and its fields: HWK_ERR_FORMAT if the type is not want
 * (the header's), HWK_ERR_KEY_TYPE if it is one hwkeygen does not read.
 */
int	hwk_openssh_privkey_get(struct hwk_buf *b, const char *want,
	    struct hwk_openssh_privkey *k);
/* The key pair, if the fields agree with each other. */
int	hwk_openssh_privkey_to_evp(const struct hwk_openssh_privkey *k,
	    EVP_PKEY **keyp);
void	hwk_openssh_privkey_clear(struct hwk_openssh_privkey *k);

#endif /* HWKEY_OPENSSH_PRIVKEY_H */
