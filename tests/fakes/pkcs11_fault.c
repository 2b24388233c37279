/*
 * A test-only PKCS#11 module that forwards to a real one and breaks on
 * request, to drive the PKCS#11 backend down its failure paths:
 *
 *   HWK_FAKE_REAL=path        the module to forward to (SoftHSM2)
 *   HWK_FAKE_FAIL=C_Name      the call to fail ...
 *   HWK_FAKE_FAIL_NTH=n       ... its n-th time (default 1; 0: every time)
 *   HWK_FAKE_FAIL_AFTER=C_X   ... counting only once C_X has succeeded
 *   HWK_FAKE_FAIL_RV=code     ... with this CKR_ (default CKR_DEVICE_ERROR)
 *   HWK_FAKE_FAIL_GEN=s       a new value starts the count afresh (as does
 *                             any change to the settings above), for tests
 *                             that fail calls one after another
 *   HWK_FAKE_FAIL_LOGOUT=1    a failing C_Sign also logs the token out
 *   HWK_FAKE_NEW_SERIAL=s     once the fault happened, the slot holds
 *                             another token: this serial, the same label
 *   HWK_FAKE_TOKEN_FLAGS=n    flags added to every token's info
 *   HWK_FAKE_KEYPAD_PIN=pin   a keypad reader: C_Login wants a NULL PIN
 *                             and uses this one
 *   HWK_FAKE_NO_HASH_SIGN=1   no CKM_SHA*_RSA_PKCS: only raw CKM_RSA_PKCS
 *   HWK_FAKE_NO_RSA_GEN=1     no CKM_RSA_PKCS_KEY_PAIR_GEN: the token makes
 *                             elliptic-curve keys only
 *   HWK_FAKE_EXTRACTABLE=1    every key says CKA_EXTRACTABLE is true
 *   HWK_FAKE_ALWAYS_AUTH=pin  every key says CKA_ALWAYS_AUTHENTICATE, and
 *                             C_Sign is CKR_USER_NOT_LOGGED_IN unless a
 *                             CKU_CONTEXT_SPECIFIC login with this PIN
 *                             followed C_SignInit (logged "login context")
 *   HWK_FAKE_NO_PUBKEY=1      no public key objects are found
 *   HWK_FAKE_DESTROY_KEEPS=1  C_DestroyObject says CKR_OK, removes nothing
 *   HWK_FAKE_ID_FIRST_BYTE=1  keys get the first byte of their CKA_ID only
 *   HWK_FAKE_ONE_BYTE_IDS_TAKEN=1  every one-byte CKA_ID seems in use
 *   HWK_FAKE_ATTR_GROW=n      CKA_MODULUS, CKA_LABEL and CKA_ID read into a
 *                             buffer come back n bytes longer than written
 *   HWK_FAKE_EXTRA_SLOTS=n    n more slots listed, whose token is gone
 *   HWK_FAKE_SLOT_COUNT_LIE=n C_GetSlotList says n more than it wrote
 *   HWK_FAKE_DELAY_MS=n       C_GenerateKeyPair takes n ms longer
 *   HWK_FAKE_CHATTER=1        C_Initialize prints a line on stdout and
 *                             one on stderr, as some modules do
 *   HWK_FAKE_LOG=path         one line per call, "C_Name rv", and
 *                             "keygen_ms t": the real C_GenerateKeyPair's time
 *   HWK_FAKE_CRASH_AT=C_Name[:path]  that call kills its process
 *                             (abort); with :path only while that file
 *                             exists, and it goes as the fault happens, so a
 *                             test arms one crash in a running process;
 *                             several, with commas between, for several
 *   HWK_FAKE_HANG_AT=C_Name[:path]   the same, but the call never returns
 *   HWK_FAKE_SLOW_AT=C_Name[:path]   the same, but the call takes
 *                             HWK_FAKE_SLOW_MS (default 1000) ms longer
 */
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "p11fwd.h"

static int armed = -1;		/* -1: not yet decided */
static unsigned long seen;	/* calls of the one to fail, since armed */
static int fired;		/* the fault happened */
static char setting[512];	/* the HWK_FAKE_FAIL* the counts are for */
static int hide_search;		/* this search is for a public key: none */
static int context_in;		/* CKU_CONTEXT_SPECIFIC login since SignInit */

/* Starts counting afresh when a test (in one process) changes the fault. */
static void
fault_setting(void)
{
	static const char *const names[] = { "HWK_FAKE_FAIL",
	    "HWK_FAKE_FAIL_NTH", "HWK_FAKE_FAIL_AFTER", "HWK_FAKE_FAIL_RV",
	    "HWK_FAKE_FAIL_GEN" };
	char now[sizeof(setting)];
	size_t i, n = 0;
	const char *v;

	now[0] = '\0';
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		v = getenv(names[i]);
		n += (size_t)snprintf(now + n, n < sizeof(now) ?
		    sizeof(now) - n : 0, "%s;", v != NULL ? v : "");
		if (n >= sizeof(now))
			n = sizeof(now) - 1;
	}
	if (strcmp(now, setting) != 0) {
		memcpy(setting, now, sizeof(setting));
		armed = -1;
		seen = 0;
		fired = 0;
	}
}

/*
 * Nonzero if setting (HWK_FAKE_CRASH_AT's form, or several of them with
 * commas between) is for name and armed.
 */
static int
armed_at(const char *setting, const char *name)
{
	char one[512];
	const char *end;
	size_t n = strlen(name), len;

	for (; setting != NULL && *setting != '\0'; setting = end +
	    (*end != '\0')) {
		if ((end = strchr(setting, ',')) == NULL)
			end = setting + strlen(setting);
		if ((len = (size_t)(end - setting)) >= sizeof(one))
			continue;
		memcpy(one, setting, len);
		one[len] = '\0';
		if (strncmp(one, name, n) != 0 ||
		    (one[n] != '\0' && one[n] != ':'))
			continue;
		/* Its file, taken as it fires: only one process sees it. */
		if (one[n] == '\0' || unlink(one + n + 1) == 0)
			return 1;
	}
	return 0;
}

/* HWK_FAKE_CRASH_AT, HWK_FAKE_HANG_AT and HWK_FAKE_SLOW_AT. */
static void
crash_or_hang(const char *name)
{
	if (armed_at(getenv("HWK_FAKE_CRASH_AT"), name)) {
		fwd_log("%s crash", name);
		/*
		 * A crash as a module's failed assertion: abort(), whose
		 * SIGABRT the sanitizers leave alone (their SIGSEGV handler
		 * would report it and exit instead of dying of it).
		 */
		abort();
	}
	if (armed_at(getenv("HWK_FAKE_HANG_AT"), name)) {
		fwd_log("%s hang", name);
		for (;;)
			pause();
	}
	if (armed_at(getenv("HWK_FAKE_SLOW_AT"), name)) {
		const char *v = getenv("HWK_FAKE_SLOW_MS");
		long ms = v != NULL ? atol(v) : 1000;
		struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

		fwd_log("%s slow", name);
		while (nanosleep(&ts, &ts) != 0)
			;
	}
}

/* Nonzero if this call of name is the one to fail. */
static int
fault(const char *name)
{
	const char *which = getenv("HWK_FAKE_FAIL");
	unsigned long nth = env_ulong("HWK_FAKE_FAIL_NTH", 1);

	crash_or_hang(name);
	fault_setting();
	if (armed < 0)
		armed = getenv("HWK_FAKE_FAIL_AFTER") == NULL;
	if (!armed || which == NULL || strcmp(which, name) != 0)
		return 0;
	seen++;
	if (nth == 0 || seen == nth)
		fired = 1;
	return nth == 0 || seen == nth;
}

/* Logs the call and arms the fault once its trigger has succeeded. */
static CK_RV
done(const char *name, CK_RV rv)
{
	const char *after = getenv("HWK_FAKE_FAIL_AFTER");

	fwd_log("%s 0x%lx", name, (unsigned long)rv);
	if (rv == CKR_OK && after != NULL && strcmp(after, name) == 0)
		armed = 1;
	return rv;
}

#define FAULT(name) do { \
	if (fault(name)) \
		return done(name, env_ulong("HWK_FAKE_FAIL_RV", \
		    CKR_DEVICE_ERROR)); \
	} while (0)

/*
 * Mechanisms the token pretends not to have: the hash-and-sign ones
 * (HWK_FAKE_NO_HASH_SIGN), or RSA key generation (HWK_FAKE_NO_RSA_GEN, a
 * token that makes elliptic-curve keys only).
 */
static int
hidden(CK_MECHANISM_TYPE m)
{
	if (env_ulong("HWK_FAKE_NO_RSA_GEN", 0) &&
	    m == CKM_RSA_PKCS_KEY_PAIR_GEN)
		return 1;
	return env_ulong("HWK_FAKE_NO_HASH_SIGN", 0) &&
	    (m == CKM_SHA1_RSA_PKCS || m == CKM_SHA256_RSA_PKCS ||
	    m == CKM_SHA384_RSA_PKCS || m == CKM_SHA512_RSA_PKCS);
}

#define EXTRA_SLOT	0x7e000000UL	/* the first of HWK_FAKE_EXTRA_SLOTS */

/* Nonzero for the slots that HWK_FAKE_EXTRA_SLOTS adds. */
static int
extra_slot(CK_SLOT_ID slot)
{
	return slot >= EXTRA_SLOT &&
	    slot - EXTRA_SLOT < env_ulong("HWK_FAKE_EXTRA_SLOTS", 0);
}

static CK_RV
fk_GetSlotList(CK_BBOOL present, CK_SLOT_ID *list, CK_ULONG *count)
{
	unsigned long extra = env_ulong("HWK_FAKE_EXTRA_SLOTS", 0), i;
	CK_ULONG room, n;
	CK_RV rv;

	FAULT("C_GetSlotList");
	if (list == NULL) {
		if ((rv = real->C_GetSlotList(present, NULL, count)) == CKR_OK)
			*count += extra;
		return done("C_GetSlotList", rv);
	}
	room = n = *count;
	rv = real->C_GetSlotList(present, list, &n);
	if (rv == CKR_BUFFER_TOO_SMALL || (rv == CKR_OK && n + extra > room)) {
		*count = n + extra;
		return done("C_GetSlotList", CKR_BUFFER_TOO_SMALL);
	}
	if (rv == CKR_OK) {
		for (i = 0; i < extra; i++)
			list[n + i] = EXTRA_SLOT + i;
		/* A broken module says it wrote more than it had room for. */
		*count = n + extra + env_ulong("HWK_FAKE_SLOT_COUNT_LIE", 0);
	}
	return done("C_GetSlotList", rv);
}

static CK_RV
fk_GetSlotInfo(CK_SLOT_ID slot, CK_SLOT_INFO *info)
{
	if (extra_slot(slot))
		return CKR_TOKEN_NOT_PRESENT;	/* pulled out meanwhile */
	return real->C_GetSlotInfo(slot, info);
}

static CK_RV
fk_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO *info)
{
	CK_RV rv;

	FAULT("C_GetTokenInfo");
	if (extra_slot(slot))
		return done("C_GetTokenInfo", CKR_TOKEN_NOT_PRESENT);
	if ((rv = real->C_GetTokenInfo(slot, info)) == CKR_OK) {
		/* Another token in the same slot, after the fault's reset. */
		if (fired && getenv("HWK_FAKE_NEW_SERIAL") != NULL)
			fwd_pad(info->serialNumber, sizeof(info->serialNumber),
			    getenv("HWK_FAKE_NEW_SERIAL"));
		info->flags |= env_ulong("HWK_FAKE_TOKEN_FLAGS", 0);
		if (getenv("HWK_FAKE_KEYPAD_PIN") != NULL)
			info->flags |= CKF_PROTECTED_AUTHENTICATION_PATH;
	}
	return done("C_GetTokenInfo", rv);
}

static CK_RV
fk_GetMechanismList(CK_SLOT_ID slot, CK_MECHANISM_TYPE *list,
    CK_ULONG *count)
{
	CK_ULONG i, n;
	CK_RV rv;

	FAULT("C_GetMechanismList");
	rv = real->C_GetMechanismList(slot, list, count);
	if (rv == CKR_OK && list != NULL) {
		for (i = n = 0; i < *count; i++)
			if (!hidden(list[i]))
				list[n++] = list[i];
		*count = n;
	}
	return done("C_GetMechanismList", rv);
}

static CK_RV
fk_GetMechanismInfo(CK_SLOT_ID slot, CK_MECHANISM_TYPE m,
    CK_MECHANISM_INFO *info)
{
	FAULT("C_GetMechanismInfo");
	if (hidden(m))
		return done("C_GetMechanismInfo", CKR_MECHANISM_INVALID);
	return done("C_GetMechanismInfo", real->C_GetMechanismInfo(slot, m,
	    info));
}

static CK_RV
fk_OpenSession(CK_SLOT_ID slot, CK_FLAGS flags, void *app, CK_NOTIFY notify,
    CK_SESSION_HANDLE *sess)
{
	FAULT("C_OpenSession");
	return done("C_OpenSession", real->C_OpenSession(slot, flags, app,
	    notify, sess));
}

static CK_RV
fk_GetSessionInfo(CK_SESSION_HANDLE sess, CK_SESSION_INFO *info)
{
	return done("C_GetSessionInfo", real->C_GetSessionInfo(sess, info));
}

static CK_RV
fk_Login(CK_SESSION_HANDLE sess, CK_USER_TYPE who, CK_UTF8CHAR *pin,
    CK_ULONG len)
{
	const char *keypad = getenv("HWK_FAKE_KEYPAD_PIN");
	const char *always = getenv("HWK_FAKE_ALWAYS_AUTH");

	FAULT("C_Login");
	if (who == CKU_CONTEXT_SPECIFIC && always != NULL) {
		fwd_log("login context");
		if (pin == NULL || len != strlen(always) ||
		    memcmp(pin, always, len) != 0)
			return done("C_Login", CKR_PIN_INCORRECT);
		context_in = 1;
		return done("C_Login", CKR_OK);
	}
	if (keypad != NULL) {
		/* The PIN goes in on the reader, never through the host. */
		if (pin != NULL)
			return done("C_Login", CKR_ARGUMENTS_BAD);
		return done("C_Login", real->C_Login(sess, who,
		    (CK_UTF8CHAR *)keypad, strlen(keypad)));
	}
	return done("C_Login", real->C_Login(sess, who, pin, len));
}

static CK_RV
fk_FindObjectsInit(CK_SESSION_HANDLE sess, CK_ATTRIBUTE *t, CK_ULONG n)
{
	CK_ULONG i;

	FAULT("C_FindObjectsInit");
	fwd_taken_init(t, n);
	hide_search = 0;
	for (i = 0; i < n && env_ulong("HWK_FAKE_NO_PUBKEY", 0); i++)
		if (t[i].type == CKA_CLASS && t[i].pValue != NULL &&
		    t[i].ulValueLen == sizeof(CK_OBJECT_CLASS) &&
		    *(CK_OBJECT_CLASS *)t[i].pValue == CKO_PUBLIC_KEY)
			hide_search = 1;
	return done("C_FindObjectsInit", real->C_FindObjectsInit(sess, t, n));
}

static CK_RV
fk_FindObjects(CK_SESSION_HANDLE sess, CK_OBJECT_HANDLE *objs, CK_ULONG max,
    CK_ULONG *n)
{
	FAULT("C_FindObjects");
	if (hide_search) {
		*n = 0;
		return done("C_FindObjects", CKR_OK);
	}
	if (fwd_taken) {
		fwd_taken_find(objs, max, n);
		return done("C_FindObjects", CKR_OK);
	}
	return done("C_FindObjects", real->C_FindObjects(sess, objs, max, n));
}

static CK_RV
fk_FindObjectsFinal(CK_SESSION_HANDLE sess)
{
	hide_search = 0;
	fwd_taken = 0;
	return real->C_FindObjectsFinal(sess);
}

static CK_RV
fk_GetAttributeValue(CK_SESSION_HANDLE sess, CK_OBJECT_HANDLE obj,
    CK_ATTRIBUTE *t, CK_ULONG n)
{
	CK_ULONG i;
	CK_RV rv;

	FAULT("C_GetAttributeValue");
	rv = real->C_GetAttributeValue(sess, obj, t, n);
	for (i = 0; i < n && (rv == CKR_OK ||
	    rv == CKR_ATTRIBUTE_TYPE_INVALID); i++) {
		if (t[i].type == CKA_ALWAYS_AUTHENTICATE &&
		    t[i].pValue != NULL &&
		    t[i].ulValueLen == sizeof(CK_BBOOL) &&
		    getenv("HWK_FAKE_ALWAYS_AUTH") != NULL)
			*(CK_BBOOL *)t[i].pValue = CK_TRUE;
		if (t[i].type == CKA_EXTRACTABLE && t[i].pValue != NULL &&
		    t[i].ulValueLen == sizeof(CK_BBOOL) &&
		    env_ulong("HWK_FAKE_EXTRACTABLE", 0))
			*(CK_BBOOL *)t[i].pValue = CK_TRUE;
		/* It wrote n bytes and says it wrote more. */
		if ((t[i].type == CKA_MODULUS || t[i].type == CKA_LABEL ||
		    t[i].type == CKA_ID) && t[i].pValue != NULL &&
		    t[i].ulValueLen != CK_UNAVAILABLE_INFORMATION)
			t[i].ulValueLen += env_ulong("HWK_FAKE_ATTR_GROW", 0);
	}
	return done("C_GetAttributeValue", rv);
}

static CK_RV
fk_GenerateKeyPair(CK_SESSION_HANDLE sess, CK_MECHANISM *m,
    CK_ATTRIBUTE *pubt, CK_ULONG npub, CK_ATTRIBUTE *privt, CK_ULONG npriv,
    CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
	unsigned long ms = env_ulong("HWK_FAKE_DELAY_MS", 0);
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000 };
	struct timespec t0, t1;
	CK_ULONG i;
	CK_RV rv;

	FAULT("C_GenerateKeyPair");
	if (m != NULL && hidden(m->mechanism))
		return done("C_GenerateKeyPair", CKR_MECHANISM_INVALID);
	/* As ykcs11: only the first byte of a CKA_ID counts. */
	for (i = 0; i < npub && env_ulong("HWK_FAKE_ID_FIRST_BYTE", 0); i++)
		if (pubt[i].type == CKA_ID && pubt[i].ulValueLen > 1)
			pubt[i].ulValueLen = 1;
	for (i = 0; i < npriv && env_ulong("HWK_FAKE_ID_FIRST_BYTE", 0); i++)
		if (privt[i].type == CKA_ID && privt[i].ulValueLen > 1)
			privt[i].ulValueLen = 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rv = real->C_GenerateKeyPair(sess, m, pubt, npub, privt, npriv, pub,
	    priv);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fwd_log("keygen_ms %.3f", (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	if (ms > 0)
		nanosleep(&ts, NULL);
	return done("C_GenerateKeyPair", rv);
}

static CK_RV
fk_DestroyObject(CK_SESSION_HANDLE sess, CK_OBJECT_HANDLE obj)
{
	FAULT("C_DestroyObject");
	if (env_ulong("HWK_FAKE_DESTROY_KEEPS", 0))
		return done("C_DestroyObject", CKR_OK);	/* says so, only */
	return done("C_DestroyObject", real->C_DestroyObject(sess, obj));
}

static CK_RV
fk_SignInit(CK_SESSION_HANDLE sess, CK_MECHANISM *m, CK_OBJECT_HANDLE key)
{
	FAULT("C_SignInit");
	if (hidden(m->mechanism))
		return done("C_SignInit", CKR_MECHANISM_INVALID);
	fwd_log("mechanism 0x%lx", (unsigned long)m->mechanism);
	context_in = 0;
	return done("C_SignInit", real->C_SignInit(sess, m, key));
}

static CK_RV
fk_Sign(CK_SESSION_HANDLE sess, CK_BYTE *data, CK_ULONG len, CK_BYTE *sig,
    CK_ULONG *siglen)
{
	CK_BYTE scratch[2048];
	CK_ULONG n = sizeof(scratch);

	if (fault("C_Sign")) {
		/* A failed C_Sign ends the operation: end the real one too. */
		real->C_Sign(sess, data, len, scratch, &n);
		/* Another application reset the card: the login is gone. */
		if (env_ulong("HWK_FAKE_FAIL_LOGOUT", 0))
			real->C_Logout(sess);
		return done("C_Sign", env_ulong("HWK_FAKE_FAIL_RV",
		    CKR_DEVICE_ERROR));
	}
	if (getenv("HWK_FAKE_ALWAYS_AUTH") != NULL && !context_in) {
		/* A failed C_Sign ends the operation: end the real one too. */
		real->C_Sign(sess, data, len, scratch, &n);
		return done("C_Sign", CKR_USER_NOT_LOGGED_IN);
	}
	context_in = 0;
	return done("C_Sign", real->C_Sign(sess, data, len, sig, siglen));
}

static CK_RV
fk_Initialize(CK_VOID_PTR args)
{
	if (getenv("HWK_FAKE_CHATTER") != NULL) {
		printf("fake module: starting\n");
		fflush(stdout);
		fprintf(stderr, "fake module: ERROR something\n");
	}
	return done("C_Initialize", real->C_Initialize(args));
}

CK_RV
C_GetFunctionList(CK_FUNCTION_LIST **list)
{
	CK_RV rv;

	if ((rv = fwd_load()) != CKR_OK)
		return rv;
	ours.C_GetFunctionList = C_GetFunctionList;
	ours.C_Initialize = fk_Initialize;
	ours.C_GetSlotList = fk_GetSlotList;
	ours.C_GetSlotInfo = fk_GetSlotInfo;
	ours.C_GetTokenInfo = fk_GetTokenInfo;
	ours.C_GetMechanismList = fk_GetMechanismList;
	ours.C_GetMechanismInfo = fk_GetMechanismInfo;
	ours.C_OpenSession = fk_OpenSession;
	ours.C_GetSessionInfo = fk_GetSessionInfo;
	ours.C_Login = fk_Login;
	ours.C_FindObjectsInit = fk_FindObjectsInit;
	ours.C_FindObjects = fk_FindObjects;
	ours.C_FindObjectsFinal = fk_FindObjectsFinal;
	ours.C_GetAttributeValue = fk_GetAttributeValue;
	ours.C_GenerateKeyPair = fk_GenerateKeyPair;
	ours.C_DestroyObject = fk_DestroyObject;
	ours.C_SignInit = fk_SignInit;
	ours.C_Sign = fk_Sign;
	*list = &ours;
	return CKR_OK;
}
