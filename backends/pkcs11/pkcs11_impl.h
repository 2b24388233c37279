/*
 * The PKCS#11 backend's own types (modules, tokens, sessions, keys, its
 * options) and the functions its files share.  Private to backends/pkcs11/.
 */
#ifndef HWKEY_PKCS11_IMPL_H
#define HWKEY_PKCS11_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include <p11-kit/pkcs11.h>
#include <p11-kit/uri.h>

#include "hwkey/sshkey.h"
#include "pkcs11_int.h"

#define HWK_P11_RSA_MAX_BYTES	(HWK_RSA_MAX_BITS / 8)
#define HWK_P11_NO_USER		((CK_USER_TYPE)-1)	/* nobody logged in */

struct hwk_buf;
struct hwk_ctx;
struct hwk_devkey;
struct hwk_genparams;
struct hwk_key;

/*
 * A module, loaded and initialised.  C_Initialize is once per process, so
 * a module stays loaded until exit and is shared by every key on it.
 */
struct p11_mod {
	CK_FUNCTION_LIST *fn;
	char		*path;		/* its file, as a stub names it */
	CK_INFO		 info;
	int		 registered;	/* one of p11-kit's registered modules */
	struct p11_mod	*next;
};

/*
 * A session on one token, shared by the keys on it (the login state of a
 * token is shared by an application's sessions anyway): an agent holding
 * several keys of one token logs in once and signs many times.
 */
struct p11_conn {
	struct p11_mod	*mod;
	CK_SLOT_ID	 slot;
	CK_TOKEN_INFO	 ti;
	char		 name[HWK_P11_NAME_MAX];	/* for messages */
	CK_SESSION_HANDLE sess;
	int		 rw;
	CK_USER_TYPE	 user;		/* logged in as, or HWK_P11_NO_USER */
	int		 gone;		/* the token dropped sess */
	unsigned	 epoch;		/* new session: old handles may be stale */
	unsigned	 refs;
	struct p11_conn	*next;
};

/*
 * key->impl: a key on a token, found by its CKA_ID.  Keys of one token
 * share a p11_conn; none of this is locked, so one thread at a time.
 */
struct p11_key {
	struct p11_conn	*conn;
	CK_OBJECT_HANDLE pub, priv;	/* CK_INVALID_HANDLE until found */
	unsigned	 epoch;		/* conn->epoch they were found in */
	uint8_t		 id[HWK_P11_ID_MAX];
	size_t		 idlen;
	char		*label;		/* CKA_LABEL, may be NULL */
	int		 mechs_known;	/* sign mechanisms asked for */
	int		 has_sha256, has_sha512, has_sha1;
	int		 always_auth;	/* CKA_ALWAYS_AUTHENTICATE */
	int		 lingers;	/* destroyed, yet still found */
};

/* A token in a slot, as a scan finds it. */
struct p11_tok {
	struct p11_mod	*mod;
	CK_SLOT_ID	 slot;
	CK_TOKEN_INFO	 ti;
	CK_ULONG	 min_bits, max_bits;	/* of RSA keygen; 0: unknown */
	char		 name[HWK_P11_NAME_MAX];
	int		 caps_known;	/* the fields below were asked for */
	int		 has_rsa, has_ed25519;
	unsigned	 ec_curves;	/* 1: P-256, 2: P-384, 4: P-521 */
};

/* A curve SSH uses, and its CKA_EC_PARAMS (a DER OID or name). */
struct p11_curve {
	int		 type;		/* HWK_KEY_ECDSA or _ED25519 */
	unsigned	 bits;
	const char	*ssh_id;	/* "nistp256", ..., "ed25519" */
	const uint8_t	*der;
	size_t		 derlen;
};

/* The backend's options, checked. */
struct p11_opts {
	P11KitUri	*uri;		/* --token, or NULL */
	const char	*token;		/* its text */
	const char	*module;	/* --module, or NULL */
	const char	*allow;		/* --module-allow, or NULL */
	char		*pin_source;	/* --pin-source or the URI's, or NULL */
	CK_USER_TYPE	 login;		/* CKU_USER or CKU_SO */
	uint8_t		 id[HWK_P11_ID_MAX];
	size_t		 idlen;		/* 0: choose a fresh one */
	const char	*label;		/* --label, or NULL */
};

/* pkcs11_module.c: the modules in use, loaded once and kept till exit. */
/* Appends "; text" (or text) to a note list. */
void	hwk_p11_note_add(struct hwk_buf *notes, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/*
 * The module at path, loading it the first time.  named: the person named
 * it with --module; else it comes from a file and must be allowed.
 */
int	hwk_p11_mod_load(struct hwk_ctx *ctx, const struct p11_opts *o,
	    const char *path, int named, struct p11_mod **mp);
/* Loads the modules registered with p11-kit, once; trust stores left out. */
int	hwk_p11_mods_registered(struct hwk_ctx *ctx);
/* Why some registered modules are missing, or NULL. */
const char *hwk_p11_mods_note(void);
/*
 * The module in use after m (NULL: the first): only, if a module was
 * named, else each module registered with p11-kit.
 */
struct p11_mod *hwk_p11_mod_next(struct p11_mod *only, struct p11_mod *m);

/* pkcs11_token.c: the options, and the token they point at. */
/* Reads and checks the backend's options from the context. */
int	hwk_p11_opts_get(struct hwk_ctx *ctx, struct p11_opts *o);
void	hwk_p11_opts_clear(struct p11_opts *o);
/*
 * Where an unattended PIN comes from: --pin-source, else the pin-source of
 * the --token URI (uri, if parsed already); NULL to ask.
 */
int	hwk_p11_pin_source_get(struct hwk_ctx *ctx, P11KitUri *uri,
	    char **srcp);
/* The slots with a token in module m, in a new array *slotsp of *n. */
CK_RV	hwk_p11_slot_list(struct p11_mod *m, CK_SLOT_ID **slotsp,
	    CK_ULONG *n);
/*
 * The one token the options point at.  keygen: 0, or the type of key
 * (HWK_KEY_*, P11_KEYGEN_ANY) it must make.  uri: o->uri, or the URI of a stub.
 */
int	hwk_p11_token_select(struct hwk_ctx *ctx, const struct p11_opts *o,
	    P11KitUri *uri, int keygen, struct p11_tok *tok);

/* pkcs11_session.c: one session per token, shared by its keys. */
/* A session on the token, shared with other keys on it. */
int	hwk_p11_conn_open(struct hwk_ctx *ctx, const struct p11_tok *t,
	    int rw, struct p11_conn **cp);
/* Lets go of *cp; the last key of a token closes its session. */
void	hwk_p11_conn_put(struct p11_conn **cp);
/* Closes the session and opens a new one; the login is gone then. */
CK_RV	hwk_p11_sess_restart(struct p11_conn *c);
/*
 * Opens the session anew after the token dropped it, if the token in the
 * slot is still the one it was.
 */
int	hwk_p11_conn_reopen(struct hwk_ctx *ctx, struct p11_conn *c);
/* Forgets every session, at exit: finalizing their modules closes them. */
void	hwk_p11_conns_free(void);

/* pkcs11_login.c: PINs and logins. */
/*
 * Logs in as who (CKU_USER, CKU_SO or CKU_CONTEXT_SPECIFIC) with a PIN from
 * pin_source or the ui, or on the reader's keypad; never tries a PIN twice.
 */
int	hwk_p11_conn_login(struct hwk_ctx *ctx, struct p11_conn *c,
	    CK_USER_TYPE who, const char *pin_source);
/* Forgets the refused PINs, at exit. */
void	hwk_p11_refusals_free(void);

/* pkcs11_object.c: objects on a token, found by CKA_ID. */
/* The first object of a class with an id, or CK_INVALID_HANDLE. */
CK_RV	hwk_p11_find_by_id(struct p11_conn *c, CK_OBJECT_CLASS cls,
	    const uint8_t *id, size_t idlen, CK_OBJECT_HANDLE *obj);
/* Nonzero if any object (key, certificate, data) has this id. */
CK_RV	hwk_p11_id_taken(struct p11_conn *c, const uint8_t *id, size_t idlen,
	    int *taken);
/* Refuses an --id that a token of one-byte ids would cut short. */
int	hwk_p11_id_fits(struct hwk_ctx *ctx, const struct p11_opts *o,
	    const struct p11_tok *t);
/* An id no object uses: one byte if one is free, else 16 random ones. */
int	hwk_p11_id_fresh(struct hwk_ctx *ctx, struct p11_conn *c, uint8_t *id,
	    size_t *len);
/* The RSA public key of obj (a public or a private key object). */
int	hwk_p11_rsa_read(struct hwk_ctx *ctx, struct p11_conn *c,
	    CK_OBJECT_HANDLE obj, EVP_PKEY **pkeyp);
/*
 * One attribute of obj and a NUL after it, at most max bytes; optional:
 * one the module does not keep or tell gives NULL, not an error.
 */
int	hwk_p11_attr_read(struct hwk_ctx *ctx, struct p11_conn *c,
	    CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type, const char *what,
	    size_t max, int optional, uint8_t **valp, size_t *lenp);
/*
 * What of the key under id (private key, public key, certificate) a
 * session of its own finds, or NULL in *whatp: a module's CKR_OK to
 * C_DestroyObject is not enough (ykcs11).
 */
CK_RV	hwk_p11_left_behind(struct p11_conn *c, const uint8_t *id,
	    size_t idlen, const char **whatp);
/* The PIV slot a one-byte ykcs11 id stands for ("9a"), or "SLOT". */
const char *hwk_p11_piv_slot(const uint8_t *id, size_t idlen);
/* Erases the pair; only a session that no longer finds it makes it gone. */
int	hwk_p11_pair_destroy(struct hwk_ctx *ctx, struct p11_key *pk);
/* Takes h as pk's private key, with whether it wants the PIN each time. */
void	hwk_p11_priv_set(struct p11_key *pk, CK_OBJECT_HANDLE h);
void	hwk_p11_key_free(struct p11_key **pkp);

/* pkcs11_ec.c: curves and their points. */
/* The curve of an ECDSA key of bits, or Ed25519's; NULL if none. */
const struct p11_curve *hwk_p11_curve(int type, unsigned bits);
/* The curve of type by its name, for tokens that take no OID; or NULL. */
const struct p11_curve *hwk_p11_curve_named(int type);
/* The public key of obj: RSA, ECDSA or Ed25519, as its CKA_KEY_TYPE says. */
int	hwk_p11_pub_read(struct hwk_ctx *ctx, struct p11_conn *c,
	    CK_OBJECT_HANDLE obj, EVP_PKEY **pkeyp);
/* The HWK_KEY_ type of an OpenSSL key, 0 for none of ours. */
int	hwk_p11_pkey_type(const EVP_PKEY *pkey);

/* pkcs11_caps.c: what a token makes. */
/* Nonzero if a token can make no key at all (uninitialised, ...). */
int	hwk_p11_token_unfit(const struct p11_tok *t, const struct p11_opts *o,
	    char *why, size_t len);
/* keygen for a token that makes keys of some type, whichever (probe). */
#define P11_KEYGEN_ANY	(-1)
/*
 * Nonzero if a token cannot make keys of type (HWK_KEY_*, P11_KEYGEN_ANY);
 * why says why: 2 if it makes keys, only not of this type.
 */
int	hwk_p11_keygen_unfit(struct p11_tok *t, const struct p11_opts *o,
	    int type, char *why, size_t len);
/* Asks the token which keys it makes, once, into t. */
void	hwk_p11_tok_caps(struct p11_tok *t);
/* Nonzero if the token makes ECDSA keys on the curve of bits. */
int	hwk_p11_tok_has_curve(const struct p11_tok *t, unsigned bits);
/* What the token makes, in words, for messages. */
void	hwk_p11_tok_makes(const struct p11_tok *t, char *buf, size_t len);
/* The type and size of gp are ones hwkeygen makes on a token. */
int	hwk_p11_params_check(struct hwk_ctx *ctx,
	    const struct hwk_genparams *gp);
/* The size or curve of gp is one the token of t makes. */
int	hwk_p11_size_fits(struct hwk_ctx *ctx, struct p11_tok *t,
	    const struct hwk_genparams *gp);

/* pkcs11_keygen.c, pkcs11_sign.c: the backend's ops on keys. */
int	hwk_p11_check(struct hwk_ctx *ctx, const struct hwk_genparams *gp);
int	hwk_p11_generate(struct hwk_ctx *ctx, const struct hwk_genparams *gp,
	    struct hwk_key **keyp);
int	hwk_p11_write_stub(struct hwk_ctx *ctx, const struct hwk_key *key,
	    const struct hwk_genparams *gp, struct hwk_buf *out);
int	hwk_p11_load(struct hwk_ctx *ctx, const uint8_t *stub, size_t len,
	    struct hwk_key **keyp);
int	hwk_p11_sign(struct hwk_ctx *ctx, struct hwk_key *key, int alg,
	    const uint8_t *data, size_t len, uint8_t **sigp, size_t *siglenp);

/* pkcs11_oldkey.c: keys already on tokens; the ops locate, erase, unnamed. */
int	hwk_p11_locate(struct hwk_ctx *ctx, const uint8_t *stub, size_t len,
	    struct hwk_devkey *where);
int	hwk_p11_erase(struct hwk_ctx *ctx, const uint8_t *stub, size_t len,
	    const struct hwk_pubkey *want);
int	hwk_p11_unnamed(struct hwk_ctx *ctx, const struct hwk_buf *const *stubs,
	    size_t n, void (*found)(void *arg, const struct hwk_devkey *key),
	    void *arg);

/* pkcs11_attest.c: PIV attestation; the ops attest, attest_challenge, attest_verify. */
struct hwk_attest;
int	hwk_p11_attest(struct hwk_ctx *ctx, struct hwk_key *key,
	    struct hwk_attest *ev);
int	hwk_p11_attest_challenge(struct hwk_ctx *ctx,
	    const struct hwk_attest *ev, const char *roots,
	    struct hwk_attest *chal, struct hwk_attest *secret);
int	hwk_p11_attest_verify(struct hwk_ctx *ctx, const struct hwk_attest *ev,
	    const char *roots, const struct hwk_attest *secret,
	    const struct hwk_attest *resp, struct hwk_attest *verdict);

#endif /* HWKEY_PKCS11_IMPL_H */
