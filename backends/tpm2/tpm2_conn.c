/*
 * Connections to the TPM: which TCTI, why none answered, how the TPM is
 * shared, the keygen's one connection, flushing what we left in the TPM,
 * and the salted sessions that carry passwords.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_sys.h>
#include <tss2/tss2_tctildr.h>

#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "tpm2_int.h"

/* Parameter encryption of the session that carries a new key's password. */
static const TPMT_SYM_DEF session_aes = {
	.algorithm = TPM2_ALG_AES,
	.keyBits.aes = 128,
	.mode.aes = TPM2_ALG_CFB,
};

static const TPMT_SYM_DEF session_nosym = {
	.algorithm = TPM2_ALG_NULL,
};

/*
 * The connection of a keygen, from probe through check to generate: each
 * TCTI init loads a library and connects, so one is enough.  It holds
 * nothing in the TPM; generate, or a failed check, closes it.
 */
static struct tpm2_conn keygen_conn;

/* The TSS logs to stderr; library code must not, unless the user asks. */
static void
tss_quiet(void)
{
	if (getenv("TSS2_LOG") == NULL)
		setenv("TSS2_LOG", "all+none", 0);
}

/* --tcti, else $TPM2TOOLS_TCTI, else NULL: the TSS default. */
static const char *
tcti_conf(const struct hwk_ctx *ctx)
{
	const char *s;

	if ((s = hwk_ctx_opt(ctx, "tcti")) != NULL && *s != '\0')
		return s;
	if ((s = getenv("TPM2TOOLS_TCTI")) != NULL && *s != '\0')
		return s;
	return NULL;
}

/*
 * The errno of a device node, for "no TPM at device:/dev/tpm0 (...)".
 * Opened, not just looked at: only open() says EBUSY, which is what
 * /dev/tpm0 answers while another process has it.  0 if it opens.
 */
static int
device_errno(const char *path)
{
	int fd;

	if ((fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC)) < 0)
		return errno;
	close(fd);
	return 0;
}

/* Why neither of the kernel's TPM nodes, the TSS default, answered. */
static int
no_default_tpm(struct hwk_ctx *ctx, int err)
{
	int e1, e2;

	if ((e1 = device_errno("/dev/tpmrm0")) == 0)
		e1 = err;
	if ((e2 = device_errno("/dev/tpm0")) == 0)
		e2 = err;
	hwk_ctx_error(ctx, HWK_ERR_NO_DEVICE, "no TPM at "
	    "device:/dev/tpmrm0 (%s) nor device:/dev/tpm0 (%s), the "
	    "TSS default", e1 != 0 ? strerror(e1) : "not usable",
	    e2 != 0 ? strerror(e2) : "not usable");
	if (e1 == EACCES || e2 == EACCES)
		hwk_ctx_hint(ctx, "Add yourself to the group that owns "
		    "/dev/tpmrm0 (often 'tss'), or give --tcti.");
	else if (e1 == EBUSY || e2 == EBUSY)
		hwk_ctx_hint(ctx, "Another program has the TPM device "
		    "open, and without the kernel's resource manager "
		    "(/dev/tpmrm0) it admits one at a time: see fuser "
		    "/dev/tpm0.");
	else
		hwk_ctx_hint(ctx, "Give --tcti (or set TPM2TOOLS_TCTI) "
		    "if the TPM is elsewhere, e.g. "
		    "swtpm:host=127.0.0.1,port=2321.");
	return HWK_ERR_NO_DEVICE;
}

/*
 * Why no TPM answered at conf, in words.  err is the errno the TCTI
 * loader left: the words for a device node that opens for us but not for
 * the TSS.
 */
static int
no_tpm(struct hwk_ctx *ctx, const char *conf, TSS2_RC rc, int err)
{
	const char *path, *s;
	int e1;

	if (conf == NULL)
		return no_default_tpm(ctx, err);
	if (strncmp(conf, "device", 6) == 0 && (conf[6] == '\0' ||
	    conf[6] == ':')) {
		path = conf[6] == ':' && conf[7] != '\0' ? conf + 7 :
		    "/dev/tpmrm0";
		if ((e1 = device_errno(path)) != 0)
			err = e1;
	}
	if (rc == TSS2_TCTI_RC_NOT_SUPPORTED)
		hwk_ctx_error(ctx, HWK_ERR_NO_DEVICE, "no TPM at %s: the TSS "
		    "has no TCTI module '%.*s' (%s)", conf,
		    (int)strcspn(conf, ":"), conf, Tss2_RC_Decode(rc));
	else if (rc == TSS2_TCTI_RC_BAD_VALUE) {
		/* A typo, not an absent TPM: auto must not pass over it. */
		s = hwk_ctx_opt(ctx, "tcti");
		hwk_ctx_error(ctx, HWK_ERR_USAGE, "%s '%s': the TCTI does not "
		    "understand its settings (%s)", s != NULL &&
		    strcmp(s, conf) == 0 ? "--tcti" : "TPM2TOOLS_TCTI", conf,
		    Tss2_RC_Decode(rc));
		hwk_ctx_hint(ctx, "Write it as the TCTI takes it, e.g. "
		    "device:/dev/tpmrm0 or swtpm:host=127.0.0.1,port=2321.");
		return HWK_ERR_USAGE;
	} else if (err != 0)
		hwk_ctx_error(ctx, HWK_ERR_NO_DEVICE, "no TPM at %s (%s)", conf,
		    strerror(err));
	else
		hwk_ctx_error(ctx, HWK_ERR_NO_DEVICE, "no TPM at %s (%s)", conf,
		    Tss2_RC_Decode(rc));
	if (err == EBUSY)
		hwk_ctx_hint(ctx, "Another program has the TPM device open, "
		    "and a raw TPM device admits one at a time; the kernel's "
		    "resource manager (device:/dev/tpmrm0) shares it.");
	else
		hwk_ctx_hint(ctx, "Check that the TPM is there and --tcti (or "
		    "TPM2TOOLS_TCTI) names it, e.g. device:/dev/tpmrm0 or "
		    "swtpm:host=127.0.0.1,port=2321.");
	return HWK_ERR_NO_DEVICE;
}

/*
 * After a command is lost on the way (an I/O error), ESYS refuses every
 * later call, FlushContext included.  A TPM without a resource manager
 * would keep those objects and run out of its three slots, so flush them
 * by their TPM handles over a fresh connection; if the TPM is gone, that
 * fails at once and there is nothing left to flush.
 */
static void
flush_orphans(struct tpm2_conn *c)
{
	TSS2_TCTI_CONTEXT *tcti = NULL;
	ESYS_CONTEXT *esys = NULL;
	TSS2_SYS_CONTEXT *sys = NULL;
	size_t i;

	if (Tss2_TctiLdr_Initialize(c->conf[0] != '\0' ? c->conf : NULL,
	    &tcti) != TSS2_RC_SUCCESS)
		goto out;
	if (Esys_Initialize(&esys, tcti, NULL) != TSS2_RC_SUCCESS ||
	    Esys_GetSysContext(esys, &sys) != TSS2_RC_SUCCESS)
		goto out;
	for (i = 0; i < c->norphans; i++)
		Tss2_Sys_FlushContext(sys, c->orphans[i]);
 out:
	c->norphans = 0;
	if (esys != NULL)
		Esys_Finalize(&esys);
	if (tcti != NULL)
		Tss2_TctiLdr_Finalize(&tcti);
}

void
hwk_tpm2_conn_close(struct tpm2_conn *c)
{
	if (c->esys != NULL)
		Esys_Finalize(&c->esys);
	if (c->tcti != NULL)
		Tss2_TctiLdr_Finalize(&c->tcti);
	c->esys = NULL;
	c->tcti = NULL;
	if (c->norphans > 0)
		flush_orphans(c);
}

/* Flushes an object or session; if ESYS cannot, the close flushes it later. */
void
hwk_tpm2_conn_flush(struct tpm2_conn *c, ESYS_TR *trp)
{
	TPM2_HANDLE h;
	TSS2_RC rc;

	if (*trp == ESYS_TR_NONE || c->esys == NULL)
		return;
	rc = Esys_FlushContext(c->esys, *trp);
	if (rc != TSS2_RC_SUCCESS) {
		/* A TPM error means the TPM has no such object any more. */
		if ((rc & TSS2_RC_LAYER_MASK) != TSS2_TPM_RC_LAYER &&
		    (rc & TSS2_RC_LAYER_MASK) != TSS2_RESMGR_TPM_RC_LAYER &&
		    Esys_TR_GetTpmHandle(c->esys, *trp, &h) ==
		    TSS2_RC_SUCCESS && c->norphans < HWK_TPM2_ORPHANS_MAX)
			c->orphans[c->norphans++] = h;
		Esys_TR_Close(c->esys, trp);
	}
	*trp = ESYS_TR_NONE;
}

/* Nonzero if the TCTI string names that module ("tabrmd", "device:..."). */
static int
conf_module(const char *conf, const char *name)
{
	size_t n = strcspn(conf, ":");
	char mod[HWK_TPM2_TCTI_NAME_MAX];

	if (n >= sizeof(mod))
		return 0;
	memcpy(mod, conf, n);
	mod[n] = '\0';
	/* "tabrmd", "libtss2-tcti-tabrmd.so.0", or a path to the library. */
	return strcmp(mod, name) == 0 || (strstr(mod, "tcti-") != NULL &&
	    strncmp(strstr(mod, "tcti-") + 5, name, strlen(name)) == 0);
}

/*
 * What the TCTI reached, for how long keys may stay loaded.  Best told by
 * the descriptor it polls: a /dev/tpmrm* node is the kernel's resource
 * manager, any other character device a raw TPM, which the kernel lets
 * one process open at a time; behind a socket is tabrmd (a resource
 * manager) when the TCTI string names it, else a TPM server such as swtpm.
 * A TSS that does not say is judged by the TCTI string, and the TSS
 * default then as possibly /dev/tpm0.
 */
static enum tpm2_sharing
conn_sharing(const struct tpm2_conn *c)
{
	TSS2_TCTI_POLL_HANDLE h[4];
	size_t n = sizeof(h) / sizeof(h[0]);
	struct stat st;
	char link[64], path[PATH_MAX];
	const char *base;
	ssize_t len;

	if (Tss2_Tcti_GetPollHandles(c->tcti, h, &n) == TSS2_RC_SUCCESS &&
	    n >= 1 && fstat(h[0].fd, &st) == 0) {
		if (S_ISCHR(st.st_mode)) {
			snprintf(link, sizeof(link), "/proc/self/fd/%d",
			    h[0].fd);
			if ((len = readlink(link, path, sizeof(path) - 1)) <= 0)
				return TPM_EXCLUSIVE;
			path[len] = '\0';
			base = strrchr(path, '/') != NULL ?
			    strrchr(path, '/') + 1 : path;
			return strncmp(base, "tpmrm", 5) == 0 ? TPM_SHARED :
			    TPM_EXCLUSIVE;
		}
		if (S_ISSOCK(st.st_mode))
			return conf_module(c->conf, "tabrmd") ? TPM_SHARED :
			    TPM_DIRECT;
	}
	if (conf_module(c->conf, "tabrmd"))
		return TPM_SHARED;
	if (c->conf[0] == '\0')
		return TPM_EXCLUSIVE;
	if (conf_module(c->conf, "device"))
		return strstr(c->conf, "tpmrm") != NULL ? TPM_SHARED :
		    TPM_EXCLUSIVE;
	return TPM_DIRECT;
}

/* Reaches the TPM; sends no command. */
int
hwk_tpm2_conn_open(struct hwk_ctx *ctx, struct tpm2_conn *c)
{
	const char *conf = tcti_conf(ctx);
	TSS2_RC rc;
	int err, r;

	memset(c, 0, sizeof(*c));
	if ((r = hwk_tpm2_lib_need(ctx)) != 0)
		return r;
	tss_quiet();
	if (conf != NULL && strlen(conf) >= sizeof(c->conf))
		return hwk_ctx_error(ctx, HWK_ERR_USAGE, "--tcti: the TCTI "
		    "string is too long");
	snprintf(c->conf, sizeof(c->conf), "%s", conf != NULL ? conf : "");
	snprintf(c->name, sizeof(c->name), "%s", conf != NULL ? conf :
	    "the TSS default TPM");
	/*
	 * The TSS default is the kernel's TPM device: with neither node there,
	 * say so at once rather than load and try every TCTI the TSS has.
	 */
	if (conf == NULL && access("/dev/tpmrm0", F_OK) != 0 &&
	    access("/dev/tpm0", F_OK) != 0)
		return no_tpm(ctx, NULL, TSS2_TCTI_RC_IO_ERROR, ENOENT);
	errno = 0;
	rc = Tss2_TctiLdr_Initialize(conf, &c->tcti);
	err = errno;
	if (rc != TSS2_RC_SUCCESS) {
		c->tcti = NULL;
		return no_tpm(ctx, conf, rc, err);
	}
	if ((rc = Esys_Initialize(&c->esys, c->tcti, NULL)) !=
	    TSS2_RC_SUCCESS) {
		c->esys = NULL;
		hwk_tpm2_conn_close(c);
		return hwk_ctx_error(ctx, HWK_ERR_DEVICE, "cannot talk to the "
		    "TPM at %s (%s)", c->name, Tss2_RC_Decode(rc));
	}
	c->sharing = conn_sharing(c);
	return HWK_OK;
}

int
hwk_tpm2_keygen_conn_get(struct hwk_ctx *ctx, struct tpm2_conn **cp)
{
	const char *conf = tcti_conf(ctx);
	int r;

	*cp = NULL;
	if (keygen_conn.esys == NULL ||
	    strcmp(keygen_conn.conf, conf != NULL ? conf : "") != 0) {
		hwk_tpm2_conn_close(&keygen_conn);
		if ((r = hwk_tpm2_conn_open(ctx, &keygen_conn)) != 0)
			return r;
	}
	*cp = &keygen_conn;
	return HWK_OK;
}

void
hwk_tpm2_keygen_conn_close(void)
{
	hwk_tpm2_conn_close(&keygen_conn);
}

/*
 * Salted to the parent (salt), which only this TPM can unwrap: the HMAC
 * of a password gives a listener nothing, and with encrypt a password
 * sent as the command's first parameter travels encrypted.  A session
 * that starts but cannot be set up stays in *sessp for the caller to
 * flush.
 */
int
hwk_tpm2_session_start(struct hwk_ctx *ctx, struct tpm2_conn *c,
    ESYS_TR salt, ESYS_TR bind, int encrypt, ESYS_TR *sessp, TSS2_RC *rcp)
{
	TSS2_RC rc;

	rc = Esys_StartAuthSession(c->esys, salt, bind, ESYS_TR_NONE,
	    ESYS_TR_NONE, ESYS_TR_NONE, NULL, TPM2_SE_HMAC,
	    encrypt ? &session_aes : &session_nosym, TPM2_ALG_SHA256, sessp);
	if (rc != TSS2_RC_SUCCESS) {
		*sessp = ESYS_TR_NONE;
		*rcp = rc;
		return hwk_tpm2_rc_error(ctx, c, rc, "a salted session "
		    "(TPM2_StartAuthSession)");
	}
	if (encrypt && (rc = Esys_TRSess_SetAttributes(c->esys, *sessp,
	    TPMA_SESSION_DECRYPT, 0xff)) != TSS2_RC_SUCCESS) {
		*rcp = rc;
		return hwk_tpm2_rc_error(ctx, c, rc, "setting up the session");
	}
	return HWK_OK;
}
