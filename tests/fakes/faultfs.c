/*
 * LD_PRELOAD fault injection for the file-safety tests: makes writes, fsync
 * or the Nth rename fail, or fsync slow, on hwkeygen's temporary files only;
 * or every rename fail, so that writing the key files fails after a token
 * made the key (root ignores an unwritable folder, EIO it cannot).
 * HWK_FAULT is one of: write=ENOSPC, write=EIO, fsync=EIO, rename=N (the Nth
 * rename of a temporary file fails with EIO), rename=all (every rename fails
 * with EIO), slowfsync=SECONDS.
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int renames;

/* Whether fd is one of hwkeygen's temporary files. */
static int
is_temp(int fd)
{
	char link[64], path[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if ((n = readlink(link, path, sizeof(path) - 1)) < 0)
		return 0;
	path[n] = '\0';
	return strstr(path, ".hwk-") != NULL;
}

static const char *
fault(const char *what)
{
	const char *f = getenv("HWK_FAULT");
	size_t n = strlen(what);

	if (f == NULL || strncmp(f, what, n) != 0 || f[n] != '=')
		return NULL;
	return f + n + 1;
}

ssize_t
write(int fd, const void *buf, size_t len)
{
	static ssize_t (*real)(int, const void *, size_t);
	const char *f = fault("write");

	if (real == NULL)
		real = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT,
		    "write");
	if (f != NULL && is_temp(fd)) {
		/* Half goes through, then the disk is full. */
		if (len > 1 && lseek(fd, 0, SEEK_CUR) == 0)
			return real(fd, buf, len / 2);
		errno = strcmp(f, "ENOSPC") == 0 ? ENOSPC : EIO;
		return -1;
	}
	return real(fd, buf, len);
}

int
fsync(int fd)
{
	static int (*real)(int);
	const char *f = fault("fsync"), *slow = fault("slowfsync");

	if (real == NULL)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	if (is_temp(fd)) {
		if (slow != NULL)
			sleep((unsigned)atoi(slow));
		if (f != NULL) {
			errno = EIO;
			return -1;
		}
	}
	return real(fd);
}

int
rename(const char *from, const char *to)
{
	static int (*real)(const char *, const char *);
	const char *f = fault("rename");

	if (real == NULL)
		real = (int (*)(const char *, const char *))dlsym(RTLD_NEXT,
		    "rename");
	if (f != NULL && (strcmp(f, "all") == 0 ||
	    (strstr(from, ".hwk-") != NULL && ++renames == atoi(f)))) {
		errno = EIO;
		return -1;
	}
	return real(from, to);
}
