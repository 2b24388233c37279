/*
 * Unit tests of racing (src/core/race.c) and of the RSA keygen race
 * (backends/rsa_race.c): the first result is kept, the others stop or are
 * discarded, all failing gives the first racer's error, one racer runs in
 * the caller's thread, a stop ends OpenSSL's prime search, and no thread
 * outlives the call.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sched.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "hwkey/error.h"
#include "hwkey/race.h"
#include "backends.h"

/* What the fake racers share with the test. */
struct fake {
	pthread_t	 caller;
	atomic_int	 started;	/* racers that began */
	atomic_int	 gave_up;	/* racers that saw hwk_race_lost() */
	atomic_int	 discarded;
	atomic_int	 threads_seen;	/* most threads seen by a racer */
	int		 mode;
	pthread_barrier_t all_in;
};

enum { CALLER_WINS, ALL_WIN, ALL_FAIL, WAIT_STOP };

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Threads before any test (a sanitizer may run one of its own). */
static int base_threads;

/* The threads of this process, from /proc. */
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

/*
 * Threads once the joined ones are gone: pthread_join returns when a
 * thread has ended, but the kernel may list it a moment longer.  Up to
 * 2 s, so that a thread left running still fails the test.
 */
static int
threads_after_join(void)
{
	double t0 = now();
	int n;

	while ((n = threads()) > base_threads && now() - t0 < 2)
		usleep(1000);
	return n;
}

/* Waits (up to 10 s, so a broken race fails rather than hangs) to lose. */
static int
wait_to_lose(struct hwk_race *race, struct fake *fk)
{
	double t0 = now();

	while (!hwk_race_lost(race) && now() - t0 < 10)
		sched_yield();
	if (!hwk_race_lost(race))
		return HWK_ERR_INTERNAL;
	atomic_fetch_add(&fk->gave_up, 1);
	return HWK_ERR_CANCELLED;
}

static int
fake_run(struct hwk_race *race, void *arg, void **resultp)
{
	struct fake *fk = arg;
	int caller = pthread_equal(pthread_self(), fk->caller), n;

	atomic_fetch_add(&fk->started, 1);
	n = threads();
	if (n > atomic_load(&fk->threads_seen))
		atomic_store(&fk->threads_seen, n);
	switch (fk->mode) {
	case CALLER_WINS:
		if (!caller)
			return wait_to_lose(race, fk);
		break;
	case ALL_WIN:		/* all finish together: late ones discarded */
		pthread_barrier_wait(&fk->all_in);
		break;
	case ALL_FAIL:
		return caller ? HWK_ERR_CRYPTO : HWK_ERR_NOMEM;
	case WAIT_STOP:
		return wait_to_lose(race, fk);
	}
	*resultp = strdup(caller ? "caller" : "thread");
	return *resultp != NULL ? HWK_OK : HWK_ERR_NOMEM;
}

static struct fake *cur;	/* discard has no argument but the result */

static void
fake_discard(void *p)
{
	atomic_fetch_add(&cur->discarded, 1);
	free(p);
}

static void
fake_init(struct fake *fk, struct hwk_race_spec *spec, int mode,
    unsigned racers)
{
	memset(fk, 0, sizeof(*fk));
	fk->caller = pthread_self();
	fk->mode = mode;
	pthread_barrier_init(&fk->all_in, NULL, racers);
	cur = fk;
	memset(spec, 0, sizeof(*spec));
	spec->racers = racers;
	spec->run = fake_run;
	spec->discard = fake_discard;
	spec->arg = fk;
}

static void
test_first_wins_others_stop(void **state)
{
	struct hwk_race_spec spec;
	struct fake fk;
	void *res = NULL;

	(void)state;
	fake_init(&fk, &spec, CALLER_WINS, 3);
	assert_int_equal(hwk_race_run(&spec, &res), HWK_OK);
	assert_string_equal(res, "caller");
	assert_int_equal(atomic_load(&fk.started), 3);
	assert_int_equal(atomic_load(&fk.gave_up), 2);
	assert_int_equal(atomic_load(&fk.discarded), 0);
	assert_int_equal(threads_after_join(), base_threads);	/* every racer joined */
	free(res);
	pthread_barrier_destroy(&fk.all_in);
}

static void
test_late_results_discarded(void **state)
{
	struct hwk_race_spec spec;
	struct fake fk;
	void *res = NULL;

	(void)state;
	fake_init(&fk, &spec, ALL_WIN, 4);
	assert_int_equal(hwk_race_run(&spec, &res), HWK_OK);
	assert_non_null(res);
	assert_int_equal(atomic_load(&fk.discarded), 3);
	assert_int_equal(threads_after_join(), base_threads);
	free(res);
	pthread_barrier_destroy(&fk.all_in);
}

static void
test_all_fail_first_error(void **state)
{
	struct hwk_race_spec spec;
	struct fake fk;
	void *res = (void *)1;

	(void)state;
	fake_init(&fk, &spec, ALL_FAIL, 3);
	/* The caller's racer (the first) failed with CRYPTO, the rest NOMEM. */
	assert_int_equal(hwk_race_run(&spec, &res), HWK_ERR_CRYPTO);
	assert_null(res);
	assert_int_equal(atomic_load(&fk.started), 3);
	assert_int_equal(threads_after_join(), base_threads);
	pthread_barrier_destroy(&fk.all_in);
}

static void
test_one_racer_no_thread(void **state)
{
	struct hwk_race_spec spec;
	struct fake fk;
	void *res = NULL;

	(void)state;
	fake_init(&fk, &spec, CALLER_WINS, 1);
	assert_int_equal(hwk_race_run(&spec, &res), HWK_OK);
	assert_string_equal(res, "caller");
	assert_int_equal(atomic_load(&fk.started), 1);
	assert_int_equal(atomic_load(&fk.threads_seen), base_threads);
	free(res);
	pthread_barrier_destroy(&fk.all_in);
}

static void *
stop_later(void *arg)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };

	nanosleep(&ts, NULL);
	atomic_store((atomic_int *)arg, 1);
	return NULL;
}

static void
test_stop_ends_all(void **state)
{
	struct hwk_race_spec spec;
	struct fake fk;
	atomic_int stop;
	pthread_t t;
	void *res = (void *)1;

	(void)state;
	atomic_init(&stop, 0);
	fake_init(&fk, &spec, WAIT_STOP, 2);
	spec.stop = &stop;
	assert_int_equal(pthread_create(&t, NULL, stop_later, &stop), 0);
	assert_int_equal(hwk_race_run(&spec, &res), HWK_ERR_CANCELLED);
	pthread_join(t, NULL);
	assert_null(res);
	assert_int_equal(atomic_load(&fk.gave_up), 2);
	pthread_barrier_destroy(&fk.all_in);
}

static void
test_width_follows_affinity(void **state)
{
	cpu_set_t saved, one;
	int n;

	(void)state;
	assert_int_equal(sched_getaffinity(0, sizeof(saved), &saved), 0);
	n = CPU_COUNT(&saved);
	assert_int_equal(hwk_race_width(4), n < 4 ? n : 4);
	assert_int_equal(hwk_race_width(1), 1);
	assert_int_equal(hwk_race_width(0), 1);
	CPU_ZERO(&one);
	CPU_SET(sched_getcpu(), &one);
	assert_int_equal(sched_setaffinity(0, sizeof(one), &one), 0);
	assert_int_equal(hwk_race_width(4), 1);
	assert_int_equal(sched_setaffinity(0, sizeof(saved), &saved), 0);
}

/* A key of bits, with its private half whole and e = 65537. */
static void
assert_rsa(EVP_PKEY *pk, int bits)
{
	EVP_PKEY_CTX *c;
	BIGNUM *e = NULL;

	assert_int_equal(EVP_PKEY_get_base_id(pk), EVP_PKEY_RSA);
	assert_int_equal(EVP_PKEY_get_bits(pk), bits);
	assert_int_equal(EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_E, &e),
	    1);
	assert_true(BN_is_word(e, 65537));
	BN_free(e);
	assert_non_null(c = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL));
	assert_int_equal(EVP_PKEY_check(c), 1);
	EVP_PKEY_CTX_free(c);
}

static void
test_rsa_race_key(void **state)
{
	EVP_PKEY *pk = NULL;

	(void)state;
	assert_int_equal(hwk_rsa_race(2048, 2, NULL, &pk), HWK_OK);
	assert_rsa(pk, 2048);
	assert_int_equal(threads_after_join(), base_threads);
	EVP_PKEY_free(pk);
	assert_int_equal(hwk_rsa_race(2048, 1, NULL, &pk), HWK_OK);
	assert_rsa(pk, 2048);
	EVP_PKEY_free(pk);
}

/*
 * A stop ends OpenSSL's own search through the keygen callback: RSA-16384
 * takes minutes, a stopped one well under a second.
 */
static void
test_rsa_race_stopped(void **state)
{
	EVP_PKEY *pk = (EVP_PKEY *)1;
	atomic_int stop;
	pthread_t t;
	double t0;

	(void)state;
	atomic_init(&stop, 0);
	assert_int_equal(pthread_create(&t, NULL, stop_later, &stop), 0);
	t0 = now();
	assert_int_equal(hwk_rsa_race(16384, 2, &stop, &pk),
	    HWK_ERR_CANCELLED);
	assert_true(now() - t0 < 2.0);
	pthread_join(t, NULL);
	assert_null(pk);
	assert_int_equal(threads_after_join(), base_threads);
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
		cmocka_unit_test(test_first_wins_others_stop),
		cmocka_unit_test(test_late_results_discarded),
		cmocka_unit_test(test_all_fail_first_error),
		cmocka_unit_test(test_one_racer_no_thread),
		cmocka_unit_test(test_stop_ends_all),
		cmocka_unit_test(test_width_follows_affinity),
		cmocka_unit_test(test_rsa_race_key),
		cmocka_unit_test(test_rsa_race_stopped),
	};

	/* A sanitizer starts its own thread with the first one: let it. */
	if (pthread_create(&t, NULL, noop, NULL) == 0)
		pthread_join(t, NULL);
	base_threads = threads();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
