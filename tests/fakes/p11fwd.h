/*
 * Shared by the test-only PKCS#11 modules: each stands in front of a real
 * module ($HWK_FAKE_REAL, SoftHSM2 in the tests), forwards what it does
 * not change, and can log the calls it sees to $HWK_FAKE_LOG.
 */
#ifndef HWK_TEST_P11FWD_H
#define HWK_TEST_P11FWD_H

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/pkcs11.h>

static CK_FUNCTION_LIST *real;	/* the module behind us */
static CK_FUNCTION_LIST ours;	/* its table with our calls in it */

/* Appends one line to $HWK_FAKE_LOG, so tests can count calls. */
static __attribute__((unused)) void
fwd_log(const char *fmt, ...)
{
	const char *path = getenv("HWK_FAKE_LOG");
	va_list ap;
	FILE *f;

	if (path == NULL || (f = fopen(path, "a")) == NULL)
		return;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
	fclose(f);
}

/* Loads the real module once and copies its function table into ours. */
static __attribute__((unused)) CK_RV
fwd_load(void)
{
	CK_C_GetFunctionList get;
	const char *path = getenv("HWK_FAKE_REAL");
	void *h;
	CK_RV rv;

	if (real != NULL)
		return CKR_OK;
	if (path == NULL || (h = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL)
		return CKR_GENERAL_ERROR;
	*(void **)&get = dlsym(h, "C_GetFunctionList");
	if (get == NULL)
		return CKR_GENERAL_ERROR;
	if ((rv = get(&real)) != CKR_OK)
		return rv;
	ours = *real;
	return CKR_OK;
}

/* An unsigned long from the environment (0x.. allowed), or dflt. */
static __attribute__((unused)) unsigned long
env_ulong(const char *name, unsigned long dflt)
{
	const char *s = getenv(name);

	return s != NULL && *s != '\0' ? strtoul(s, NULL, 0) : dflt;
}

/* Copies s into a blank-padded PKCS#11 field. */
static __attribute__((unused)) void
fwd_pad(unsigned char *field, size_t len, const char *s)
{
	size_t n = strlen(s);

	memset(field, ' ', len);
	memcpy(field, s, n < len ? n : len);
}

#endif /* HWK_TEST_P11FWD_H */
