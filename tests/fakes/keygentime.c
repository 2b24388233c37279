/*
 * LD_PRELOAD for benchmarks: times OpenSSL's RSA key generation inside any
 * program (EVP_PKEY_generate, RSA_generate_key_ex) and appends the seconds
 * to $HWK_KEYGEN_TIME_FILE.  The rest of a program's wall time is what it
 * adds around OpenSSL: that is what the software benchmark compares, since
 * the prime search itself varies from run to run by a factor of three.
 * HWK_KEYGEN_DELAY=SECONDS also makes each generation that much slower, to
 * test what the user sees during a slow one; HWK_KEYGEN_FAIL=1 makes each
 * EVP_PKEY_generate fail.  A program that races keygens in threads writes
 * one line per racer, each racer's own time.  HWK_FAKE_LOADAVG=TEXT is
 * what the program reads from /proc/loadavg (how busy the machine is).
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static __thread int depth;	/* each racer its own */

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
record(double t)
{
	const char *path = getenv("HWK_KEYGEN_TIME_FILE");
	char line[64];
	int fd, n;

	if (path == NULL || (fd = open(path, O_WRONLY | O_APPEND | O_CREAT,
	    0600)) < 0)
		return;
	n = snprintf(line, sizeof(line), "%.6f\n", t);
	if (write(fd, line, (size_t)n) < 0)
		n = 0;
	close(fd);
}

int
EVP_PKEY_generate(void *ctx, void **pkey)
{
	static int (*real)(void *, void **);
	double t0;
	int r;

	if (real == NULL)
		real = (int (*)(void *, void **))dlsym(RTLD_NEXT,
		    "EVP_PKEY_generate");
	if (getenv("HWK_KEYGEN_FAIL") != NULL) {
		record(0);
		return 0;
	}
	t0 = now();
	depth++;
	if (getenv("HWK_KEYGEN_DELAY") != NULL)
		sleep((unsigned)atoi(getenv("HWK_KEYGEN_DELAY")));
	r = real(ctx, pkey);
	if (--depth == 0)
		record(now() - t0);
	return r;
}

int
RSA_generate_key_ex(void *rsa, int bits, void *e, void *cb)
{
	static int (*real)(void *, int, void *, void *);
	double t0;
	int r;

	if (real == NULL)
		real = (int (*)(void *, int, void *, void *))dlsym(RTLD_NEXT,
		    "RSA_generate_key_ex");
	t0 = now();
	depth++;
	r = real(rsa, bits, e, cb);
	if (--depth == 0)
		record(now() - t0);
	return r;
}

/* /proc/loadavg as $HWK_FAKE_LOADAVG says, when it is set. */
FILE *
fopen(const char *path, const char *mode)
{
	static FILE *(*real)(const char *, const char *);
	const char *fake = getenv("HWK_FAKE_LOADAVG");

	if (fake != NULL && strcmp(path, "/proc/loadavg") == 0)
		return fmemopen((void *)(uintptr_t)fake, strlen(fake), "r");
	if (real == NULL)
		real = (FILE *(*)(const char *, const char *))dlsym(RTLD_NEXT,
		    "fopen");
	return real(path, mode);
}
