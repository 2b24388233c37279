/*
 * The TSS2 PRIVATE KEY file (draft-bottomley-tpm2-keys) that stands in for
 * the private key of a TPM key: the key's public and wrapped private areas
 * and the parent to load them under.  No TPM is needed to read or write it.
 */
#ifndef HWKEY_TPM2_KEYFILE_H
#define HWKEY_TPM2_KEYFILE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <tss2/tss2_tpm2_types.h>

struct hwk_buf;
struct hwk_pubkey;

#define HWK_TPM2_PEM_LABEL	"TSS2 PRIVATE KEY"
#define HWK_TPM2_OID_LOADABLE	"2.23.133.10.1.3"
#define HWK_TPM2_KEYFILE_MAX	(16 * 1024)	/* a stub is about 1 KiB */

struct hwk_tpm2_keyfile {
	int		 empty_auth;	/* emptyAuth TRUE: no password */
	uint32_t	 parent;	/* TPM2_RH_OWNER or a persistent key */
	TPM2B_PUBLIC	 pub;
	TPM2B_PRIVATE	 priv;		/* wrapped by the parent */
};

/*
 * The decoders return HWK_ERR_FORMAT, HWK_ERR_TRUNCATED, HWK_ERR_TOO_LARGE
 * or HWK_ERR_UNSUPPORTED (another kind of TPM key file), and say why in
 * *whyp (a static string) when whyp is not NULL.
 */
int	hwk_tpm2_keyfile_to_der(const struct hwk_tpm2_keyfile *kf,
	    uint8_t **derp, size_t *lenp);
int	hwk_tpm2_keyfile_from_der(const uint8_t *der, size_t len,
	    struct hwk_tpm2_keyfile *kf, const char **whyp);
/* The PEM file, as written to the private file. */
int	hwk_tpm2_keyfile_write(const struct hwk_tpm2_keyfile *kf,
	    struct hwk_buf *out);
int	hwk_tpm2_keyfile_read(const uint8_t *text, size_t len,
	    struct hwk_tpm2_keyfile *kf, const char **whyp);
/* Nonzero if text opens with the TSS2 PRIVATE KEY armour. */
int	hwk_tpm2_keyfile_claims(const uint8_t *text, size_t len);
void	hwk_tpm2_keyfile_clear(struct hwk_tpm2_keyfile *kf);

/* The OpenSSL public key of an RSA or NIST-curve ECC TPM public area. */
int	hwk_tpm2_pub_to_evp(const TPMT_PUBLIC *pub, EVP_PKEY **pkeyp,
	    const char **whyp);
/* The SSH public key of a TPM public area: RSA, or ECDSA on a NIST curve. */
int	hwk_tpm2_pub_to_pubkey(const TPMT_PUBLIC *pub,
	    struct hwk_pubkey **kp, const char **whyp);

/* The size of a NIST curve SSH uses (256, 384, 521); 0 for another. */
unsigned hwk_tpm2_ecc_bits(TPMI_ECC_CURVE id);
/* The TPM's name of the curve of that size; TPM2_ECC_NONE if none. */
TPMI_ECC_CURVE hwk_tpm2_ecc_curve(unsigned bits);

#endif /* HWKEY_TPM2_KEYFILE_H */
