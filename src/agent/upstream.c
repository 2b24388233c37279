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
#include "upstream.h"

#define TIMEOUT_MAX_S	86400	/* the most HWK_AGENT_UPSTREAM_TIMEOUT says */
#define UPSTREAM_READ	4096	/* the first read of an answer */

/* How an exchange went: a reused connection may have been closed since. */
enum { XCH_OK = 0, XCH_FAIL = -1, XCH_STALE = -2 };

static void
nolog(int level, const char *fmt, ...)
{
	(void)level;
	(void)fmt;
}

#define LOG(a, lvl, ...) ((a)->log != NULL ? (a)->log : nolog)(lvl, __VA_ARGS__)

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

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

static int
up_connect(struct hwk_upstream *up, int *fdp, char *why, size_t whylen)
{
	struct sockaddr_un sun;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, up->path, strlen(up->path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		snprintf(why, whylen, "cannot connect: %s", strerror(errno));
		goto fail;
	}
	/* Passing on to ourselves would wait on ourselves. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 &&
	    cred.pid == getpid()) {
		snprintf(why, whylen, "that is this agent's own socket");
		goto fail;
	}
	*fdp = fd;
	return XCH_OK;
 fail:
	if (fd >= 0)
		close(fd);
	return XCH_FAIL;
}

/* Waits until fd is ready for ev, or the deadline passes (ETIMEDOUT). */
static int
wait_fd(int fd, short ev, uint64_t deadline)
{
	struct pollfd p;
	uint64_t t;
	int n;

	for (;;) {
		if ((t = now_ms()) >= deadline) {
			errno = ETIMEDOUT;
			return -1;
		}
		p.fd = fd;
		p.events = ev;
		p.revents = 0;
		if ((n = poll(&p, 1, (int)(deadline - t))) > 0)
			return 0;	/* or an error the next call tells */
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

/* The length and the request in one sendmsg; no copy of what it holds. */
static int
send_msg(int fd, const uint8_t *msg, size_t len, uint64_t deadline,
    char *why, size_t whylen)
{
	uint8_t head[4] = { (uint8_t)(len >> 24), (uint8_t)(len >> 16),
	    (uint8_t)(len >> 8), (uint8_t)len };
	struct iovec iov[2];
	struct msghdr mh;
	size_t off = 0, at;
	ssize_t n;

	while (off < 4 + len) {
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = iov;
		if (off < 4) {
			iov[mh.msg_iovlen].iov_base = head + off;
			iov[mh.msg_iovlen++].iov_len = 4 - off;
		}
		at = off > 4 ? off - 4 : 0;
		iov[mh.msg_iovlen].iov_base = (void *)(msg + at);
		iov[mh.msg_iovlen++].iov_len = len - at;
		if ((n = sendmsg(fd, &mh, MSG_NOSIGNAL)) > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EPIPE || errno == ECONNRESET) &&
		    off == 0) {
			snprintf(why, whylen, "closed the connection");
			return XCH_STALE;
		}
		if ((n < 0 && errno != EAGAIN) ||
		    wait_fd(fd, POLLOUT, deadline) != 0) {
			snprintf(why, whylen, "cannot send: %s", strerror(errno));
			return XCH_FAIL;
		}
	}
	return XCH_OK;
}

/*
 * At least min bytes and at most max into p; *got counts all the bytes of
 * the answer so far (none: the connection may be one closed since).
 */
static int
recv_some(int fd, uint8_t *p, size_t min, size_t max, uint64_t deadline,
    size_t *got, char *why, size_t whylen)
{
	size_t have = 0;
	ssize_t n;

	while (have < min) {
		if ((n = recv(fd, p + have, max - have, 0)) > 0) {
			have += (size_t)n;
			*got += (size_t)n;
			continue;
		}
		if (n == 0 || (errno == ECONNRESET && *got == 0)) {
			snprintf(why, whylen, "closed the connection%s",
			    *got > 0 ? " in the middle of an answer" : "");
			return *got == 0 ? XCH_STALE : XCH_FAIL;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN || wait_fd(fd, POLLIN, deadline) != 0) {
			snprintf(why, whylen, "cannot read: %s",
			    errno == ETIMEDOUT ? "no answer in time" :
			    strerror(errno));
			return XCH_FAIL;
		}
	}
	return XCH_OK;
}

/* The answer into ans, without its length; most come in one read. */
static int
recv_answer(int fd, struct hwk_buf *ans, uint64_t deadline, char *why,
    size_t whylen)
{
	const uint8_t *h;
	uint8_t *p;
	size_t got = 0, first;
	uint32_t len;
	int r;

	/* The answer is never there yet: wait before the first read. */
	if (wait_fd(fd, POLLIN, deadline) != 0) {
		snprintf(why, whylen, "no answer in time");
		return XCH_FAIL;
	}
	if (hwk_buf_reserve(ans, UPSTREAM_READ, &p) != 0) {
		snprintf(why, whylen, "out of memory");
		return XCH_FAIL;
	}
	r = recv_some(fd, p, 4, UPSTREAM_READ, deadline, &got, why, whylen);
	hwk_buf_consume_end(ans, UPSTREAM_READ - got);
	if (r != XCH_OK)
		return r;
	h = hwk_buf_ptr(ans);
	len = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 |
	    (uint32_t)h[2] << 8 | h[3];
	if (len == 0 || len > AGENT_MAX_MSG || got > 4 + (size_t)len) {
		snprintf(why, whylen, "sent a %u-byte answer%s", len,
		    got > 4 + (size_t)len ? " and more" : "");
		return XCH_FAIL;
	}
	hwk_buf_consume(ans, 4);
	if ((first = got) == 4 + (size_t)len)
		return XCH_OK;
	if (hwk_buf_reserve(ans, 4 + len - first, &p) != 0) {
		snprintf(why, whylen, "out of memory");
		return XCH_FAIL;
	}
	return recv_some(fd, p, 4 + len - first, 4 + len - first, deadline,
	    &got, why, whylen);
}

/*
 * One request and its answer on the client's connection, made when it
 * has none.  A connection kept from before may have been closed by an
 * upstream that restarted since: then once more on a new one.
 */
static int
exchange(struct hwk_agent *a, const uint8_t *msg, size_t len,
    struct hwk_buf *ans)
{
	struct hwk_upstream *up = a->upstream;
	int *fdp = conn_of(up);
	uint64_t deadline = now_ms() + (uint64_t)up->timeout_ms;
	char why[128];
	int fresh, r, tries;

	for (tries = 0; tries < 2; tries++) {
		fresh = *fdp < 0;
		if (fresh && up_connect(up, fdp, why, sizeof(why)) != 0)
			break;
		hwk_buf_reset(ans);
		if ((r = send_msg(*fdp, msg, len, deadline, why,
		    sizeof(why))) == XCH_OK &&
		    (r = recv_answer(*fdp, ans, deadline, why,
		    sizeof(why))) == XCH_OK)
			return XCH_OK;
		hwk_upstream_close(fdp);
		if (fresh || r != XCH_STALE)
			break;
	}
	went_down(a, why);
	return XCH_FAIL;
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

/* An exchange whose answer fits the request; *ansp NULL if none. */
static int
ask(struct hwk_agent *a, const uint8_t *msg, size_t len,
    struct hwk_buf **ansp)
{
	struct hwk_buf *ans;
	char why[64];

	*ansp = NULL;
	if (len == 0 || (ans = hwk_buf_new()) == NULL ||
	    hwk_buf_set_max(ans, AGENT_MAX_MSG + UPSTREAM_READ) != 0) {
		hwk_buf_free(&ans);
		return HWK_ERR_NOMEM;
	}
	if (exchange(a, msg, len, ans) != XCH_OK) {
		hwk_buf_free(&ans);
		return HWK_OK;
	}
	if (!answer_fits(msg[0], hwk_buf_ptr(ans)[0])) {
		/* Out of step, or not an agent: start afresh next time. */
		hwk_upstream_close(conn_of(a->upstream));
		snprintf(why, sizeof(why), "answered request %u with a "
		    "message of type %u", msg[0], hwk_buf_ptr(ans)[0]);
		went_down(a, why);
		hwk_buf_free(&ans);
		return HWK_OK;
	}
	/* A list of keys is known good once it is read (identities). */
	if (msg[0] != AGENTC_REQUEST_IDENTITIES)
		came_back(a);
	*ansp = ans;
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

int
hwk_upstream_identities(struct hwk_agent *a, const struct hwk_buf *ours,
    struct hwk_buf *reply)
{
	static const uint8_t req = AGENTC_REQUEST_IDENTITIES;
	struct hwk_buf *ans = NULL;
	size_t start = hwk_buf_len(reply);
	int r;

	if ((r = ask(a, &req, 1, &ans)) != 0)
		return r;
	if (ans != NULL && hwk_buf_ptr(ans)[0] == AGENT_IDENTITIES_ANSWER) {
		r = hwk_upstream_merge(hwk_buf_ptr(ours), hwk_buf_len(ours),
		    hwk_buf_ptr(ans), hwk_buf_len(ans), reply);
		if (r == HWK_OK)
			came_back(a);
		if (r != HWK_ERR_FORMAT)
			goto out;
		hwk_buf_consume_end(reply, hwk_buf_len(reply) - start);
		hwk_upstream_close(conn_of(a->upstream));
		went_down(a, "sent a malformed list of keys");
	}
	r = hwk_buf_putb(reply, ours);
 out:
	hwk_buf_free(&ans);
	return r;
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
