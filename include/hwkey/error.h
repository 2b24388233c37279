/* One error type for the whole of hwkeygen: 0 is success, failures are negative. */
#ifndef HWKEY_ERROR_H
#define HWKEY_ERROR_H

enum hwk_err {
	HWK_OK = 0,
	HWK_ERR_INTERNAL = -1,		/* a bug: should not happen */
	HWK_ERR_NOMEM = -2,
	HWK_ERR_INVALID_ARG = -3,
	HWK_ERR_TRUNCATED = -4,		/* input ends early */
	HWK_ERR_TOO_LARGE = -5,		/* a length over its limit */
	HWK_ERR_FORMAT = -6,		/* input is not what it claims */
	HWK_ERR_UNSUPPORTED = -7,	/* this backend cannot do that */
	HWK_ERR_KEY_TYPE = -8,
	HWK_ERR_KEY_SIZE = -9,
	HWK_ERR_WRONG_PASSPHRASE = -10,
	HWK_ERR_CRYPTO = -11,		/* libcrypto failed */
	HWK_ERR_SYSTEM = -12,		/* see errno */
	HWK_ERR_NO_DEVICE = -13,	/* TPM or token not reachable */
	HWK_ERR_DEVICE = -14,		/* TPM or token answered with an error */
	HWK_ERR_PIN_INCORRECT = -15,
	HWK_ERR_PIN_LOCKED = -16,
	HWK_ERR_LOCKOUT = -17,		/* TPM dictionary-attack lockout */
	HWK_ERR_CANCELLED = -18,	/* user declined or input ended */
	HWK_ERR_EXISTS = -19,
	HWK_ERR_NOT_FOUND = -20,
	HWK_ERR_AMBIGUOUS = -21,	/* several devices match */
	HWK_ERR_DEVICE_FULL = -22,
	HWK_ERR_WRONG_DEVICE = -23,	/* key belongs to another TPM or token */
	HWK_ERR_SIGNAL = -24,		/* interrupted by a signal */
	HWK_ERR_USAGE = -25,		/* bad command line */
};

const char *hwk_strerror(int err);

/*
 * Exit codes, documented in hwkeygen(1) and hwkey-agent(1); hwk_exit_code()
 * maps an error to one, once for both commands.
 */
#define EXIT_OK		0
#define EXIT_FAIL	1	/* the operation failed */
#define EXIT_USAGE	2	/* bad command line */
#define EXIT_CANCEL	3	/* declined at a prompt, or input ended */
#define EXIT_NODEV	4	/* no usable device */
#define EXIT_AUTH	5	/* wrong passphrase or PIN, locked, lockout */
#define EXIT_SIGNAL	130	/* interrupted */

int	hwk_exit_code(int err);

#endif /* HWKEY_ERROR_H */
