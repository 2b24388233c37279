/* Unit tests of the registry: auto passes over absent devices, not typos. */
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
static int second_probed;

static int
first_probe_fn(struct hwk_ctx *ctx)
{
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

static const struct hwk_backend first = {
	.name = "first", .probe = first_probe_fn, .check_opts = first_opts_fn,
};
static const struct hwk_backend second = {
	.name = "second", .probe = second_probe_fn,
	.check_opts = second_opts_fn,
};
static const struct hwk_backend third = { .name = "third" };
static const struct hwk_backend *const table[] = {
	&first, &second, &third, NULL,
};

static int
setup(void **state)
{
	first_probe = second_probe = first_opts = second_opts = 0;
	second_probed = 0;
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
	assert_int_equal(hwk_backend_auto(*state, 0, &b, why, sizeof(why)), 0);
	assert_ptr_equal(b, &second);
	assert_string_equal(why, "first: device not reachable: using second");
}

static void
test_usage_stops_auto(void **state)
{
	const struct hwk_backend *b = &third;
	char why[256];

	first_probe = HWK_ERR_USAGE;
	assert_int_equal(hwk_backend_auto(*state, 0, &b, why, sizeof(why)),
	    HWK_ERR_USAGE);
	assert_null(b);
	assert_false(second_probed);
	assert_string_equal(hwk_ctx_detail(*state), "first: usage error");
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
		cmocka_unit_test_setup_teardown(test_check_opts_all, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
