/*
 * hwkey-agent's listening side: one poll loop, a buffer per client, limits
 * on message size, pending output and time, so that no client, slow or
 * hostile, can hold up the others or the agent.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hwkey/buf.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "agent.h"

#define MAX_CLIENTS	128
#define MAX_PENDING_OUT	(1024 * 1024)
#define CLIENT_TIMEOUT	10	/* seconds a request or an answer may hang */

struct client {
	int		 fd;
	struct hwk_buf	*in;
	struct hwk_buf	*out;
	time_t		 since;	/* when it last had nothing half-done */
};

static void
nolog(int level, const char *fmt, ...)
{
	(void)level;
	(void)fmt;
}

#define LOG(a, lvl, ...) ((a)->log != NULL ? (a)->log : nolog)(lvl, __VA_ARGS__)

static time_t
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static void
client_drop(struct client *c)
{
	close(c->fd);
	hwk_buf_free(&c->in);
	hwk_buf_free(&c->out);
	c->fd = -1;
}

/* Only our own user (or root) may talk to the agent. */
static int
peer_allowed(struct hwk_agent *a, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
		LOG(a, AGENT_LOG_ERR, "cannot tell who connected: %s",
		    strerror(errno));
		return 0;
	}
	if (cred.uid != 0 && cred.uid != getuid()) {
		LOG(a, AGENT_LOG_ERR, "refused a client of uid %u (pid %d)",
		    (unsigned)cred.uid, (int)cred.pid);
		return 0;
	}
	return 1;
}

static void
accept_client(struct hwk_agent *a, int lfd, struct client *cl, size_t *ncl)
{
	struct client *c;
	int fd;

	if ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) < 0)
		return;
	if (!peer_allowed(a, fd) || *ncl >= MAX_CLIENTS) {
		if (*ncl >= MAX_CLIENTS)
			LOG(a, AGENT_LOG_ERR, "too many clients; dropped one");
		close(fd);
		return;
	}
	c = &cl[(*ncl)++];
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->since = now();
	if ((c->in = hwk_buf_new()) == NULL ||
	    (c->out = hwk_buf_new()) == NULL ||
	    hwk_buf_set_max(c->in, AGENT_MAX_MSG + 4 + 4096) != 0) {
		client_drop(c);
		(*ncl)--;
	}
}

/* Answers every whole request in the client's buffer. */
static int
process(struct hwk_agent *a, struct client *c)
{
	struct hwk_buf *reply = NULL;
	uint32_t len;
	int r = 0;

	while (hwk_buf_peek_u32(c->in, &len) == 0) {
		if (len > AGENT_MAX_MSG) {
			LOG(a, AGENT_LOG_ERR, "dropped a client: a %u-byte "
			    "request is over the %d-byte limit", len,
			    AGENT_MAX_MSG);
			return -1;
		}
		if (hwk_buf_len(c->in) - 4 < len)
			break;		/* wait for the rest */
		if ((reply = hwk_buf_new()) == NULL)
			return -1;
		r = hwk_agent_dispatch(a, hwk_buf_ptr(c->in) + 4, len, reply);
		hwk_buf_consume(c->in, 4 + (size_t)len);
		if (r == 0 && hwk_buf_len(c->out) + hwk_buf_len(reply) + 4 >
		    MAX_PENDING_OUT) {
			LOG(a, AGENT_LOG_ERR, "dropped a client that does not "
			    "read its answers");
			r = -1;
		}
		if (r == 0)
			r = hwk_buf_put_stringb(c->out, reply);
		hwk_buf_free(&reply);
		if (r != 0)
			return -1;
	}
	if (hwk_buf_len(c->in) == 0 && hwk_buf_len(c->out) == 0)
		c->since = now();
	return 0;
}

static int
client_read(struct hwk_agent *a, struct client *c)
{
	uint8_t *p;
	ssize_t n;

	if (hwk_buf_reserve(c->in, 4096, &p) != 0) {
		LOG(a, AGENT_LOG_ERR, "dropped a client: request too large");
		return -1;
	}
	n = read(c->fd, p, 4096);
	hwk_buf_consume_end(c->in, 4096 - (n > 0 ? (size_t)n : 0));
	if (n == 0)
		return -1;	/* closed */
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	return process(a, c);
}

static int
client_write(struct client *c)
{
	ssize_t n;

	n = send(c->fd, hwk_buf_ptr(c->out), hwk_buf_len(c->out),
	    MSG_NOSIGNAL);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	hwk_buf_consume(c->out, (size_t)n);
	if (hwk_buf_len(c->in) == 0 && hwk_buf_len(c->out) == 0)
		c->since = now();
	return 0;
}

int
hwk_agent_serve(struct hwk_agent *a, int lfd, volatile int *stop)
{
	struct client *cl;
	struct pollfd *pfd;
	sigset_t none;
	struct timespec tick = { 1, 0 };
	size_t ncl = 0, i, j;
	int n, busy;

	if ((cl = calloc(MAX_CLIENTS, sizeof(*cl))) == NULL ||
	    (pfd = calloc(MAX_CLIENTS + 1, sizeof(*pfd))) == NULL) {
		free(cl);
		return HWK_ERR_NOMEM;
	}
	sigemptyset(&none);
	while (!*stop) {
		pfd[0].fd = lfd;
		pfd[0].events = POLLIN;
		for (i = 0; i < ncl; i++) {
			pfd[i + 1].fd = cl[i].fd;
			pfd[i + 1].events = POLLIN;
			if (hwk_buf_len(cl[i].out) > 0)
				pfd[i + 1].events |= POLLOUT;
			pfd[i + 1].revents = 0;
		}
		/* Signals are blocked except while waiting here. */
		n = ppoll(pfd, ncl + 1, &tick, &none);
		if (n < 0 && errno != EINTR)
			break;
		for (i = 0; n > 0 && i < ncl; i++) {
			short ev = pfd[i + 1].revents;

			if (ev & (POLLERR | POLLNVAL) ||
			    ((ev & POLLIN) && client_read(a, &cl[i]) != 0) ||
			    ((ev & POLLOUT) && client_write(&cl[i]) != 0) ||
			    ((ev & POLLHUP) && !(ev & POLLIN)))
				client_drop(&cl[i]);
		}
		/* Half a request, or an unread answer, for too long: drop. */
		for (i = 0; i < ncl; i++) {
			if (cl[i].fd < 0)
				continue;
			busy = hwk_buf_len(cl[i].in) > 0 ||
			    hwk_buf_len(cl[i].out) > 0;
			if (busy && now() - cl[i].since > CLIENT_TIMEOUT) {
				LOG(a, AGENT_LOG_ERR, "dropped a client stuck "
				    "for %d s", CLIENT_TIMEOUT);
				client_drop(&cl[i]);
			}
		}
		for (i = j = 0; i < ncl; i++)
			if (cl[i].fd >= 0)
				cl[j++] = cl[i];
		ncl = j;
		if (n > 0 && (pfd[0].revents & POLLIN))
			accept_client(a, lfd, cl, &ncl);
	}
	for (i = 0; i < ncl; i++)
		client_drop(&cl[i]);
	free(cl);
	free(pfd);
	return HWK_OK;
}
