/*
 * The bcrypt KDF of a new key file, run ahead in a thread
 * (include/hwkey/kdf_ahead.h): the prompt starts it when the passphrase is
 * first typed, the key file writer takes its result after the second.
 *
 * Who owns what: the caller owns the struct; the thread reads the copy of
 * the passphrase, the salt and the rounds, and writes only the key + IV
 * and its error, which the caller reads after pthread_join().  "stop" is
 * the one word both touch while the thread runs: the caller sets it to end
 * the KDF between two rounds (a mismatch, a Ctrl-C, no key after all).
 * hwk_kdf_ahead_free() always joins first, then wipes the passphrase copy
 * and the derived key, so neither outlives the call nor a thread.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "hwkey/error.h"
#include "hwkey/kdf_ahead.h"
#include "hwkey/openssh_key.h"
#include "bcrypt_pbkdf.h"

#define KEYIV_LEN	(32 + 16)	/* aes256-ctr: key, IV */

struct hwk_kdf_ahead {
	pthread_t	 thread;
	int		 joined;
	atomic_int	 stop;
	char		*pass;		/* a copy, wiped */
	size_t		 passlen;
	unsigned	 rounds;
	uint8_t		 salt[HWK_KDF_SALT_LEN];
	uint8_t		 keyiv[KEYIV_LEN];	/* wiped */
	int		 r;
};

static void *
kdf_run(void *arg)
{
	struct hwk_kdf_ahead *k = arg;

	k->r = hwk_bcrypt_pbkdf_stop(k->pass, k->passlen, k->salt,
	    sizeof(k->salt), k->keyiv, sizeof(k->keyiv), k->rounds, &k->stop);
	return NULL;
}

static void
kdf_join(struct hwk_kdf_ahead *k)
{
	if (!k->joined) {
		pthread_join(k->thread, NULL);
		k->joined = 1;
	}
}

int
hwk_kdf_ahead_start(const char *pass, unsigned rounds,
    struct hwk_kdf_ahead **kp)
{
	struct hwk_kdf_ahead *k;
	sigset_t all, old;
	int r;

	*kp = NULL;
	if (pass == NULL || *pass == '\0')
		return HWK_ERR_INVALID_ARG;
	if ((k = calloc(1, sizeof(*k))) == NULL)
		return HWK_ERR_NOMEM;
	atomic_init(&k->stop, 0);
	k->joined = 1;
	k->passlen = strlen(pass);
	k->rounds = rounds > 0 ? rounds : HWK_KDF_ROUNDS;
	if ((k->pass = strdup(pass)) == NULL) {
		r = HWK_ERR_NOMEM;
		goto out;
	}
	if (RAND_bytes(k->salt, sizeof(k->salt)) != 1) {
		r = HWK_ERR_CRYPTO;
		goto out;
	}
	/* Signals stay with the thread that prompts. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&k->thread, NULL, kdf_run, k);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		r = HWK_ERR_SYSTEM;
		goto out;
	}
	k->joined = 0;
	*kp = k;
	k = NULL;
	r = HWK_OK;
 out:
	hwk_kdf_ahead_free(&k);
	return r;
}

int
hwk_kdf_ahead_take(struct hwk_kdf_ahead *k, const char *pass,
    unsigned rounds, uint8_t *salt, size_t saltlen, uint8_t *keyiv,
    size_t keyivlen)
{
	if (rounds == 0)
		rounds = HWK_KDF_ROUNDS;
	if (pass == NULL || strlen(pass) != k->passlen ||
	    strcmp(pass, k->pass) != 0 || rounds != k->rounds ||
	    saltlen != sizeof(k->salt) || keyivlen != sizeof(k->keyiv))
		return HWK_ERR_INVALID_ARG;
	kdf_join(k);
	if (k->r != 0)
		return k->r;
	memcpy(salt, k->salt, saltlen);
	memcpy(keyiv, k->keyiv, keyivlen);
	return HWK_OK;
}

void
hwk_kdf_ahead_free(struct hwk_kdf_ahead **kp)
{
	struct hwk_kdf_ahead *k = *kp;

	if (k == NULL)
		return;
	*kp = NULL;
	atomic_store(&k->stop, 1);
	kdf_join(k);
	if (k->pass != NULL)
		explicit_bzero(k->pass, k->passlen);
	free(k->pass);
	explicit_bzero(k->keyiv, sizeof(k->keyiv));
	explicit_bzero(k, sizeof(*k));
	free(k);
}
