/* hwkey-agent: an SSH agent serving the keys behind hwkeygen's stubs. */
#ifndef HWKEY_AGENT_H
#define HWKEY_AGENT_H

#include <stddef.h>
#include <stdint.h>

struct hwk_buf;
struct hwk_conn;
struct hwk_ctx;
struct hwk_key;
struct hwk_pubkey;
struct hwk_backend;
struct hwk_upstream;
struct hwk_wait;
struct hwk_cert;
struct hwk_agent_runtime;

/* Agent protocol numbers (RFC 9987). */
#define AGENT_FAILURE			5
#define AGENT_SUCCESS			6
#define AGENTC_REQUEST_IDENTITIES	11
#define AGENT_IDENTITIES_ANSWER		12
#define AGENTC_SIGN_REQUEST		13
#define AGENT_SIGN_RESPONSE		14
#define AGENTC_ADD_IDENTITY		17
#define AGENTC_REMOVE_IDENTITY		18
#define AGENTC_REMOVE_ALL_IDENTITIES	19
#define AGENTC_ADD_SMARTCARD_KEY	20
#define AGENTC_REMOVE_SMARTCARD_KEY	21
#define AGENTC_LOCK			22
#define AGENTC_UNLOCK			23
#define AGENTC_ADD_ID_CONSTRAINED	25
#define AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED 26
#define AGENTC_EXTENSION		27
#define AGENT_EXTENSION_FAILURE		28

#define AGENT_RSA_SHA2_256		0x02
#define AGENT_RSA_SHA2_512		0x04

#define AGENT_MAX_MSG			(256 * 1024)

/* A key the agent offers: its public half from the .pub, its stub on disk. */
struct hwk_identity {
	char		*path;
	struct hwk_pubkey *pub;
	const struct hwk_backend *backend;
	struct hwk_key	*key;		/* opened at its first signature */
	struct hwk_cert	*cert;		/* path-cert.pub (cert.c), or NULL */
	unsigned	 signatures;
	const char	*protection;	/* the stub's: "none", "TPM password".. */
	int		 unlocked;	/* `add` gave its secret (unlock.c) */
	long long	 unlock_until;	/* CLOCK_MONOTONIC ms; 0: no lifetime */
};

enum { AGENT_LOG_ERR, AGENT_LOG_INFO, AGENT_LOG_DEBUG };

struct hwk_agent {
	struct hwk_ctx	*ctx;
	struct hwk_identity *ids;
	size_t		 nids;
	int		 allow_sha1;
	int		 allow_forwarded;	/* sign over forwarded connections */
	int		 confirm;	/* ask the user before every signature */
	int		 locked;
	uint8_t		 lock_salt[16];
	uint8_t		 lock_hash[32];
	unsigned	 failed_unlocks;
	unsigned	 write_timeout;	/* s an answer may go unread; 0: 60 */
	struct hwk_upstream *upstream;	/* --upstream, or NULL */
	struct hwk_agent_runtime *rt;	/* runtime.c's state, or NULL */
	void		(*log)(int level, const char *fmt, ...)
			    __attribute__((format(printf, 2, 3)));
};

/* Adds the key of a stub (with its .pub beside it when there is one). */
int	hwk_agent_add(struct hwk_agent *a, const char *path);
/* The same; *idxp: the identity of the stub, new or served already. */
int	hwk_agent_add_index(struct hwk_agent *a, const char *path,
	    size_t *idxp);
/* Opens the identity's key unless open; it must match its .pub. */
int	hwk_agent_open_identity(struct hwk_agent *a, struct hwk_identity *id);
void	hwk_agent_clear(struct hwk_agent *a);

/*
 * runtime.c: keys added and removed while the agent runs.  add_dir adds
 * every device-backed stub in dir that has a .pub beside it, and rescan
 * adds those made there since (when the folder's mtime moved).
 */
int	hwk_agent_add_dir(struct hwk_agent *a, const char *dir);
void	hwk_agent_rescan(struct hwk_agent *a);
void	hwk_agent_runtime_free(struct hwk_agent *a);
void	hwk_identity_clear(struct hwk_identity *id);
int	hwk_agent_add_stub(struct hwk_agent *a, struct hwk_buf *req,
	    struct hwk_buf *reply);
int	hwk_agent_remove(struct hwk_agent *a, struct hwk_buf *req,
	    struct hwk_buf *reply);
int	hwk_agent_remove_all(struct hwk_agent *a, struct hwk_buf *req,
	    struct hwk_buf *reply);
#define HWK_ADD_STUB_EXT	"add-stub@hwkeygen"
#define HWK_ADD_STUB_MAX	64	/* stubs in one request */
/* add-stub's flags: a string secret after each path ("": none given)... */
#define HWK_ADD_SECRETS		0x01
/* ...and a uint32 lifetime in seconds of the secrets, after the flags. */
#define HWK_ADD_LIFETIME	0x02
#define HWK_ADD_LIFETIME_MAX	(100U * 365 * 86400)

/*
 * unlock.c: a secret `hwkey-agent add` read on its terminal.  unlock
 * tries it once on the device (a signature of a fixed message), and on
 * success the key stays open with it (the TPM password kept in locked
 * memory, the token logged in) for life seconds (0: until removed).
 * expire lets go of those past their lifetime; forget of all (ssh-add -x).
 */
int	hwk_agent_unlock(struct hwk_agent *a, struct hwk_identity *id,
	    const char *secret, uint32_t life);
void	hwk_agent_expire(struct hwk_agent *a);
void	hwk_agent_forget_secrets(struct hwk_agent *a);
/* Logs which keys will need a secret, and how it will be asked. */
void	hwk_agent_log_secrets(struct hwk_agent *a);

/*
 * cert.c: NAME-cert.pub beside a stub NAME is offered with its key.
 * refresh stats each one (reads it again only when it changed); cert
 * gives the certificate an identity offers now, or NULL.
 */
void	hwk_agent_certs_refresh(struct hwk_agent *a);
const struct hwk_pubkey *hwk_identity_cert(const struct hwk_identity *id);
/* Hides the certificate (ssh-add -d) until its file changes. */
void	hwk_identity_cert_hide(struct hwk_identity *id);
void	hwk_cert_free(struct hwk_cert **cp);
/* A certificate line that certifies key; *whyp says why not. */
int	hwk_cert_parse(const char *line, const struct hwk_pubkey *key,
	    struct hwk_pubkey **certp, const char **whyp);
/* cert_sig.c: the CA's signature (string alg, string sig) over data. */
int	hwk_cert_sig_ok(const uint8_t *ca, size_t calen, const uint8_t *data,
	    size_t len, const uint8_t *sig, size_t siglen, const char **whyp);

/* add_cmd.c: hwkey-agent add STUB...; returns the exit code. */
int	hwk_agent_add_cmd(int argc, char **argv);
/*
 * add_tty.c: the secret of a stub that needs one, read on /dev/tty (NULL
 * if none is needed, or Enter alone was typed); *no_ttyp set when one is
 * needed but there is no terminal.  HWK_ERR_CANCELLED if reading failed.
 */
int	hwk_add_ask_secret(const char *path, char **secretp, int *no_ttyp);

/*
 * Answers one request (its type byte and body, without the length) by
 * appending the answer (type byte and body) to reply.  Never fails for a
 * malformed request: that is answered with AGENT_FAILURE.
 */
int	hwk_agent_dispatch(struct hwk_agent *a, const uint8_t *msg, size_t len,
	    struct hwk_buf *reply);
/*
 * The same for a request on connection c (conn.h), which keeps what the
 * connection's session-binds said; hwk_agent_dispatch has none.
 */
int	hwk_agent_dispatch_conn(struct hwk_agent *a, struct hwk_conn *c,
	    const uint8_t *msg, size_t len, struct hwk_buf *reply);

/*
 * Answers of hwk_agent_dispatch_conn on a connection whose can_wait the
 * server set (conn.h), with nothing on reply: the answer comes through
 * the connection's wait; or the PKCS#11 helper is taken by another's
 * request, and this one is to be asked again when it is free.
 */
#define HWK_AGENT_WAIT	2
#define HWK_AGENT_TURN	3

/* The identity of a key blob, or of a certificate of its key; or NULL. */
struct hwk_identity *hwk_agent_find_identity(struct hwk_agent *a,
	    const uint8_t *blob, size_t len);
/* sign.c: SIGN_REQUEST, its body in req; a wait's end, for the server. */
int	hwk_agent_sign(struct hwk_agent *a, struct hwk_conn *c,
	    struct hwk_buf *req, struct hwk_buf *reply);
int	hwk_agent_sign_step(struct hwk_agent *a, struct hwk_conn *c,
	    struct hwk_buf *reply);
/* The same for a signature whose --confirm question has been answered. */
int	hwk_agent_confirm_step(struct hwk_agent *a, struct hwk_conn *c,
	    struct hwk_buf *reply);
/*
 * The wait of a connection closed while its token request was out: its
 * answer is taken for nobody (c NULL above), but a key it opened is kept.
 * NULL lets go of the one there is.
 */
void	hwk_agent_sign_orphan(struct hwk_wait *w);

/* The listening side: poll loop over a UNIX socket until *stop is set. */
int	hwk_agent_serve(struct hwk_agent *a, int listen_fd,
	    volatile int *stop);

/* A hwk_ui that asks through SSH_ASKPASS, as ssh does. */
void	hwk_agent_askpass_ui(struct hwk_ctx *ctx);

#endif /* HWKEY_AGENT_H */
