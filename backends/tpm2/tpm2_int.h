/*
 * What the files of the TPM 2.0 backend share: a connection to the TPM, a
 * key opened from its stub, and the calls between backends/tpm2/tpm2*.c.
 * Private to them.
 */
#ifndef HWKEY_TPM2_INT_H
#define HWKEY_TPM2_INT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <tss2/tss2_esys.h>

#include "tpm2_keyfile.h"

struct hwk_attest;
struct hwk_buf;
struct hwk_ctx;
struct hwk_genparams;
struct hwk_key;

/* A key's authValue: at most the size of its SHA-256 name hash. */
#define HWK_TPM2_AUTH_MAX	32
#define HWK_TPM2_TCTI_NAME_MAX	256
#define HWK_TPM2_ORPHANS_MAX	4

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
	/* The TCTI string, "" for the TSS default; its name for messages. */
	char			 conf[HWK_TPM2_TCTI_NAME_MAX];
	char			 name[HWK_TPM2_TCTI_NAME_MAX];
	enum tpm2_sharing	 sharing;
	/* Handles ESYS could not flush after a lost command: flush_orphans. */
	TPM2_HANDLE		 orphans[HWK_TPM2_ORPHANS_MAX];
	size_t			 norphans;
	/* The TPM's NIST curves, a bit each (tpm2_caps.c), once asked. */
	unsigned		 ecc_mask;
	int			 ecc_known;
};

/* key->impl: the stub, and once signing began, the key loaded in the TPM. */
struct tpm2_key {
	struct hwk_tpm2_keyfile	 kf;
	struct tpm2_conn	 conn;
	ESYS_TR			 handle;	/* the loaded key */
	ESYS_TR			 session;	/* salted HMAC session for it */
	int			 authed;	/* the password is set */
	/* The password the TPM took, to load the key again after a reset. */
	TPM2B_AUTH		 auth;
	int			 have_auth;
};

/* tpm2_conn.c: reaching the TPM, flushing what we put in it, sessions. */
int	hwk_tpm2_conn_open(struct hwk_ctx *ctx, struct tpm2_conn *c);
void	hwk_tpm2_conn_close(struct tpm2_conn *c);
void	hwk_tpm2_conn_flush(struct tpm2_conn *c, ESYS_TR *trp);
/* The one connection of a keygen, from probe through check to generate. */
int	hwk_tpm2_keygen_conn_get(struct hwk_ctx *ctx, struct tpm2_conn **cp);
void	hwk_tpm2_keygen_conn_close(void);
/*
 * A salted HMAC session; with encrypt, one that also encrypts the first
 * parameter of the command.  *rcp keeps the TPM's answer when it fails.
 */
int	hwk_tpm2_session_start(struct hwk_ctx *ctx, struct tpm2_conn *c,
	    ESYS_TR salt, ESYS_TR bind, int encrypt, ESYS_TR *sessp,
	    TSS2_RC *rcp);

/*
 * tpm2_lib.c: the TSS libraries, opened on first use.  0 if they open;
 * else HWK_ERR_NO_DEVICE with words that name the one missing and its
 * package.  All of them before talking to a TPM; marshalling alone
 * (libtss2-mu) to read or write a stub.
 */
int	hwk_tpm2_lib_need(struct hwk_ctx *ctx);
int	hwk_tpm2_mu_need(struct hwk_ctx *ctx);

/* tpm2_rc.c: what the TPM's answers mean. */
TSS2_RC	hwk_tpm2_rc_base(TSS2_RC rc);
int	hwk_tpm2_rc_is_lost(TSS2_RC rc);
int	hwk_tpm2_rc_is_refusal(TSS2_RC rc);
int	hwk_tpm2_rc_error(struct hwk_ctx *ctx, const struct tpm2_conn *c,
	    TSS2_RC rc, const char *what);
int	hwk_tpm2_rc_auth_error(struct hwk_ctx *ctx, struct tpm2_conn *c,
	    TSS2_RC rc, int empty_auth);

/* tpm2_parent.c: the storage key a key is made and loaded under. */
int	hwk_tpm2_parent_option(struct hwk_ctx *ctx, uint32_t *handlep);
int	hwk_tpm2_parent_supported(struct hwk_ctx *ctx, uint32_t handle);
int	hwk_tpm2_parent_check(struct hwk_ctx *ctx, struct tpm2_conn *c,
	    uint32_t handle);
int	hwk_tpm2_parent_open(struct hwk_ctx *ctx, struct tpm2_conn *c,
	    uint32_t handle, ESYS_TR *trp);
void	hwk_tpm2_parent_close(struct tpm2_conn *c, uint32_t handle,
	    ESYS_TR *trp);

/* tpm2_caps.c: what the TPM can make. */
TSS2_RC	hwk_tpm2_rsa_bits_test(struct tpm2_conn *c, unsigned bits);
/* TPM2_RC_CURVE when the TPM does not list the curve of that size. */
TSS2_RC	hwk_tpm2_ecc_bits_test(struct tpm2_conn *c, unsigned bits);
void	hwk_tpm2_makes(struct tpm2_conn *c, char *text, size_t len);
int	hwk_tpm2_type_refused(struct hwk_ctx *ctx, struct tpm2_conn *c,
	    const struct hwk_genparams *gp);

/* tpm2_keygen.c: making keys; the ops check, generate and write_stub. */
int	hwk_tpm2_check(struct hwk_ctx *ctx, const struct hwk_genparams *gp);
int	hwk_tpm2_generate(struct hwk_ctx *ctx, const struct hwk_genparams *gp,
	    struct hwk_key **keyp);
int	hwk_tpm2_write_stub(struct hwk_ctx *ctx, const struct hwk_key *key,
	    const struct hwk_genparams *gp, struct hwk_buf *out);

/* tpm2_load.c: a key from stub to TPM; the ops load, destroy, free_impl. */
struct tpm2_key *hwk_tpm2_key_new(void);
int	hwk_tpm2_key_wrap(struct hwk_ctx *ctx, struct tpm2_key *tk,
	    struct hwk_key **keyp);
int	hwk_tpm2_key_load(struct hwk_ctx *ctx, struct tpm2_key *tk,
	    TSS2_RC *rcp);
void	hwk_tpm2_key_unload(struct tpm2_key *tk);
int	hwk_tpm2_key_auth(struct hwk_ctx *ctx, struct tpm2_key *tk);
void	hwk_tpm2_key_auth_forget(struct tpm2_key *tk);
int	hwk_tpm2_load(struct hwk_ctx *ctx, const uint8_t *stub, size_t len,
	    struct hwk_key **keyp);
int	hwk_tpm2_destroy(struct hwk_ctx *ctx, struct hwk_key *key);
void	hwk_tpm2_free_impl(struct hwk_key *key);

/* tpm2_sign.c: the op sign. */
int	hwk_tpm2_sign(struct hwk_ctx *ctx, struct hwk_key *key, int alg,
	    const uint8_t *data, size_t len, uint8_t **sigp, size_t *siglenp);

/* An EK certificate's NV index, and the EK a verifier may challenge. */
struct tpm2_ek_kind {
	uint32_t	 cert_index;
	const char	*name;
	TPM2_ALG_ID	 type;		/* TPM2_ALG_RSA or _ECC */
	unsigned	 bits;
	int		 challengeable;	/* its template is L-1 or L-2 */
};

/* tpm2_attest.c: the evidence, and the answer to a challenge. */
const struct tpm2_ek_kind *hwk_tpm2_ek_kind(uint32_t cert_index);
void	hwk_tpm2_ek_template(const struct tpm2_ek_kind *k, TPM2B_PUBLIC *t);
void	hwk_tpm2_ak_template(TPM2B_PUBLIC *t);
int	hwk_tpm2_attest(struct hwk_ctx *ctx, struct hwk_key *key,
	    struct hwk_attest *ev);
int	hwk_tpm2_attest_respond(struct hwk_ctx *ctx,
	    const struct hwk_attest *chal, struct hwk_attest *resp);

/* tpm2_evidence.c: the verifier's checks, with no TPM. */
int	hwk_tpm2_name(const TPMT_PUBLIC *p, uint8_t *name, size_t *lenp);
/* The TPM structure named name of an attestation file, unmarshalled whole. */
int	hwk_tpm2_attest_mu(const struct hwk_attest *a, const char *name,
	    void *v, TSS2_RC (*fn)(const uint8_t *, size_t, size_t *, void *));
#define GET_MU(a, name, T, v) hwk_tpm2_attest_mu(a, name, (void *)(v),	\
	(TSS2_RC (*)(const uint8_t *, size_t, size_t *, void *))	\
	Tss2_MU_##T##_Unmarshal)
int	hwk_tpm2_attest_challenge(struct hwk_ctx *ctx,
	    const struct hwk_attest *ev, const char *roots,
	    struct hwk_attest *chal, struct hwk_attest *secret);
int	hwk_tpm2_attest_verify(struct hwk_ctx *ctx, const struct hwk_attest *ev,
	    const char *roots, const struct hwk_attest *secret,
	    const struct hwk_attest *resp, struct hwk_attest *verdict);

/* tpm2_credential.c: TPM2_MakeCredential in software. */
int	hwk_tpm2_kdfa(const uint8_t *key, size_t klen, const char *label,
	    const uint8_t *u, size_t ulen, const uint8_t *v, size_t vlen,
	    uint8_t *out, size_t outlen);
int	hwk_tpm2_make_credential(EVP_PKEY *ek, const uint8_t *name,
	    size_t namelen, const uint8_t *cred, size_t credlen,
	    TPM2B_ID_OBJECT *blob, TPM2B_ENCRYPTED_SECRET *es);

#endif /* HWKEY_TPM2_INT_H */
