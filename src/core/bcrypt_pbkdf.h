/* bcrypt_pbkdf, the key derivation of OpenSSH's encrypted private keys. */
#ifndef HWKEY_BCRYPT_PBKDF_H
#define HWKEY_BCRYPT_PBKDF_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

int	hwk_bcrypt_pbkdf(const char *pass, size_t passlen, const uint8_t *salt,
	    size_t saltlen, uint8_t *key, size_t keylen, unsigned rounds);
/* The same, given up (HWK_ERR_CANCELLED) between rounds once *stop is set. */
int	hwk_bcrypt_pbkdf_stop(const char *pass, size_t passlen,
	    const uint8_t *salt, size_t saltlen, uint8_t *key, size_t keylen,
	    unsigned rounds, const atomic_int *stop);

/* For tests: the initial Blowfish state word i (0..1041: P then S-boxes). */
uint32_t hwk_blowfish_pi_word(unsigned i);

#endif /* HWKEY_BCRYPT_PBKDF_H */
