/*
 * The backend interface: one const ops table per place a private key can
 * live (memory, a TPM, a PKCS#11 token), listed in a NULL-terminated
 * registry.  The CLI, the exporter and the agent reach the ops only through
 * the hwk_backend_*() and hwk_key_*() calls below (backends/ops.c): an op a
 * backend lacks is NULL and yields HWK_ERR_UNSUPPORTED, and a check it
 * lacks (probe, check, check_opts, describe) passes.
 */
#ifndef HWKEY_BACKEND_H
#define HWKEY_BACKEND_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

struct hwk_attest;
struct hwk_buf;
struct hwk_ctx;
struct hwk_kdf_ahead;
struct hwk_out;
struct hwk_pubkey;

#define HWK_KEY_RSA		1
#define HWK_KEY_ECDSA		2	/* bits name the curve: 256, 384, 521 */
#define HWK_KEY_ED25519		3	/* bits are ignored: always 256 */
#define HWK_ECDSA_DEFAULT_BITS	256	/* as ssh-keygen */
#define HWK_DEVICE_RSA_DEFAULT_BITS 2048 /* the one size every TPM and token makes */

enum hwk_sigalg {
	HWK_SIG_RSA_SHA1 = 1,		/* "ssh-rsa" */
	HWK_SIG_RSA_SHA256,		/* "rsa-sha2-256" */
	HWK_SIG_RSA_SHA512,		/* "rsa-sha2-512" */
	/* "ecdsa-sha2-nistpN": SHA-256, -384 or -512 as the curve (RFC 5656) */
	HWK_SIG_ECDSA,
	HWK_SIG_ED25519,		/* "ssh-ed25519" */
};

/* What a new key should be. */
struct hwk_genparams {
	int		 type;		/* HWK_KEY_RSA, _ECDSA, _ED25519 */
	unsigned	 bits;		/* 0: the backend's default */
	int		 bits_given;	/* bits came from the user (-b) */
	const char	*comment;
	const char	*passphrase;	/* NULL or "": none */
	unsigned	 kdf_rounds;	/* for keys in files; 0: default */
	/* The KDF of passphrase already started (HWK_BF_KDF), or NULL. */
	struct hwk_kdf_ahead *kdf;
	/* Set by another thread to stop generate (HWK_BF_EARLY); or NULL. */
	const atomic_int *stop;
};

/* A key pair: the public half always, the private half or a handle to it. */
struct hwk_key {
	const struct hwk_backend *backend;
	EVP_PKEY	*pkey;		/* public; the whole key for software */
	char		*comment;	/* may be NULL */
	void		*impl;		/* the backend's own state */
};

/* What a private file tells without unlocking it. */
struct hwk_stubinfo {
	struct hwk_pubkey *pub;		/* NULL if the stub does not hold it */
	char		*comment;	/* NULL unless readable without a secret */
	const char	*protection;	/* "none", "passphrase", "PIN", ... */
};

/*
 * A key already in a device: the one a stub names, or one that no stub
 * names (--list).  Words for messages, and for pkcs11-tool or the like.
 */
struct hwk_devkey {
	char		 device[176];	/* "token 'label' (serial S)" */
	char		 id[129];	/* its id there, in hex, as the stub has it */
	char		 label[128];	/* its label there, or "" */
	struct hwk_pubkey *pub;		/* its public key, or NULL */
	char		 remove[1280];	/* a shell command that removes it */
	int		 hidden;	/* not a key: keys may be hidden there */
};

/* Which command an option is for: making keys, using them, or both. */
#define HWK_OPT_MAKE		0x01	/* hwkeygen */
#define HWK_OPT_USE		0x02	/* hwkey-agent, hwkeygen -y */
#define HWK_OPT_BOTH		(HWK_OPT_MAKE | HWK_OPT_USE)

/* A backend-specific long option ("--tcti STRING"). */
struct hwk_optdesc {
	const char	*name;
	const char	*arg;		/* NULL: a flag without argument */
	const char	*help;
	unsigned	 when;		/* HWK_OPT_MAKE, _USE or _BOTH */
};

#define HWK_BF_PASSPHRASE	0x01	/* generate uses a passphrase */
#define HWK_BF_DEVICE		0x02	/* key lives in a device: roll back */
#define HWK_BF_KDF		0x04	/* the passphrase goes through bcrypt */
/*
 * generate needs no answer to a question and no option, so it may run in a
 * thread, on a context of its own, while the questions are asked; it
 * stops soon once *gp->stop is set.
 */
#define HWK_BF_EARLY		0x08

struct hwk_backend {
	const char	*name;
	const char	*summary;
	unsigned	 flags;
	unsigned	 default_bits;
	const struct hwk_optdesc *options;	/* NULL-name terminated */

	/* 0 if usable here; otherwise the context says why not. */
	int	(*probe)(struct hwk_ctx *ctx);
	/* Refuses parameters the device cannot do, before any prompt. */
	int	(*check)(struct hwk_ctx *ctx, const struct hwk_genparams *gp);
	int	(*generate)(struct hwk_ctx *ctx, const struct hwk_genparams *gp,
		    struct hwk_key **keyp);
	/* The bytes of the private file: a key file or a handle stub. */
	int	(*write_stub)(struct hwk_ctx *ctx, const struct hwk_key *key,
		    const struct hwk_genparams *gp, struct hwk_buf *out);
	/* Nonzero if the stub is in this backend's format. */
	int	(*claims)(const uint8_t *stub, size_t len);
	int	(*stub_info)(const uint8_t *stub, size_t len,
		    struct hwk_stubinfo *info);
	/* Opens a stub for signing; may ask for a passphrase or PIN. */
	int	(*load)(struct hwk_ctx *ctx, const uint8_t *stub, size_t len,
		    struct hwk_key **keyp);
	/*
	 * The raw signature of data, in the form devices give it, which
	 * hwk_sig_put_blob() (sshkey.h) wraps for SSH:
	 *  RSA:     PKCS#1 v1.5 with alg's hash, as long as the modulus;
	 *  ECDSA:   r || s, each zero-padded to the curve's field size
	 *           (32, 48 or 66 bytes), as CKM_ECDSA and TPM2_Sign give;
	 *  Ed25519: the 64-byte signature (RFC 8032).
	 * An alg that does not suit the key is HWK_ERR_UNSUPPORTED.
	 */
	int	(*sign)(struct hwk_ctx *ctx, struct hwk_key *key, int alg,
		    const uint8_t *data, size_t len, uint8_t **sigp,
		    size_t *siglenp);
	/* Erases a key just generated from its device (rollback). */
	int	(*destroy)(struct hwk_ctx *ctx, struct hwk_key *key);
	/*
	 * Keys already in a device.  locate: the key stub names, in its
	 * device now (HWK_ERR_NOT_FOUND if the device is there without it;
	 * HWK_ERR_NO_DEVICE with where's device and id set if it is not
	 * there), asking no secret.  erase: removes that key (every object of it),
	 * after its PIN, but not if its public key is not want (when given).
	 * unnamed: calls found for each key in the devices that none of the
	 * n stubs names, asking no secret.
	 */
	int	(*locate)(struct hwk_ctx *ctx, const uint8_t *stub, size_t len,
		    struct hwk_devkey *where);
	int	(*erase)(struct hwk_ctx *ctx, const uint8_t *stub, size_t len,
		    const struct hwk_pubkey *want);
	int	(*unnamed)(struct hwk_ctx *ctx, const struct hwk_buf *const *stubs,
		    size_t n, void (*found)(void *arg,
		    const struct hwk_devkey *key), void *arg);
	/* Releases key->impl: handles, sessions, secrets. */
	void	(*free_impl)(struct hwk_key *key);
	/* What the backend finds here, for --backends (members of an object). */
	int	(*describe)(struct hwk_ctx *ctx, struct hwk_out *out);
	/*
	 * HWK_ERR_USAGE if an option of this backend has a value it could
	 * never take; asks no device, or only to tell a typo from absence.
	 */
	int	(*check_opts)(struct hwk_ctx *ctx);
	/*
	 * Attestation (docs/attestation.md; struct hwk_attest in attest.h).
	 * attest: the evidence that key was born in the device and cannot
	 * leave it.  attest_challenge (no device): checks the evidence
	 * against the roots (a PEM file) and makes a challenge only the
	 * device can answer, and the secret that answers it.
	 * attest_respond: the device's answer.  attest_verify (no device):
	 * every check, the answer too (secret and resp NULL when the
	 * evidence needs none); what it proved goes into verdict.
	 */
	int	(*attest)(struct hwk_ctx *ctx, struct hwk_key *key,
		    struct hwk_attest *ev);
	int	(*attest_challenge)(struct hwk_ctx *ctx,
		    const struct hwk_attest *ev, const char *roots,
		    struct hwk_attest *chal, struct hwk_attest *secret);
	int	(*attest_respond)(struct hwk_ctx *ctx,
		    const struct hwk_attest *chal, struct hwk_attest *resp);
	int	(*attest_verify)(struct hwk_ctx *ctx,
		    const struct hwk_attest *ev, const char *roots,
		    const struct hwk_attest *secret,
		    const struct hwk_attest *resp, struct hwk_attest *verdict);
};

/* The registry, in the order --backend auto tries them. */
const struct hwk_backend *const *hwk_backends(void);
/* Tests swap in their own table; NULL restores the built-in one. */
void	hwk_backends_override(const struct hwk_backend *const *table);
const struct hwk_backend *hwk_backend_find(const char *name);
const struct hwk_backend *hwk_backend_for_stub(const uint8_t *stub,
	    size_t len);
/*
 * Every backend's check_opts, whichever backend is used: a wrong option is
 * an error, never a reason to pass a backend over.
 */
int	hwk_backends_check_opts(struct hwk_ctx *ctx);
/*
 * The first backend with all the flags in need whose probe succeeds and
 * whose check takes gp (as hwk_genparams_for() gives it that backend); why
 * says what was passed over and what was chosen.  A check that says
 * HWK_ERR_KEY_TYPE (the backend cannot make that kind of key) passes the
 * backend over; any other refusal is the chosen backend's: it is returned
 * with *bp set, so the check runs once.  A probe that says HWK_ERR_USAGE
 * (the user's words are wrong) ends the search with *bp NULL.
 */
int	hwk_backend_auto(struct hwk_ctx *ctx, unsigned need,
	    const struct hwk_genparams *gp, const struct hwk_backend **bp,
	    char *why, size_t whylen);
/*
 * gp as backend b takes it: with b's default size when -b was not given,
 * and without a passphrase when b keeps none (not HWK_BF_PASSPHRASE).
 */
void	hwk_genparams_for(const struct hwk_backend *b,
	    const struct hwk_genparams *gp, struct hwk_genparams *out);
/* "rsa", "ecdsa", "ed25519": the word -t takes; NULL for no such type. */
const char *hwk_key_type_name(int type);

/* The ops, called for the backend b (ops.c). */
int	hwk_backend_probe(struct hwk_ctx *ctx, const struct hwk_backend *b);
int	hwk_backend_check(struct hwk_ctx *ctx, const struct hwk_backend *b,
	    const struct hwk_genparams *gp);
int	hwk_backend_check_opts(struct hwk_ctx *ctx, const struct hwk_backend *b);
int	hwk_backend_describe(struct hwk_ctx *ctx, const struct hwk_backend *b,
	    struct hwk_out *out);
int	hwk_backend_generate(struct hwk_ctx *ctx, const struct hwk_backend *b,
	    const struct hwk_genparams *gp, struct hwk_key **keyp);
/* The bytes of key's private file, into out. */
int	hwk_backend_write_stub(struct hwk_ctx *ctx, const struct hwk_key *key,
	    const struct hwk_genparams *gp, struct hwk_buf *out);
/* What the stub tells unopened; info is cleared first. */
int	hwk_backend_stub_info(const struct hwk_backend *b, const uint8_t *stub,
	    size_t len, struct hwk_stubinfo *info);
int	hwk_backend_load(struct hwk_ctx *ctx, const struct hwk_backend *b,
	    const uint8_t *stub, size_t len, struct hwk_key **keyp);

/* Attestation's ops (see the struct); the backend's name in the file picks b. */
/* 0 if b attests its keys: asked before a key is made or opened. */
int	hwk_backend_attest_able(struct hwk_ctx *ctx, const struct hwk_backend *b);
int	hwk_backend_attest_challenge(struct hwk_ctx *ctx,
	    const struct hwk_backend *b, const struct hwk_attest *ev,
	    const char *roots, struct hwk_attest *chal,
	    struct hwk_attest *secret);
int	hwk_backend_attest_respond(struct hwk_ctx *ctx,
	    const struct hwk_backend *b, const struct hwk_attest *chal,
	    struct hwk_attest *resp);
int	hwk_backend_attest_verify(struct hwk_ctx *ctx,
	    const struct hwk_backend *b, const struct hwk_attest *ev,
	    const char *roots, const struct hwk_attest *secret,
	    const struct hwk_attest *resp, struct hwk_attest *verdict);

/* Keys, whatever backend holds them. */
int	hwk_key_new(const struct hwk_backend *b, struct hwk_key **keyp);
void	hwk_key_free(struct hwk_key **keyp);
int	hwk_key_set_comment(struct hwk_key *key, const char *comment);
/* The ssh public key of key, with its comment. */
int	hwk_key_pubkey(const struct hwk_key *key, struct hwk_pubkey **pubp);
unsigned hwk_key_bits(const struct hwk_key *key);
int	hwk_key_sign(struct hwk_ctx *ctx, struct hwk_key *key, int alg,
	    const uint8_t *data, size_t len, uint8_t **sigp, size_t *siglenp);
/* The evidence that key was born in its device (KEY.attest's members). */
int	hwk_key_attest(struct hwk_ctx *ctx, struct hwk_key *key,
	    struct hwk_attest *ev);
/* Keys already in devices (the ops locate, erase and unnamed). */
int	hwk_backend_locate(struct hwk_ctx *ctx, const struct hwk_backend *b,
	    const uint8_t *stub, size_t len, struct hwk_devkey *where);
int	hwk_backend_erase(struct hwk_ctx *ctx, const struct hwk_backend *b,
	    const uint8_t *stub, size_t len, const struct hwk_pubkey *want);
int	hwk_backend_unnamed(struct hwk_ctx *ctx, const struct hwk_backend *b,
	    const struct hwk_buf *const *stubs, size_t n,
	    void (*found)(void *arg, const struct hwk_devkey *key), void *arg);
void	hwk_devkey_clear(struct hwk_devkey *k);
/* Erases a key just made from its device (rollback). */
int	hwk_key_destroy(struct hwk_ctx *ctx, struct hwk_key *key);
void	hwk_stubinfo_clear(struct hwk_stubinfo *info);

/*
 * Checks an RSA size against the limits every backend shares; the hint
 * names default_bits as the default (0: the defaults of all backends).
 */
int	hwk_rsa_bits_check(struct hwk_ctx *ctx, unsigned bits,
	    unsigned default_bits);
/* Checks an ECDSA size: 256, 384 or 521, in ssh-keygen's words. */
int	hwk_ecdsa_bits_check(struct hwk_ctx *ctx, unsigned bits);

#endif /* HWKEY_BACKEND_H */
