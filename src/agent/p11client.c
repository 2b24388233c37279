/*
 * hwkey-agent's side of the PKCS#11 helper: starts the helper process
 * (p11helper.c) on first use and again after it crashed or was stopped
 * for hanging, sends it one request at a time, relays its PIN questions
 * to the agent's way of asking, and gives up on a helper that stays
 * silent too long.  So a module that fails badly costs one signature.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hwkey/backend.h"
#include "hwkey/buf.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "hwkey/secret.h"
#include "agent.h"
#include "p11helper.h"

/* A module may wait for a touch or a PIN pad: only a hang takes longer. */
#define HELPER_TIMEOUT_MS	(120 * 1000)
#define HELPER_TIMEOUT_MAX_MS	(86400 * 1000)
#define HELPER_EXIT_MS		2000	/* for it to close its sessions */

static struct {
	struct hwk_agent *a;
	const struct hwk_backend *const *builtin;
	pid_t		 pid;		/* the helper, or 0 */
	int		 gone_idle;	/* the last call found it gone */
	int		 fd;
	unsigned	 gen;		/* counts the helpers started */
	uint64_t	 timeout_ms;
	int		 out;		/* a request is out, its answer due */
	uint64_t	 deadline;	/* for the helper's next message */
	struct hwk_buf	*ain;		/* what came of that message so far */
	int		 stashed;	/* an answer read for p11c_step */
	int		 stash_rc;
	struct hwk_buf	*stash;
	int		 async;		/* in p11c_step: PINs asked unwaited */
} hc = { .fd = -1 };

static void
nolog(int level, const char *fmt, ...)
{
	(void)level;
	(void)fmt;
}

#define LOG(lvl, ...) \
	((hc.a != NULL && hc.a->log != NULL) ? hc.a->log : nolog)(lvl, __VA_ARGS__)

/*
 * How long the helper may be silent in a request: $HWK_AGENT_HELPER_TIMEOUT
 * seconds (a decimal, so tests need not wait), else HELPER_TIMEOUT_MS.
 */
static uint64_t
helper_timeout(void)
{
	const char *s = getenv("HWK_AGENT_HELPER_TIMEOUT");
	char *end;
	double v;

	if (s == NULL)
		return HELPER_TIMEOUT_MS;
	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end != '\0' || errno != 0 || !(v >= 0.001) ||
	    v * 1000 > HELPER_TIMEOUT_MAX_MS) {
		LOG(AGENT_LOG_ERR, "HWK_AGENT_HELPER_TIMEOUT is not a number of "
		    "seconds from 0.001 to 86400: using %d",
		    HELPER_TIMEOUT_MS / 1000);
		return HELPER_TIMEOUT_MS;
	}
	return (uint64_t)(v * 1000);
}

/*
 * In a child (the daemon going to the background, askpass, the helper
 * itself) the helper is not its own: forget it, without ending it.
 */
static void
forked(void)
{
	if (hc.fd >= 0)
		close(hc.fd);
	hc.fd = -1;
	hc.pid = 0;
	hc.out = 0;
	p11a_forget();
}

void
p11c_init(struct hwk_agent *a, const struct hwk_backend *const *builtin)
{
	static int once;

	if (!once++)
		pthread_atfork(NULL, NULL, forked);
	hc.a = a;
	hc.builtin = builtin;
	hc.timeout_ms = helper_timeout();
}

unsigned
p11c_gen(void)
{
	return hc.fd >= 0 ? hc.gen : 0;
}

/* Reaps the helper: at once if killed, else after it closed its sessions. */
void
p11c_stop(int kill_it)
{
	uint64_t until = p11h_now_ms() + HELPER_EXIT_MS;
	struct timespec nap = { 0, 5 * 1000000L };
	int status;
	pid_t w;

	if (hc.fd >= 0)
		close(hc.fd);
	hc.fd = -1;
	hc.out = 0;
	p11a_cancel();
	if (hc.pid <= 0)
		return;
	if (kill_it)
		kill(hc.pid, SIGKILL);
	while ((w = waitpid(hc.pid, &status, WNOHANG)) == 0 &&
	    p11h_now_ms() < until)
		nanosleep(&nap, NULL);
	if (w == 0) {
		LOG(AGENT_LOG_ERR, "the PKCS#11 helper did not end: killed");
		kill(hc.pid, SIGKILL);
		while (waitpid(hc.pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	hc.pid = 0;
}

/* The child: the helper, with the socket as its standard input. */
static void __attribute__((noreturn))
helper_exec(int sock)
{
	sigset_t none;
	int null;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	/* An agent killed outright takes its helper with it. */
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (dup2(sock, STDIN_FILENO) < 0 ||
	    (null = open("/dev/null", O_WRONLY)) < 0 ||
	    dup2(null, STDOUT_FILENO) < 0)
		_exit(127);
	/* Nothing of the agent's: its socket, its clients, the pid file. */
	close_range(STDERR_FILENO + 1, ~0U, 0);
	/* This very program, even if its file was replaced since. */
	execl("/proc/self/exe", "hwkey-agent", P11H_ARG, (char *)NULL);
	_exit(127);
}

/* The options of every backend that the agent was given: count, or put. */
static int
each_opt(struct hwk_ctx *ctx, struct hwk_buf *m, uint32_t *np)
{
	const struct hwk_backend *const *b;
	const struct hwk_optdesc *o;
	const char *v;
	int r;

	*np = 0;
	for (b = hc.builtin; *b != NULL; b++)
		for (o = (*b)->options; o != NULL && o->name != NULL; o++) {
			if ((v = hwk_ctx_opt(ctx, o->name)) == NULL)
				continue;
			(*np)++;
			if (m != NULL && ((r = hwk_buf_put_cstring(m,
			    o->name)) != 0 || (r = hwk_buf_put_cstring(m,
			    v)) != 0))
				return r;
		}
	return HWK_OK;
}

/* What became of a helper that went away, in words for the log. */
static void
helper_gone(struct hwk_ctx *ctx, const char *doing)
{
	char why[256];
	int status = 0;
	pid_t w = 0;

	if (hc.fd >= 0)
		close(hc.fd);
	hc.fd = -1;
	hc.out = 0;
	if (hc.pid > 0)
		while ((w = waitpid(hc.pid, &status, 0)) < 0 && errno == EINTR)
			;
	hc.pid = 0;
	if (w > 0 && WIFSIGNALED(status))
		snprintf(why, sizeof(why), "the PKCS#11 module crashed %s "
		    "(%s); its helper starts again at the next use", doing,
		    strsignal(WTERMSIG(status)));
	else
		snprintf(why, sizeof(why), "the PKCS#11 helper ended %s (exit "
		    "status %d); it starts again at the next use", doing,
		    w > 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	hwk_ctx_error(ctx, HWK_ERR_DEVICE, "%s", why);
	LOG(AGENT_LOG_ERR, "%s", why);
}

/* Starts a helper (this process's own), and gives it the options. */
static int
helper_start(struct hwk_ctx *ctx)
{
	struct hwk_buf *m = NULL, *reply = NULL;
	uint32_t n;
	int sv[2], r;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return hwk_ctx_error(ctx, HWK_ERR_SYSTEM, "socketpair: %s",
		    strerror(errno));
	if ((hc.pid = fork()) < 0) {
		hc.pid = 0;
		close(sv[0]);
		close(sv[1]);
		return hwk_ctx_error(ctx, HWK_ERR_SYSTEM, "fork: %s",
		    strerror(errno));
	}
	if (hc.pid == 0)
		helper_exec(sv[1]);
	close(sv[1]);
	hc.fd = sv[0];
	hc.gen++;
	fcntl(hc.fd, F_SETFL, fcntl(hc.fd, F_GETFL) | O_NONBLOCK);
	LOG(AGENT_LOG_DEBUG, "PKCS#11 helper started, pid %d", (int)hc.pid);
	if ((m = hwk_buf_new()) == NULL || (reply = hwk_buf_new()) == NULL) {
		r = HWK_ERR_NOMEM;
		goto out;
	}
	if ((r = each_opt(ctx, NULL, &n)) != 0 ||
	    (r = hwk_buf_put_u8(m, P11H_OPTS)) != 0 ||
	    (r = hwk_buf_put_u32(m, n)) != 0 ||
	    (r = each_opt(ctx, m, &n)) != 0)
		goto out;
	r = p11c_call(ctx, m, reply);
 out:
	hwk_buf_free(&m);
	hwk_buf_free(&reply);
	return r;
}

int
p11c_ready(struct hwk_ctx *ctx)
{
	if (hc.fd >= 0)
		return HWK_OK;
	return helper_start(ctx);
}

/* The code and words of an ERR answer, into *errp and the context. */
static int
take_err(struct hwk_ctx *ctx, struct hwk_buf *reply, int *errp)
{
	char *detail = NULL, *advice = NULL;
	uint32_t neg;
	int r = HWK_OK;

	if (hwk_buf_get_u32(reply, &neg) != 0 || neg == 0 || neg > 1000 ||
	    hwk_buf_get_cstring(reply, &detail, NULL) != 0 ||
	    hwk_buf_get_cstring(reply, &advice, NULL) != 0)
		r = HWK_ERR_FORMAT;
	else {
		*errp = -(int)neg;
		hwk_ctx_clear_error(ctx);
		if (*detail != '\0')
			hwk_ctx_error(ctx, *errp, "%s", detail);
		if (*advice != '\0')
			hwk_ctx_hint(ctx, "%s", advice);
	}
	free(detail);
	free(advice);
	return r;
}

/*
 * One message of the helper's into msg, as far as it has come: 1 when
 * whole, 0 when the rest is still on its way.  The helper never says
 * more than one message before it hears back.
 */
static int
read_msg(struct hwk_buf *msg)
{
	uint8_t *p;
	uint32_t len;
	size_t want = 4096, have;
	ssize_t n;

	if (hwk_buf_peek_u32(hc.ain, &len) == 0) {
		if (len == 0 || len > P11H_MAX_MSG)
			return HWK_ERR_FORMAT;
		if ((have = hwk_buf_len(hc.ain)) < 4 + (size_t)len &&
		    4 + (size_t)len - have > want)
			want = 4 + (size_t)len - have;
	}
	if (hwk_buf_reserve(hc.ain, want, &p) != 0)
		return HWK_ERR_NOMEM;
	while ((n = read(hc.fd, p, want)) < 0 && errno == EINTR)
		;
	hwk_buf_consume_end(hc.ain, want - (n > 0 ? (size_t)n : 0));
	if (n == 0 || (n < 0 && errno == ECONNRESET))
		return HWK_ERR_NO_DEVICE;
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 :
		    HWK_ERR_SYSTEM;
	if (hwk_buf_peek_u32(hc.ain, &len) != 0)
		return 0;
	if (len == 0 || len > P11H_MAX_MSG ||
	    hwk_buf_len(hc.ain) > 4 + (size_t)len)
		return HWK_ERR_FORMAT;
	if (hwk_buf_len(hc.ain) < 4 + (size_t)len)
		return 0;
	hwk_buf_reset(msg);
	if (hwk_buf_put(msg, hwk_buf_ptr(hc.ain) + 4, len) != 0)
		return HWK_ERR_NOMEM;
	hwk_buf_reset(hc.ain);
	return 1;
}

/* A question in the middle of a request (ASK, NOTICE), answered. */
static int
answer_question(struct hwk_ctx *ctx, uint8_t type, struct hwk_buf *msg)
{
	struct hwk_buf *tmp;
	char *notice = NULL;
	int r;

	if (type == P11H_ASK)
		return p11a_question(ctx, msg, hc.fd, p11h_now_ms() +
		    hc.timeout_ms, hc.async);
	if ((tmp = hwk_buf_new()) == NULL)
		return HWK_ERR_NOMEM;
	{
		if (hwk_buf_get_cstring(msg, &notice, NULL) == 0)
			LOG(AGENT_LOG_INFO, "%s", notice);
		free(notice);
		if ((r = hwk_buf_put_u8(tmp, P11H_OK)) == 0)
			r = p11h_send(hc.fd, tmp, p11h_now_ms() +
			    hc.timeout_ms);
	}
	hwk_buf_free(&tmp);
	return r;
}

/* The helper failed in a request: it goes, and the request with it. */
static int
call_failed(struct hwk_ctx *ctx, int r)
{
	if (r == HWK_ERR_DEVICE) {
		LOG(AGENT_LOG_ERR, "the PKCS#11 module gave no answer in %llu "
		    "ms; its helper was stopped", (unsigned long long)
		    hc.timeout_ms);
		hwk_ctx_error(ctx, r, "the PKCS#11 module gave no answer in "
		    "%llu ms; its helper was stopped and starts again at the "
		    "next use", (unsigned long long)hc.timeout_ms);
		p11c_stop(1);
	} else if (r == HWK_ERR_NO_DEVICE)
		helper_gone(ctx, "in a request");
	else {
		/* Out of step with it: a new one is safer than guessing. */
		LOG(AGENT_LOG_ERR, "talking to the PKCS#11 helper failed "
		    "(%s): stopped", hwk_strerror(r));
		hwk_ctx_error(ctx, HWK_ERR_DEVICE, "talking to the PKCS#11 "
		    "helper failed (%s); it starts again at the next use",
		    hwk_strerror(r));
		p11c_stop(1);
	}
	/* The signature failed for the device, as far as the caller knows. */
	return HWK_ERR_DEVICE;
}

int
p11c_start(struct hwk_ctx *ctx, struct hwk_buf *req)
{
	int r;

	hc.gone_idle = 0;
	if (hc.out)
		return hwk_ctx_error(ctx, HWK_ERR_INTERNAL, "the PKCS#11 "
		    "helper is busy");
	if (hc.ain == NULL && ((hc.ain = hwk_buf_new()) == NULL ||
	    hwk_buf_set_max(hc.ain, P11H_MAX_MSG + 4 + 4096) != 0))
		return HWK_ERR_NOMEM;
	hwk_buf_reset(hc.ain);
	/* Its end of the socket closed before we spoke: it died idle. */
	if ((r = p11h_send(hc.fd, req, p11h_now_ms() +
	    hc.timeout_ms)) == HWK_ERR_NO_DEVICE) {
		helper_gone(ctx, "while idle");
		hc.gone_idle = 1;
		return HWK_ERR_NO_DEVICE;
	}
	if (r != 0)
		return call_failed(ctx, r);
	hc.out = 1;
	hc.deadline = p11h_now_ms() + hc.timeout_ms;
	return HWK_OK;
}

int
p11c_waiting(uint64_t *deadlinep)
{
	*deadlinep = hc.deadline;
	/* Time at a PIN prompt does not count. */
	if (hc.out && p11a_asking() >= 0) {
		*deadlinep = UINT64_MAX;
		return p11a_asking();
	}
	return hc.out ? hc.fd : hc.stashed ? -2 : -1;
}

/* What came from the helper: 1 once the answer is in reply (*rcp). */
static int
step(struct hwk_ctx *ctx, struct hwk_buf *reply, int *rcp)
{
	uint8_t type;
	int err = HWK_OK, r;

	hwk_buf_set_max(reply, P11H_MAX_MSG);
	for (;;) {
		/* A PIN on the screen: its answer, once askpass has given it. */
		if (p11a_asking() >= 0) {
			struct pollfd p = { .fd = p11a_asking(), .events = POLLIN };

			if (hc.async && poll(&p, 1, 0) == 0)
				return 0;
			if ((r = p11a_finish(ctx, hc.fd, p11h_now_ms() +
			    hc.timeout_ms)) != 0)
				break;
			hc.deadline = p11h_now_ms() + hc.timeout_ms;
		}
		if ((r = read_msg(reply)) == 0) {
			if (p11h_now_ms() < hc.deadline)
				return 0;
			r = HWK_ERR_DEVICE;	/* silent for too long */
		}
		if (r < 0)
			break;
		if (hwk_buf_get_u8(reply, &type) != 0)
			r = HWK_ERR_FORMAT;
		else if (type != P11H_ASK && type != P11H_NOTICE) {
			r = type == P11H_ERR ? take_err(ctx, reply, &err) : 0;
			break;	/* the answer, for the caller to read */
		} else if ((r = answer_question(ctx, type, reply)) == 1)
			continue;	/* askpass asks: it is waited for */
		if (r != 0)
			break;
		hc.deadline = p11h_now_ms() + hc.timeout_ms;
	}
	p11a_cancel();
	hc.out = 0;
	*rcp = r == 0 ? err : call_failed(ctx, r);
	return 1;
}

int
p11c_step(struct hwk_ctx *ctx, struct hwk_buf *reply, int *rcp)
{
	int r;

	if (hc.stashed) {
		/* Read already, by a call that needed the helper. */
		hc.stashed = 0;
		hwk_buf_reset(reply);
		*rcp = hc.stash_rc;
		if ((r = hwk_buf_putb(reply, hc.stash)) != 0)
			*rcp = r;
		hwk_buf_reset(hc.stash);
		return 1;
	}
	if (!hc.out)
		return 0;
	hc.async = 1;
	r = step(ctx, reply, rcp);
	hc.async = 0;
	return r;
}

/* Waits for the answer to the request out, on the helper's fd alone. */
static void
wait_answer(struct hwk_ctx *ctx, struct hwk_buf *reply, int *rcp)
{
	struct pollfd p = { .fd = hc.fd, .events = POLLIN };
	uint64_t t;

	while (step(ctx, reply, rcp) == 0) {
		t = p11h_now_ms();
		p.revents = 0;
		if (poll(&p, 1, hc.deadline > t ? (int)(hc.deadline - t) :
		    0) < 0 && errno != EINTR) {
			hc.out = 0;
			*rcp = call_failed(ctx, HWK_ERR_SYSTEM);
			return;
		}
	}
}

int
p11c_call(struct hwk_ctx *ctx, struct hwk_buf *req, struct hwk_buf *reply)
{
	int r, rc;

	/*
	 * One request at a time: one out for a client is waited for first,
	 * its answer kept for p11c_step.
	 */
	if (hc.out) {
		if (hc.stash == NULL && (hc.stash = hwk_buf_new()) == NULL)
			return HWK_ERR_NOMEM;
		wait_answer(ctx, hc.stash, &hc.stash_rc);
		hc.stashed = 1;
		if (hc.fd < 0)
			return hwk_ctx_error(ctx, HWK_ERR_DEVICE, "the PKCS#11 "
			    "helper ended; it starts again at the next use");
	}
	if ((r = p11c_start(ctx, req)) != 0)
		return r;
	wait_answer(ctx, reply, &rc);
	return rc;
}


int
p11c_gone_idle(void)
{
	return hc.gone_idle;
}
