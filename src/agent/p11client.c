/*
 * hwkey-agent's side of the PKCS#11 helper: a pkcs11 backend in the
 * registry whose load and sign ask the helper process (p11helper.c), which
 * it starts on first use and again after it crashed or was stopped for
 * hanging.  So no module, nor p11-kit, is ever mapped in the agent, and a
 * module that fails badly costs one signature.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hwkey/backend.h"
#include "hwkey/buf.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "hwkey/secret.h"
#include "hwkey/sshkey.h"
#include "agent.h"
#include "p11helper.h"

/* A module may wait for a touch or a PIN pad: only a hang takes longer. */
#define HELPER_TIMEOUT_MS	(120 * 1000)
#define HELPER_TIMEOUT_MAX_MS	(86400 * 1000)
#define HELPER_EXIT_MS		2000	/* for it to close its sessions */
#define MAX_BACKENDS		16

/* A key the helper holds: its handle there, and how to open it again. */
struct p11c_key {
	uint32_t	 handle;
	unsigned	 gen;		/* the helper it was opened in */
	uint8_t		*stub;
	size_t		 stublen;
	struct hwk_pubkey *pub;
};

static struct {
	struct hwk_agent *a;
	struct hwk_backend proxy;
	const struct hwk_backend *table[MAX_BACKENDS + 1];
	const struct hwk_backend *const *builtin;
	pid_t		 pid;		/* the helper, or 0 */
	pid_t		 owner;		/* the process that started it */
	int		 fd;
	unsigned	 gen;		/* counts the helpers started */
	uint64_t	 timeout_ms;
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

/* Reaps the helper: at once if killed, else after it closed its sessions. */
static void
helper_stop(int kill_it)
{
	uint64_t until = p11h_now_ms() + HELPER_EXIT_MS;
	struct timespec nap = { 0, 5 * 1000000L };
	int status;
	pid_t w;

	if (hc.fd >= 0)
		close(hc.fd);
	hc.fd = -1;
	if (hc.pid <= 0 || hc.owner != getpid()) {
		hc.pid = 0;	/* another process's, after the daemon forked */
		return;
	}
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
	int status = 0;
	pid_t w = 0;

	if (hc.fd >= 0)
		close(hc.fd);
	hc.fd = -1;
	if (hc.pid > 0 && hc.owner == getpid())
		while ((w = waitpid(hc.pid, &status, 0)) < 0 && errno == EINTR)
			;
	hc.pid = 0;
	if (w > 0 && WIFSIGNALED(status))
		hwk_ctx_error(ctx, HWK_ERR_DEVICE, "the PKCS#11 module crashed "
		    "%s (%s); its helper starts again at the next use", doing,
		    strsignal(WTERMSIG(status)));
	else
		hwk_ctx_error(ctx, HWK_ERR_DEVICE, "the PKCS#11 helper ended "
		    "%s (exit status %d); it starts again at the next use",
		    doing, w > 0 && WIFEXITED(status) ? WEXITSTATUS(status) :
		    -1);
	LOG(AGENT_LOG_ERR, "%s", hwk_ctx_detail(ctx));
}

/* The helper's fd is readable or hung up while idle: it is gone. */
static int
helper_idle_dead(void)
{
	struct pollfd p = { .fd = hc.fd, .events = POLLIN };

	return poll(&p, 1, 0) != 0;
}

static int call(struct hwk_ctx *ctx, struct hwk_buf *req,
    struct hwk_buf *reply);

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
	hc.owner = getpid();
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
	r = call(ctx, m, reply);
 out:
	hwk_buf_free(&m);
	hwk_buf_free(&reply);
	return r;
}

/* A helper of this process, alive and idle, started if need be. */
static int
helper_ready(struct hwk_ctx *ctx)
{
	if (hc.fd >= 0 && (hc.owner != getpid() || helper_idle_dead())) {
		if (hc.owner == getpid())
			LOG(AGENT_LOG_INFO, "the PKCS#11 helper went away "
			    "while idle; starting another");
		helper_stop(1);
	}
	if (hc.fd >= 0)
		return HWK_OK;
	return helper_start(ctx);
}

/* ASK: the helper's PIN prompt, asked as the agent asks. */
static int
relay_secret(struct hwk_ctx *ctx, struct hwk_buf *msg, struct hwk_buf *out)
{
	char *prompt = NULL, *pin = NULL;
	int rc, r;

	hwk_buf_reset(out);
	if (hwk_buf_get_cstring(msg, &prompt, NULL) != 0)
		return HWK_ERR_FORMAT;
	if ((pin = calloc(1, HWK_SECRET_MAX)) == NULL) {
		free(prompt);
		return HWK_ERR_NOMEM;
	}
	hwk_ctx_clear_error(ctx);
	rc = hwk_ctx_read_secret(ctx, prompt, pin, HWK_SECRET_MAX);
	if (rc != 0)
		explicit_bzero(pin, HWK_SECRET_MAX);
	if ((r = hwk_buf_put_u8(out, P11H_SECRET)) == 0 &&
	    (r = hwk_buf_put_u32(out, (uint32_t)(rc < 0 ? -rc : 0))) == 0 &&
	    (r = hwk_buf_put_cstring(out, pin)) == 0 &&
	    (r = hwk_buf_put_cstring(out, hwk_ctx_detail(ctx))) == 0)
		r = p11h_send(hc.fd, out, p11h_now_ms() + hc.timeout_ms);
	hwk_buf_reset(out);	/* wipes the PIN */
	hwk_freezero(pin, HWK_SECRET_MAX);
	free(prompt);
	return r;
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
 * One request to the helper and its answer in reply, read past its type
 * byte; an ERR answer is its code and words.  PIN questions and notices
 * on the way are dealt with here.  A helper that dies, or says nothing
 * for hc.timeout_ms, is reaped and the request fails.
 */
static int
call(struct hwk_ctx *ctx, struct hwk_buf *req, struct hwk_buf *reply)
{
	struct hwk_buf *tmp = NULL;
	char *notice = NULL;
	uint8_t type;
	int err = HWK_OK, r;

	if ((tmp = hwk_buf_new()) == NULL)
		return HWK_ERR_NOMEM;
	hwk_buf_set_max(reply, P11H_MAX_MSG);
	r = p11h_send(hc.fd, req, p11h_now_ms() + hc.timeout_ms);
	while (r == 0 && (r = p11h_recv(hc.fd, reply, p11h_now_ms() +
	    hc.timeout_ms)) == 0) {
		if (hwk_buf_get_u8(reply, &type) != 0)
			r = HWK_ERR_FORMAT;
		else if (type == P11H_ASK)
			r = relay_secret(ctx, reply, tmp);
		else if (type == P11H_NOTICE) {
			if (hwk_buf_get_cstring(reply, &notice, NULL) == 0)
				LOG(AGENT_LOG_INFO, "%s", notice);
			free(notice);
			notice = NULL;
		} else if (type == P11H_ERR) {
			r = take_err(ctx, reply, &err);
			break;
		} else
			break;	/* the answer, for the caller to read */
	}
	hwk_buf_free(&tmp);
	if (r == 0)
		return err;
	if (r == HWK_ERR_DEVICE) {
		hwk_ctx_error(ctx, r, "the PKCS#11 module gave no answer in "
		    "%llu ms; its helper was stopped and starts again at the "
		    "next use", (unsigned long long)hc.timeout_ms);
		LOG(AGENT_LOG_ERR, "%s", hwk_ctx_detail(ctx));
		helper_stop(1);
	} else if (r == HWK_ERR_NO_DEVICE)
		helper_gone(ctx, "in a request");
	else {
		/* Out of step with it: a new one is safer than guessing. */
		hwk_ctx_error(ctx, HWK_ERR_DEVICE, "talking to the PKCS#11 "
		    "helper failed (%s); it starts again at the next use",
		    hwk_strerror(r));
		LOG(AGENT_LOG_ERR, "%s", hwk_ctx_detail(ctx));
		helper_stop(1);
	}
	/* The signature failed for the device, as far as the caller knows. */
	return HWK_ERR_DEVICE;
}

/* A stub as the agent sees it: claimed, with nothing read from a token. */
static int
proxy_stub_info(const uint8_t *stub, size_t len, struct hwk_stubinfo *info)
{
	(void)stub;
	(void)len;
	memset(info, 0, sizeof(*info));
	info->protection = "token PIN";	/* the .pub holds the public key */
	return HWK_OK;
}

/* Opens stub in the helper: its handle there and its public key. */
static int
helper_open(struct hwk_ctx *ctx, const uint8_t *stub, size_t len,
    uint32_t *handlep, struct hwk_pubkey **pubp)
{
	struct hwk_buf *req = NULL, *reply = NULL;
	const uint8_t *blob;
	char *comment = NULL;
	size_t bloblen;
	int r;

	*pubp = NULL;
	if ((req = hwk_buf_new()) == NULL || (reply = hwk_buf_new()) == NULL) {
		r = HWK_ERR_NOMEM;
		goto out;
	}
	if ((r = helper_ready(ctx)) != 0 ||
	    (r = hwk_buf_put_u8(req, P11H_LOAD)) != 0 ||
	    (r = hwk_buf_put_string(req, stub, len)) != 0 ||
	    (r = call(ctx, req, reply)) != 0)
		goto out;
	if (hwk_buf_get_u32(reply, handlep) != 0 ||
	    hwk_buf_get_string_direct(reply, &blob, &bloblen) != 0 ||
	    hwk_buf_get_cstring(reply, &comment, NULL) != 0) {
		r = hwk_ctx_error(ctx, HWK_ERR_FORMAT, "the PKCS#11 helper "
		    "sent no key");
		goto out;
	}
	r = hwk_pubkey_from_blob(blob, bloblen, *comment != '\0' ? comment :
	    NULL, pubp);
 out:
	free(comment);
	hwk_buf_free(&req);
	hwk_buf_free(&reply);
	return r;
}

static void
p11c_key_free(struct p11c_key **kp)
{
	struct p11c_key *k = *kp;

	if (k == NULL)
		return;
	free(k->stub);
	hwk_pubkey_free(&k->pub);
	free(k);
	*kp = NULL;
}

static int
proxy_load(struct hwk_ctx *ctx, const uint8_t *stub, size_t len,
    struct hwk_key **keyp)
{
	struct p11c_key *k;
	int r;

	*keyp = NULL;
	if ((k = calloc(1, sizeof(*k))) == NULL ||
	    (k->stub = malloc(len)) == NULL) {
		free(k);
		return HWK_ERR_NOMEM;
	}
	memcpy(k->stub, stub, len);
	k->stublen = len;
	if ((r = helper_open(ctx, stub, len, &k->handle, &k->pub)) != 0)
		goto out;
	k->gen = hc.gen;
	if ((r = hwk_key_new(&hc.proxy, keyp)) != 0)
		goto out;
	if ((r = hwk_pubkey_to_evp(k->pub, &(*keyp)->pkey)) != 0 ||
	    (r = hwk_key_set_comment(*keyp, k->pub->comment)) != 0) {
		hwk_key_free(keyp);
		goto out;
	}
	(*keyp)->impl = k;
	k = NULL;	/* owned by the key */
 out:
	p11c_key_free(&k);
	return r;
}

/* The key again in a helper started since it was opened, the same key. */
static int
proxy_reopen(struct hwk_ctx *ctx, struct p11c_key *k)
{
	struct hwk_pubkey *pub = NULL;
	uint32_t handle;
	int r;

	if ((r = helper_open(ctx, k->stub, k->stublen, &handle, &pub)) != 0)
		return r;
	if (pub->bloblen != k->pub->bloblen ||
	    memcmp(pub->blob, k->pub->blob, pub->bloblen) != 0)
		r = hwk_ctx_error(ctx, HWK_ERR_WRONG_DEVICE, "the token now "
		    "holds another key under this stub's id");
	else {
		k->handle = handle;
		k->gen = hc.gen;
	}
	hwk_pubkey_free(&pub);
	return r;
}

static int
proxy_sign(struct hwk_ctx *ctx, struct hwk_key *key, int alg,
    const uint8_t *data, size_t len, uint8_t **sigp, size_t *siglenp)
{
	struct p11c_key *k = key->impl;
	struct hwk_buf *req = NULL, *reply = NULL;
	const uint8_t *sig;
	size_t siglen;
	int r;

	if ((req = hwk_buf_new()) == NULL || (reply = hwk_buf_new()) == NULL) {
		r = HWK_ERR_NOMEM;
		goto out;
	}
	if ((r = helper_ready(ctx)) != 0 ||
	    (k->gen != hc.gen && (r = proxy_reopen(ctx, k)) != 0))
		goto out;
	if ((r = hwk_buf_put_u8(req, P11H_SIGN)) != 0 ||
	    (r = hwk_buf_put_u32(req, k->handle)) != 0 ||
	    (r = hwk_buf_put_u32(req, (uint32_t)alg)) != 0 ||
	    (r = hwk_buf_put_string(req, data, len)) != 0 ||
	    (r = call(ctx, req, reply)) != 0)
		goto out;
	if (hwk_buf_get_string_direct(reply, &sig, &siglen) != 0 ||
	    (*sigp = malloc(siglen != 0 ? siglen : 1)) == NULL) {
		r = hwk_ctx_error(ctx, HWK_ERR_FORMAT, "the PKCS#11 helper "
		    "sent no signature");
		goto out;
	}
	memcpy(*sigp, sig, siglen);
	*siglenp = siglen;
 out:
	hwk_buf_free(&req);
	hwk_buf_free(&reply);
	return r;
}

/* Lets the helper close what it holds for the key, if it still runs. */
static void
proxy_free_impl(struct hwk_key *key)
{
	struct p11c_key *k = key->impl;
	struct hwk_buf *req = NULL, *reply = NULL;

	key->impl = NULL;
	if (k == NULL)
		return;
	if (k->gen == hc.gen && hc.fd >= 0 && hc.owner == getpid() &&
	    (req = hwk_buf_new()) != NULL && (reply = hwk_buf_new()) != NULL &&
	    hwk_buf_put_u8(req, P11H_FREE) == 0 &&
	    hwk_buf_put_u32(req, k->handle) == 0)
		call(hc.a != NULL ? hc.a->ctx : NULL, req, reply);
	hwk_buf_free(&req);
	hwk_buf_free(&reply);
	p11c_key_free(&k);
}

/*
 * The backend's own check of its options, run in a helper when any is
 * given (a --token URI takes p11-kit to read); that helper is stopped, so
 * that the agent does not take it along when it goes to the background.
 */
static int
proxy_check_opts(struct hwk_ctx *ctx)
{
	struct hwk_buf *req = NULL, *reply = NULL;
	const struct hwk_optdesc *o;
	int r;

	for (o = hc.proxy.options; o != NULL && o->name != NULL; o++)
		if (hwk_ctx_opt(ctx, o->name) != NULL)
			break;
	if (o == NULL || o->name == NULL)
		return HWK_OK;
	if ((req = hwk_buf_new()) == NULL || (reply = hwk_buf_new()) == NULL) {
		r = HWK_ERR_NOMEM;
		goto out;
	}
	if ((r = helper_ready(ctx)) == 0 &&
	    (r = hwk_buf_put_u8(req, P11H_CHECK)) == 0)
		r = call(ctx, req, reply);
	helper_stop(0);
 out:
	hwk_buf_free(&req);
	hwk_buf_free(&reply);
	return r;
}

int
hwk_agent_p11_isolate(struct hwk_agent *a)
{
	const struct hwk_backend *const *b;
	const struct hwk_backend *p11;
	size_t n = 0;

	hwk_backends_override(NULL);	/* the real table, even if run twice */
	hc.a = a;
	hc.timeout_ms = helper_timeout();
	hc.builtin = hwk_backends();
	if ((p11 = hwk_backend_find("pkcs11")) == NULL)
		return HWK_OK;
	/* The same name, options and stubs; the work done elsewhere. */
	memset(&hc.proxy, 0, sizeof(hc.proxy));
	hc.proxy.name = p11->name;
	hc.proxy.summary = p11->summary;
	hc.proxy.flags = p11->flags;
	hc.proxy.default_bits = p11->default_bits;
	hc.proxy.options = p11->options;
	hc.proxy.claims = p11->claims;	/* a prefix: no library needed */
	hc.proxy.stub_info = proxy_stub_info;
	hc.proxy.load = proxy_load;
	hc.proxy.sign = proxy_sign;
	hc.proxy.free_impl = proxy_free_impl;
	hc.proxy.check_opts = proxy_check_opts;
	for (b = hc.builtin; *b != NULL && n < MAX_BACKENDS; b++)
		hc.table[n++] = *b == p11 ? &hc.proxy : *b;
	hc.table[n] = NULL;
	hwk_backends_override(hc.table);
	return HWK_OK;
}

void
hwk_agent_p11_end(void)
{
	helper_stop(0);
}
