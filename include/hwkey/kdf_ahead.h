/*
 * The bcrypt KDF of a new key file, started in a thread as soon as the
 * passphrase is first typed, so that it is done by the time the person
 * has typed it again.
 */
#ifndef HWKEY_KDF_AHEAD_H
#define HWKEY_KDF_AHEAD_H

#include <stddef.h>
#include <stdint.h>

struct hwk_kdf_ahead;

/*
 * Starts deriving the key and IV of an aes256-ctr key file from a copy of
 * pass, with a new random salt and rounds (0: HWK_KDF_ROUNDS).
 */
int	hwk_kdf_ahead_start(const char *pass, unsigned rounds,
	    struct hwk_kdf_ahead **kp);
/*
 * Waits for the result: 0, with its salt and key + IV, if pass and rounds
 * are those it was started with and the lengths those of aes256-ctr;
 * HWK_ERR_INVALID_ARG if not (derive afresh); or the KDF's own error.
 */
int	hwk_kdf_ahead_take(struct hwk_kdf_ahead *k, const char *pass,
	    unsigned rounds, uint8_t *salt, size_t saltlen, uint8_t *keyiv,
	    size_t keyivlen);
/* Stops it between rounds, joins its thread, wipes it all; NULLs *kp. */
void	hwk_kdf_ahead_free(struct hwk_kdf_ahead **kp);

#endif /* HWKEY_KDF_AHEAD_H */
