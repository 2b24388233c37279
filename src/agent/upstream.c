/*
 * hwkey-agent's upstream agent (--upstream SOCKET): requests for keys we
 * do not hold, and those that add or remove keys, pass on to another agent
 * (ssh-agent) and its answers come back.  An upstream that is absent,
 * hangs, dies or talks nonsense costs the request its part only, is logged
 * once, and is tried afresh at the next request.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hwkey/buf.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "agent.h"
#include "conn.h"
#include "upstream.h"

#define TIMEOUT_MAX_S	86400	/* the most HWK_AGENT_UPSTREAM_TIMEOUT says */


static void
nolog(int level, const char *fmt, ...)
{
	(void)level;
	(void)fmt;
}

#define LOG(a, lvl, ...) ((a)->log != NULL ? (a)->log : nolog)(lvl, __VA_ARGS__)

/* $HWK_AGENT_UPSTREAM_TIMEOUT: seconds (a fraction allowed), for tests. */
static int
timeout_ms(struct hwk_ctx *ctx, int *msp)
{
	const char *s = getenv("HWK_AGENT_UPSTREAM_TIMEOUT");
	char *end;
	double v;

	*msp = UPSTREAM_TIMEOUT_MS;
	if (s == NULL)
		return HWK_OK;
	errno = 0;
	v = strtod(s, &end);
	if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0 ||
	    v < 0.001 || v > TIMEOUT_MAX_S)
		return hwk_ctx_error(ctx, HWK_ERR_USAGE, "HWK_AGENT_UPSTREAM_"
		    "TIMEOUT is not a number of seconds from 0.001 to %d",
		    TIMEOUT_MAX_S);
	*msp = (int)(v * 1000);
	return HWK_OK;
}

int
hwk_upstream_new(struct hwk_ctx *ctx, const char *path,
    struct hwk_upstream **upp)
{
	struct sockaddr_un sun;
	struct hwk_upstream *up;
	char cwd[PATH_MAX];
	int r;

	*upp = NULL;
	if ((up = calloc(1, sizeof(*up))) == NULL)
		return HWK_ERR_NOMEM;
	up->fd = -1;
	if ((r = timeout_ms(ctx, &up->timeout_ms)) != 0)
		goto out;
	if (path[0] == '/')
		up->path = strdup(path);
	else if (getcwd(cwd, sizeof(cwd)) == NULL ||
	    asprintf(&up->path, "%s/%s", cwd, path) < 0)
		up->path = NULL;
	if (up->path == NULL) {
		r = HWK_ERR_NOMEM;
		goto out;
	}
	if (path[0] == '\0' || strlen(up->path) >= sizeof(sun.sun_path)) {
		r = hwk_ctx_error(ctx, HWK_ERR_USAGE, "--upstream: '%s' is not "
		    "a socket path that fits", path);
		goto out;
	}
	*upp = up;
	up = NULL;
	r = HWK_OK;
 out:
	hwk_upstream_free(&up);
	return r;
}

void
hwk_upstream_free(struct hwk_upstream **upp)
{
	struct hwk_upstream *up = *upp;

	if (up == NULL)
		return;
	hwk_upstream_close(&up->fd);
	free(up->path);
	free(up);
	*upp = NULL;
}

void
hwk_upstream_use(struct hwk_upstream *up, int *conn)
{
	if (up != NULL)
		up->conn = conn;
}

void
hwk_upstream_close(int *conn)
{
	if (*conn >= 0)
		close(*conn);
	*conn = -1;
}

/* The connection of the client being answered, else our own. */
static int *
conn_of(struct hwk_upstream *up)
{
	return up->conn != NULL ? up->conn : &up->fd;
}

/* Says once that the upstream failed, until it answers again. */
static void
went_down(struct hwk_agent *a, const char *why)
{
	struct hwk_upstream *up = a->upstream;

	if (up->down) {
		LOG(a, AGENT_LOG_DEBUG, "upstream agent: %s", why);
		return;
	}
	up->down = 1;
	LOG(a, AGENT_LOG_ERR, "upstream agent %s: %s; its part of each "
	    "request fails until it answers", up->path, why);
}

/* An answer that made sense: a failure will be logged again. */
static void
came_back(struct hwk_agent *a)
{
	struct hwk_upstream *up = a->upstream;

	if (up->down)
		LOG(a, AGENT_LOG_INFO, "upstream agent %s answers again",
		    up->path);
	up->down = 0;
}

/*
 * One request and its answer on the client's connection, made when it
 * has none, while nothing else is served; the answer, or NULL.
 */
static int
exchange(struct hwk_agent *a, const uint8_t *msg, size_t len,
    struct hwk_buf **ansp)
{
	struct hwk_upstream *up = a->upstream;
	struct hwk_upx *x = NULL;
	int r;

	*ansp = NULL;
	if (hwk_upx_start(up, conn_of(up), msg, len, &x) != 0)
		return HWK_ERR_NOMEM;
	if ((r = hwk_upx_run(up, x)) == XCH_OK)
		*ansp = hwk_upx_take(x);
	else
		went_down(a, hwk_upx_why(x));
	hwk_upx_free(&x);
	return HWK_OK;
}

/* Whether an answer is one the request may have. */
static int
answer_fits(uint8_t req, uint8_t ans)
{
	if (ans == AGENT_FAILURE)
		return 1;
	switch (req) {
	case AGENTC_REQUEST_IDENTITIES:
		return ans == AGENT_IDENTITIES_ANSWER;
	case AGENTC_SIGN_REQUEST:
		return ans == AGENT_SIGN_RESPONSE;
	case AGENTC_EXTENSION:
		return 1;	/* each extension answers as it defines */
	default:
		return ans == AGENT_SUCCESS;
	}
}

/* An answer that fits the request, else NULL (and it is logged). */
static struct hwk_buf *
judge(struct hwk_agent *a, int *fdp, uint8_t type, struct hwk_buf *ans)
{
	char why[64];

	if (ans == NULL)
		return NULL;
	if (hwk_buf_len(ans) == 0 || !answer_fits(type, hwk_buf_ptr(ans)[0])) {
		/* Out of step, or not an agent: start afresh next time. */
		hwk_upstream_close(fdp);
		snprintf(why, sizeof(why), "answered request %u with a "
		    "message of type %u", type, hwk_buf_len(ans) > 0 ?
		    hwk_buf_ptr(ans)[0] : 0);
		went_down(a, why);
		hwk_buf_free(&ans);
		return NULL;
	}
	/* A list of keys is known good once it is read (identities). */
	if (type != AGENTC_REQUEST_IDENTITIES)
		came_back(a);
	return ans;
}

/* An exchange whose answer fits the request; *ansp NULL if none. */
static int
ask(struct hwk_agent *a, const uint8_t *msg, size_t len,
    struct hwk_buf **ansp)
{
	int r;

	*ansp = NULL;
	if (len == 0)
		return HWK_ERR_NOMEM;
	if ((r = exchange(a, msg, len, ansp)) != 0)
		return r;
	*ansp = judge(a, conn_of(a->upstream), msg[0], *ansp);
	return HWK_OK;
}

int
hwk_upstream_forward(struct hwk_agent *a, const uint8_t *msg, size_t len,
    struct hwk_buf *reply)
{
	struct hwk_buf *ans = NULL;
	int r;

	if ((r = ask(a, msg, len, &ans)) != 0 || ans == NULL)
		return hwk_buf_put_u8(reply, AGENT_FAILURE);
	r = hwk_buf_putb(reply, ans);
	hwk_buf_free(&ans);
	return r;
}

int
hwk_upstream_tell(struct hwk_agent *a, const uint8_t *msg, size_t len)
{
	struct hwk_buf *ans = NULL;
	int type;

	if (ask(a, msg, len, &ans) != 0 || ans == NULL)
		return -1;
	type = hwk_buf_ptr(ans)[0];
	hwk_buf_free(&ans);
	return type;
}

/* Ours with theirs (ans, NULL if none came) onto reply. */
static int
merged(struct hwk_agent *a, int *fdp, const struct hwk_buf *ours,
    const struct hwk_buf *ans, struct hwk_buf *reply)
{
	size_t start = hwk_buf_len(reply);
	int r;

	if (ans != NULL && hwk_buf_ptr(ans)[0] == AGENT_IDENTITIES_ANSWER) {
		r = hwk_upstream_merge(hwk_buf_ptr(ours), hwk_buf_len(ours),
		    hwk_buf_ptr(ans), hwk_buf_len(ans), reply);
		if (r == HWK_OK)
			came_back(a);
		if (r != HWK_ERR_FORMAT)
			return r;
		hwk_buf_consume_end(reply, hwk_buf_len(reply) - start);
		hwk_upstream_close(fdp);
		went_down(a, "sent a malformed list of keys");
	}
	return hwk_buf_putb(reply, ours);
}

int
hwk_upstream_identities(struct hwk_agent *a, const struct hwk_buf *ours,
    struct hwk_buf *reply)
{
	static const uint8_t req = AGENTC_REQUEST_IDENTITIES;
	struct hwk_buf *ans = NULL;
	int r;

	if ((r = ask(a, &req, 1, &ans)) == 0)
		r = merged(a, conn_of(a->upstream), ours, ans, reply);
	hwk_buf_free(&ans);
	return r;
}

int
hwk_upstream_defer(struct hwk_agent *a, struct hwk_conn *c,
    const uint8_t *msg, size_t len, int then, struct hwk_buf *ours,
    int level, const char *fail)
{
	struct hwk_wait *w;
	int r;

	if ((w = calloc(1, sizeof(*w))) == NULL) {
		hwk_buf_free(&ours);
		return HWK_ERR_NOMEM;
	}
	w->kind = WAIT_UPSTREAM;
	w->type = msg[0];
	w->then = then;
	w->ours = ours;
	w->level = level;
	w->fail = fail;
	if ((r = hwk_upx_start(a->upstream, &c->up_fd, msg, len,
	    &w->x)) != 0) {
		hwk_wait_free(&w);
		return r;
	}
	c->wait = w;
	return HWK_AGENT_WAIT;
}

int
hwk_upstream_wait_poll(struct hwk_conn *c, short *eventsp,
    uint64_t *deadlinep)
{
	if (c->wait == NULL || c->wait->kind != WAIT_UPSTREAM)
		return -1;
	return hwk_upx_poll(c->wait->x, eventsp, deadlinep);
}

int
hwk_upstream_wait_step(struct hwk_agent *a, struct hwk_conn *c,
    struct hwk_buf *reply)
{
	struct hwk_wait *w = c->wait;
	struct hwk_buf *ans = NULL;
	int r;

	if ((r = hwk_upx_step(a->upstream, w->x)) == XCH_AGAIN)
		return 0;
	if (r == XCH_OK)
		ans = hwk_upx_take(w->x);
	else
		went_down(a, hwk_upx_why(w->x));
	ans = judge(a, &c->up_fd, w->type, ans);
	switch (w->then) {
	case UP_FORWARD:
		r = ans != NULL ? hwk_buf_putb(reply, ans) :
		    hwk_buf_put_u8(reply, AGENT_FAILURE);
		break;
	case UP_MERGE:
		r = merged(a, &c->up_fd, w->ours, ans, reply);
		break;
	default:
		if (ans == NULL || hwk_buf_ptr(ans)[0] != AGENT_SUCCESS)
			LOG(a, w->level, "%s", w->fail);
		r = hwk_buf_putb(reply, w->ours);
		break;
	}
	hwk_buf_free(&ans);
	return r != 0 ? r : 1;
}

/* A key of a list already taken, by its blob. */
struct seen {
	const uint8_t	*blob;
	size_t		 len;
};

/*
 * Takes the keys of one IDENTITIES_ANSWER into keys, skipping those seen
 * before, while they stay within the limits.  HWK_ERR_FORMAT if malformed.
 */
static int
take_keys(const uint8_t *msg, size_t len, struct seen *seen, uint32_t *np,
    struct hwk_buf *keys)
{
	struct hwk_buf *b;
	const uint8_t *blob, *comment;
	size_t bloblen, clen, i;
	uint32_t count, k;
	uint8_t type;
	int r = HWK_ERR_FORMAT;

	if ((b = hwk_buf_from(msg, len)) == NULL)
		return HWK_ERR_NOMEM;
	if (hwk_buf_get_u8(b, &type) != 0 || type != AGENT_IDENTITIES_ANSWER ||
	    hwk_buf_get_u32(b, &count) != 0 || count > UPSTREAM_MAX_IDS)
		goto out;
	for (k = 0; k < count; k++) {
		if (hwk_buf_get_string_direct(b, &blob, &bloblen) != 0 ||
		    hwk_buf_get_string_direct(b, &comment, &clen) != 0 ||
		    bloblen == 0)
			goto out;
		for (i = 0; i < *np; i++)
			if (seen[i].len == bloblen &&
			    memcmp(seen[i].blob, blob, bloblen) == 0)
				break;
		/* The keys past a limit are left out, as ssh would refuse all. */
		if (i < *np || *np >= UPSTREAM_MAX_IDS || 5 + hwk_buf_len(keys) +
		    8 + bloblen + clen > AGENT_MAX_MSG)
			continue;
		if (hwk_buf_put_string(keys, blob, bloblen) != 0 ||
		    hwk_buf_put_string(keys, comment, clen) != 0) {
			r = HWK_ERR_NOMEM;
			goto out;
		}
		seen[*np].blob = blob;
		seen[(*np)++].len = bloblen;
	}
	if (hwk_buf_len(b) == 0)
		r = HWK_OK;
 out:
	hwk_buf_free(&b);
	return r;
}

int
hwk_upstream_merge(const uint8_t *ours, size_t ourslen, const uint8_t *theirs,
    size_t theirslen, struct hwk_buf *out)
{
	struct hwk_buf *keys = NULL;
	struct seen *seen = NULL;
	uint32_t n = 0;
	int r;

	/* Blobs point into ours and theirs, which outlive this call. */
	if ((seen = calloc(UPSTREAM_MAX_IDS, sizeof(*seen))) == NULL ||
	    (keys = hwk_buf_new()) == NULL) {
		r = HWK_ERR_NOMEM;
		goto out;
	}
	if ((r = take_keys(ours, ourslen, seen, &n, keys)) != 0 ||
	    (r = take_keys(theirs, theirslen, seen, &n, keys)) != 0)
		goto out;
	if ((r = hwk_buf_put_u8(out, AGENT_IDENTITIES_ANSWER)) != 0 ||
	    (r = hwk_buf_put_u32(out, n)) != 0)
		goto out;
	r = hwk_buf_putb(out, keys);
 out:
	hwk_buf_free(&keys);
	free(seen);
	return r;
}
