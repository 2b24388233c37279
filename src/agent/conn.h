/*
 * What hwkey-agent knows of one client connection, and the policy a
 * signature on it passes: who is at the other end (peer.c), the SSH
 * sessions ssh bound it to (bind.c), and the user's yes (confirm.c).
 */
#ifndef HWKEY_AGENT_CONN_H
#define HWKEY_AGENT_CONN_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include "hwkey/sshkey.h"

struct hwk_agent;
struct hwk_buf;
struct hwk_ctx;
struct hwk_identity;
struct hwk_upx;

#define CONN_MAX_BINDS	16	/* ssh-agent's AGENT_MAX_SESSION_IDS */
#define CONN_MAX_SID	128	/* ssh-agent's AGENT_MAX_SID_LEN */
#define CONN_PROG_MAX	64
#define CONN_NAME_MAX	128

/* One session-bind@openssh.com: a hop on the way to the requester. */
struct hwk_bind {
	uint8_t		*hostkey;	/* the host key's blob */
	size_t		 hostkeylen;
	uint8_t		 sid[CONN_MAX_SID];
	size_t		 sidlen;
	int		 forwarded;
	char		 fp[HWK_FP_LEN];	/* of the host key */
	char		 name[CONN_NAME_MAX];	/* known_hosts' name, or "" */
	int		 looked_up;	/* name was looked for */
};

/*
 * A request of the connection whose answer comes later, from the PKCS#11
 * helper or the upstream agent: the poll loop serves other clients
 * meanwhile, and reads no more of this one until it is answered.
 */
enum { WAIT_HELPER = 1, WAIT_UPSTREAM, WAIT_CONFIRM };
/* What the upstream's answer makes: itself, merged with ours, or ours. */
enum { UP_FORWARD = 1, UP_MERGE, UP_TELL };

struct hwk_wait {
	int		 kind;
	/*
	 * WAIT_HELPER: a signature, by which key, of what, in which form;
	 * first the key opened by its stub, when that is given.  The same
	 * for WAIT_CONFIRM, and the askpass asking the user, its output.
	 */
	uint8_t		*blob;
	size_t		 bloblen;
	char		 alg[48];
	int		 algno;
	uint8_t		*data;
	size_t		 datalen;
	uint8_t		*stub;
	size_t		 stublen;
	pid_t		 pid;
	int		 fd;
	/* WAIT_UPSTREAM: the exchange, and what to make of its answer */
	struct hwk_upx	*x;
	uint8_t		 type;		/* of the request */
	int		 then;
	struct hwk_buf	*ours;		/* UP_MERGE: our keys; UP_TELL: answer */
	int		 level;		/* UP_TELL: of fail in the log */
	const char	*fail;		/* said when the upstream did not do it */
};

struct hwk_conn {
	pid_t		 pid;		/* of the peer at connect; 0: unknown */
	char		 prog[CONN_PROG_MAX];	/* its name, read when needed */
	struct hwk_bind	*binds;		/* grown as ssh binds: most have none */
	size_t		 nbinds;
	int		 bind_failed;	/* a session-bind did not verify */
	int		 up_fd;		/* its connection to the upstream agent */
	int		 can_wait;	/* the server finishes a wait (below) */
	struct hwk_wait	*wait;		/* its request being answered, or NULL */
};

/* peer.c */
struct hwk_conn *hwk_conn_new(pid_t pid);
void	hwk_conn_free(struct hwk_conn **cp);
void	hwk_wait_free(struct hwk_wait **wp);
/* The peer's program (/proc/PID/comm, else its exe's name), or "?". */
const char *hwk_conn_prog(struct hwk_conn *c);
/*
 * Who asks, for a question to the user: the program and, on a connection
 * ssh bound, where the request comes from.  Sentences, one a line, no
 * final newline; cut to fit len.
 */
void	hwk_conn_who(struct hwk_conn *c, char *buf, size_t len);
/*
 * A host for the user: "name (SHA256:...)" with the name known_hosts gives
 * its key, else the fingerprint alone.
 */
const char *hwk_conn_host(struct hwk_bind *b, char *buf, size_t len);
/* The key for the user: its comment (else its file) and fingerprint. */
const char *hwk_conn_key_name(const struct hwk_identity *id,
	    char fp[HWK_FP_LEN]);

/* bind.c */
/*
 * Verifies sig (an SSH signature: string alg, string blob) over data with
 * an ssh-rsa (rsa-sha2-256/512, ssh-rsa), ecdsa-sha2-nistp* or ssh-ed25519
 * public key blob, or a certificate of one, as ssh-agent checks a
 * session-bind.
 */
int	hwk_bind_verify(const uint8_t *key, size_t keylen, const uint8_t *sig,
	    size_t siglen, const uint8_t *data, size_t datalen);
/*
 * The body of a session-bind@openssh.com after its name: host key,
 * session id, signature, is_forwarding.  Verified and remembered on c
 * (when c is not NULL) as ssh-agent does; 0 if accepted.  One that does
 * not parse or verify marks the connection: it may sign no more.
 */
int	hwk_bind_session(struct hwk_agent *a, struct hwk_conn *c,
	    struct hwk_buf *req);
/* 0 if the connection may have a signature by id, else it was logged. */
int	hwk_bind_may_sign(struct hwk_agent *a, struct hwk_conn *c,
	    const struct hwk_identity *id);
/* The same for a key of the upstream agent: our rule applies to it too. */
int	hwk_bind_may_pass(struct hwk_agent *a, struct hwk_conn *c);

/* confirm.c */
/* With --confirm, asks the user through SSH_ASKPASS; 0 only on a yes. */
int	hwk_confirm_sign(struct hwk_agent *a, struct hwk_conn *c,
	    const struct hwk_identity *id);
/*
 * The same without waiting: start puts the question on the screen (its
 * askpass in w->pid, w->fd), or says why not (logged, not 0); end takes
 * the answer once w->fd has ended: 0 only on a yes.  One question at a
 * time: busy while one is on the screen; cancel takes it off (the
 * client left).
 */
int	hwk_confirm_start(struct hwk_agent *a, struct hwk_conn *c,
	    const struct hwk_identity *id, struct hwk_wait *w);
int	hwk_confirm_end(struct hwk_agent *a, struct hwk_conn *c,
	    const char *path, struct hwk_wait *w);
int	hwk_confirm_busy(void);
void	hwk_confirm_cancel(struct hwk_wait *w);

/* askpass.c */
/*
 * Runs SSH_ASKPASS with prompt (and SSH_ASKPASS_PROMPT=hint unless NULL),
 * as ssh does; its first line of output in buf.  HWK_ERR_CANCELLED when
 * it may not be run, or it exits other than 0.
 */
int	hwk_askpass(struct hwk_ctx *ctx, const char *prompt, const char *hint,
	    char *buf, size_t len);
/*
 * The same in two: start runs it, its output to be read on *fdp; finish
 * reads its answer there (poll fd for its end first, to wait in no read)
 * and reaps it.
 */
int	hwk_askpass_start(struct hwk_ctx *ctx, const char *prompt,
	    const char *hint, pid_t *pidp, int *fdp);
int	hwk_askpass_finish(struct hwk_ctx *ctx, pid_t pid, int fd, char *buf,
	    size_t len);
/* start for a backend's PIN or password prompt, named as askpass_about. */
int	hwk_askpass_secret_start(struct hwk_ctx *ctx, const char *prompt,
	    pid_t *pidp, int *fdp);
/* Takes a started askpass off the screen (SIGTERM; SIGKILL after 1 s). */
void	hwk_askpass_cancel(pid_t pid, int fd);
/* Whether ctx asks through askpass (hwk_agent_askpass_ui), as start does. */
int	hwk_askpass_is_ui(const struct hwk_ctx *ctx);
/* The request the PIN and password prompts are for; NULLs: none. */
void	hwk_askpass_about(struct hwk_conn *c, const struct hwk_identity *id);

#endif /* HWKEY_AGENT_CONN_H */
