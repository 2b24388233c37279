/* Texts and exit codes for the error codes of error.h. */
#include "hwkey/error.h"

const char *
hwk_strerror(int err)
{
	switch (err) {
	case HWK_OK:			return "success";
	case HWK_ERR_INTERNAL:		return "internal error";
	case HWK_ERR_NOMEM:		return "out of memory";
	case HWK_ERR_INVALID_ARG:	return "invalid argument";
	case HWK_ERR_TRUNCATED:		return "data is truncated";
	case HWK_ERR_TOO_LARGE:		return "data is too large";
	case HWK_ERR_FORMAT:		return "invalid format";
	case HWK_ERR_UNSUPPORTED:	return "operation not supported";
	case HWK_ERR_KEY_TYPE:		return "unsupported key type";
	case HWK_ERR_KEY_SIZE:		return "unsupported key size";
	case HWK_ERR_WRONG_PASSPHRASE:	return "incorrect passphrase";
	case HWK_ERR_CRYPTO:		return "cryptographic library error";
	case HWK_ERR_SYSTEM:		return "system error";
	case HWK_ERR_NO_DEVICE:		return "device not reachable";
	case HWK_ERR_DEVICE:		return "device error";
	case HWK_ERR_PIN_INCORRECT:	return "incorrect PIN";
	case HWK_ERR_PIN_LOCKED:	return "PIN is locked";
	case HWK_ERR_LOCKOUT:		return "TPM is in dictionary-attack lockout";
	case HWK_ERR_CANCELLED:		return "cancelled";
	case HWK_ERR_EXISTS:		return "already exists";
	case HWK_ERR_NOT_FOUND:		return "not found";
	case HWK_ERR_AMBIGUOUS:		return "more than one match";
	case HWK_ERR_DEVICE_FULL:	return "device is full";
	case HWK_ERR_WRONG_DEVICE:	return "key belongs to another device";
	case HWK_ERR_SIGNAL:		return "interrupted";
	case HWK_ERR_USAGE:		return "usage error";
	}
	return "unknown error";
}

int
hwk_exit_code(int err)
{
	switch (err) {
	case HWK_OK:
		return EXIT_OK;
	case HWK_ERR_USAGE:
		return EXIT_USAGE;
	case HWK_ERR_CANCELLED:
		return EXIT_CANCEL;
	case HWK_ERR_NO_DEVICE:
		return EXIT_NODEV;
	case HWK_ERR_WRONG_PASSPHRASE:
	case HWK_ERR_PIN_INCORRECT:
	case HWK_ERR_PIN_LOCKED:
	case HWK_ERR_LOCKOUT:
		return EXIT_AUTH;
	case HWK_ERR_SIGNAL:
		return EXIT_SIGNAL;
	}
	return EXIT_FAIL;
}
