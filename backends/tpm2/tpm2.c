/*
 * The TPM 2.0 backend: RSA keys created inside the TPM under its storage
 * key, so the private key never leaves it; the private file holds a
 * TSS2 PRIVATE KEY stub that tpm2-openssl and the other TPM tools load.
 * Built on tpm2-tss: ESAPI for the commands and sessions, tctildr to find
 * the TPM, MU (in tpm2_keyfile.c) for the stub.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_sys.h>
#include <tss2/tss2_tctildr.h>

#include "hwkey/backend.h"
#include "hwkey/buf.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "hwkey/out.h"
#include "hwkey/secret.h"
#include "hwkey/sshkey.h"
#include "backends.h"
#include "tpm2_keyfile.h"

#define TPM2_DEFAULT_BITS	2048	/* the one size every TPM makes */
#define AUTH_MAX		32	/* authValue: at most the SHA-256 size */
#define PASS_MAX		HWK_SECRET_MAX	/* as -N, -P and the prompt */
#define TCTI_NAME_MAX		256
#define PERSISTENT_FIRST	0x81000000u
#define PERSISTENT_LAST		0x81ffffffu

/* The TCG ECC P-256 storage key (SRK template H-2): what parent 0x40000001 means. */
static const TPM2B_PUBLIC srk_template = {
	.publicArea = {
		.type = TPM2_ALG_ECC,
		.nameAlg = TPM2_ALG_SHA256,
		.objectAttributes = TPMA_OBJECT_FIXEDTPM |
		    TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
		    TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA |
		    TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT,
		.parameters.eccDetail = {
			.symmetric = {
				.algorithm = TPM2_ALG_AES,
				.keyBits.aes = 128,
				.mode.aes = TPM2_ALG_CFB,
			},
			.scheme.scheme = TPM2_ALG_NULL,
			.curveID = TPM2_ECC_NIST_P256,
			.kdf.scheme = TPM2_ALG_NULL,
		},
	},
};

/* Parameter encryption of the session that carries a new key's password. */
static const TPMT_SYM_DEF session_aes = {
	.algorithm = TPM2_ALG_AES,
	.keyBits.aes = 128,
	.mode.aes = TPM2_ALG_CFB,
};

static const TPMT_SYM_DEF session_nosym = {
	.algorithm = TPM2_ALG_NULL,
};

#define ORPHANS_MAX	4

/*
 * How the TPM behind a connection is shared, which decides how long a key
 * may stay loaded in it (docs/tpm2.md, "Keys kept loaded").
 */
enum tpm2_sharing {
	/* A resource manager (/dev/tpmrm*, tabrmd): each connection has
	 * object slots of its own; keys stay loaded. */
	TPM_SHARED,
	/* No resource manager (swtpm, mssim): every program shares the
	 * TPM's three object slots; a process keeps at most one key. */
	TPM_DIRECT,
	/* A raw device node (/dev/tpm0) that one process opens at a time:
	 * nothing is held between signatures. */
	TPM_EXCLUSIVE,
};

/* One connection to the TPM. */
struct tpm2_conn {
	TSS2_TCTI_CONTEXT	*tcti;
	ESYS_CONTEXT		*esys;
	char			 conf[TCTI_NAME_MAX];	/* "": the TSS default */
	char			 name[TCTI_NAME_MAX];	/* for messages */
	enum tpm2_sharing	 sharing;
	/* Handles ESYS could not flush after a lost command; see conn_close. */
	TPM2_HANDLE		 orphans[ORPHANS_MAX];
	size_t			 norphans;
};

/* key->impl: the stub, and once signing began, the key loaded in the TPM. */
struct tpm2_key {
	struct hwk_tpm2_keyfile	 kf;
	struct tpm2_conn	 conn;
	ESYS_TR			 handle;	/* the loaded key */
	ESYS_TR			 session;	/* salted HMAC session for it */
	int			 authed;	/* its password is set on handle */
	/* The password the TPM took, to load the key again after a reset. */
	TPM2B_AUTH		 auth;
	int			 have_auth;
};

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

/* The response code without its layer and handle/session/parameter number. */
static TSS2_RC
rc_base(TSS2_RC rc)
{
	TSS2_RC layer = rc & TSS2_RC_LAYER_MASK;

	if (layer != TSS2_TPM_RC_LAYER && layer != TSS2_RESMGR_TPM_RC_LAYER)
		return rc;
	rc &= ~TSS2_RC_LAYER_MASK;
	if (rc & TPM2_RC_FMT1)
		return rc & (TPM2_RC_FMT1 | 0x3f);
	return rc;
}

static int
rc_is_tcti(TSS2_RC rc)
{
	return (rc & TSS2_RC_LAYER_MASK) == TSS2_TCTI_RC_LAYER;
}

/*
 * No answer from the TPM: the command was lost on the way (TCTI) or the
 * TSS refused it (SAPI, ESYS).  After a lost command ESYS refuses every
 * later one ("function called in the wrong order"): the connection is
 * good for nothing but closing.
 */
static int
rc_is_lost(TSS2_RC rc)
{
	TSS2_RC layer = rc & TSS2_RC_LAYER_MASK;

	return rc != TSS2_RC_SUCCESS && (layer == TSS2_TCTI_RC_LAYER ||
	    layer == TSS2_SYS_RC_LAYER || layer == TSS2_ESAPI_RC_LAYER);
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

/*
 * Why no TPM answered at conf, in words.  err is the errno the TCTI
 * loader left: the words for a device node that opens for us but not for
 * the TSS.
 */
static int
no_tpm(struct hwk_ctx *ctx, const char *conf, TSS2_RC rc, int err)
{
	const char *path, *s;
	int e1, e2;

	if (conf == NULL) {
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

static void
conn_close(struct tpm2_conn *c)
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

/* Flushes an object or session; if ESYS cannot, remembers it for conn_close. */
static void
conn_flush(struct tpm2_conn *c, ESYS_TR *trp)
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
		    TSS2_RC_SUCCESS && c->norphans < ORPHANS_MAX)
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
	char mod[TCTI_NAME_MAX];

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
static int
conn_open(struct hwk_ctx *ctx, struct tpm2_conn *c)
{
	const char *conf = tcti_conf(ctx);
	TSS2_RC rc;
	int err;

	memset(c, 0, sizeof(*c));
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
		conn_close(c);
		return hwk_ctx_error(ctx, HWK_ERR_DEVICE, "cannot talk to the "
		    "TPM at %s (%s)", c->name, Tss2_RC_Decode(rc));
	}
	c->sharing = conn_sharing(c);
	return HWK_OK;
}

/* A failed command in words; the callers handle the codes they expect. */
static int
tss_error(struct hwk_ctx *ctx, const struct tpm2_conn *c, TSS2_RC rc,
    const char *what)
{
	if (rc_is_tcti(rc)) {
		hwk_ctx_error(ctx, HWK_ERR_NO_DEVICE, "lost the TPM at %s "
		    "during %s (%s)", c->name, what, Tss2_RC_Decode(rc));
		hwk_ctx_hint(ctx, "The TPM stopped answering; nothing was "
		    "kept.  Check that it is still there and try again.");
		return HWK_ERR_NO_DEVICE;
	}
	switch (rc_base(rc)) {
	case TPM2_RC_OBJECT_MEMORY:
	case TPM2_RC_SESSION_MEMORY:
	case TPM2_RC_MEMORY:
	case TPM2_RC_SESSION_HANDLES:
	case TPM2_RC_OBJECT_HANDLES:
		hwk_ctx_error(ctx, HWK_ERR_DEVICE_FULL, "the TPM has no room "
		    "for %s (%s)", what, Tss2_RC_Decode(rc));
		hwk_ctx_hint(ctx, "Other programs hold its object or session "
		    "slots: see tpm2_getcap handles-transient; a resource "
		    "manager (device:/dev/tpmrm0) shares them.");
		return HWK_ERR_DEVICE_FULL;
	case TPM2_RC_LOCKOUT:
		hwk_ctx_error(ctx, HWK_ERR_LOCKOUT, "the TPM is in "
		    "dictionary-attack lockout and refused %s", what);
		hwk_ctx_hint(ctx, "Wait for its lockout interval, or have the "
		    "TPM's owner run: tpm2_dictionarylockout --clear-lockout");
		return HWK_ERR_LOCKOUT;
	}
	return hwk_ctx_error(ctx, HWK_ERR_DEVICE, "the TPM at %s refused %s: "
	    "%s", c->name, what, Tss2_RC_Decode(rc));
}

/* The dictionary-attack counters, for messages; 0 on success. */
static int
da_state(struct tpm2_conn *c, uint32_t *failed, uint32_t *max,
    uint32_t *interval)
{
	TPMS_CAPABILITY_DATA *cap = NULL;
	TPMI_YES_NO more;
	const TPMS_TAGGED_PROPERTY *p;
	uint32_t i;

	*failed = *max = *interval = 0;
	if (Esys_GetCapability(c->esys, ESYS_TR_NONE, ESYS_TR_NONE,
	    ESYS_TR_NONE, TPM2_CAP_TPM_PROPERTIES, TPM2_PT_LOCKOUT_COUNTER, 3,
	    &more, &cap) != TSS2_RC_SUCCESS)
		return -1;
	for (i = 0; i < cap->data.tpmProperties.count &&
	    i < TPM2_MAX_TPM_PROPERTIES; i++) {
		p = &cap->data.tpmProperties.tpmProperty[i];
		if (p->property == TPM2_PT_LOCKOUT_COUNTER)
			*failed = p->value;
		else if (p->property == TPM2_PT_MAX_AUTH_FAIL)
			*max = p->value;
		else if (p->property == TPM2_PT_LOCKOUT_INTERVAL)
			*interval = p->value;
	}
	Esys_Free(cap);
	return 0;
}

/*
 * A wrong password or a lockout, with how many tries are left or how to
 * recover.  A key without a password (emptyAuth) can only meet a lockout
 * that other keys' wrong passwords caused, when it was made without noDA.
 */
static int
auth_error(struct hwk_ctx *ctx, struct tpm2_conn *c, TSS2_RC rc,
    int empty_auth)
{
	uint32_t failed, max, interval;
	int known = da_state(c, &failed, &max, &interval) == 0 && max > 0;

	if (rc_base(rc) == TPM2_RC_LOCKOUT) {
		if (empty_auth)
			hwk_ctx_error(ctx, HWK_ERR_LOCKOUT, "the TPM is in "
			    "dictionary-attack lockout, and this key, which "
			    "has no password, was made without noDA, so the "
			    "lockout covers it too");
		else
			hwk_ctx_error(ctx, HWK_ERR_LOCKOUT, "the TPM is in "
			    "dictionary-attack lockout after too many wrong "
			    "passwords: it refuses every password, the right "
			    "one too");
		if (known && interval > 0)
			hwk_ctx_hint(ctx, "It forgets one failure every %u s; "
			    "or the TPM's owner ends the lockout now with: "
			    "tpm2_dictionarylockout --clear-lockout", interval);
		else
			hwk_ctx_hint(ctx, "The TPM's owner ends the lockout "
			    "with: tpm2_dictionarylockout --clear-lockout");
		return HWK_ERR_LOCKOUT;
	}
	hwk_ctx_error(ctx, HWK_ERR_WRONG_PASSPHRASE, "wrong passphrase for "
	    "the TPM key");
	if (known && failed < max)
		hwk_ctx_hint(ctx, "The TPM counts wrong passwords: after %u "
		    "more it locks out (dictionary-attack protection).",
		    max - failed);
	else if (known)
		hwk_ctx_hint(ctx, "That was the TPM's last allowed failure: it "
		    "is now in dictionary-attack lockout "
		    "(tpm2_dictionarylockout --clear-lockout ends it).");
	return HWK_ERR_WRONG_PASSPHRASE;
}

/* --parent: 0 for the default SRK, else a persistent handle. */
static int
parent_option(struct hwk_ctx *ctx, uint32_t *handlep)
{
	const char *s = hwk_ctx_opt(ctx, "parent");
	unsigned long v;
	char *end;

	*handlep = TPM2_RH_OWNER;
	if (s == NULL || strcasecmp(s, "owner") == 0)
		return HWK_OK;
	errno = 0;
	v = strtoul(s, &end, 16);
	if (*s == '\0' || *end != '\0' || errno != 0 || v > UINT32_MAX ||
	    (v != TPM2_RH_OWNER && (v < PERSISTENT_FIRST ||
	    v > PERSISTENT_LAST))) {
		hwk_ctx_error(ctx, HWK_ERR_USAGE, "--parent %s: not a "
		    "persistent key handle (0x81000000 to 0x81ffffff)", s);
		hwk_ctx_hint(ctx, "Leave out --parent to use the TPM's "
		    "standard storage key; tpm2_getcap handles-persistent "
		    "lists the persistent keys.");
		return HWK_ERR_USAGE;
	}
	*handlep = (uint32_t)v;
	return HWK_OK;
}

static int
parent_supported(struct hwk_ctx *ctx, uint32_t handle)
{
	if (handle == TPM2_RH_OWNER ||
	    (handle >= PERSISTENT_FIRST && handle <= PERSISTENT_LAST))
		return HWK_OK;
	return hwk_ctx_error(ctx, HWK_ERR_UNSUPPORTED, "the key's parent is "
	    "0x%08x; hwkeygen loads keys under the owner's storage key "
	    "(0x40000001) or a persistent key (0x81xxxxxx)", handle);
}

/* A persistent parent must exist and be a storage key: restricted decrypt. */
static int
parent_check(struct hwk_ctx *ctx, struct tpm2_conn *c, uint32_t handle)
{
	TSS2_SYS_CONTEXT *sys = NULL;
	TPM2B_PUBLIC pub;
	TPM2B_NAME name, qname;
	TPMA_OBJECT a;
	TSS2_RC rc;

	memset(&pub, 0, sizeof(pub));
	memset(&name, 0, sizeof(name));
	memset(&qname, 0, sizeof(qname));
	if ((rc = Esys_GetSysContext(c->esys, &sys)) != TSS2_RC_SUCCESS)
		return tss_error(ctx, c, rc, "a look at the parent");
	/* Straight through SAPI: one ReadPublic, no ESYS object to close. */
	rc = Tss2_Sys_ReadPublic(sys, handle, NULL, &pub, &name, &qname, NULL);
	if (rc_base(rc) == TPM2_RC_HANDLE) {
		hwk_ctx_error(ctx, HWK_ERR_NOT_FOUND, "there is no persistent "
		    "key 0x%08x in the TPM at %s", handle, c->name);
		hwk_ctx_hint(ctx, "tpm2_getcap handles-persistent lists them; "
		    "leave out --parent to use the TPM's standard storage "
		    "key.");
		return HWK_ERR_NOT_FOUND;
	}
	if (rc != TSS2_RC_SUCCESS)
		return tss_error(ctx, c, rc, "reading the parent (TPM2_ReadPublic)");
	a = pub.publicArea.objectAttributes;
	if ((pub.publicArea.type != TPM2_ALG_ECC &&
	    pub.publicArea.type != TPM2_ALG_RSA) ||
	    !(a & TPMA_OBJECT_RESTRICTED) || !(a & TPMA_OBJECT_DECRYPT) ||
	    (a & TPMA_OBJECT_SIGN_ENCRYPT)) {
		hwk_ctx_error(ctx, HWK_ERR_INVALID_ARG, "the key 0x%08x is not "
		    "a storage key (a restricted decrypt key), so it cannot be "
		    "a parent", handle);
		hwk_ctx_hint(ctx, "Make one with: tpm2_createprimary -C o -G "
		    "ecc -c srk.ctx && tpm2_evictcontrol -c srk.ctx 0x81000001; "
		    "or leave out --parent.");
		return HWK_ERR_INVALID_ARG;
	}
	return HWK_OK;
}

/* The parent as an ESYS object: the SRK re-created, or the persistent key. */
static int
parent_open(struct hwk_ctx *ctx, struct tpm2_conn *c, uint32_t handle,
    ESYS_TR *trp)
{
	TPM2B_SENSITIVE_CREATE sens;
	TPM2B_DATA outside;
	TPML_PCR_SELECTION pcrs;
	TSS2_RC rc;

	*trp = ESYS_TR_NONE;
	if (handle == TPM2_RH_OWNER) {
		memset(&sens, 0, sizeof(sens));
		memset(&outside, 0, sizeof(outside));
		memset(&pcrs, 0, sizeof(pcrs));
		rc = Esys_CreatePrimary(c->esys, ESYS_TR_RH_OWNER,
		    ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sens,
		    &srk_template, &outside, &pcrs, trp, NULL, NULL, NULL,
		    NULL);
		if (rc != TSS2_RC_SUCCESS) {
			*trp = ESYS_TR_NONE;
			if (rc_base(rc) == TPM2_RC_BAD_AUTH ||
			    rc_base(rc) == TPM2_RC_AUTH_FAIL) {
				hwk_ctx_error(ctx, HWK_ERR_DEVICE, "the TPM's "
				    "owner hierarchy has a password, so its "
				    "storage key cannot be made");
				hwk_ctx_hint(ctx, "Make a persistent storage "
				    "key once (tpm2_createprimary -C o -P "
				    "OWNERPASS -G ecc -c srk.ctx && "
				    "tpm2_evictcontrol -C o -P OWNERPASS -c "
				    "srk.ctx 0x81000001) and give --parent "
				    "0x81000001.");
				return HWK_ERR_DEVICE;
			}
			return tss_error(ctx, c, rc, "making the storage key "
			    "(TPM2_CreatePrimary)");
		}
		return HWK_OK;
	}
	rc = Esys_TR_FromTPMPublic(c->esys, handle, ESYS_TR_NONE, ESYS_TR_NONE,
	    ESYS_TR_NONE, trp);
	if (rc != TSS2_RC_SUCCESS) {
		*trp = ESYS_TR_NONE;
		if (rc_base(rc) == TPM2_RC_HANDLE) {
			hwk_ctx_error(ctx, HWK_ERR_NOT_FOUND, "the parent key "
			    "0x%08x is not in the TPM at %s", handle, c->name);
			hwk_ctx_hint(ctx, "tpm2_getcap handles-persistent lists "
			    "the persistent keys; the key can only be used "
			    "under the parent it was made under.");
			return HWK_ERR_NOT_FOUND;
		}
		return tss_error(ctx, c, rc, "reading the parent key");
	}
	return HWK_OK;
}

/* Drops the parent: the SRK is flushed, a persistent key only forgotten. */
static void
parent_close(struct tpm2_conn *c, uint32_t handle, ESYS_TR *trp)
{
	if (*trp == ESYS_TR_NONE || c->esys == NULL)
		return;
	if (handle == TPM2_RH_OWNER)
		conn_flush(c, trp);
	else
		Esys_TR_Close(c->esys, trp);
	*trp = ESYS_TR_NONE;
}

/*
 * The connection of a keygen, from probe through check to generate: each
 * TCTI init loads a library and connects, so one is enough.  It holds
 * nothing in the TPM; generate, or a failed check, closes it.
 */
static struct tpm2_conn keygen_conn;

static int
keygen_conn_get(struct hwk_ctx *ctx, struct tpm2_conn **cp)
{
	const char *conf = tcti_conf(ctx);
	int r;

	*cp = NULL;
	if (keygen_conn.esys == NULL ||
	    strcmp(keygen_conn.conf, conf != NULL ? conf : "") != 0) {
		conn_close(&keygen_conn);
		if ((r = conn_open(ctx, &keygen_conn)) != 0)
			return r;
	}
	*cp = &keygen_conn;
	return HWK_OK;
}

/*
 * --parent, and --tcti: only the TCTI can read its settings, as it
 * connects, and a typo there must not look like a TPM that is absent.
 */
static int
tpm2_check_opts(struct hwk_ctx *ctx)
{
	const char *s = hwk_ctx_opt(ctx, "tcti");
	struct tpm2_conn *c;
	uint32_t parent;
	int r;

	if ((r = parent_option(ctx, &parent)) != 0 || s == NULL)
		return r;
	if (*s == '\0') {
		hwk_ctx_error(ctx, HWK_ERR_USAGE, "--tcti: give the TCTI that "
		    "reaches the TPM");
		hwk_ctx_hint(ctx, "For example --tcti device:/dev/tpmrm0 or "
		    "--tcti swtpm:host=127.0.0.1,port=2321.");
		return HWK_ERR_USAGE;
	}
	/* The connection is kept for the probe; an absent TPM is no error. */
	if ((r = keygen_conn_get(ctx, &c)) == HWK_ERR_USAGE)
		return r;
	hwk_ctx_clear_error(ctx);
	return HWK_OK;
}

/* Reaches the TPM without a command: the TCTI connects or opens the device. */
static int
tpm2_probe(struct hwk_ctx *ctx)
{
	struct tpm2_conn *c;
	int r;

	if ((r = keygen_conn_get(ctx, &c)) == 0)
		hwk_ctx_found(ctx, "TPM at %s", c->name);
	return r;
}

static TSS2_RC
test_rsa_bits(struct tpm2_conn *c, unsigned bits)
{
	TPMT_PUBLIC_PARMS p;

	memset(&p, 0, sizeof(p));
	p.type = TPM2_ALG_RSA;
	p.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
	p.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
	p.parameters.rsaDetail.keyBits = (TPMI_RSA_KEY_BITS)bits;
	p.parameters.rsaDetail.exponent = 0;
	return Esys_TestParms(c->esys, ESYS_TR_NONE, ESYS_TR_NONE,
	    ESYS_TR_NONE, &p);
}

/* The TPM's own "no" to parameters, as opposed to not answering. */
static int
rc_is_refusal(TSS2_RC rc)
{
	TSS2_RC layer = rc & TSS2_RC_LAYER_MASK;

	return (layer == TSS2_TPM_RC_LAYER ||
	    layer == TSS2_RESMGR_TPM_RC_LAYER) && (rc & TPM2_RC_FMT1);
}

/* Says which RSA sizes the TPM makes, when it refused the one asked for. */
static int
bits_refused(struct hwk_ctx *ctx, struct tpm2_conn *c, unsigned bits)
{
	static const unsigned sizes[] = { 2048, 3072, 4096 };
	char list[64] = "";
	size_t i, n = 0;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		if (sizes[i] != bits && test_rsa_bits(c, sizes[i]) ==
		    TSS2_RC_SUCCESS)
			n += (size_t)snprintf(list + n, sizeof(list) - n,
			    "%s%u", n == 0 ? "" : " and ", sizes[i]);
	hwk_ctx_error(ctx, HWK_ERR_KEY_SIZE, "the TPM at %s cannot make "
	    "RSA-%u keys%s%s", c->name, bits, n > 0 ? "; it makes RSA " : "",
	    list);
	if (n > 0)
		hwk_ctx_hint(ctx, "Use -b with a size the TPM supports (%s), "
		    "or --backend software for a larger key kept in a file.",
		    list);
	else
		hwk_ctx_hint(ctx, "This TPM makes no RSA key of 2048 bits or "
		    "more; use --backend software.");
	return HWK_ERR_KEY_SIZE;
}

/* The passphrase, when known, is short enough to be a TPM password. */
static int
pass_fits(struct hwk_ctx *ctx, const struct hwk_genparams *gp)
{
	size_t plen = gp->passphrase != NULL ? strlen(gp->passphrase) : 0;

	if (plen <= AUTH_MAX)
		return HWK_OK;
	hwk_ctx_error(ctx, HWK_ERR_TOO_LARGE, "the passphrase is %zu "
	    "bytes; a TPM key's password is at most %d (the size of its "
	    "SHA-256 name hash)", plen, AUTH_MAX);
	hwk_ctx_hint(ctx, "Choose a passphrase of at most %d characters; "
	    "the TPM's lockout makes short ones safe.", AUTH_MAX);
	return HWK_ERR_TOO_LARGE;
}

static int
tpm2_check(struct hwk_ctx *ctx, const struct hwk_genparams *gp)
{
	struct tpm2_conn *c = NULL;
	uint32_t parent;
	TSS2_RC rc;
	int r;

	if (gp->type != HWK_KEY_RSA)
		r = hwk_ctx_error(ctx, HWK_ERR_KEY_TYPE,
		    "only RSA keys are supported");
	else if ((r = pass_fits(ctx, gp)) != 0 ||
	    (r = hwk_rsa_bits_check(ctx, gp->bits)) != 0 ||
	    (r = parent_option(ctx, &parent)) != 0 ||
	    (r = keygen_conn_get(ctx, &c)) != 0)
		;
	else if ((rc = test_rsa_bits(c, gp->bits)) != TSS2_RC_SUCCESS)
		r = rc_is_refusal(rc) ? bits_refused(ctx, c, gp->bits) :
		    tss_error(ctx, c, rc, "a question (TPM2_TestParms)");
	else if (parent != TPM2_RH_OWNER)
		r = parent_check(ctx, c, parent);
	/* Kept open for generate only when the keygen goes on. */
	if (r != 0)
		conn_close(&keygen_conn);
	return r;
}

/*
 * RSA, SHA-256 names, unrestricted sign|decrypt, scheme NULL.  With a
 * password the TPM's dictionary-attack lockout protects it; without one
 * there is nothing to guess, and noDA keeps a lockout (caused by any
 * other key) from locking the user out of this one.
 */
static void
key_template(unsigned bits, int has_password, TPM2B_PUBLIC *t)
{
	memset(t, 0, sizeof(*t));
	t->publicArea.type = TPM2_ALG_RSA;
	t->publicArea.nameAlg = TPM2_ALG_SHA256;
	t->publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM |
	    TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
	    TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_SIGN_ENCRYPT |
	    TPMA_OBJECT_DECRYPT;
	if (!has_password)
		t->publicArea.objectAttributes |= TPMA_OBJECT_NODA;
	t->publicArea.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
	t->publicArea.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
	t->publicArea.parameters.rsaDetail.keyBits = (TPMI_RSA_KEY_BITS)bits;
	t->publicArea.parameters.rsaDetail.exponent = 0;	/* 65537 */
}

/*
 * ESYS keeps a copy of TPM2_Create's inputs, the password among them, in
 * its context until it frees it, unwiped.  A Create that ESYS refuses
 * before sending anything (its parent is no object ESYS knows) stores
 * zeros over that copy.
 */
static void
scrub_create_inputs(struct tpm2_conn *c)
{
	TPM2B_SENSITIVE_CREATE sens;
	TPM2B_PUBLIC pub;
	TPM2B_DATA outside;
	TPML_PCR_SELECTION pcrs;

	if (c->esys == NULL)
		return;
	memset(&sens, 0, sizeof(sens));
	memset(&pub, 0, sizeof(pub));
	memset(&outside, 0, sizeof(outside));
	memset(&pcrs, 0, sizeof(pcrs));
	(void)Esys_Create_Async(c->esys, (ESYS_TR)0xfffffffeU,
	    ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sens, &pub, &outside,
	    &pcrs);
}

static struct tpm2_key *
tpm2_key_new(void)
{
	struct tpm2_key *tk;

	if ((tk = calloc(1, sizeof(*tk))) == NULL)
		return NULL;
	tk->handle = ESYS_TR_NONE;
	tk->session = ESYS_TR_NONE;
	return tk;
}

/* A key object around a stub; takes tk. */
static int
key_wrap(struct hwk_ctx *ctx, struct tpm2_key *tk, struct hwk_key **keyp)
{
	EVP_PKEY *pkey = NULL;
	const char *why = NULL;
	int r;

	*keyp = NULL;
	if ((r = hwk_tpm2_pub_to_evp(&tk->kf.pub.publicArea, &pkey,
	    &why)) != 0) {
		hwk_ctx_error(ctx, r, "the TPM key cannot be used: %s",
		    why != NULL && *why != '\0' ? why : hwk_strerror(r));
		goto out;
	}
	if ((r = hwk_key_new(&hwk_backend_tpm2, keyp)) != 0)
		goto out;
	(*keyp)->pkey = pkey;
	(*keyp)->impl = tk;
	pkey = NULL;
	tk = NULL;
 out:
	EVP_PKEY_free(pkey);
	if (tk != NULL) {
		hwk_tpm2_keyfile_clear(&tk->kf);
		free(tk);
	}
	return r;
}

static int
tpm2_generate(struct hwk_ctx *ctx, const struct hwk_genparams *gp,
    struct hwk_key **keyp)
{
	struct tpm2_conn *c = NULL;
	struct tpm2_key *tk = NULL;
	TPM2B_SENSITIVE_CREATE sens;
	TPM2B_PUBLIC tmpl, *pub = NULL;
	TPM2B_PRIVATE *priv = NULL;
	TPM2B_DATA outside;
	TPML_PCR_SELECTION pcrs;
	ESYS_TR parent = ESYS_TR_NONE, session = ESYS_TR_NONE;
	uint32_t parent_handle;
	size_t plen;
	TSS2_RC rc;
	int r;

	*keyp = NULL;
	memset(&sens, 0, sizeof(sens));
	memset(&outside, 0, sizeof(outside));
	memset(&pcrs, 0, sizeof(pcrs));
	parent_handle = TPM2_RH_OWNER;
	plen = gp->passphrase != NULL ? strlen(gp->passphrase) : 0;
	if (gp->type != HWK_KEY_RSA) {
		r = hwk_ctx_error(ctx, HWK_ERR_KEY_TYPE,
		    "only RSA keys are supported");
		goto out;
	}
	if ((r = hwk_rsa_bits_check(ctx, gp->bits)) != 0 ||
	    (r = parent_option(ctx, &parent_handle)) != 0 ||
	    (r = pass_fits(ctx, gp)) != 0)
		goto out;
	if (!gp->bits_given)
		hwk_ctx_notice(ctx, "Making an RSA-%u key inside the TPM (the "
		    "size every TPM supports; -b 3072 for a larger one).",
		    gp->bits);
	else
		hwk_ctx_notice(ctx, "Making an RSA-%u key inside the TPM.",
		    gp->bits);
	if ((tk = tpm2_key_new()) == NULL) {
		r = HWK_ERR_NOMEM;
		goto out;
	}
	if ((r = keygen_conn_get(ctx, &c)) != 0 ||
	    (r = parent_open(ctx, c, parent_handle, &parent)) != 0)
		goto out;
	key_template(gp->bits, plen > 0, &tmpl);
	if (plen > 0) {
		/*
		 * The password travels in inSensitive: encrypt it with a key
		 * salted to the parent, which only this TPM can unwrap.  With
		 * continueSession clear the TPM ends the session itself.
		 */
		rc = Esys_StartAuthSession(c->esys, parent, parent,
		    ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, NULL,
		    TPM2_SE_HMAC, &session_aes, TPM2_ALG_SHA256, &session);
		if (rc != TSS2_RC_SUCCESS) {
			session = ESYS_TR_NONE;
			r = tss_error(ctx, c, rc, "a salted session "
			    "(TPM2_StartAuthSession)");
			goto out;
		}
		if ((rc = Esys_TRSess_SetAttributes(c->esys, session,
		    TPMA_SESSION_DECRYPT, 0xff)) != TSS2_RC_SUCCESS) {
			r = tss_error(ctx, c, rc, "setting up the session");
			goto out;
		}
		sens.sensitive.userAuth.size = (UINT16)plen;
		memcpy(sens.sensitive.userAuth.buffer, gp->passphrase, plen);
	}
	rc = Esys_Create(c->esys, parent, session != ESYS_TR_NONE ? session :
	    ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sens, &tmpl,
	    &outside, &pcrs, &priv, &pub, NULL, NULL, NULL);
	if (plen > 0)
		scrub_create_inputs(c);
	if (rc != TSS2_RC_SUCCESS) {
		if (rc_base(rc) == TPM2_RC_KEY_SIZE ||
		    rc_base(rc) == TPM2_RC_VALUE)
			r = bits_refused(ctx, c, gp->bits);
		else if (rc_base(rc) == TPM2_RC_AUTH_FAIL ||
		    rc_base(rc) == TPM2_RC_BAD_AUTH)
			r = hwk_ctx_error(ctx, HWK_ERR_DEVICE, "the parent key "
			    "0x%08x has a password; hwkeygen uses parents "
			    "without one", parent_handle);
		else
			r = tss_error(ctx, c, rc, "making the key "
			    "(TPM2_Create)");
		goto out;
	}
	/* The TPM ended the session with the command (continueSession clear). */
	if (session != ESYS_TR_NONE)
		Esys_TR_Close(c->esys, &session);
	session = ESYS_TR_NONE;
	tk->kf.empty_auth = plen == 0;
	tk->kf.parent = parent_handle;
	tk->kf.pub = *pub;
	tk->kf.priv = *priv;
	r = key_wrap(ctx, tk, keyp);
	tk = NULL;	/* owned by *keyp, or freed */
 out:
	explicit_bzero(&sens, sizeof(sens));
	if (c != NULL) {
		conn_flush(c, &session);
		parent_close(c, parent_handle, &parent);
	}
	conn_close(&keygen_conn);
	Esys_Free(pub);
	Esys_Free(priv);
	free(tk);
	return r;
}

static int
tpm2_write_stub(struct hwk_ctx *ctx, const struct hwk_key *key,
    const struct hwk_genparams *gp, struct hwk_buf *out)
{
	const struct tpm2_key *tk = key->impl;
	int r;

	(void)gp;
	if (tk == NULL)
		return hwk_ctx_error(ctx, HWK_ERR_INTERNAL, "no TPM key");
	if ((r = hwk_tpm2_keyfile_write(&tk->kf, out)) != 0)
		return hwk_ctx_error(ctx, r, "cannot encode the TPM key file: "
		    "%s", hwk_strerror(r));
	return HWK_OK;
}

static int
tpm2_claims(const uint8_t *stub, size_t len)
{
	return hwk_tpm2_keyfile_claims(stub, len);
}

static int
tpm2_stub_info(const uint8_t *stub, size_t len, struct hwk_stubinfo *info)
{
	struct hwk_tpm2_keyfile kf;
	int r;

	memset(info, 0, sizeof(*info));
	if ((r = hwk_tpm2_keyfile_read(stub, len, &kf, NULL)) != 0)
		return r;
	if ((r = hwk_tpm2_pub_to_pubkey(&kf.pub.publicArea, &info->pub,
	    NULL)) == 0)
		info->protection = kf.empty_auth ? "none" : "TPM password";
	hwk_tpm2_keyfile_clear(&kf);
	return r;
}

/* Reads the stub only: -y and -l work with no TPM, signing connects later. */
static int
tpm2_load(struct hwk_ctx *ctx, const uint8_t *stub, size_t len,
    struct hwk_key **keyp)
{
	struct tpm2_key *tk;
	const char *why = NULL;
	TPMA_OBJECT a;
	int r;

	*keyp = NULL;
	if ((tk = tpm2_key_new()) == NULL)
		return HWK_ERR_NOMEM;
	if ((r = hwk_tpm2_keyfile_read(stub, len, &tk->kf, &why)) != 0) {
		/* No reason for failures of our own, such as no memory. */
		hwk_ctx_error(ctx, r, "not a usable TPM key file: %s",
		    why != NULL && *why != '\0' ? why : hwk_strerror(r));
		goto fail;
	}
	a = tk->kf.pub.publicArea.objectAttributes;
	if ((r = parent_supported(ctx, tk->kf.parent)) != 0)
		goto fail;
	if (a & TPMA_OBJECT_RESTRICTED) {
		r = hwk_ctx_error(ctx, HWK_ERR_KEY_TYPE, "the TPM key is "
		    "restricted (an attestation or storage key): it cannot "
		    "sign SSH data");
		goto fail;
	}
	return key_wrap(ctx, tk, keyp);
 fail:
	hwk_tpm2_keyfile_clear(&tk->kf);
	free(tk);
	return r;
}

/*
 * The key this process holds in a TPM without a resource manager, where
 * every program shares three object slots: at most one (see key_load).
 */
static struct tpm2_key *resident;

/*
 * Overwrites ESYS's copy of the password on the loaded key with zeros.
 * Esys_TR_SetAuth sends nothing, so this works even when ESYS refuses
 * every command after a lost one.  Out of our reach: the HMAC key ESYS
 * derived from the password for the last command, kept in its session
 * object until the next command or the session's flush (freed unwiped);
 * and all of it once ESYS is finalized, which frees without wiping:
 * hence this comes before every conn_close of a loaded key.
 */
static void
auth_wipe_esys(struct tpm2_key *tk)
{
	TPM2B_AUTH none;

	if (tk->conn.esys == NULL || tk->handle == ESYS_TR_NONE)
		return;
	memset(&none, 0, sizeof(none));
	(void)Esys_TR_SetAuth(tk->conn.esys, tk->handle, &none);
}

/* Flushes what the key holds in the TPM and ends the connection. */
static void
key_unload(struct tpm2_key *tk)
{
	if (tk->conn.esys != NULL) {
		if (tk->handle != ESYS_TR_NONE) {
			auth_wipe_esys(tk);
			conn_flush(&tk->conn, &tk->handle);
		}
		conn_flush(&tk->conn, &tk->session);
	}
	tk->handle = tk->session = ESYS_TR_NONE;
	tk->authed = 0;
	conn_close(&tk->conn);
	if (resident == tk)
		resident = NULL;
}

/*
 * Loads the key under its parent, with a salted session if it has a
 * password; *rcp keeps the answer of a TPM2_Load or session that failed.
 */
static int
key_load(struct hwk_ctx *ctx, struct tpm2_key *tk, TSS2_RC *rcp)
{
	ESYS_TR parent = ESYS_TR_NONE;
	TSS2_RC rc;
	int r;

	if (tk->handle != ESYS_TR_NONE)
		return HWK_OK;
	/*
	 * Without a resource manager each key held takes one of the TPM's
	 * three object slots from every program: let go of the one this
	 * process holds (its key, session and connection) before the next.
	 */
	if (resident != NULL && resident != tk)
		key_unload(resident);
	if (tk->conn.esys == NULL && (r = conn_open(ctx, &tk->conn)) != 0)
		return r;
	if ((r = parent_open(ctx, &tk->conn, tk->kf.parent, &parent)) != 0)
		goto out;
	rc = Esys_Load(tk->conn.esys, parent, ESYS_TR_PASSWORD, ESYS_TR_NONE,
	    ESYS_TR_NONE, &tk->kf.priv, &tk->kf.pub, &tk->handle);
	if (rc != TSS2_RC_SUCCESS) {
		tk->handle = ESYS_TR_NONE;
		*rcp = rc;
		if (rc_base(rc) == TPM2_RC_INTEGRITY) {
			r = hwk_ctx_error(ctx, HWK_ERR_WRONG_DEVICE, "this key "
			    "file belongs to another TPM (or to a parent key "
			    "that was replaced): the TPM at %s cannot unwrap it",
			    tk->conn.name);
			hwk_ctx_hint(ctx, "A TPM key works only in the TPM that "
			    "made it, and not after that TPM was cleared.");
		} else
			r = tss_error(ctx, &tk->conn, rc, "loading the key "
			    "(TPM2_Load)");
		goto out;
	}
	if (!tk->kf.empty_auth) {
		/* Salted, so the HMAC of the password gives a listener nothing. */
		rc = Esys_StartAuthSession(tk->conn.esys, parent, ESYS_TR_NONE,
		    ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, NULL,
		    TPM2_SE_HMAC, &session_nosym, TPM2_ALG_SHA256,
		    &tk->session);
		if (rc != TSS2_RC_SUCCESS) {
			tk->session = ESYS_TR_NONE;
			*rcp = rc;
			r = tss_error(ctx, &tk->conn, rc, "a salted session "
			    "(TPM2_StartAuthSession)");
			goto out;
		}
	}
	r = HWK_OK;
 out:
	parent_close(&tk->conn, tk->kf.parent, &parent);
	/* ESYS is no use after a lost command: start over next time. */
	if (r == 0 && tk->conn.norphans > 0)
		r = hwk_ctx_error(ctx, HWK_ERR_NO_DEVICE, "lost the TPM at %s "
		    "while flushing the storage key", tk->conn.name);
	if (r != 0)
		key_unload(tk);
	else if (tk->conn.sharing != TPM_SHARED)
		resident = tk;
	return r;
}

/*
 * Forgets the password: it was wrong, or the key is done with.  ESYS's
 * copy goes too, or a wrong password would stay in its memory as long as
 * the key stays loaded (in the agent, until the next attempt).
 */
static void
auth_forget(struct tpm2_key *tk)
{
	auth_wipe_esys(tk);
	explicit_bzero(&tk->auth, sizeof(tk->auth));
	tk->have_auth = 0;
	tk->authed = 0;
}

/*
 * Sets the key's password, if it has one: the one it took before (the key
 * was loaded again), else -P, else a prompt.
 */
static int
key_auth(struct hwk_ctx *ctx, struct tpm2_key *tk)
{
	const char *p;
	char pass[PASS_MAX];
	size_t n;
	TSS2_RC rc;
	int r;

	if (tk->kf.empty_auth || tk->authed)
		return HWK_OK;
	pass[0] = '\0';
	if (tk->have_auth)
		goto set;
	if ((p = hwk_ctx_opt(ctx, "passphrase")) != NULL) {
		if (strlen(p) >= sizeof(pass)) {
			r = hwk_ctx_error(ctx, HWK_ERR_WRONG_PASSPHRASE, "wrong "
			    "passphrase for the TPM key (too long)");
			goto out;
		}
		strcpy(pass, p);
	} else if ((r = hwk_ctx_read_secret(ctx, "Enter passphrase: ", pass,
	    sizeof(pass))) != 0)
		goto out;
	if ((n = strlen(pass)) > AUTH_MAX) {
		r = hwk_ctx_error(ctx, HWK_ERR_WRONG_PASSPHRASE, "wrong "
		    "passphrase for the TPM key (TPM passwords are at most %d "
		    "bytes)", AUTH_MAX);
		goto out;
	}
	tk->auth.size = (UINT16)n;
	memcpy(tk->auth.buffer, pass, n);
	tk->have_auth = 1;
 set:
	if ((rc = Esys_TR_SetAuth(tk->conn.esys, tk->handle, &tk->auth)) !=
	    TSS2_RC_SUCCESS) {
		r = tss_error(ctx, &tk->conn, rc, "setting the password");
		goto out;
	}
	tk->authed = 1;
	r = HWK_OK;
 out:
	explicit_bzero(pass, sizeof(pass));
	return r;
}

static const EVP_MD *
sig_md(int alg, TPMI_ALG_HASH *halg)
{
	switch (alg) {
	case HWK_SIG_RSA_SHA1:
		*halg = TPM2_ALG_SHA1;
		return EVP_sha1();
	case HWK_SIG_RSA_SHA256:
		*halg = TPM2_ALG_SHA256;
		return EVP_sha256();
	case HWK_SIG_RSA_SHA512:
		*halg = TPM2_ALG_SHA512;
		return EVP_sha512();
	}
	return NULL;
}

/*
 * The TPM refused the digest's size or the scheme's hash: a TPM without
 * that hash (SHA-512 on some chips), or a key whose own scheme is fixed to
 * another one (see scheme_refused).
 */
static int
lacks_hash(TSS2_RC rc)
{
	TSS2_RC b = rc_base(rc);

	if ((rc & TSS2_RC_LAYER_MASK) != TSS2_TPM_RC_LAYER &&
	    (rc & TSS2_RC_LAYER_MASK) != TSS2_RESMGR_TPM_RC_LAYER)
		return 0;
	return (rc & TPM2_RC_FMT1) && (rc & TPM2_RC_P) &&
	    (b == TPM2_RC_SIZE || b == TPM2_RC_HASH || b == TPM2_RC_SCHEME ||
	    b == TPM2_RC_VALUE);
}

/* The key or its session is gone from the TPM (reset, or flushed by someone). */
static int
objects_lost(TSS2_RC rc)
{
	TSS2_RC b = rc_base(rc);

	return b == TPM2_RC_REFERENCE_H0 || b == TPM2_RC_REFERENCE_S0 ||
	    b == TPM2_RC_HANDLE || b == TPM2_RC_INITIALIZE;
}

/* The signature as a buffer of exactly the modulus length. */
static int
sig_out(const uint8_t *v, size_t len, size_t k, uint8_t **sigp,
    size_t *siglenp)
{
	uint8_t *s;

	if (len > k || (s = calloc(1, k)) == NULL)
		return len > k ? HWK_ERR_CRYPTO : HWK_ERR_NOMEM;
	memcpy(s + (k - len), v, len);
	*sigp = s;
	*siglenp = k;
	return HWK_OK;
}

/*
 * PKCS#1 v1.5 by raw RSA decryption: EM = 00 01 FF.. 00 || DigestInfo
 * (RFC 8017, 9.2), the DigestInfo encoded by OpenSSL.  For TPMs that lack
 * the hash: a decrypt key's raw private operation on EM is the signature.
 */
static int
encode_emsa(const EVP_MD *md, const uint8_t *dgst, size_t dlen, size_t k,
    TPM2B_PUBLIC_KEY_RSA *em)
{
	X509_SIG *di = NULL;
	X509_ALGOR *alg;
	ASN1_OCTET_STRING *os;
	uint8_t *der = NULL;
	int n, r = HWK_ERR_CRYPTO;

	memset(em, 0, sizeof(*em));
	if ((di = X509_SIG_new()) == NULL)
		goto out;
	X509_SIG_getm(di, &alg, &os);
	if (!X509_ALGOR_set0(alg, OBJ_nid2obj(EVP_MD_get_type(md)),
	    V_ASN1_NULL, NULL) || !ASN1_OCTET_STRING_set(os, dgst, (int)dlen) ||
	    (n = i2d_X509_SIG(di, &der)) <= 0)
		goto out;
	if (k > sizeof(em->buffer) || (size_t)n + 11 > k)
		goto out;
	em->size = (UINT16)k;
	em->buffer[0] = 0x00;
	em->buffer[1] = 0x01;
	memset(em->buffer + 2, 0xff, k - (size_t)n - 3);
	em->buffer[k - (size_t)n - 1] = 0x00;
	memcpy(em->buffer + k - (size_t)n, der, (size_t)n);
	r = HWK_OK;
 out:
	OPENSSL_free(der);
	X509_SIG_free(di);
	return r;
}

static const char *
hash_name(TPMI_ALG_HASH h)
{
	switch (h) {
	case TPM2_ALG_SHA1:
		return "SHA-1";
	case TPM2_ALG_SHA256:
		return "SHA-256";
	case TPM2_ALG_SHA384:
		return "SHA-384";
	case TPM2_ALG_SHA512:
		return "SHA-512";
	}
	return "another hash";
}

/*
 * A key made with a fixed signing scheme signs with that scheme and hash
 * only, whatever the TPM can do: say so when that is why it refused.
 */
static int
scheme_refused(struct hwk_ctx *ctx, const struct tpm2_key *tk,
    TPMI_ALG_HASH halg)
{
	const TPMT_RSA_SCHEME *ks =
	    &tk->kf.pub.publicArea.parameters.rsaDetail.scheme;

	if (ks->scheme == TPM2_ALG_RSASSA)
		hwk_ctx_error(ctx, HWK_ERR_UNSUPPORTED, "the TPM key was made "
		    "bound to RSASSA signatures with %s, so it cannot sign "
		    "with %s", hash_name(ks->details.rsassa.hashAlg),
		    hash_name(halg));
	else
		hwk_ctx_error(ctx, HWK_ERR_UNSUPPORTED, "the TPM key was made "
		    "bound to a signature scheme other than RSASSA (PKCS#1 "
		    "v1.5, which SSH uses)");
	hwk_ctx_hint(ctx, "Ask for the signature the key makes, or use a key "
	    "made without a fixed scheme (as hwkeygen makes them).");
	return HWK_ERR_UNSUPPORTED;
}

/* One signature by the loaded key; *rcp keeps the TPM's answer. */
static int
sign_digest(struct hwk_ctx *ctx, struct tpm2_key *tk, const EVP_MD *md,
    TPMI_ALG_HASH halg, const uint8_t *dgst, size_t dlen, uint8_t **sigp,
    size_t *siglenp, TSS2_RC *rcp)
{
	TPMA_OBJECT a = tk->kf.pub.publicArea.objectAttributes;
	const TPMT_RSA_SCHEME *ks =
	    &tk->kf.pub.publicArea.parameters.rsaDetail.scheme;
	size_t k = tk->kf.pub.publicArea.unique.rsa.size;
	ESYS_TR auth = tk->kf.empty_auth ? ESYS_TR_PASSWORD : tk->session;
	const char *what = "the signature (TPM2_Sign)";
	TPMT_SIG_SCHEME scheme;
	TPMT_TK_HASHCHECK ticket;
	TPMT_RSA_DECRYPT dscheme;
	TPM2B_DIGEST digest;
	TPM2B_DATA label;
	TPM2B_PUBLIC_KEY_RSA em, *out = NULL;
	TPMT_SIGNATURE *sig = NULL;
	TSS2_RC rc = TSS2_RC_SUCCESS;
	int r;

	memset(&scheme, 0, sizeof(scheme));
	memset(&ticket, 0, sizeof(ticket));
	memset(&digest, 0, sizeof(digest));
	memset(&dscheme, 0, sizeof(dscheme));
	memset(&label, 0, sizeof(label));
	if (a & TPMA_OBJECT_SIGN_ENCRYPT) {
		scheme.scheme = TPM2_ALG_RSASSA;
		scheme.details.rsassa.hashAlg = halg;
		/* Hashed outside the TPM: an unrestricted key needs no ticket. */
		ticket.tag = TPM2_ST_HASHCHECK;
		ticket.hierarchy = TPM2_RH_NULL;
		digest.size = (UINT16)dlen;
		memcpy(digest.buffer, dgst, dlen);
		rc = Esys_Sign(tk->conn.esys, tk->handle, auth, ESYS_TR_NONE,
		    ESYS_TR_NONE, &digest, &scheme, &ticket, &sig);
		if (rc == TSS2_RC_SUCCESS) {
			r = sig_out(sig->signature.rsassa.sig.buffer,
			    sig->signature.rsassa.sig.size, k, sigp, siglenp);
			goto out;
		}
		/* Not the TPM's lack: the key's own scheme is another. */
		if (lacks_hash(rc) && ks->scheme != TPM2_ALG_NULL &&
		    (ks->scheme != TPM2_ALG_RSASSA ||
		    ks->details.rsassa.hashAlg != halg)) {
			r = scheme_refused(ctx, tk, halg);
			goto out;
		}
		if (!(lacks_hash(rc) && (a & TPMA_OBJECT_DECRYPT)))
			goto fail;
	} else if (!(a & TPMA_OBJECT_DECRYPT)) {
		r = hwk_ctx_error(ctx, HWK_ERR_KEY_TYPE, "the TPM key can "
		    "neither sign nor decrypt");
		goto out;
	}
	/* No hash in the TPM, or a decrypt-only key: the raw RSA way. */
	if ((r = encode_emsa(md, dgst, dlen, k, &em)) != 0) {
		hwk_ctx_error(ctx, r, "cannot encode the signature block");
		goto out;
	}
	dscheme.scheme = TPM2_ALG_NULL;
	what = "the signature (TPM2_RSA_Decrypt)";
	rc = Esys_RSA_Decrypt(tk->conn.esys, tk->handle, auth, ESYS_TR_NONE,
	    ESYS_TR_NONE, &em, &dscheme, &label, &out);
	if (rc == TSS2_RC_SUCCESS) {
		r = sig_out(out->buffer, out->size, k, sigp, siglenp);
		goto out;
	}
 fail:
	if (rc_base(rc) == TPM2_RC_AUTH_FAIL || rc_base(rc) == TPM2_RC_BAD_AUTH ||
	    rc_base(rc) == TPM2_RC_LOCKOUT) {
		auth_forget(tk);	/* ask again next time */
		r = auth_error(ctx, &tk->conn, rc, tk->kf.empty_auth);
	} else
		r = tss_error(ctx, &tk->conn, rc, what);
 out:
	*rcp = rc;
	Esys_Free(sig);
	Esys_Free(out);
	return r;
}

/* Checks a signature with the public key: a faulty TPM must not get through. */
static int
sig_verify(EVP_PKEY *pkey, const EVP_MD *md, const uint8_t *dgst,
    size_t dlen, const uint8_t *sig, size_t slen)
{
	EVP_PKEY_CTX *pctx;
	int ok;

	if ((pctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) == NULL)
		return 0;
	ok = EVP_PKEY_verify_init(pctx) == 1 &&
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1 &&
	    EVP_PKEY_CTX_set_signature_md(pctx, md) == 1 &&
	    EVP_PKEY_verify(pctx, sig, slen, dgst, dlen) == 1;
	EVP_PKEY_CTX_free(pctx);
	return ok;
}

static int
tpm2_sign(struct hwk_ctx *ctx, struct hwk_key *key, int alg,
    const uint8_t *data, size_t len, uint8_t **sigp, size_t *siglenp)
{
	struct tpm2_key *tk = key->impl;
	const EVP_MD *md;
	TPMI_ALG_HASH halg = TPM2_ALG_NULL;
	uint8_t dgst[EVP_MAX_MD_SIZE], *sig = NULL;
	unsigned int dlen = 0;
	size_t slen = 0;
	TSS2_RC rc;
	int r, attempt, kept;

	*sigp = NULL;
	*siglenp = 0;
	if (tk == NULL)
		return hwk_ctx_error(ctx, HWK_ERR_INTERNAL, "no TPM key");
	if ((md = sig_md(alg, &halg)) == NULL)
		return hwk_ctx_error(ctx, HWK_ERR_UNSUPPORTED,
		    "unknown signature algorithm %d", alg);
	if (EVP_Digest(data, len, dgst, &dlen, md, NULL) != 1)
		return hwk_ctx_error(ctx, HWK_ERR_CRYPTO, "cannot hash the data");
	/*
	 * Load the key once more, on a new connection, when the TPM lost it
	 * (a reset, or someone flushed it), and when the connection of a key
	 * kept loaded since an earlier signature died in between (a laptop
	 * resumed from hibernation, the TPM server restarted).  A command
	 * lost on a connection made just now means the TPM went away: that
	 * fails, and the next signature starts afresh.
	 */
	kept = tk->handle != ESYS_TR_NONE;
	for (attempt = 0; attempt < 2; attempt++) {
		rc = TSS2_RC_SUCCESS;
		if ((r = key_load(ctx, tk, &rc)) == 0 &&
		    (r = key_auth(ctx, tk)) == 0) {
			r = sign_digest(ctx, tk, md, halg, dgst, dlen, &sig,
			    &slen, &rc);
			if (r == 0 && !sig_verify(key->pkey, md, dgst, dlen,
			    sig, slen)) {
				hwk_freezero(sig, slen);
				sig = NULL;
				r = hwk_ctx_error(ctx, HWK_ERR_DEVICE,
				    "the TPM at %s returned a signature that "
				    "does not verify", tk->conn.name);
			}
		}
		if (r == 0)
			break;
		/* ESYS is no use after a lost command: never use it again. */
		if (rc_is_lost(rc) || objects_lost(rc))
			key_unload(tk);
		if (!(objects_lost(rc) || (rc_is_lost(rc) && kept)))
			break;
		kept = 0;
	}
	/* A raw device admits one process at a time: let go after each. */
	if (tk->conn.esys != NULL && tk->conn.sharing == TPM_EXCLUSIVE)
		key_unload(tk);
	if (r != 0)
		goto out;
	*sigp = sig;
	*siglenp = slen;
	sig = NULL;
 out:
	free(sig);
	explicit_bzero(dgst, sizeof(dgst));
	return r;
}

/* Nothing of a new key stays in the TPM; only what signing loaded is flushed. */
static int
tpm2_destroy(struct hwk_ctx *ctx, struct hwk_key *key)
{
	(void)ctx;
	if (key->impl != NULL)
		key_unload(key->impl);
	return HWK_OK;
}

static void
tpm2_free_impl(struct hwk_key *key)
{
	struct tpm2_key *tk = key->impl;

	if (tk == NULL)
		return;
	key_unload(tk);
	auth_forget(tk);
	hwk_tpm2_keyfile_clear(&tk->kf);
	free(tk);
	key->impl = NULL;
}

static const struct hwk_optdesc tpm2_options[] = {
	{ "tcti", "STRING", "the TPM (default: $TPM2TOOLS_TCTI, else "
	    "/dev/tpmrm0)", HWK_OPT_BOTH },
	{ "parent", "HANDLE", "a persistent storage key 0x81xxxxxx as "
	    "parent", HWK_OPT_MAKE },
	{ NULL, NULL, NULL, 0 },
};

/* A TPM property holding four ASCII characters, as the TPM returns it. */
static void
prop_ascii(uint32_t v, char out[5])
{
	int i;

	for (i = 0; i < 4; i++) {
		out[i] = (char)((v >> (24 - 8 * i)) & 0xff);
		if (out[i] != '\0' && (out[i] < 0x20 || out[i] > 0x7e))
			out[i] = '?';
	}
	out[4] = '\0';
}

/* --backends: who made the TPM, its firmware, the RSA sizes it makes. */
static int
tpm2_describe(struct hwk_ctx *ctx, struct hwk_out *out)
{
	static const unsigned sizes[] = { 1024, 2048, 3072, 4096 };
	TPMS_CAPABILITY_DATA *cap = NULL;
	TPMI_YES_NO more;
	struct tpm2_conn *c;
	uint32_t manuf = 0, fw1 = 0, fw2 = 0, rev = 0, vendor[4] = { 0 };
	char text[32], word[5];
	TSS2_RC rc;
	size_t i;

	if (keygen_conn_get(ctx, &c) != 0)
		return HWK_OK;	/* probe has said why */
	hwk_out_str(out, "tcti", c->name);
	rc = Esys_GetCapability(c->esys, ESYS_TR_NONE, ESYS_TR_NONE,
	    ESYS_TR_NONE, TPM2_CAP_TPM_PROPERTIES, TPM2_PT_FIXED,
	    TPM2_MAX_TPM_PROPERTIES, &more, &cap);
	if (rc == TSS2_RC_SUCCESS) {
		for (i = 0; i < cap->data.tpmProperties.count; i++) {
			uint32_t p = cap->data.tpmProperties.tpmProperty[i].property;
			uint32_t v = cap->data.tpmProperties.tpmProperty[i].value;

			if (p == TPM2_PT_MANUFACTURER)
				manuf = v;
			else if (p == TPM2_PT_FIRMWARE_VERSION_1)
				fw1 = v;
			else if (p == TPM2_PT_FIRMWARE_VERSION_2)
				fw2 = v;
			else if (p == TPM2_PT_REVISION)
				rev = v;
			else if (p >= TPM2_PT_VENDOR_STRING_1 &&
			    p <= TPM2_PT_VENDOR_STRING_4)
				vendor[p - TPM2_PT_VENDOR_STRING_1] = v;
		}
		prop_ascii(manuf, word);
		hwk_out_str(out, "manufacturer", word);
		text[0] = '\0';
		for (i = 0; i < 4; i++) {
			prop_ascii(vendor[i], word);
			strncat(text, word, sizeof(text) - strlen(text) - 1);
		}
		hwk_out_str(out, "vendor", text);
		snprintf(text, sizeof(text), "%u.%u.%u.%u", fw1 >> 16,
		    fw1 & 0xffff, fw2 >> 16, fw2 & 0xffff);
		hwk_out_str(out, "firmware", text);
		snprintf(text, sizeof(text), "%u.%02u", rev / 100, rev % 100);
		hwk_out_str(out, "spec_revision", text);
	}
	Esys_Free(cap);
	hwk_out_begin_array(out, "rsa_bits");
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		if (test_rsa_bits(c, sizes[i]) == TSS2_RC_SUCCESS)
			hwk_out_int(out, NULL, sizes[i]);
	hwk_out_end_array(out);
	conn_close(&keygen_conn);
	return HWK_OK;
}

const struct hwk_backend hwk_backend_tpm2 = {
	.name = "tpm2",
	.summary = "key made inside a TPM 2.0; the file is a TSS2 key stub",
	.flags = HWK_BF_PASSPHRASE | HWK_BF_DEVICE,
	.default_bits = TPM2_DEFAULT_BITS,
	.options = tpm2_options,
	.probe = tpm2_probe,
	.check = tpm2_check,
	.generate = tpm2_generate,
	.write_stub = tpm2_write_stub,
	.claims = tpm2_claims,
	.stub_info = tpm2_stub_info,
	.load = tpm2_load,
	.sign = tpm2_sign,
	.destroy = tpm2_destroy,
	.free_impl = tpm2_free_impl,
	.describe = tpm2_describe,
	.check_opts = tpm2_check_opts,
};
