/*
 * --confirm: before every signature the agent asks the user through
 * SSH_ASKPASS with SSH_ASKPASS_PROMPT=confirm, as ssh-agent does for keys
 * added with ssh-add -c, naming the key and who asks for it.
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

int
hwk_confirm_sign(struct hwk_agent *a, struct hwk_conn *c,
    const struct hwk_identity *id)
{
	char q[1024], who[512], fp[HWK_FP_LEN], answer[64];
	const char *name;
	int r, yes;

	if (!a->confirm)
		return HWK_OK;
	name = hwk_conn_key_name(id, fp);
	hwk_conn_who(c, who, sizeof(who));
	snprintf(q, sizeof(q), "Allow use of key %s?\nKey fingerprint %s.\n%s",
	    name, fp, who);
	hwk_ctx_clear_error(a->ctx);
	r = hwk_askpass(a->ctx, q, "confirm", answer, sizeof(answer));
	/* As ssh-agent: an empty answer or "yes", from an askpass exiting 0. */
	yes = r == 0 && (answer[0] == '\0' || strcasecmp(answer, "yes") == 0);
	explicit_bzero(answer, sizeof(answer));
	if (yes) {
		LOG(a, AGENT_LOG_DEBUG, "%s: the user allowed a signature for "
		    "%s (pid %d)", id->path, hwk_conn_prog(c),
		    c != NULL ? (int)c->pid : 0);
		return HWK_OK;
	}
	/* A refusal, or an askpass that could not run or was cancelled. */
	LOG(a, AGENT_LOG_INFO, "%s: signature for %s (pid %d) not confirmed: "
	    "%s", id->path, hwk_conn_prog(c), c != NULL ? (int)c->pid : 0,
	    r == 0 ? "the user said no" : *hwk_ctx_detail(a->ctx) != '\0' ?
	    hwk_ctx_detail(a->ctx) : hwk_strerror(r));
	return HWK_ERR_CANCELLED;
}
