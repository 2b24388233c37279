/* hwkey-agent's upstream agent (--upstream): what we do not hold goes there. */
#ifndef HWKEY_AGENT_UPSTREAM_H
#define HWKEY_AGENT_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>

struct hwk_agent;
struct hwk_buf;
struct hwk_conn;
struct hwk_ctx;
struct hwk_upx;

#define UPSTREAM_TIMEOUT_MS	30000	/* an exchange, unless set otherwise */
#define UPSTREAM_MAX_IDS	2048	/* as OpenSSH's MAX_AGENT_IDENTITIES */

struct hwk_upstream {
	char	*path;
	int	 timeout_ms;
	int	 fd;		/* for requests answered outside a client */
	int	*conn;		/* the connection of the client being answered */
	int	 down;		/* its failure was logged; cleared when it answers */
};

/* How an exchange went: a reused connection may have been closed since. */
enum { XCH_OK = 0, XCH_FAIL = -1, XCH_STALE = -2, XCH_AGAIN = -3 };

/* path is made absolute: the agent leaves its folder for "/". */
int	hwk_upstream_new(struct hwk_ctx *ctx, const char *path,
	    struct hwk_upstream **upp);
void	hwk_upstream_free(struct hwk_upstream **upp);
/*
 * The server names the upstream connection of the client it answers
 * (*conn, -1 until one is needed), and NULL when done: one connection per
 * client keeps what the upstream remembers per connection (session-bind).
 */
void	hwk_upstream_use(struct hwk_upstream *up, int *conn);
/* Closes a client's upstream connection, if it has one. */
void	hwk_upstream_close(int *conn);

/*
 * Passes a request (type byte and body) on and appends the upstream's
 * answer, checked to fit the request, to reply; FAILURE when there is no
 * good answer.  Returns non-zero only when reply cannot grow.
 */
int	hwk_upstream_forward(struct hwk_agent *a, const uint8_t *msg,
	    size_t len, struct hwk_buf *reply);
/* Passes a request on for the upstream's sake: its answer type, or -1. */
int	hwk_upstream_tell(struct hwk_agent *a, const uint8_t *msg, size_t len);
/*
 * REQUEST_IDENTITIES: our answer (ours, a whole IDENTITIES_ANSWER) with
 * the upstream's keys after ours, onto reply; ours alone if it fails.
 */
int	hwk_upstream_identities(struct hwk_agent *a, const struct hwk_buf *ours,
	    struct hwk_buf *reply);
/*
 * Two IDENTITIES_ANSWER messages into one: ours first, then theirs that
 * are neither ours nor seen before, at most UPSTREAM_MAX_IDS keys and
 * AGENT_MAX_MSG bytes.  HWK_ERR_FORMAT if theirs is malformed.
 */
int	hwk_upstream_merge(const uint8_t *ours, size_t ourslen,
	    const uint8_t *theirs, size_t theirslen, struct hwk_buf *out);

/*
 * A request passed on without waiting: c's wait (conn.h) gets the exchange
 * and what to make of its answer (then, ours: taken, whatever happens;
 * fail said at level when an UP_TELL was not done).  HWK_AGENT_WAIT.
 */
int	hwk_upstream_defer(struct hwk_agent *a, struct hwk_conn *c,
	    const uint8_t *msg, size_t len, int then, struct hwk_buf *ours,
	    int level, const char *fail);
/* The fd c's exchange waits on, for which events, until when; -1: none. */
int	hwk_upstream_wait_poll(struct hwk_conn *c, short *eventsp,
	    uint64_t *deadlinep);
/* Takes the exchange on; 1 once the answer for the client is on reply. */
int	hwk_upstream_wait_step(struct hwk_agent *a, struct hwk_conn *c,
	    struct hwk_buf *reply);

/*
 * upxchg.c: one exchange on the connection *fdp (made when -1), a step at
 * a time.  step is XCH_AGAIN until it is done (then XCH_OK and the answer,
 * without its length, taken by take; or XCH_FAIL and why); poll gives
 * what to wait for in between, run waits for it all.
 */
int	hwk_upx_start(struct hwk_upstream *up, int *fdp, const uint8_t *msg,
	    size_t len, struct hwk_upx **xp);
int	hwk_upx_step(struct hwk_upstream *up, struct hwk_upx *x);
int	hwk_upx_poll(const struct hwk_upx *x, short *eventsp,
	    uint64_t *deadlinep);
int	hwk_upx_run(struct hwk_upstream *up, struct hwk_upx *x);
struct hwk_buf *hwk_upx_take(struct hwk_upx *x);
const char *hwk_upx_why(const struct hwk_upx *x);
void	hwk_upx_free(struct hwk_upx **xp);
uint64_t hwk_upx_now_ms(void);

#endif /* HWKEY_AGENT_UPSTREAM_H */
