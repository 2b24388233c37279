/* The openssh-key-v1 private key container (OpenSSH PROTOCOL.key). */
#ifndef HWKEY_OPENSSH_KEY_H
#define HWKEY_OPENSSH_KEY_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

struct hwk_buf;
struct hwk_kdf_ahead;
struct hwk_pubkey;

#define HWK_OPENSSH_LABEL	"OPENSSH PRIVATE KEY"
#define HWK_KDF_SALT_LEN	16
#define HWK_KDF_ROUNDS		24

struct hwk_openssh_opts {
	const char	*passphrase;	/* NULL or "": not encrypted */
	unsigned	 rounds;	/* bcrypt rounds; 0: HWK_KDF_ROUNDS */
	/* The KDF already run for this passphrase (kdf_ahead.h), or NULL. */
	struct hwk_kdf_ahead *kdf;
	/* Fixed values instead of random ones, for reproducible tests. */
	const uint8_t	*salt;		/* HWK_KDF_SALT_LEN bytes */
	int		 fixed_check;
	uint32_t	 check;
};

/* What the unencrypted header says. */
struct hwk_openssh_info {
	char		 cipher[64];
	char		 kdf[32];
	uint8_t		 salt[HWK_KDF_SALT_LEN];
	size_t		 saltlen;
	unsigned	 rounds;
	uint32_t	 check;		/* set by hwk_openssh_read */
	struct hwk_pubkey *pub;		/* the key's public half */
};

int	hwk_openssh_write(const EVP_PKEY *key, const char *comment,
	    const struct hwk_openssh_opts *opts, struct hwk_buf *out);
/* Header only: no passphrase needed. */
int	hwk_openssh_info(const uint8_t *text, size_t len,
	    struct hwk_openssh_info *info);
int	hwk_openssh_encrypted(const struct hwk_openssh_info *info);
/* The private key; passphrase may be NULL for an unencrypted file. */
int	hwk_openssh_read(const uint8_t *text, size_t len, const char *passphrase,
	    EVP_PKEY **keyp, char **commentp, struct hwk_openssh_info *info);
void	hwk_openssh_info_clear(struct hwk_openssh_info *info);

#endif /* HWKEY_OPENSSH_KEY_H */
