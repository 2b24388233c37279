/*
 * A test-only LD_PRELOAD library: rename() fails with EIO while
 * $HWK_FAIL_RENAME is set, so that writing the key files fails after the
 * key was generated (root ignores an unwritable folder, EIO it cannot).
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

int
rename(const char *from, const char *to)
{
	static int (*next)(const char *, const char *);

	if (getenv("HWK_FAIL_RENAME") != NULL) {
		errno = EIO;
		return -1;
	}
	if (next == NULL)
		*(void **)&next = dlsym(RTLD_NEXT, "rename");
	return next != NULL ? next(from, to) : -1;
}
