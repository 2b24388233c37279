/*
 * A SoftHSM2 token of a unit test's own, in a temp folder, behind one of
 * the test modules (build/tests/pkcs11_fault.so or pkcs11_strict.so),
 * with a PIN file and a pkcs11 backend context pointed at it.
 */
#ifndef HWKEY_TEST_P11TOKEN_H
#define HWKEY_TEST_P11TOKEN_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

struct hwk_backend;
struct hwk_ctx;

struct p11_token {
	char	 dir[64];
	char	 module[PATH_MAX];	/* the test module, absolute */
	const char *real;		/* SoftHSM2 itself */
	char	 pinsrc[128];		/* "file:" and the PIN file */
	char	 log[128];		/* the test module's call log */
	const struct hwk_backend *b;
	struct hwk_ctx *ctx;		/* NULL: no SoftHSM2, tests skip */
};

/*
 * A new token labelled label with user PIN pin, behind module (relative
 * to the build folder); the PIN file holds secret (the PIN, or ykcs11's
 * management key).  *state gets the token; 0 with its ctx NULL where
 * SoftHSM2 is missing, -1 on failure.
 */
int	p11_token_setup(void **state, const char *module, const char *label,
	    const char *pin, const char *secret);
int	p11_token_teardown(void **state);
/* Skips the test where there is no token. */
void	p11_token_need(struct p11_token *t);
/* How many lines of the call log start with prefix. */
int	p11_token_log_count(struct p11_token *t, const char *prefix);
/* The output of a shell command, NUL-terminated (at most 64 KiB). */
char	*p11_token_run(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));
/* How many key objects SoftHSM2 itself lists on the token. */
int	p11_token_objects(struct p11_token *t, const char *pin);

/*
 * Checks a raw signature of the backend with OpenSSL: ECDSA's r || s
 * (HWK_SIG_ECDSA, the curve's hash) or Ed25519's (HWK_SIG_ED25519).
 */
void	p11_token_verify(EVP_PKEY *pkey, int alg, const uint8_t *data,
	    size_t len, const uint8_t *sig, size_t siglen);

#endif /* HWKEY_TEST_P11TOKEN_H */
