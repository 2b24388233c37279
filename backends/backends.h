/* The backends' ops tables, for the registry and for the backends themselves. */
#ifndef HWKEY_BACKENDS_H
#define HWKEY_BACKENDS_H

#include <stdatomic.h>

#include "hwkey/backend.h"

extern const struct hwk_backend hwk_backend_tpm2;
extern const struct hwk_backend hwk_backend_software;
extern const struct hwk_backend hwk_backend_pkcs11;

/* Ops only the registry and key objects call (ops.c). */
int	hwk_backend_claims(const struct hwk_backend *b, const uint8_t *stub,
	    size_t len);
void	hwk_key_free_impl(struct hwk_key *key);

/* Racers at most in an RSA keygen race: the gain is small past four. */
#define HWK_RSA_RACERS_MAX	4
/*
 * A new RSA key (exponent 65537), the first of racers OpenSSL keygens run
 * at once (rsa_race.c); 1 runs one in the calling thread.  0, or
 * HWK_ERR_CRYPTO if OpenSSL failed, HWK_ERR_CANCELLED if *stop was set.
 */
int	hwk_rsa_race(unsigned bits, unsigned racers, const atomic_int *stop,
	    EVP_PKEY **pkeyp);

/*
 * A library a backend opens on its first use (lazylib.c): the loader maps
 * and relocates every library a program is linked with at every start,
 * and a software key should not pay for the TPM's and the tokens'.
 */
struct hwk_ctx;

struct hwk_lazysym {
	const char	*name;
	void		*slot;		/* the function pointer to set */
};

struct hwk_lazylib {
	const char	*soname;	/* as dlopen() finds it */
	const char	*package;	/* the Debian package that has it */
	const struct hwk_lazysym *syms;	/* NULL-name terminated */
	_Atomic int	 state;		/* 0 untried, 1 open, -1 failed */
	char		 why[256];	/* what dlopen() or dlsym() said */
};

/*
 * Opens lib and sets every one of its syms, once for the process whichever
 * thread comes first; 0, or HWK_ERR_NO_DEVICE for good.  Never closed.
 */
int	hwk_lazylib_open(struct hwk_lazylib *lib);
/* hwk_lazylib_open(), and on failure words that name lib and its package. */
int	hwk_lazylib_need(struct hwk_ctx *ctx, struct hwk_lazylib *lib);

#endif /* HWKEY_BACKENDS_H */
