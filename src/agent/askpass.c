/*
 * How hwkey-agent asks for a PIN or password, or for a yes: it has no
 * terminal, so it runs SSH_ASKPASS as ssh does, honouring
 * SSH_ASKPASS_REQUIRE.  A PIN prompt says which key and which program it
 * is for, so that no one types a secret into the wrong one.
 */
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "hwkey/sshkey.h"
#include "agent.h"
#include "conn.h"

#define DEFAULT_ASKPASS	"/usr/bin/ssh-askpass"
#define PROMPT_MAX	2048

/* The context whose way of asking is askpass (hwk_agent_askpass_ui). */
static const struct hwk_ctx *ui_ctx;

/* The signature a prompt is for: the agent answers one request at a time. */
static struct {
	struct hwk_conn	*conn;
	const struct hwk_identity *id;
} about;

/* Whether SSH_ASKPASS may be used, by ssh's rules. */
static int
askpass_allowed(void)
{
	const char *req = getenv("SSH_ASKPASS_REQUIRE");
	const char *d = getenv("DISPLAY"), *w = getenv("WAYLAND_DISPLAY");

	if (req != NULL && strcasecmp(req, "never") == 0)
		return 0;
	if (req != NULL && strcasecmp(req, "force") == 0)
		return 1;
	return (d != NULL && *d != '\0') || (w != NULL && *w != '\0');
}

int
hwk_askpass_start(struct hwk_ctx *ctx, const char *prompt, const char *hint,
    pid_t *pidp, int *fdp)
{
	const char *prog = getenv("SSH_ASKPASS");
	int p[2];
	pid_t pid;

	*pidp = -1;
	*fdp = -1;
	if (!askpass_allowed())
		return hwk_ctx_error(ctx, HWK_ERR_CANCELLED, "%s is needed but "
		    "there is no way to ask: %sset SSH_ASKPASS (and "
		    "SSH_ASKPASS_REQUIRE=force without a display)%s",
		    hint != NULL ? "the user's yes" : "a PIN or password",
		    hint != NULL ? "" : "give it with hwkey-agent add STUB on "
		    "a terminal, or ", hint != NULL ? "" : ", or for a token "
		    "PIN start the agent with --pin-source");
	if (prog == NULL || *prog == '\0')
		prog = DEFAULT_ASKPASS;
	if (pipe2(p, O_CLOEXEC) != 0)
		return hwk_ctx_error(ctx, HWK_ERR_SYSTEM, "pipe: %s",
		    strerror(errno));
	if ((pid = fork()) < 0) {
		close(p[0]);
		close(p[1]);
		return hwk_ctx_error(ctx, HWK_ERR_SYSTEM, "fork: %s",
		    strerror(errno));
	}
	if (pid == 0) {
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (dup2(p[1], STDOUT_FILENO) < 0 || (hint != NULL &&
		    setenv("SSH_ASKPASS_PROMPT", hint, 1) != 0))
			_exit(127);
		execlp(prog, prog, prompt, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	*pidp = pid;
	*fdp = p[0];
	return HWK_OK;
}

int
hwk_askpass_finish(struct hwk_ctx *ctx, pid_t pid, int fd, char *buf,
    size_t len)
{
	const char *prog = getenv("SSH_ASKPASS");
	int status, toolong = 0;
	size_t pos = 0;
	ssize_t n;
	char c;

	if (prog == NULL || *prog == '\0')
		prog = DEFAULT_ASKPASS;
	for (;;) {
		n = read(fd, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || c == '\n' || c == '\r')
			break;
		if (pos < len - 1)
			buf[pos++] = c;
		else
			toolong = 1;	/* never send a cut PIN: it costs a try */
	}
	buf[pos] = '\0';
	c = 0;
	close(fd);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		explicit_bzero(buf, len);
		return hwk_ctx_error(ctx, HWK_ERR_CANCELLED, "%s was cancelled "
		    "or failed", prog);
	}
	if (toolong) {
		explicit_bzero(buf, len);
		return hwk_ctx_error(ctx, HWK_ERR_TOO_LARGE, "the answer of %s "
		    "is longer than %zu characters; it was not used", prog,
		    len - 1);
	}
	return HWK_OK;
}

void
hwk_askpass_cancel(pid_t pid, int fd)
{
	struct timespec nap = { 0, 10 * 1000000L };
	int status, tries;

	if (pid <= 0)
		return;
	close(fd);
	kill(pid, SIGTERM);
	for (tries = 0; waitpid(pid, &status, WNOHANG) == 0; tries++) {
		if (tries == 100)	/* a second: it will not go */
			kill(pid, SIGKILL);
		nanosleep(&nap, NULL);
	}
}

int
hwk_askpass(struct hwk_ctx *ctx, const char *prompt, const char *hint,
    char *buf, size_t len)
{
	pid_t pid;
	int fd, r;

	buf[0] = '\0';
	if ((r = hwk_askpass_start(ctx, prompt, hint, &pid, &fd)) != 0)
		return r;
	return hwk_askpass_finish(ctx, pid, fd, buf, len);
}

void
hwk_askpass_about(struct hwk_conn *c, const struct hwk_identity *id)
{
	about.conn = c;
	about.id = id;
}

/* A backend's prompt, after the key and the program it is for. */
static char *
full_prompt(const char *prompt)
{
	char *full, who[512], fp[HWK_FP_LEN];
	const char *name;

	if ((full = malloc(PROMPT_MAX)) == NULL)
		return NULL;
	if (about.id == NULL) {
		snprintf(full, PROMPT_MAX, "%s", prompt);
		return full;
	}
	name = hwk_conn_key_name(about.id, fp);
	hwk_conn_who(about.conn, who, sizeof(who));
	snprintf(full, PROMPT_MAX, "Key %s %s.\n%s\n%s", name, fp, who,
	    prompt);
	return full;
}

static int
askpass_read(void *arg, const char *prompt, char *buf, size_t len)
{
	char *full;
	int r;

	if ((full = full_prompt(prompt)) == NULL)
		return HWK_ERR_NOMEM;
	r = hwk_askpass(arg, full, NULL, buf, len);
	free(full);
	return r;
}

int
hwk_askpass_secret_start(struct hwk_ctx *ctx, const char *prompt,
    pid_t *pidp, int *fdp)
{
	char *full;
	int r;

	if ((full = full_prompt(prompt)) == NULL)
		return HWK_ERR_NOMEM;
	r = hwk_askpass_start(ctx, full, NULL, pidp, fdp);
	free(full);
	return r;
}

static void
askpass_notice(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;	/* the agent logs its own messages */
}

void
hwk_agent_askpass_ui(struct hwk_ctx *ctx)
{
	struct hwk_ui ui = { askpass_read, askpass_notice, ctx };

	hwk_ctx_set_ui(ctx, &ui);
	ui_ctx = ctx;
}

int
hwk_askpass_is_ui(const struct hwk_ctx *ctx)
{
	return ctx != NULL && ctx == ui_ctx;
}
