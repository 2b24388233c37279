/*
 * A test-only PKCS#11 module that is as strict as Yubico's ykcs11 about
 * key generation, in front of a real module (SoftHSM2) that stores keys:
 *
 *   - only the security officer may generate, and the SO "PIN" is the PIV
 *     management key ($HWK_STRICT_MGMKEY, default the factory key); the
 *     real module is then logged in as user with $HWK_STRICT_USER_PIN;
 *   - CKA_ID must be one byte, 1 to 4 (PIV slots 9a, 9c, 9d, 9e), the same
 *     in both templates;
 *   - an attribute ykcs11 does not know is CKR_ATTRIBUTE_TYPE_INVALID, a
 *     public exponent other than 65537 or a size other than 1024/2048 is
 *     CKR_ATTRIBUTE_VALUE_INVALID;
 *   - ECDSA on P-256 and P-384 only (CKM_EC_KEY_PAIR_GEN says 256 to 384
 *     bits; another CKA_EC_PARAMS is CKR_CURVE_NOT_SUPPORTED), and no
 *     Ed25519 (firmware before 5.7: no CKM_EC_EDWARDS_KEY_PAIR_GEN, no
 *     CKM_EDDSA);
 *   - labels are the slot's own, as ykcs11 names its objects;
 *   - C_DestroyObject on a key says CKR_OK but only hides it from the
 *     session that asked: the key stays in its PIV slot, and every other
 *     session (ykcs11: the next one) finds it again.
 *
 *   HWK_FAKE_REAL=path, HWK_FAKE_LOG=path, HWK_FAKE_ONE_BYTE_IDS_TAKEN=1
 *   as in p11fwd.h; HWK_FAKE_DELAY_MS=n: C_GenerateKeyPair takes n ms
 *   longer, and logs "delay n" once the key is made, before it waits.
 */
#include <time.h>

#include "p11fwd.h"

#define FACTORY_MGMKEY	"010203040506070801020304050607080102030405060708"

static int so_in;		/* the SO (management key) is logged in */
static CK_OBJECT_HANDLE hidden[16];	/* keys "destroyed" ... */
static CK_SESSION_HANDLE hidden_in;	/* ... as this session sees it */
static size_t nhidden;

static const char *const slot_names[] = {
	NULL, "PIV Authentication", "Digital Signature", "Key Management",
	"Card Authentication",
};

static CK_RV
st_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO *info)
{
	CK_RV rv;

	if ((rv = real->C_GetTokenInfo(slot, info)) == CKR_OK) {
		fwd_pad(info->manufacturerID, sizeof(info->manufacturerID),
		    "Yubico (www.yubico.com)");
		fwd_pad(info->model, sizeof(info->model), "YubiKey YK5");
	}
	return rv;
}

static CK_RV
st_GetMechanismInfo(CK_SLOT_ID slot, CK_MECHANISM_TYPE m,
    CK_MECHANISM_INFO *info)
{
	CK_RV rv;

	if (m == CKM_EC_EDWARDS_KEY_PAIR_GEN || m == CKM_EDDSA)
		return CKR_MECHANISM_INVALID;
	rv = real->C_GetMechanismInfo(slot, m, info);
	/* The RSA sizes of a YubiKey before firmware 5.7. */
	if (rv == CKR_OK && m == CKM_RSA_PKCS_KEY_PAIR_GEN) {
		info->ulMinKeySize = 1024;
		info->ulMaxKeySize = 2048;
	}
	/* Its curves, as ykcs11's mechanism table gives them. */
	if (rv == CKR_OK && (m == CKM_EC_KEY_PAIR_GEN || m == CKM_ECDSA)) {
		info->ulMinKeySize = 256;
		info->ulMaxKeySize = 384;
	}
	return rv;
}

static CK_RV
st_Login(CK_SESSION_HANDLE sess, CK_USER_TYPE who, CK_UTF8CHAR *pin,
    CK_ULONG len)
{
	const char *mgm = getenv("HWK_STRICT_MGMKEY");
	const char *upin = getenv("HWK_STRICT_USER_PIN");
	CK_RV rv;

	if (mgm == NULL)
		mgm = FACTORY_MGMKEY;
	if (who != CKU_SO) {
		rv = real->C_Login(sess, who, pin, len);
		fwd_log("C_Login user 0x%lx", (unsigned long)rv);
		return rv;
	}
	if (pin == NULL || len != strlen(mgm) || memcmp(pin, mgm, len) != 0) {
		fwd_log("C_Login so 0x%lx", (unsigned long)CKR_PIN_INCORRECT);
		return CKR_PIN_INCORRECT;
	}
	if (upin == NULL)
		return CKR_GENERAL_ERROR;
	rv = real->C_Login(sess, CKU_USER, (CK_UTF8CHAR *)upin, strlen(upin));
	if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN) {
		so_in = 1;
		rv = CKR_OK;
	}
	fwd_log("C_Login so 0x%lx", (unsigned long)rv);
	return rv;
}

static CK_RV
st_Logout(CK_SESSION_HANDLE sess)
{
	so_in = 0;
	return real->C_Logout(sess);
}

/* A PIV slot's curves: prime256v1 and secp384r1, as DER OIDs. */
static int
curve_ok(const CK_ATTRIBUTE *a)
{
	static const CK_BYTE p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
	    0x3d, 0x03, 0x01, 0x07 };
	static const CK_BYTE p384[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00,
	    0x22 };

	return (a->ulValueLen == sizeof(p256) &&
	    memcmp(a->pValue, p256, sizeof(p256)) == 0) ||
	    (a->ulValueLen == sizeof(p384) &&
	    memcmp(a->pValue, p384, sizeof(p384)) == 0);
}

/*
 * ykcs11's check of a key template: pub selects the public list, kt is
 * the key type of the mechanism.
 */
static CK_RV
check_template(const CK_ATTRIBUTE *t, CK_ULONG n, int pub, CK_KEY_TYPE kt,
    int *id)
{
	const CK_BYTE f4[] = { 0x01, 0x00, 0x01 };
	CK_ULONG i, bits;
	int v;

	for (i = 0; i < n; i++) {
		switch (t[i].type) {
		case CKA_CLASS:
			if (*(CK_OBJECT_CLASS *)t[i].pValue !=
			    (pub ? CKO_PUBLIC_KEY : CKO_PRIVATE_KEY))
				return CKR_TEMPLATE_INCONSISTENT;
			break;
		case CKA_KEY_TYPE:
			if (*(CK_KEY_TYPE *)t[i].pValue != kt)
				return CKR_TEMPLATE_INCONSISTENT;
			break;
		case CKA_EC_PARAMS:
			if (!pub || kt != CKK_EC)
				return CKR_ATTRIBUTE_TYPE_INVALID;
			if (!curve_ok(&t[i]))
				return CKR_CURVE_NOT_SUPPORTED;
			break;
		case CKA_ID:
			if (t[i].ulValueLen != 1)
				return CKR_ATTRIBUTE_VALUE_INVALID;
			v = *(CK_BYTE *)t[i].pValue;
			if (v < 1 || v > 4)
				return CKR_ATTRIBUTE_VALUE_INVALID;
			if (*id != 0 && *id != v)
				return CKR_TEMPLATE_INCONSISTENT;
			*id = v;
			break;
		case CKA_PUBLIC_EXPONENT:
			if (!pub || kt != CKK_RSA)
				return CKR_ATTRIBUTE_TYPE_INVALID;
			if (t[i].ulValueLen != 3 ||
			    memcmp(t[i].pValue, f4, 3) != 0)
				return CKR_ATTRIBUTE_VALUE_INVALID;
			break;
		case CKA_MODULUS_BITS:
			if (!pub || kt != CKK_RSA)
				return CKR_ATTRIBUTE_TYPE_INVALID;
			bits = *(CK_ULONG *)t[i].pValue;
			if (bits != 1024 && bits != 2048)
				return CKR_ATTRIBUTE_VALUE_INVALID;
			break;
		case CKA_SENSITIVE:
		case CKA_TOKEN:
		case CKA_PRIVATE:
		case CKA_LABEL:
		case CKA_SUBJECT:
		case CKA_DERIVE:
			break;
		case CKA_ENCRYPT:
		case CKA_VERIFY:
		case CKA_WRAP:
			if (!pub)
				return CKR_ATTRIBUTE_TYPE_INVALID;
			break;
		case CKA_DECRYPT:
		case CKA_UNWRAP:
		case CKA_SIGN:
		case CKA_SIGN_RECOVER:
			if (pub)
				return CKR_ATTRIBUTE_TYPE_INVALID;
			break;
		default:
			return CKR_ATTRIBUTE_TYPE_INVALID;
		}
	}
	return CKR_OK;
}

/* The template with ykcs11's label for the slot and its fixed policy. */
static CK_ULONG
rewrite(const CK_ATTRIBUTE *t, CK_ULONG n, CK_ATTRIBUTE *out, int pub,
    const char *label)
{
	static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ULONG i, m = 0;

	for (i = 0; i < n && m < 30; i++)
		if (t[i].type != CKA_LABEL && t[i].type != CKA_SENSITIVE &&
		    t[i].type != CKA_EXTRACTABLE)
			out[m++] = t[i];
	out[m].type = CKA_LABEL;
	out[m].pValue = (void *)label;
	out[m++].ulValueLen = strlen(label);
	if (!pub) {
		/* Nothing can read a key out of a PIV slot. */
		out[m].type = CKA_SENSITIVE;
		out[m].pValue = &yes;
		out[m++].ulValueLen = sizeof(yes);
		out[m].type = CKA_EXTRACTABLE;
		out[m].pValue = &no;
		out[m++].ulValueLen = sizeof(no);
	}
	return m;
}

static CK_RV
st_GenerateKeyPair(CK_SESSION_HANDLE sess, CK_MECHANISM *m,
    CK_ATTRIBUTE *pubt, CK_ULONG npub, CK_ATTRIBUTE *privt, CK_ULONG npriv,
    CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
	unsigned long ms = env_ulong("HWK_FAKE_DELAY_MS", 0);
	struct timespec ts = { (time_t)(ms / 1000),
	    (long)(ms % 1000) * 1000000 };
	CK_ATTRIBUTE pt[34], qt[34];
	char plabel[64], qlabel[64];
	CK_ULONG np, nq;
	CK_KEY_TYPE kt = CKK_RSA;
	int id = 0;
	CK_RV rv;

	if (m != NULL && m->mechanism == CKM_EC_KEY_PAIR_GEN)
		kt = CKK_EC;
	if (m == NULL || (m->mechanism != CKM_RSA_PKCS_KEY_PAIR_GEN &&
	    m->mechanism != CKM_EC_KEY_PAIR_GEN))
		rv = CKR_MECHANISM_INVALID;
	else if ((rv = check_template(pubt, npub, 1, kt, &id)) != CKR_OK ||
	    (rv = check_template(privt, npriv, 0, kt, &id)) != CKR_OK)
		;
	else if (id == 0)
		rv = CKR_TEMPLATE_INCOMPLETE;
	else if (!so_in)
		rv = CKR_USER_TYPE_INVALID;	/* ykcs11 wants the SO */
	else {
		snprintf(plabel, sizeof(plabel), "Public key for %s",
		    slot_names[id]);
		snprintf(qlabel, sizeof(qlabel), "Private key for %s",
		    slot_names[id]);
		np = rewrite(pubt, npub, pt, 1, plabel);
		nq = rewrite(privt, npriv, qt, 0, qlabel);
		rv = real->C_GenerateKeyPair(sess, m, pt, np, qt, nq, pub,
		    priv);
		if (ms > 0) {
			fwd_log("delay %lu", ms);
			nanosleep(&ts, NULL);
		}
	}
	fwd_log("C_GenerateKeyPair 0x%lx", (unsigned long)rv);
	return rv;
}

/* ykcs11 cannot delete a key from its PIV slot, yet says it did. */
static CK_RV
st_DestroyObject(CK_SESSION_HANDLE sess, CK_OBJECT_HANDLE obj)
{
	CK_OBJECT_CLASS cls = 0;
	CK_ATTRIBUTE a = { CKA_CLASS, &cls, sizeof(cls) };

	if (real->C_GetAttributeValue(sess, obj, &a, 1) == CKR_OK &&
	    (cls == CKO_PRIVATE_KEY || cls == CKO_PUBLIC_KEY)) {
		if (hidden_in != sess)
			nhidden = 0;
		hidden_in = sess;
		if (nhidden < sizeof(hidden) / sizeof(hidden[0]))
			hidden[nhidden++] = obj;
		fwd_log("C_DestroyObject 0x0 (kept)");
		return CKR_OK;
	}
	return real->C_DestroyObject(sess, obj);
}

static CK_RV
st_FindObjectsInit(CK_SESSION_HANDLE sess, CK_ATTRIBUTE *t, CK_ULONG n)
{
	fwd_taken_init(t, n);
	return real->C_FindObjectsInit(sess, t, n);
}

static CK_RV
st_FindObjects(CK_SESSION_HANDLE sess, CK_OBJECT_HANDLE *objs, CK_ULONG max,
    CK_ULONG *n)
{
	CK_ULONG i, k;
	size_t j;
	CK_RV rv;

	if (fwd_taken) {
		fwd_taken_find(objs, max, n);
		return CKR_OK;
	}
	if ((rv = real->C_FindObjects(sess, objs, max, n)) != CKR_OK ||
	    sess != hidden_in)
		return rv;
	for (i = k = 0; i < *n; i++) {
		for (j = 0; j < nhidden && hidden[j] != objs[i]; j++)
			;
		if (j == nhidden)
			objs[k++] = objs[i];
	}
	*n = k;
	return CKR_OK;
}

static CK_RV
st_FindObjectsFinal(CK_SESSION_HANDLE sess)
{
	fwd_taken = 0;
	return real->C_FindObjectsFinal(sess);
}

CK_RV
C_GetFunctionList(CK_FUNCTION_LIST **list)
{
	CK_RV rv;

	if ((rv = fwd_load()) != CKR_OK)
		return rv;
	ours.C_GetFunctionList = C_GetFunctionList;
	ours.C_GetTokenInfo = st_GetTokenInfo;
	ours.C_GetMechanismInfo = st_GetMechanismInfo;
	ours.C_Login = st_Login;
	ours.C_Logout = st_Logout;
	ours.C_GenerateKeyPair = st_GenerateKeyPair;
	ours.C_DestroyObject = st_DestroyObject;
	ours.C_FindObjectsInit = st_FindObjectsInit;
	ours.C_FindObjects = st_FindObjects;
	ours.C_FindObjectsFinal = st_FindObjectsFinal;
	*list = &ours;
	return CKR_OK;
}
