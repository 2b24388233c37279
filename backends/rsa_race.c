/*
 * RSA keys for the software backend, made by racing: one full OpenSSL
 * keygen per CPU we may use (src/core/race.c), the first key kept.
 *
 * The prime search takes from a third to three times its median, so the
 * first of two searches ends well before one alone would, for the price of
 * the CPU time of the others.  Each racer is OpenSSL's own keygen with its
 * own EVP_PKEY_CTX, as a lone keygen would be: same primes, same checks,
 * same exponent (65537).  OpenSSL calls the keygen callback all through
 * the search; returning 0 from it makes the keygen fail at once, which is
 * how a racer that lost stops.  A lost or late key is freed with
 * EVP_PKEY_free(), which clears its private numbers.
 */
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "hwkey/error.h"
#include "hwkey/race.h"
#include "backends.h"

static int
rsa_keygen_cb(EVP_PKEY_CTX *pctx)
{
	struct hwk_race *race = EVP_PKEY_CTX_get_app_data(pctx);

	return !hwk_race_lost(race);	/* 0 stops OpenSSL's search */
}

static int
rsa_racer(struct hwk_race *race, void *arg, void **resultp)
{
	const unsigned *bits = arg;
	EVP_PKEY_CTX *pctx = NULL;
	EVP_PKEY *pkey = NULL;
	int r = HWK_ERR_CRYPTO;

	if ((pctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL ||
	    EVP_PKEY_keygen_init(pctx) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_keygen_bits(pctx, (int)*bits) <= 0)
		goto out;
	EVP_PKEY_CTX_set_app_data(pctx, race);
	EVP_PKEY_CTX_set_cb(pctx, rsa_keygen_cb);
	if (EVP_PKEY_generate(pctx, &pkey) <= 0) {
		if (hwk_race_lost(race)) {
			ERR_clear_error();	/* we stopped it: no fault */
			r = HWK_ERR_CANCELLED;
		}
		goto out;
	}
	*resultp = pkey;
	pkey = NULL;
	r = HWK_OK;
 out:
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(pctx);
	return r;
}

static void
rsa_discard(void *pkey)
{
	EVP_PKEY_free(pkey);		/* clears the private numbers */
}

int
hwk_rsa_race(unsigned bits, unsigned racers, const atomic_int *stop,
    EVP_PKEY **pkeyp)
{
	struct hwk_race_spec spec;
	void *res = NULL;
	int r;

	*pkeyp = NULL;
	spec.racers = racers;
	spec.run = rsa_racer;
	spec.discard = rsa_discard;
	spec.arg = &bits;
	spec.stop = stop;
	if ((r = hwk_race_run(&spec, &res)) == 0)
		*pkeyp = res;
	return r;
}
