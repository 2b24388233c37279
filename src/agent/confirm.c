/*
 * --confirm: before every signature the agent asks the user through
 * SSH_ASKPASS with SSH_ASKPASS_PROMPT=confirm, as ssh-agent does for keys
 * added with ssh-add -c, naming the key and who asks for it; one question
 * at a time, the agent serving others while it is on the screen.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "hwkey/sshkey.h"
#include "agent.h"
#include "conn.h"

static void
nolog(int level, const char *fmt, ...)
{
	(void)level;
	(void)fmt;
}

#define LOG(a, lvl, ...) ((a)->log != NULL ? (a)->log : nolog)(lvl, __VA_ARGS__)

static int asking;	/* a question is on the screen */

/* The question: the key, who asks, and where from. */
static void
question(struct hwk_conn *c, const struct hwk_identity *id, char *q,
    size_t len)
{
	char who[512], fp[HWK_FP_LEN];
	const char *name;

	name = hwk_conn_key_name(id, fp);
	hwk_conn_who(c, who, sizeof(who));
	snprintf(q, len, "Allow use of key %s?\nKey fingerprint %s.\n%s",
	    name, fp, who);
}

/* The user's answer (r, answer), logged: 0 only on a yes. */
static int
verdict(struct hwk_agent *a, struct hwk_conn *c, const char *path, int r,
    char *answer, size_t len)
{
	int yes;

	/* As ssh-agent: an empty answer or "yes", from an askpass exiting 0. */
	yes = r == 0 && (answer[0] == '\0' || strcasecmp(answer, "yes") == 0);
	explicit_bzero(answer, len);
	if (yes) {
		LOG(a, AGENT_LOG_DEBUG, "%s: the user allowed a signature for "
		    "%s (pid %d)", path, hwk_conn_prog(c),
		    c != NULL ? (int)c->pid : 0);
		return HWK_OK;
	}
	/* A refusal, or an askpass that could not run or was cancelled. */
	LOG(a, AGENT_LOG_INFO, "%s: signature for %s (pid %d) not confirmed: "
	    "%s", path, hwk_conn_prog(c), c != NULL ? (int)c->pid : 0,
	    r == 0 ? "the user said no" : *hwk_ctx_detail(a->ctx) != '\0' ?
	    hwk_ctx_detail(a->ctx) : hwk_strerror(r));
	return HWK_ERR_CANCELLED;
}

int
hwk_confirm_sign(struct hwk_agent *a, struct hwk_conn *c,
    const struct hwk_identity *id)
{
	char q[1024], answer[64];
	int r;

	if (!a->confirm)
		return HWK_OK;
	question(c, id, q, sizeof(q));
	hwk_ctx_clear_error(a->ctx);
	r = hwk_askpass(a->ctx, q, "confirm", answer, sizeof(answer));
	return verdict(a, c, id->path, r, answer, sizeof(answer));
}

int
hwk_confirm_start(struct hwk_agent *a, struct hwk_conn *c,
    const struct hwk_identity *id, struct hwk_wait *w)
{
	char q[1024], answer[1] = "";
	int r;

	question(c, id, q, sizeof(q));
	hwk_ctx_clear_error(a->ctx);
	if ((r = hwk_askpass_start(a->ctx, q, "confirm", &w->pid,
	    &w->fd)) != 0)
		return verdict(a, c, id->path, r, answer, sizeof(answer));
	asking = 1;
	return HWK_OK;
}

int
hwk_confirm_end(struct hwk_agent *a, struct hwk_conn *c, const char *path,
    struct hwk_wait *w)
{
	char answer[64];
	int r;

	hwk_ctx_clear_error(a->ctx);
	r = hwk_askpass_finish(a->ctx, w->pid, w->fd, answer, sizeof(answer));
	w->pid = -1;
	w->fd = -1;
	asking = 0;
	return verdict(a, c, path, r, answer, sizeof(answer));
}

int
hwk_confirm_busy(void)
{
	return asking;
}

void
hwk_confirm_cancel(struct hwk_wait *w)
{
	if (w->pid <= 0)
		return;
	/* Its client left: the question goes from the screen. */
	hwk_askpass_cancel(w->pid, w->fd);
	w->pid = -1;
	w->fd = -1;
	asking = 0;
}
