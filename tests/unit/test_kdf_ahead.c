/*
 * Unit tests of the bcrypt KDF run ahead (src/core/kdf_ahead.c): its
 * result is bcrypt_pbkdf's for its salt, the key file writer uses it only
 * for the passphrase and rounds it was started with, and freeing it stops
 * a long KDF between rounds and leaves no thread.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>
#include <time.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "hwkey/buf.h"
#include "hwkey/error.h"
#include "hwkey/kdf_ahead.h"
#include "hwkey/openssh_key.h"
#include "bcrypt_pbkdf.h"

static int base_threads;

static int
threads(void)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");
	int n = -1;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	fclose(f);
	return n;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
test_result_is_bcrypt(void **state)
{
	struct hwk_kdf_ahead *k = NULL;
	uint8_t salt[HWK_KDF_SALT_LEN], keyiv[48], want[48];

	(void)state;
	assert_int_equal(hwk_kdf_ahead_start("pw one", 4, &k), HWK_OK);
	assert_int_equal(hwk_kdf_ahead_take(k, "pw one", 4, salt, sizeof(salt),
	    keyiv, sizeof(keyiv)), HWK_OK);
	assert_int_equal(hwk_bcrypt_pbkdf("pw one", 6, salt, sizeof(salt),
	    want, sizeof(want), 4), HWK_OK);
	assert_memory_equal(keyiv, want, sizeof(want));
	/* Taken twice, the same. */
	memset(keyiv, 0, sizeof(keyiv));
	assert_int_equal(hwk_kdf_ahead_take(k, "pw one", 4, salt, sizeof(salt),
	    keyiv, sizeof(keyiv)), HWK_OK);
	assert_memory_equal(keyiv, want, sizeof(want));
	hwk_kdf_ahead_free(&k);
	assert_null(k);
	assert_int_equal(threads(), base_threads);
}

static void
test_only_for_its_passphrase(void **state)
{
	struct hwk_kdf_ahead *k = NULL;
	uint8_t salt[HWK_KDF_SALT_LEN], keyiv[48];

	(void)state;
	assert_int_equal(hwk_kdf_ahead_start("secret", 0, &k), HWK_OK);
	assert_int_equal(hwk_kdf_ahead_take(k, "secreT", 0, salt, sizeof(salt),
	    keyiv, sizeof(keyiv)), HWK_ERR_INVALID_ARG);
	assert_int_equal(hwk_kdf_ahead_take(k, "secret2", 0, salt,
	    sizeof(salt), keyiv, sizeof(keyiv)), HWK_ERR_INVALID_ARG);
	assert_int_equal(hwk_kdf_ahead_take(k, "secret", 16, salt,
	    sizeof(salt), keyiv, sizeof(keyiv)), HWK_ERR_INVALID_ARG);
	assert_int_equal(hwk_kdf_ahead_take(k, "secret", 0, salt,
	    sizeof(salt), keyiv, 32), HWK_ERR_INVALID_ARG);
	/* 0 rounds is the default on both sides. */
	assert_int_equal(hwk_kdf_ahead_take(k, "secret", HWK_KDF_ROUNDS, salt,
	    sizeof(salt), keyiv, sizeof(keyiv)), HWK_OK);
	hwk_kdf_ahead_free(&k);
	assert_int_equal(hwk_kdf_ahead_start("", 4, &k), HWK_ERR_INVALID_ARG);
	assert_null(k);
	hwk_kdf_ahead_free(&k);		/* NULL is fine */
}

/*
 * A key file written with k opens with pass, and only with it; *same: its
 * salt is k's (k's result was used).
 */
static void
write_and_open(struct hwk_kdf_ahead *k, const char *pass, unsigned rounds,
    int *same)
{
	uint8_t salt[HWK_KDF_SALT_LEN], keyiv[48];
	struct hwk_openssh_opts o;
	struct hwk_openssh_info info;
	struct hwk_buf *out;
	EVP_PKEY *key, *back = NULL;
	char *comment = NULL;

	assert_non_null(key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"));
	assert_non_null(out = hwk_buf_new());
	memset(&o, 0, sizeof(o));
	o.passphrase = pass;
	o.rounds = rounds;
	o.kdf = k;
	assert_int_equal(hwk_openssh_write(key, "c", &o, out), HWK_OK);
	memset(&info, 0, sizeof(info));
	assert_int_equal(hwk_openssh_read(hwk_buf_ptr(out), hwk_buf_len(out),
	    "wrong", &back, &comment, &info), HWK_ERR_WRONG_PASSPHRASE);
	hwk_openssh_info_clear(&info);
	assert_int_equal(hwk_openssh_read(hwk_buf_ptr(out), hwk_buf_len(out),
	    pass, &back, &comment, &info), HWK_OK);
	assert_int_equal(info.rounds, rounds);
	assert_int_equal(hwk_kdf_ahead_take(k, "horse", 3, salt, sizeof(salt),
	    keyiv, sizeof(keyiv)), HWK_OK);
	*same = memcmp(salt, info.salt, sizeof(salt)) == 0;
	assert_int_equal(EVP_PKEY_eq(key, back), 1);
	hwk_openssh_info_clear(&info);
	free(comment);
	EVP_PKEY_free(back);
	EVP_PKEY_free(key);
	hwk_buf_free(&out);
}

static void
test_writer_uses_it(void **state)
{
	struct hwk_kdf_ahead *k = NULL;
	int same;

	(void)state;
	assert_int_equal(hwk_kdf_ahead_start("horse", 3, &k), HWK_OK);
	write_and_open(k, "horse", 3, &same);
	assert_true(same);
	/* Another passphrase or cost: derived afresh, still right. */
	write_and_open(k, "battery", 3, &same);
	assert_false(same);
	write_and_open(k, "horse", 2, &same);
	assert_false(same);
	hwk_kdf_ahead_free(&k);
}

/* Freeing stops a KDF of minutes between two rounds. */
static void
test_free_stops_it(void **state)
{
	struct hwk_kdf_ahead *k = NULL;
	double t0;

	(void)state;
	assert_int_equal(hwk_kdf_ahead_start("slow", 100000, &k), HWK_OK);
	t0 = now();
	hwk_kdf_ahead_free(&k);
	assert_true(now() - t0 < 1.0);
	assert_null(k);
	assert_int_equal(threads(), base_threads);
}

static void *
noop(void *arg)
{
	return arg;
}

int
main(void)
{
	pthread_t t;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_result_is_bcrypt),
		cmocka_unit_test(test_only_for_its_passphrase),
		cmocka_unit_test(test_writer_uses_it),
		cmocka_unit_test(test_free_stops_it),
	};

	/* A sanitizer starts its own thread with the first one: let it. */
	if (pthread_create(&t, NULL, noop, NULL) == 0)
		pthread_join(t, NULL);
	base_threads = threads();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
