/*
 * hwkey-agent's listening side: one poll loop, a buffer per client, limits
 * on message size and on answers left unread, so that no client, slow or
 * hostile, can hold up the others or the agent.  As with ssh-agent, a
 * client may stay idle, or take its time over a request, as long as it
 * likes: only one that stops reading its answers is dropped.  A request
 * answered by the PKCS#11 helper or the upstream agent waits in the loop
 * (its fd polled with the clients'), its client unread meanwhile; token
 * requests take turns for the helper.
 */
#include <sys/resource.h>
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
#include "conn.h"
#include "p11helper.h"
#include "upstream.h"

#define MAX_PENDING_OUT	(1024 * 1024)
#define WRITE_TIMEOUT	60	/* seconds an answer may wait for its reader */
#define WRITE_TIMEOUT_MAX 86400	/* the most HWK_AGENT_WRITE_TIMEOUT may ask */
#define FD_RESERVE	32	/* fds kept for devices, modules and askpass */
#define ACCEPT_BURST	64	/* connections taken per turn of the loop */

struct client {
	int		 fd;
	uint64_t	 queued;	/* waits for the helper: since which */
	size_t		 wpfd;		/* its wait's poll entry, or 0 */
	struct hwk_buf	*in;
	struct hwk_buf	*out;
	uint64_t	 active;	/* when it last sent or took a byte */
	time_t		 out_since;	/* last progress of a pending answer */
	struct hwk_conn	*conn;		/* its peer and session-binds */
};

struct server {
	struct client	*cl;
	/* [0] the listening socket, [1..n] clients, then the waits' fds */
	struct pollfd	*pfd;
	size_t		 n, alloc, max;
	uint64_t	 turn;		/* counts activity: orders the idle */
	uint64_t	 queue;		/* counts those queued for the helper */
	nfds_t		 hpfd;		/* the helper's poll entry, or 0 */
	time_t		 write_timeout;
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

/*
 * The seconds an answer may wait for its reader: a->write_timeout, else
 * $HWK_AGENT_WRITE_TIMEOUT (whole seconds, 1 to a day), which lets tests
 * watch a client dropped without waiting a minute; else WRITE_TIMEOUT.
 */
static time_t
write_timeout(struct hwk_agent *a)
{
	const char *s = getenv("HWK_AGENT_WRITE_TIMEOUT");
	unsigned long v;
	char *end;

	if (a->write_timeout > 0)
		return (time_t)a->write_timeout;
	if (s == NULL)
		return WRITE_TIMEOUT;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0 || v == 0 ||
	    v > WRITE_TIMEOUT_MAX) {
		LOG(a, AGENT_LOG_ERR, "HWK_AGENT_WRITE_TIMEOUT is not a number "
		    "of seconds from 1 to %d: using %d", WRITE_TIMEOUT_MAX,
		    WRITE_TIMEOUT);
		return WRITE_TIMEOUT;
	}
	return (time_t)v;
}

static void
client_drop(struct client *c)
{
	close(c->fd);
	hwk_buf_free(&c->in);
	hwk_buf_free(&c->out);
	hwk_conn_free(&c->conn);
	c->fd = -1;
}

/* Only our own user (or root) may talk to the agent; *pidp: the peer. */
static int
peer_allowed(struct hwk_agent *a, int fd, pid_t *pidp)
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
	*pidp = cred.pid;
	return 1;
}

/*
 * Clients are limited by file descriptors alone, as in ssh-agent: take
 * the hard limit, and keep a few for the devices and askpass.
 */
static size_t
max_clients(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 64;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 1024 * 1024)
		return 1024 * 1024;
	if (rl.rlim_cur < 2 * FD_RESERVE)
		return rl.rlim_cur > 2 ? rl.rlim_cur / 2 : 1;
	return (size_t)rl.rlim_cur - FD_RESERVE;
}

/*
 * Makes room for one more client by closing the one idle longest (one
 * that does not read its answers is idle too).  Returns 0 if there was
 * none to close.
 */
static int
evict_idle(struct hwk_agent *a, struct server *sv)
{
	size_t i, old = 0;

	if (sv->n == 0)
		return 0;
	for (i = 1; i < sv->n; i++)
		if (sv->cl[i].active < sv->cl[old].active)
			old = i;
	LOG(a, AGENT_LOG_INFO, "out of room for clients (%zu open): closed "
	    "the one idle longest", sv->n);
	client_drop(&sv->cl[old]);
	sv->cl[old] = sv->cl[--sv->n];
	return 1;
}

static int
grow(struct server *sv)
{
	struct client *cl;
	struct pollfd *pfd;
	size_t alloc;

	if (sv->n < sv->alloc)
		return 0;
	alloc = sv->alloc * 2;
	if (alloc > sv->max)
		alloc = sv->max;
	if ((cl = reallocarray(sv->cl, alloc, sizeof(*cl))) == NULL)
		return -1;
	sv->cl = cl;
	/* Room for a wait of each client, and the helper's. */
	if ((pfd = reallocarray(sv->pfd, 2 * alloc + 2, sizeof(*pfd))) == NULL)
		return -1;
	sv->pfd = pfd;
	sv->alloc = alloc;
	return 0;
}

/*
 * Takes a new client.  At the limit, or out of descriptors, the longest
 * idle client makes way: refusing the new one would let idle connections
 * lock the user out.  Returns -1 when nothing could be taken.
 */
static int
accept_client(struct hwk_agent *a, int lfd, struct server *sv)
{
	struct client *c;
	pid_t pid = 0;
	int fd;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK |
	    SOCK_CLOEXEC)) < 0) {
		if ((errno != EMFILE && errno != ENFILE) ||
		    !evict_idle(a, sv))
			return -1;
	}
	if (sv->n >= sv->max)
		evict_idle(a, sv);
	if (!peer_allowed(a, fd, &pid) || grow(sv) != 0) {
		close(fd);
		return 0;
	}
	c = &sv->cl[sv->n];
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->active = ++sv->turn;
	if ((c->in = hwk_buf_new()) == NULL ||
	    (c->out = hwk_buf_new()) == NULL ||
	    (c->conn = hwk_conn_new(pid)) == NULL ||
	    hwk_buf_set_max(c->in, AGENT_MAX_MSG + 4 + 4096) != 0) {
		client_drop(c);
		return 0;
	}
	c->conn->can_wait = 1;	/* slow answers are finished in the loop */
	sv->n++;
	return 0;
}

/* An answer onto the client's output, unless it has too much unread. */
static int
deliver(struct hwk_agent *a, struct client *c, const struct hwk_buf *reply)
{
	if (hwk_buf_len(c->out) + hwk_buf_len(reply) + 4 > MAX_PENDING_OUT) {
		LOG(a, AGENT_LOG_ERR, "dropped a client that does not read its "
		    "answers");
		return -1;
	}
	if (hwk_buf_len(c->out) == 0)
		c->out_since = now();	/* the answer's wait begins */
	return hwk_buf_put_stringb(c->out, reply) != 0 ? -1 : 0;
}

/*
 * Takes the client's wait on, an answer from the helper or the upstream
 * agent: 1 once it is on the client's output, 0 while it is to come.
 */
static int
wait_step(struct hwk_agent *a, struct client *c)
{
	struct hwk_buf *reply;
	int r;

	if ((reply = hwk_buf_new()) == NULL)
		return -1;
	if (c->conn->wait->kind == WAIT_HELPER)
		r = hwk_agent_sign_step(a, c->conn, reply);
	else if (c->conn->wait->kind == WAIT_CONFIRM)
		r = hwk_agent_confirm_step(a, c->conn, reply);
	else {
		hwk_upstream_use(a->upstream, &c->conn->up_fd);
		r = hwk_upstream_wait_step(a, c->conn, reply);
		hwk_upstream_use(a->upstream, NULL);
	}
	if (r == 1) {
		hwk_wait_free(&c->conn->wait);
		r = deliver(a, c, reply) == 0 ? 1 : -1;
	} else if (r == 0 && hwk_buf_len(reply) > 0)
		r = -1;		/* an answer and a wait: a bug */
	hwk_buf_free(&reply);
	return r < 0 ? -1 : r;
}

/*
 * Answers the whole requests in the client's buffer, in order: it stops
 * at one whose answer is to come (a wait), or that waits for the helper.
 */
static int
process(struct hwk_agent *a, struct server *sv, struct client *c)
{
	struct hwk_buf *reply = NULL;
	uint32_t len;
	int r = 0;

	while (c->conn->wait == NULL && c->queued == 0 &&
	    hwk_buf_peek_u32(c->in, &len) == 0) {
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
		hwk_upstream_use(a->upstream, &c->conn->up_fd);
		r = hwk_agent_dispatch_conn(a, c->conn, hwk_buf_ptr(c->in) + 4,
		    len, reply);
		hwk_upstream_use(a->upstream, NULL);
		if (r == HWK_AGENT_TURN) {
			c->queued = ++sv->queue;	/* asked again later */
			r = 0;
		} else {
			hwk_buf_consume(c->in, 4 + (size_t)len);
			/* The upstream's is sent now; the helper has its. */
			if (r == HWK_AGENT_WAIT &&
			    c->conn->wait->kind == WAIT_UPSTREAM)
				r = wait_step(a, c) < 0 ? -1 : 0;
			else if (r == HWK_AGENT_WAIT)
				r = 0;
			else if (r == 0)
				r = deliver(a, c, reply);
		}
		hwk_buf_free(&reply);
		if (r != 0)
			return -1;
	}
	return 0;
}

static int
client_write(struct server *sv, struct client *c)
{
	ssize_t n;

	n = send(c->fd, hwk_buf_ptr(c->out), hwk_buf_len(c->out),
	    MSG_NOSIGNAL);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	hwk_buf_consume(c->out, (size_t)n);
	if (n > 0) {
		c->active = ++sv->turn;
		c->out_since = now();
	}
	return 0;
}

static int
client_read(struct hwk_agent *a, struct server *sv, struct client *c)
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
	c->active = ++sv->turn;
	if (process(a, sv, c) != 0)
		return -1;
	/* The client waits for its answer, and its socket has room: now. */
	return hwk_buf_len(c->out) > 0 ? client_write(sv, c) : 0;
}

/*
 * What a client's wait waits on: the upstream's connection (for events),
 * or the askpass's output, whose end says the answer is there.
 */
static int
wait_fd(struct client *c, short *evp, uint64_t *deadlinep)
{
	struct hwk_wait *w = c->conn->wait;

	if (w != NULL && w->kind == WAIT_CONFIRM) {
		*evp = 0;	/* POLLHUP, always polled */
		*deadlinep = UINT64_MAX;
		return w->fd;
	}
	return hwk_upstream_wait_poll(c->conn, evp, deadlinep);
}

/*
 * The poll set: the listening socket, the clients (not read while their
 * request is out: they are answered in order), each upstream exchange or
 * --confirm question, and the helper's answer; *msp: how long until the
 * first deadline.
 */
static nfds_t
poll_set(struct server *sv, int lfd, int paused, int *msp)
{
	uint64_t t = hwk_upx_now_ms(), dl, first = t + 1000;
	nfds_t k = sv->n + 1;
	size_t i;
	short ev;
	int fd;

	sv->pfd[0].fd = lfd;
	/* Out of descriptors with no one to close: wait a turn. */
	sv->pfd[0].events = paused ? 0 : POLLIN;
	for (i = 0; i < sv->n; i++) {
		struct client *c = &sv->cl[i];

		sv->pfd[i + 1].fd = c->fd;
		sv->pfd[i + 1].events = c->conn->wait == NULL &&
		    c->queued == 0 ? POLLIN : 0;
		if (hwk_buf_len(c->out) > 0)
			sv->pfd[i + 1].events |= POLLOUT;
		c->wpfd = 0;
		if ((fd = wait_fd(c, &ev, &dl)) < 0)
			continue;
		c->wpfd = k;
		sv->pfd[k].fd = fd;
		sv->pfd[k++].events = ev;
		if (dl < first)
			first = dl;
	}
	sv->hpfd = 0;
	if ((fd = p11c_waiting(&dl)) != -1) {
		sv->hpfd = k;
		sv->pfd[k].fd = fd;	/* -2: read already, see to it now */
		sv->pfd[k++].events = POLLIN;
		if (fd < 0 || dl < first)
			first = fd < 0 ? t : dl;
	}
	for (i = 0; i < k; i++)
		sv->pfd[i].revents = 0;
	*msp = first > t ? (int)(first - t) : 0;
	return k;
}

/* The client of the helper's request out, or NULL if it left since. */
static struct client *
helper_client(struct server *sv)
{
	size_t i;

	for (i = 0; i < sv->n; i++)
		if (sv->cl[i].fd >= 0 && sv->cl[i].conn->wait != NULL &&
		    sv->cl[i].conn->wait->kind == WAIT_HELPER)
			return &sv->cl[i];
	return NULL;
}

/* A wait taken on and, once answered, the requests after it. */
static int
wait_then(struct hwk_agent *a, struct server *sv, struct client *c)
{
	int r;

	if ((r = wait_step(a, c)) <= 0)
		return r;
	if (process(a, sv, c) != 0)
		return -1;
	return hwk_buf_len(c->out) > 0 ? client_write(sv, c) : 0;
}

/* Answers that came (or are late), and the requests after them. */
static void
waits_step(struct hwk_agent *a, struct server *sv)
{
	uint64_t t = hwk_upx_now_ms(), dl;
	struct hwk_buf *reply;
	struct client *c;
	size_t i;
	short ev;
	int fd;

	for (i = 0; i < sv->n; i++) {
		c = &sv->cl[i];
		if (c->fd < 0 || c->wpfd == 0 || (sv->pfd[c->wpfd].revents ==
		    0 && (wait_fd(c, &ev, &dl) < 0 || t < dl)))
			continue;
		if (wait_then(a, sv, c) != 0)
			client_drop(c);
	}
	/* A request sent since the poll has its answer to come. */
	fd = p11c_waiting(&dl);
	if (fd == -1 || (fd >= 0 && (sv->hpfd == 0 ||
	    sv->pfd[sv->hpfd].revents == 0) && t < dl))
		return;
	if ((c = helper_client(sv)) != NULL) {
		if (wait_then(a, sv, c) != 0)
			client_drop(c);
	} else if ((reply = hwk_buf_new()) != NULL) {
		hwk_agent_sign_step(a, NULL, reply);	/* read, let go */
		hwk_buf_free(&reply);
	}
}

/*
 * Signatures that wait their turn (for the helper, or for a question on
 * the screen), first come first served: each asked again, once a turn;
 * one whose turn has not come keeps its place.
 */
static void
serve_queue(struct hwk_agent *a, struct server *sv)
{
	struct client *c;
	uint64_t last = 0, seq;
	size_t i;

	while (!hwk_agent_p11_busy() || !hwk_confirm_busy()) {
		c = NULL;
		for (i = 0; i < sv->n; i++)
			if (sv->cl[i].fd >= 0 && sv->cl[i].queued > last &&
			    (c == NULL || sv->cl[i].queued < c->queued))
				c = &sv->cl[i];
		if (c == NULL)
			return;
		last = seq = c->queued;
		c->queued = 0;
		if (process(a, sv, c) != 0 || (hwk_buf_len(c->out) > 0 &&
		    client_write(sv, c) != 0))
			client_drop(c);
		else if (c->queued != 0)
			c->queued = seq;
	}
}

int
hwk_agent_serve(struct hwk_agent *a, int lfd, volatile int *stop)
{
	struct server sv;
	sigset_t none;
	struct timespec tick;
	size_t i, j, k;
	nfds_t np;
	time_t t;
	int n, ms, paused = 0;

	memset(&sv, 0, sizeof(sv));
	sv.max = max_clients();
	/* Each client may hold a connection to the upstream agent too. */
	if (a->upstream != NULL && sv.max > 1)
		sv.max /= 2;
	sv.alloc = sv.max < 16 ? sv.max : 16;
	sv.write_timeout = write_timeout(a);
	if ((sv.cl = calloc(sv.alloc, sizeof(*sv.cl))) == NULL ||
	    (sv.pfd = calloc(2 * sv.alloc + 2, sizeof(*sv.pfd))) == NULL) {
		free(sv.cl);
		return HWK_ERR_NOMEM;
	}
	sigemptyset(&none);
	while (!*stop) {
		np = poll_set(&sv, lfd, paused, &ms);
		paused = 0;
		tick.tv_sec = ms / 1000;
		tick.tv_nsec = (long)(ms % 1000) * 1000000L;
		/* Signals are blocked except while waiting here. */
		n = ppoll(sv.pfd, np, &tick, &none);
		if (n < 0 && errno != EINTR)
			break;
		hwk_agent_expire(a);	/* secrets past their -t, on time */
		/* Time spent answering others is not the reader's fault. */
		t = now();
		for (i = 0; n > 0 && i < sv.n; i++) {
			struct client *c = &sv.cl[i];
			short ev = sv.pfd[i + 1].revents;

			if (ev & (POLLERR | POLLNVAL) ||
			    ((ev & POLLIN) && client_read(a, &sv, c) != 0) ||
			    ((ev & POLLOUT) && client_write(&sv, c) != 0) ||
			    ((ev & POLLHUP) && !(ev & POLLIN)))
				client_drop(c);
		}
		waits_step(a, &sv);
		serve_queue(a, &sv);
		/* Only an answer nobody reads for a long while is dropped. */
		for (i = 0; i < sv.n; i++) {
			struct client *c = &sv.cl[i];

			if (c->fd >= 0 && hwk_buf_len(c->out) > 0 &&
			    t - c->out_since > sv.write_timeout) {
				LOG(a, AGENT_LOG_ERR, "dropped a client that "
				    "has not read its answer for %lld s",
				    (long long)(t - c->out_since));
				client_drop(c);
			}
		}
		for (i = j = 0; i < sv.n; i++)
			if (sv.cl[i].fd >= 0)
				sv.cl[j++] = sv.cl[i];
		sv.n = j;
		if (n > 0 && (sv.pfd[0].revents & POLLIN))
			for (k = 0; k < ACCEPT_BURST; k++)
				if (accept_client(a, lfd, &sv) != 0) {
					paused = errno == EMFILE ||
					    errno == ENFILE;
					break;
				}
	}
	for (i = 0; i < sv.n; i++)
		client_drop(&sv.cl[i]);
	hwk_agent_sign_orphan(NULL);
	free(sv.cl);
	free(sv.pfd);
	return HWK_OK;
}
