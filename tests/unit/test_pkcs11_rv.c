/* Unit tests of what PKCS#11 return codes mean: hwk errors, exits, names. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hwkey/error.h"
#include "pkcs11_int.h"

static void
test_errors(void **state)
{
	static const struct {
		CK_RV	rv;
		int	err;
	} map[] = {
		{ CKR_OK, HWK_OK },
		{ CKR_USER_ALREADY_LOGGED_IN, HWK_OK },
		{ CKR_PIN_INCORRECT, HWK_ERR_PIN_INCORRECT },
		{ CKR_PIN_LEN_RANGE, HWK_ERR_PIN_INCORRECT },
		{ CKR_PIN_LOCKED, HWK_ERR_PIN_LOCKED },
		{ CKR_DEVICE_MEMORY, HWK_ERR_DEVICE_FULL },
		{ CKR_HOST_MEMORY, HWK_ERR_NOMEM },
		{ CKR_TOKEN_NOT_PRESENT, HWK_ERR_NO_DEVICE },
		{ CKR_DEVICE_REMOVED, HWK_ERR_NO_DEVICE },
		{ CKR_SLOT_ID_INVALID, HWK_ERR_NO_DEVICE },
		{ CKR_MECHANISM_INVALID, HWK_ERR_UNSUPPORTED },
		{ CKR_FUNCTION_NOT_SUPPORTED, HWK_ERR_UNSUPPORTED },
		{ CKR_ATTRIBUTE_TYPE_INVALID, HWK_ERR_UNSUPPORTED },
		{ CKR_KEY_SIZE_RANGE, HWK_ERR_KEY_SIZE },
		{ CKR_FUNCTION_CANCELED, HWK_ERR_CANCELLED },
		{ CKR_DEVICE_ERROR, HWK_ERR_DEVICE },
		{ CKR_GENERAL_ERROR, HWK_ERR_DEVICE },
		{ CKR_ARGUMENTS_BAD, HWK_ERR_INTERNAL },
		{ 0x12345UL, HWK_ERR_DEVICE },			/* unknown */
		{ CKR_VENDOR_DEFINED | 7, HWK_ERR_DEVICE },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		assert_int_equal(hwk_p11_rv_err(map[i].rv), map[i].err);
}

static void
test_exit_codes(void **state)
{
	(void)state;
	/* What a script sees: 5 for any PIN trouble, 4 for a missing token. */
	assert_int_equal(hwk_exit_code(hwk_p11_rv_err(CKR_PIN_INCORRECT)), 5);
	assert_int_equal(hwk_exit_code(hwk_p11_rv_err(CKR_PIN_LOCKED)), 5);
	assert_int_equal(hwk_exit_code(hwk_p11_rv_err(CKR_PIN_EXPIRED)), 5);
	assert_int_equal(hwk_exit_code(hwk_p11_rv_err(CKR_TOKEN_NOT_PRESENT)),
	    4);
	assert_int_equal(hwk_exit_code(hwk_p11_rv_err(CKR_DEVICE_MEMORY)), 1);
	assert_int_equal(hwk_exit_code(hwk_p11_rv_err(CKR_FUNCTION_CANCELED)),
	    3);
}

static void
test_names(void **state)
{
	char buf[48];

	(void)state;
	assert_string_equal(hwk_p11_rv_name(CKR_PIN_INCORRECT, buf,
	    sizeof(buf)), "CKR_PIN_INCORRECT");
	assert_string_equal(hwk_p11_rv_name(CKR_DEVICE_MEMORY, buf,
	    sizeof(buf)), "CKR_DEVICE_MEMORY");
	assert_string_equal(hwk_p11_rv_name(CKR_OK, buf, sizeof(buf)),
	    "CKR_OK");
	assert_string_equal(hwk_p11_rv_name(0x12345UL, buf, sizeof(buf)),
	    "CKR 0x00012345");
	assert_string_equal(hwk_p11_rv_name(CKR_VENDOR_DEFINED | 7, buf,
	    sizeof(buf)), "CKR 0x80000007 (vendor defined)");
	/* A short buffer is cut, never overrun. */
	assert_string_equal(hwk_p11_rv_name(0x12345UL, buf, 6), "CKR 0");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_exit_codes),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
