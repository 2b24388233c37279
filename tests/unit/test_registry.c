/*
 * Unit tests of the registry: auto passes over absent devices and those
 * that cannot make the type asked for, not typos.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hwkey/backend.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"

static int first_probe, second_probe, first_opts, second_opts;
static int second_probed, first_check, second_check;
static struct hwk_genparams gp, seen_gp;

static int
first_probe_fn(struct hwk_ctx *ctx)
{
	hwk_ctx_found(ctx, "first found");
	return first_probe == 0 ? 0 : hwk_ctx_error(ctx, first_probe,
	    "first: %s", hwk_strerror(first_probe));
}

static int
second_probe_fn(struct hwk_ctx *ctx)
{
	(void)ctx;
	second_probed = 1;
	return second_probe;
}

static int
first_opts_fn(struct hwk_ctx *ctx)
{
	return first_opts == 0 ? 0 : hwk_ctx_error(ctx, first_opts,
	    "--first: wrong");
}

static int
second_opts_fn(struct hwk_ctx *ctx)
{
	return second_opts == 0 ? 0 : hwk_ctx_error(ctx, second_opts,
	    "--second: wrong");
}

static int
first_check_fn(struct hwk_ctx *ctx, const struct hwk_genparams *p)
{
	(void)p;
	hwk_ctx_clear_error(ctx);	/* what the probe found stays all the same */
	return first_check == 0 ? 0 : hwk_ctx_error(ctx, first_check,
	    "first: cannot");
}

static int
second_check_fn(struct hwk_ctx *ctx, const struct hwk_genparams *p)
{
	seen_gp = *p;
	return second_check == 0 ? 0 : hwk_ctx_error(ctx, second_check,
	    "second: refused");
}

static const struct hwk_backend first = {
	.name = "first", .probe = first_probe_fn, .check = first_check_fn,
	.check_opts = first_opts_fn, .default_bits = 2048,
	.flags = HWK_BF_DEVICE,
};
static const struct hwk_backend second = {
	.name = "second", .probe = second_probe_fn, .check = second_check_fn,
	.check_opts = second_opts_fn, .default_bits = 3072,
	.flags = HWK_BF_PASSPHRASE,
};
static const struct hwk_backend third = { .name = "third" };
static const struct hwk_backend *const table[] = {
	&first, &second, &third, NULL,
};

static int
setup(void **state)
{
	first_probe = second_probe = first_opts = second_opts = 0;
	second_probed = first_check = second_check = 0;
	memset(&gp, 0, sizeof(gp));
	memset(&seen_gp, 0, sizeof(seen_gp));
	gp.type = HWK_KEY_RSA;
	hwk_backends_override(table);
	*state = hwk_ctx_new();
	return *state == NULL;
}

static int
teardown(void **state)
{
	struct hwk_ctx *ctx = *state;

	hwk_ctx_free(&ctx);
	hwk_backends_override(NULL);
	return 0;
}

static void
test_absent_is_passed_over(void **state)
{
	const struct hwk_backend *b;
	char why[256];

	first_probe = HWK_ERR_NO_DEVICE;
	assert_int_equal(hwk_backend_auto(*state, 0, &gp, &b, why, sizeof(why)), 0);
	assert_ptr_equal(b, &second);
	assert_string_equal(why, "first: device not reachable: using second");
}

static void
test_usage_stops_auto(void **state)
{
	const struct hwk_backend *b = &third;
	char why[256];

	first_probe = HWK_ERR_USAGE;
	assert_int_equal(hwk_backend_auto(*state, 0, &gp, &b, why, sizeof(why)),
	    HWK_ERR_USAGE);
	assert_null(b);
	assert_false(second_probed);
	assert_string_equal(hwk_ctx_detail(*state), "first: usage error");
}

static void
test_type_passes_over(void **state)
{
	const struct hwk_backend *b;
	char why[256];

	gp.type = HWK_KEY_ED25519;
	gp.passphrase = "pw";
	first_check = HWK_ERR_KEY_TYPE;
	assert_int_equal(hwk_backend_auto(*state, 0, &gp, &b, why,
	    sizeof(why)), 0);
	assert_ptr_equal(b, &second);
	assert_string_equal(why, "first: cannot make ed25519 keys: using "
	    "second");
	/* The second backend saw its own default size and the passphrase. */
	assert_int_equal(seen_gp.bits, 256);
	assert_string_equal(seen_gp.passphrase, "pw");
	assert_string_equal(hwk_ctx_detail(*state), "");

	gp.type = HWK_KEY_ECDSA;
	gp.bits = 521;
	gp.bits_given = 1;
	assert_int_equal(hwk_backend_auto(*state, 0, &gp, &b, why,
	    sizeof(why)), 0);
	assert_string_equal(why, "first: cannot make ecdsa 521-bit keys: "
	    "using second");
}

static void
test_no_device_can(void **state)
{
	const struct hwk_backend *b = &third;
	char why[256];

	gp.type = HWK_KEY_ED25519;
	first_check = HWK_ERR_KEY_TYPE;
	assert_int_equal(hwk_backend_auto(*state, HWK_BF_DEVICE, &gp, &b, why,
	    sizeof(why)), HWK_ERR_NO_DEVICE);
	assert_null(b);
	assert_string_equal(hwk_ctx_detail(*state), "no hardware backend is "
	    "usable: first: cannot make ed25519 keys");
}

static void
test_check_refusal_is_chosen(void **state)
{
	const struct hwk_backend *b;
	char why[256];

	/* A refusal other than the type is the chosen backend's to report. */
	first_check = HWK_ERR_KEY_SIZE;
	assert_int_equal(hwk_backend_auto(*state, 0, &gp, &b, why,
	    sizeof(why)), HWK_ERR_KEY_SIZE);
	assert_ptr_equal(b, &first);
	assert_false(second_probed);
	assert_string_equal(why, "first found: using first");
	assert_string_equal(hwk_ctx_detail(*state), "first: cannot");

	/* RSA without -b: each backend's own default size. */
	first_probe = HWK_ERR_NO_DEVICE;
	assert_int_equal(hwk_backend_auto(*state, 0, &gp, &b, why,
	    sizeof(why)), 0);
	assert_int_equal(seen_gp.bits, 3072);
}

static void
test_check_opts_all(void **state)
{
	assert_int_equal(hwk_backends_check_opts(*state), 0);
	/* The last backend's option counts as much as the first's. */
	second_opts = HWK_ERR_USAGE;
	assert_int_equal(hwk_backends_check_opts(*state), HWK_ERR_USAGE);
	assert_string_equal(hwk_ctx_detail(*state), "--second: wrong");
	hwk_ctx_clear_error(*state);
	first_opts = HWK_ERR_USAGE;
	assert_int_equal(hwk_backends_check_opts(*state), HWK_ERR_USAGE);
	assert_string_equal(hwk_ctx_detail(*state), "--first: wrong");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_absent_is_passed_over,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_usage_stops_auto, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_type_passes_over, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_no_device_can, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_check_refusal_is_chosen,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_opts_all, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
