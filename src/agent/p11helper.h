/*
 * The PKCS#11 helper of hwkey-agent: the one process that loads token
 * modules, so that a module that crashes or hangs takes only a signature
 * with it.  The agent side (p11proxy.c, the stand-in backend, over
 * p11client.c) and the helper (p11helper.c) talk over a socketpair in messages framed as the agent protocol's
 * (u32 length, type byte, body), one request at a time (p11wire.c).
 */
#ifndef HWKEY_AGENT_P11HELPER_H
#define HWKEY_AGENT_P11HELPER_H

#include <stddef.h>
#include <stdint.h>

struct hwk_agent;
struct hwk_buf;
struct hwk_backend;
struct hwk_ctx;
struct hwk_key;

/* The hidden argument that makes hwkey-agent the helper. */
#define P11H_ARG		"--pkcs11-helper"
#define P11H_MAX_MSG		(1024 * 1024)

/* Agent to helper: requests. */
#define P11H_OPTS	1	/* u32 n, n x (string name, string value) */
#define P11H_CHECK	2	/* (nothing): the backend's option check */
#define P11H_LOAD	3	/* string stub */
#define P11H_SIGN	4	/* u32 handle, u32 alg, string data */
#define P11H_FREE	5	/* u32 handle */
#define P11H_SECRET	6	/* u32 -rc, string secret: answers ASK */

/* Helper to agent: answers, and questions in the middle of one. */
#define P11H_OK		30
#define P11H_ERR	31	/* u32 -rc, string detail, string advice */
#define P11H_KEY	32	/* u32 handle, string blob, string comment */
#define P11H_SIG	33	/* string raw signature */
#define P11H_ASK	34	/* string prompt: a PIN is needed */
#define P11H_NOTICE	35	/* string message for the log; answered OK */

/*
 * Sends one message (its type byte and body) on fd; receives one into
 * msg (reset first).  deadline_ms is a p11h_now_ms() time after
 * which they give up with HWK_ERR_DEVICE; 0 waits for ever.  The other
 * side gone (end of file, a broken pipe) is HWK_ERR_NO_DEVICE.
 */
int	p11h_send(int fd, const struct hwk_buf *msg, uint64_t deadline_ms);
int	p11h_recv(int fd, struct hwk_buf *msg, uint64_t deadline_ms);
uint64_t p11h_now_ms(void);

/* The agent's side of the helper (p11client.c), for p11proxy.c. */
void	p11c_init(struct hwk_agent *a, const struct hwk_backend *const *builtin);
/* A helper of this process, alive and idle, started if need be. */
int	p11c_ready(struct hwk_ctx *ctx);
/*
 * One request to the helper and its answer in reply, read past its type
 * byte; an ERR answer is its code and words.  PIN questions and notices
 * on the way are dealt with.  A helper that dies, or says nothing for the
 * timeout, is reaped and the request fails with HWK_ERR_DEVICE.
 */
int	p11c_call(struct hwk_ctx *ctx, struct hwk_buf *req,
	    struct hwk_buf *reply);
/*
 * The same in steps, so that the agent's poll loop waits for the helper
 * among its clients: start sends the request; waiting gives the fd to
 * poll while its answer is due (-2: read already, call step; -1: none)
 * and by when; step reads what came (answering PIN questions and notices
 * on the way) and is 1 once the answer is in reply and *rcp, as
 * p11c_call gives them.  A p11c_call made meanwhile first waits for that
 * answer and keeps it for step: the helper takes one request at a time.
 */
int	p11c_start(struct hwk_ctx *ctx, struct hwk_buf *req);
int	p11c_waiting(uint64_t *deadlinep);
int	p11c_step(struct hwk_ctx *ctx, struct hwk_buf *reply, int *rcp);
/*
 * p11ask.c: the helper's PIN questions.  give_pin: the PIN the next one
 * is answered with, unasked (NULL: none).  question answers one (msg
 * past its type) on the helper's fd; with async, through an askpass left
 * on the screen (1): asking is its output (-1: none), to poll for its end,
 * finish relays its answer, cancel takes it off, forget (in a child) lets
 * go of it.
 */
void	p11c_give_pin(const char *pin);
int	p11a_question(struct hwk_ctx *ctx, struct hwk_buf *msg, int fd,
	    uint64_t deadline, int async);
int	p11a_asking(void);
int	p11a_finish(struct hwk_ctx *ctx, int fd, uint64_t deadline);
void	p11a_cancel(void);
void	p11a_forget(void);
/* The helper that runs now, as a number that a new one changes; 0: none. */
unsigned p11c_gen(void);
/*
 * Nonzero if the last p11c_call() found the helper dead before it sent
 * the request (it died while idle): the request may be made again, in a
 * new helper, at no cost to the signature.
 */
int	p11c_gone_idle(void);
/* Ends the helper: killed at once, or given time to close its sessions. */
void	p11c_stop(int kill_it);

/* The helper's life: requests from fd until it closes.  Never returns. */
void	hwk_p11helper_main(int fd) __attribute__((noreturn));

/*
 * In the agent: PKCS#11 keys go through the helper from now on.  Swaps
 * the pkcs11 backend in the registry for one that asks the helper, so the
 * agent never loads p11-kit or a module itself.
 */
int	hwk_agent_p11_isolate(struct hwk_agent *a);
/* Whether keys of backend b are the helper's. */
int	hwk_agent_p11_owns(const struct hwk_backend *b);
/* Whether the helper is taken by a request out, or an answer not taken. */
int	hwk_agent_p11_busy(void);
/*
 * A signature by key started in the helper, its answer due through
 * p11c_step; 1 when it cannot be started so (not the helper's key, the
 * helper busy, gone or not the one the key was opened in): sign with
 * hwk_key_sign, which waits.  sign_end takes the signature from the
 * answer step gave.
 */
int	hwk_agent_p11_sign_start(struct hwk_ctx *ctx, struct hwk_key *key,
	    int alg, const uint8_t *data, size_t len);
int	hwk_agent_p11_sign_end(struct hwk_ctx *ctx, struct hwk_buf *reply,
	    uint8_t **sigp, size_t *siglenp);
/*
 * The same for opening a key by its stub (the token may log in then):
 * started in the helper (which is started if need be), 1 if it is busy;
 * open_end makes the key of the helper's answer.
 */
int	hwk_agent_p11_open_start(struct hwk_ctx *ctx, const uint8_t *stub,
	    size_t len);
int	hwk_agent_p11_open_end(struct hwk_ctx *ctx, struct hwk_buf *reply,
	    const uint8_t *stub, size_t len, struct hwk_key **keyp);
/*
 * Keeps the PIN the helper's key logged in with (given by hwkey-agent
 * add), in locked memory wiped when the key is freed, so that a helper
 * started again logs in with it without asking.  Nothing for other keys.
 */
int	hwk_agent_p11_keep_pin(struct hwk_key *key, const char *pin);
/* A helper key whose helper is gone since: kept, it opens again itself. */
int	hwk_agent_p11_reopens(const struct hwk_key *key);
/* Stops the helper, if this process started one. */
void	hwk_agent_p11_end(void);

#endif /* HWKEY_AGENT_P11HELPER_H */
