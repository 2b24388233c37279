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

/*
 * HWK_FAKE_ONE_BYTE_IDS_TAKEN=1: a search for any one-byte CKA_ID finds an
 * object, as on a token whose 255 one-byte ids are all in use.  The
 * modules call fwd_taken_init() from C_FindObjectsInit and, while it
 * holds, answer C_FindObjects with fwd_taken_find().
 */
#define FWD_TAKEN_OBJECT	0x7fff0001UL

static int fwd_taken;		/* this search finds the made-up object */

static __attribute__((unused)) void
fwd_taken_init(const CK_ATTRIBUTE *t, CK_ULONG n)
{
	CK_ULONG i;

	fwd_taken = 0;
	for (i = 0; i < n && env_ulong("HWK_FAKE_ONE_BYTE_IDS_TAKEN", 0); i++)
		if (t[i].type == CKA_ID && t[i].ulValueLen == 1)
			fwd_taken = 1;
}

static __attribute__((unused)) void
fwd_taken_find(CK_OBJECT_HANDLE *objs, CK_ULONG max, CK_ULONG *n)
{
	*n = 0;
	if (max > 0 && fwd_taken == 1) {
		objs[0] = FWD_TAKEN_OBJECT;
		*n = 1;
		fwd_taken = 2;		/* found once, as one object is */
	}
}

#endif /* HWK_TEST_P11FWD_H */
