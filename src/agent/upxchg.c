/*
 * One request to the upstream agent and its answer, taken a step at a
 * time as the socket allows, so that hwkey-agent's poll loop can wait for
 * a slow upstream among its other clients (and the blocking callers in a
 * poll of their own).  A connection kept from before that the upstream
 * closed since (it restarted) is found out at once and the request sent
 * again, once, on a new one.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hwkey/buf.h"
#include "hwkey/error.h"
#include "agent.h"
#include "upstream.h"

#define UPSTREAM_READ	4096	/* the first read of an answer */

/* msg and ans with their length; fresh: *fdp was made for this one. */
struct hwk_upx {
	int		*fdp;
	uint8_t		*msg;
	size_t		 len;
	size_t		 sent;
	struct hwk_buf	*ans;
	uint64_t	 deadline;
	int		 fresh;
	char		 why[128];	/* what went wrong */
};

uint64_t
hwk_upx_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int
up_connect(struct hwk_upstream *up, struct hwk_upx *x)
{
	struct sockaddr_un sun;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, up->path, strlen(up->path) + 1);
	x->fresh = 1;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		snprintf(x->why, sizeof(x->why), "cannot connect: %s",
		    strerror(errno));
		goto fail;
	}
	/* Passing on to ourselves would wait on ourselves. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 &&
	    cred.pid == getpid()) {
		snprintf(x->why, sizeof(x->why), "that is this agent's own "
		    "socket");
		goto fail;
	}
	*x->fdp = fd;
	return XCH_OK;
 fail:
	if (fd >= 0)
		close(fd);
	return XCH_FAIL;
}

void
hwk_upx_free(struct hwk_upx **xp)
{
	struct hwk_upx *x = *xp;

	if (x == NULL)
		return;
	hwk_freezero(x->msg, x->len);	/* it may hold a key (ssh-add) */
	hwk_buf_free(&x->ans);
	free(x);
	*xp = NULL;
}

int
hwk_upx_start(struct hwk_upstream *up, int *fdp, const uint8_t *msg,
    size_t len, struct hwk_upx **xp)
{
	struct hwk_upx *x;

	*xp = NULL;
	if (len == 0 || len > AGENT_MAX_MSG ||
	    (x = calloc(1, sizeof(*x))) == NULL)
		return HWK_ERR_NOMEM;
	if ((x->msg = malloc(4 + len)) == NULL ||
	    (x->ans = hwk_buf_new()) == NULL ||
	    hwk_buf_set_max(x->ans, AGENT_MAX_MSG + UPSTREAM_READ) != 0) {
		free(x->msg);
		x->msg = NULL;
		hwk_upx_free(&x);
		return HWK_ERR_NOMEM;
	}
	x->len = 4 + len;
	x->msg[0] = (uint8_t)(len >> 24);
	x->msg[1] = (uint8_t)(len >> 16);
	x->msg[2] = (uint8_t)(len >> 8);
	x->msg[3] = (uint8_t)len;
	memcpy(x->msg + 4, msg, len);
	x->fdp = fdp;
	x->deadline = hwk_upx_now_ms() + (uint64_t)up->timeout_ms;
	*xp = x;
	return HWK_OK;
}

int
hwk_upx_poll(const struct hwk_upx *x, short *eventsp, uint64_t *deadlinep)
{
	*eventsp = x->sent < x->len ? POLLOUT : POLLIN;
	*deadlinep = x->deadline;
	return *x->fdp;
}

const char *
hwk_upx_why(const struct hwk_upx *x)
{
	return x->why;
}

struct hwk_buf *
hwk_upx_take(struct hwk_upx *x)
{
	struct hwk_buf *ans = x->ans;

	x->ans = NULL;
	return ans;
}

/* Sends what is left of the request; XCH_STALE if closed before a byte. */
static int
send_some(struct hwk_upx *x)
{
	ssize_t n;

	while (x->sent < x->len) {
		n = send(*x->fdp, x->msg + x->sent, x->len - x->sent,
		    MSG_NOSIGNAL);
		if (n > 0) {
			x->sent += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return XCH_AGAIN;
		if (n < 0 && (errno == EPIPE || errno == ECONNRESET) &&
		    x->sent == 0) {
			snprintf(x->why, sizeof(x->why), "closed the "
			    "connection");
			return XCH_STALE;
		}
		snprintf(x->why, sizeof(x->why), "cannot send: %s",
		    strerror(errno));
		return XCH_FAIL;
	}
	return XCH_OK;
}

/* Reads what came of the answer; XCH_OK once it is whole. */
static int
recv_some(struct hwk_upx *x)
{
	uint8_t *p;
	size_t got = hwk_buf_len(x->ans), want = UPSTREAM_READ;
	uint32_t len = 0;
	ssize_t n;

	for (;;) {
		if (hwk_buf_peek_u32(x->ans, &len) == 0) {
			if (len == 0 || len > AGENT_MAX_MSG || got > 4 + len) {
				snprintf(x->why, sizeof(x->why), "sent a "
				    "%u-byte answer%s", len, got > 4 + len ?
				    " and more" : "");
				return XCH_FAIL;
			}
			if (got == 4 + len)
				return XCH_OK;
			want = 4 + len - got;
		}
		if (hwk_buf_reserve(x->ans, want, &p) != 0) {
			snprintf(x->why, sizeof(x->why), "out of memory");
			return XCH_FAIL;
		}
		n = recv(*x->fdp, p, want, 0);
		hwk_buf_consume_end(x->ans, want - (n > 0 ? (size_t)n : 0));
		if (n > 0) {
			got += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return XCH_AGAIN;
		if (n == 0 || errno == ECONNRESET) {
			snprintf(x->why, sizeof(x->why), "closed the "
			    "connection%s", got > 0 ? " in the middle of an "
			    "answer" : "");
			return got == 0 ? XCH_STALE : XCH_FAIL;
		}
		snprintf(x->why, sizeof(x->why), "cannot read: %s",
		    strerror(errno));
		return XCH_FAIL;
	}
}

int
hwk_upx_step(struct hwk_upstream *up, struct hwk_upx *x)
{
	int sending, r;

	for (;;) {
		if (*x->fdp < 0 && up_connect(up, x) != XCH_OK)
			return XCH_FAIL;
		sending = x->sent < x->len;
		/* The answer is never there as the request goes: poll first. */
		if ((r = send_some(x)) == XCH_OK)
			r = sending ? XCH_AGAIN : recv_some(x);
		if (r == XCH_OK) {
			/* The answer alone, as the callers take it. */
			hwk_buf_consume(x->ans, 4);
			return XCH_OK;
		}
		if (r == XCH_AGAIN) {
			if (hwk_upx_now_ms() < x->deadline)
				return XCH_AGAIN;
			snprintf(x->why, sizeof(x->why), "no answer in time");
			r = XCH_FAIL;
		}
		hwk_upstream_close(x->fdp);
		/* Once more on a new connection if the old one was closed. */
		if (r != XCH_STALE || x->fresh)
			return XCH_FAIL;
		x->sent = 0;
		hwk_buf_reset(x->ans);
	}
}

int
hwk_upx_run(struct hwk_upstream *up, struct hwk_upx *x)
{
	struct pollfd p;
	uint64_t deadline, t;
	int r;

	while ((r = hwk_upx_step(up, x)) == XCH_AGAIN) {
		p.fd = hwk_upx_poll(x, &p.events, &deadline);
		p.revents = 0;
		t = hwk_upx_now_ms();
		if (poll(&p, 1, deadline > t ? (int)(deadline - t) : 0) < 0 &&
		    errno != EINTR) {
			snprintf(x->why, sizeof(x->why), "poll: %s",
			    strerror(errno));
			hwk_upstream_close(x->fdp);
			return XCH_FAIL;
		}
	}
	return r;
}
