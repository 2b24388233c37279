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
/* Stops the helper, if this process started one. */
void	hwk_agent_p11_end(void);

#endif /* HWKEY_AGENT_P11HELPER_H */
