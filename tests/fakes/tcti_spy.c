/*
 * tcti_spy.so: a TCTI for tests that sits in front of a real one, counts
 * and logs the commands sent to the TPM, and injects faults.  Use it as
 * --tcti /path/tcti_spy.so:INNER where INNER is any TCTI string, e.g.
 * swtpm:host=127.0.0.1,port=2321.  Environment:
 *
 *   HWK_SPY_LOG=file       appends "0xCCCCCCCC" (the command code) per command
 *   HWK_SPY_DUMP=file      appends every command's bytes as sent
 *   HWK_SPY_TIMES=file     appends "0xCCCCCCCC usec" per response: the time
 *                          the TPM took, from sending to the whole answer
 *   HWK_SPY_FAIL_AT=n      the n-th command of the process fails with an I/O
 *                          error without reaching the TPM
 *   HWK_SPY_KILL_AT=n      before the n-th command, SIGKILL HWK_SPY_KILL_PID
 *                          (the TPM goes away mid-operation)
 *   HWK_SPY_SIGINT_AT=n    before the n-th command, SIGINT to this process
 *                          (the user's Ctrl-C while the TPM works)
 *   HWK_SPY_LOSE_AT=n      before the n-th command, flush every transient
 *                          object and session, as a TPM reset would
 *   HWK_SPY_NO_SHA512=1    TPM2_Sign of a 64-byte digest is answered as a TPM
 *                          without SHA-512 would: TPM_RC_SIZE on parameter 1
 *   HWK_SPY_NO_P521=1      TPM2_GetCapability(TPM_CAP_ECC_CURVES) answers
 *                          without NIST P-521, as a TPM that lacks it
 *   HWK_SPY_POLL_PATH=f    the poll handle reported is f opened read-only, as
 *                          the device TCTI reports its /dev/tpm* node: with
 *                          /dev/null the client takes the TPM for a raw
 *                          device (/dev/tpm0) that one process opens at a time
 *
 * The count lives in the environment (HWK_SPY_N), so it spans connections.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <tss2/tss2_tcti.h>

#define SPY_MAGIC	0x6877b5079a11ce01ULL
#define CC_SIGN		0x0000015dU
#define CC_GETCAP	0x0000017aU
#define CAP_ECC_CURVES	0x00000008U
#define ECC_NIST_P521	0x0005U

typedef TSS2_RC (*ldr_init_fn)(const char *, TSS2_TCTI_CONTEXT **);
typedef void (*ldr_fini_fn)(TSS2_TCTI_CONTEXT **);

struct spy {
	TSS2_TCTI_CONTEXT_COMMON_V2	 common;
	TSS2_TCTI_CONTEXT		*inner;
	void				*ldr;
	ldr_fini_fn			 fini;
	uint8_t				 fake[10];	/* a made-up response */
	int				 faking;
	uint32_t			 cc;		/* the command in flight */
	struct timespec			 sent;
	int				 pollfd;	/* or -1 */
};

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static unsigned long
env_num(const char *name)
{
	const char *s = getenv(name);

	return s != NULL ? strtoul(s, NULL, 10) : 0;
}

/* The number of this command in the process, counting from 1. */
static unsigned long
next_command(void)
{
	char buf[32];
	unsigned long n = env_num("HWK_SPY_N") + 1;

	snprintf(buf, sizeof(buf), "%lu", n);
	setenv("HWK_SPY_N", buf, 1);
	return n;
}

static void
kill_tpm(void)
{
	pid_t pid = (pid_t)env_num("HWK_SPY_KILL_PID");
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	char path[64], st[256];
	FILE *f;
	int i;

	if (pid <= 0 || kill(pid, SIGKILL) != 0)
		return;
	/* Until it is gone or a zombie: then its sockets are closed. */
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	for (i = 0; i < 250; i++) {
		if ((f = fopen(path, "r")) == NULL)
			return;
		st[0] = '\0';
		if (fgets(st, sizeof(st), f) == NULL)
			st[0] = '\0';
		fclose(f);
		if (strstr(st, ") Z ") != NULL || strstr(st, ") X ") != NULL)
			return;
		nanosleep(&ts, NULL);
	}
}

/* A 64-byte digest in TPM2_Sign: the SHA-512 a TPM may not have. */
static int
sign_sha512(const uint8_t *cmd, size_t size)
{
	size_t off = 14;	/* header and keyHandle */

	if (size < 16 || be32(cmd + 6) != CC_SIGN)
		return 0;
	if (cmd[0] == 0x80 && cmd[1] == 0x02) {	/* TPM_ST_SESSIONS */
		if (size < off + 4)
			return 0;
		off += 4 + be32(cmd + off);
	}
	return off + 2 <= size && cmd[off] == 0 && cmd[off + 1] == 64;
}

/* Flushes the first few object and session handles behind the client's back. */
static void
lose_all(struct spy *s)
{
	static const uint32_t first[] = { 0x80000000, 0x02000000, 0x03000000 };
	uint8_t cmd[14] = { 0x80, 0x01, 0, 0, 0, 14, 0, 0, 0x01, 0x65 };
	uint8_t resp[64];
	size_t i, j, n;
	uint32_t h;

	for (i = 0; i < sizeof(first) / sizeof(first[0]); i++) {
		for (j = 0; j < 4; j++) {
			h = first[i] + (uint32_t)j;
			cmd[10] = (uint8_t)(h >> 24);
			cmd[11] = (uint8_t)(h >> 16);
			cmd[12] = (uint8_t)(h >> 8);
			cmd[13] = (uint8_t)h;
			n = sizeof(resp);
			if (Tss2_Tcti_Transmit(s->inner, sizeof(cmd), cmd) ==
			    TSS2_RC_SUCCESS)
				Tss2_Tcti_Receive(s->inner, &n, resp,
				    TSS2_TCTI_TIMEOUT_BLOCK);
		}
	}
}

static TSS2_RC
spy_transmit(TSS2_TCTI_CONTEXT *ctx, size_t size, const uint8_t *cmd)
{
	struct spy *s = (struct spy *)ctx;
	const char *log = getenv("HWK_SPY_LOG"), *dump = getenv("HWK_SPY_DUMP");
	unsigned long n = next_command();
	FILE *f;

	if (log != NULL && size >= 10 && (f = fopen(log, "a")) != NULL) {
		fprintf(f, "0x%08x\n", be32(cmd + 6));
		fclose(f);
	}
	if (dump != NULL && (f = fopen(dump, "ab")) != NULL) {
		fwrite(cmd, 1, size, f);
		fclose(f);
	}
	if (n == env_num("HWK_SPY_FAIL_AT"))
		return TSS2_TCTI_RC_IO_ERROR;
	if (n == env_num("HWK_SPY_KILL_AT"))
		kill_tpm();
	if (n == env_num("HWK_SPY_LOSE_AT"))
		lose_all(s);
	if (n == env_num("HWK_SPY_SIGINT_AT"))
		kill(getpid(), SIGINT);
	s->faking = 0;
	s->cc = size >= 10 ? be32(cmd + 6) : 0;
	clock_gettime(CLOCK_MONOTONIC, &s->sent);
	if (getenv("HWK_SPY_NO_SHA512") != NULL && sign_sha512(cmd, size)) {
		/* TPM_ST_NO_SESSIONS, size 10, TPM_RC_SIZE + P + 1 */
		static const uint8_t r[10] = { 0x80, 0x01, 0, 0, 0, 10,
		    0, 0, 0x01, 0xd5 };

		memcpy(s->fake, r, sizeof(r));
		s->faking = 1;
		return TSS2_RC_SUCCESS;
	}
	return Tss2_Tcti_Transmit(s->inner, size, cmd);
}

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/*
 * Drops P-521 from a successful TPM2_GetCapability(TPM_CAP_ECC_CURVES):
 * header, moreData, capability, count, then two bytes per curve.
 */
static void
drop_p521(uint8_t *resp, size_t *size)
{
	size_t i, n, len = *size;
	uint32_t count;

	if (len < 19 || be32(resp + 6) != 0 || be32(resp + 11) !=
	    CAP_ECC_CURVES || be32(resp + 2) != len)
		return;
	count = be32(resp + 15);
	if (19 + 2 * (size_t)count > len)
		return;
	for (i = n = 0; i < count; i++) {
		uint8_t *c = resp + 19 + 2 * i;

		if (((unsigned)c[0] << 8 | c[1]) == ECC_NIST_P521)
			continue;
		memmove(resp + 19 + 2 * n++, c, 2);
	}
	memmove(resp + 19 + 2 * n, resp + 19 + 2 * (size_t)count,
	    len - 19 - 2 * (size_t)count);
	*size = len - 2 * ((size_t)count - n);
	put_be32(resp + 15, (uint32_t)n);
	put_be32(resp + 2, (uint32_t)*size);
}

static TSS2_RC
spy_receive(TSS2_TCTI_CONTEXT *ctx, size_t *size, uint8_t *resp,
    int32_t timeout)
{
	struct spy *s = (struct spy *)ctx;
	const char *times = getenv("HWK_SPY_TIMES");
	struct timespec now;
	TSS2_RC rc;
	FILE *f;

	if (!s->faking) {
		rc = Tss2_Tcti_Receive(s->inner, size, resp, timeout);
		if (rc == TSS2_RC_SUCCESS && resp != NULL && s->cc ==
		    CC_GETCAP && getenv("HWK_SPY_NO_P521") != NULL)
			drop_p521(resp, size);
		if (rc == TSS2_RC_SUCCESS && resp != NULL && times != NULL &&
		    (f = fopen(times, "a")) != NULL) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			fprintf(f, "0x%08x %ld\n", s->cc,
			    (long)(now.tv_sec - s->sent.tv_sec) * 1000000 +
			    (now.tv_nsec - s->sent.tv_nsec) / 1000);
			fclose(f);
		}
		return rc;
	}
	if (resp == NULL) {
		*size = sizeof(s->fake);
		return TSS2_RC_SUCCESS;
	}
	if (*size < sizeof(s->fake))
		return TSS2_TCTI_RC_INSUFFICIENT_BUFFER;
	memcpy(resp, s->fake, sizeof(s->fake));
	*size = sizeof(s->fake);
	s->faking = 0;
	return TSS2_RC_SUCCESS;
}

static void
spy_finalize(TSS2_TCTI_CONTEXT *ctx)
{
	struct spy *s = (struct spy *)ctx;

	if (s->inner != NULL && s->fini != NULL)
		s->fini(&s->inner);
	if (s->ldr != NULL)
		dlclose(s->ldr);
	if (s->pollfd >= 0)
		close(s->pollfd);
	s->inner = NULL;
	s->ldr = NULL;
	s->pollfd = -1;
}

static TSS2_RC
spy_cancel(TSS2_TCTI_CONTEXT *ctx)
{
	return Tss2_Tcti_Cancel(((struct spy *)ctx)->inner);
}

static TSS2_RC
spy_poll(TSS2_TCTI_CONTEXT *ctx, TSS2_TCTI_POLL_HANDLE *h, size_t *n)
{
	struct spy *s = (struct spy *)ctx;

	if (s->pollfd < 0)
		return Tss2_Tcti_GetPollHandles(s->inner, h, n);
	if (n == NULL)
		return TSS2_TCTI_RC_BAD_REFERENCE;
	if (h != NULL && *n < 1)
		return TSS2_TCTI_RC_INSUFFICIENT_BUFFER;
	*n = 1;
	if (h != NULL) {
		h->fd = s->pollfd;
		h->events = POLLIN | POLLOUT;
	}
	return TSS2_RC_SUCCESS;
}

static TSS2_RC
spy_locality(TSS2_TCTI_CONTEXT *ctx, uint8_t locality)
{
	return Tss2_Tcti_SetLocality(((struct spy *)ctx)->inner, locality);
}

static TSS2_RC
spy_sticky(TSS2_TCTI_CONTEXT *ctx, TPM2_HANDLE *handle, uint8_t sticky)
{
	return Tss2_Tcti_MakeSticky(((struct spy *)ctx)->inner, handle, sticky);
}

static TSS2_RC
spy_init(TSS2_TCTI_CONTEXT *ctx, size_t *size, const char *conf)
{
	struct spy *s = (struct spy *)ctx;
	ldr_init_fn init;
	TSS2_RC rc;

	if (size == NULL)
		return TSS2_TCTI_RC_BAD_VALUE;
	if (ctx == NULL) {
		*size = sizeof(struct spy);
		return TSS2_RC_SUCCESS;
	}
	memset(s, 0, sizeof(*s));
	s->pollfd = -1;
	if ((s->ldr = dlopen("libtss2-tctildr.so.0", RTLD_NOW)) == NULL)
		return TSS2_TCTI_RC_GENERAL_FAILURE;
	init = (ldr_init_fn)(uintptr_t)dlsym(s->ldr, "Tss2_TctiLdr_Initialize");
	s->fini = (ldr_fini_fn)(uintptr_t)dlsym(s->ldr,
	    "Tss2_TctiLdr_Finalize");
	if (init == NULL || s->fini == NULL) {
		dlclose(s->ldr);
		return TSS2_TCTI_RC_GENERAL_FAILURE;
	}
	if ((rc = init(conf != NULL && *conf != '\0' ? conf : NULL,
	    &s->inner)) != TSS2_RC_SUCCESS) {
		dlclose(s->ldr);
		s->ldr = NULL;
		return rc;
	}
	if (getenv("HWK_SPY_POLL_PATH") != NULL &&
	    (s->pollfd = open(getenv("HWK_SPY_POLL_PATH"),
	    O_RDONLY | O_CLOEXEC)) < 0) {
		s->fini(&s->inner);
		dlclose(s->ldr);
		s->ldr = NULL;
		return TSS2_TCTI_RC_IO_ERROR;
	}
	s->common.v1.magic = SPY_MAGIC;
	s->common.v1.version = 2;
	s->common.v1.transmit = spy_transmit;
	s->common.v1.receive = spy_receive;
	s->common.v1.finalize = spy_finalize;
	s->common.v1.cancel = spy_cancel;
	s->common.v1.getPollHandles = spy_poll;
	s->common.v1.setLocality = spy_locality;
	s->common.makeSticky = spy_sticky;
	return TSS2_RC_SUCCESS;
}

static const TSS2_TCTI_INFO spy_info = {
	.version = 2,
	.name = "tcti-spy",
	.description = "counts, logs and fails commands for tests",
	.config_help = "the inner TCTI string",
	.init = spy_init,
};

const TSS2_TCTI_INFO *Tss2_Tcti_Info(void);

const TSS2_TCTI_INFO *
Tss2_Tcti_Info(void)
{
	return &spy_info;
}
