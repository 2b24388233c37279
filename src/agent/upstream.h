/* hwkey-agent's upstream agent (--upstream): what we do not hold goes there. */
#ifndef HWKEY_AGENT_UPSTREAM_H
#define HWKEY_AGENT_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>

struct hwk_agent;
struct hwk_buf;
struct hwk_ctx;

#define UPSTREAM_TIMEOUT_MS	30000	/* an exchange, unless set otherwise */
#define UPSTREAM_MAX_IDS	2048	/* as OpenSSH's MAX_AGENT_IDENTITIES */

struct hwk_upstream {
	char	*path;
	int	 timeout_ms;
	int	 fd;		/* for requests answered outside a client */
	int	*conn;		/* the connection of the client being answered */
	int	 down;		/* its failure was logged; cleared when it answers */
};

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

#endif /* HWKEY_AGENT_UPSTREAM_H */
