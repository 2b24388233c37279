/*
 * Secrets given to hwkey-agent by `hwkey-agent add` on a terminal: tried
 * once on the device, then kept with the open key (the TPM password in
 * the backend's locked memory, the token logged in in the PKCS#11 helper)
 * until ssh-add -x, -d or -D, the agent's exit, or the lifetime add gave.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hwkey/backend.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "hwkey/sshkey.h"
#include "agent.h"
#include "conn.h"
#include "p11helper.h"

/* What the check signs: no one else ever asks for this signature. */
static const char probe_msg[] = "hwkey-agent: the secret given by "
    "hwkey-agent add is right";

/* The secret add gave, handed out once: a wrong one is never tried twice. */
struct given {
	const char	*secret;
	unsigned	 asked;
};

static void
nolog(int level, const char *fmt, ...)
{
	(void)level;
	(void)fmt;
}

#define LOG(a, lvl, ...) ((a)->log != NULL ? (a)->log : nolog)(lvl, __VA_ARGS__)

static int
given_read(void *arg, const char *prompt, char *buf, size_t len)
{
	struct given *g = arg;

	(void)prompt;
	buf[0] = '\0';
	if (g->asked++ > 0)
		return HWK_ERR_CANCELLED;
	if (strlen(g->secret) >= len)
		return HWK_ERR_TOO_LARGE;
	strcpy(buf, g->secret);
	return HWK_OK;
}

static void
given_notice(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The algorithm of the check: any one the key signs with. */
static int
probe_alg(const struct hwk_identity *id)
{
	if (strcmp(id->pub->type, "ssh-ed25519") == 0)
		return HWK_SIG_ED25519;
	if (strncmp(id->pub->type, "ecdsa-sha2-", 11) == 0)
		return HWK_SIG_ECDSA;
	return HWK_SIG_RSA_SHA256;
}

/* Opens the key afresh and signs once, asking ui for its secret. */
static int
probe(struct hwk_agent *a, struct hwk_identity *id, struct given *g)
{
	struct hwk_ui ui = { given_read, given_notice, g };
	uint8_t *raw = NULL;
	size_t rawlen = 0;
	int r;

	/* A key open already would sign with the secret it holds. */
	hwk_key_free(&id->key);
	hwk_ctx_set_ui(a->ctx, &ui);
	hwk_ctx_clear_error(a->ctx);
	if ((r = hwk_agent_open_identity(a, id)) == 0)
		r = hwk_key_sign(a->ctx, id->key, probe_alg(id),
		    (const uint8_t *)probe_msg, sizeof(probe_msg) - 1, &raw,
		    &rawlen);
	hwk_agent_askpass_ui(a->ctx);	/* as the agent asks otherwise */
	free(raw);
	return r;
}

int
hwk_agent_unlock(struct hwk_agent *a, struct hwk_identity *id,
    const char *secret, uint32_t life)
{
	struct given g = { secret, 0 };
	int r;

	if ((r = probe(a, id, &g)) != 0) {
		/* Wipes what the backend took of the secret, logs out. */
		hwk_key_free(&id->key);
		id->unlocked = 0;
		if (*hwk_ctx_detail(a->ctx) == '\0')
			hwk_ctx_error(a->ctx, r, "%s", hwk_strerror(r));
		LOG(a, AGENT_LOG_INFO, "%s: the secret given by hwkey-agent "
		    "add was refused: %s", id->path, hwk_ctx_detail(a->ctx));
		return r;
	}
	if (g.asked == 0) {
		LOG(a, AGENT_LOG_INFO, "%s: signs without a secret; the one "
		    "given was not used", id->path);
		return HWK_OK;
	}
	/* A helper started again after a crash logs in with it, unasked. */
	if ((r = hwk_agent_p11_keep_pin(id->key, secret)) != 0) {
		hwk_key_free(&id->key);
		return hwk_ctx_error(a->ctx, r, "%s: cannot keep the PIN",
		    id->path);
	}
	id->unlocked = 1;
	id->unlock_until = life > 0 ? now_ms() + 1000LL * life : 0;
	if (life > 0)
		LOG(a, AGENT_LOG_INFO, "%s: secret checked; kept for %u s",
		    id->path, (unsigned)life);
	else
		LOG(a, AGENT_LOG_INFO, "%s: secret checked; kept until the key "
		    "is removed or the agent locked", id->path);
	return HWK_OK;
}

void
hwk_agent_expire(struct hwk_agent *a)
{
	long long t = 0;
	size_t i;

	for (i = 0; i < a->nids; i++) {
		struct hwk_identity *id = &a->ids[i];

		if (!id->unlocked || id->unlock_until == 0)
			continue;
		if (t == 0)
			t = now_ms();
		if (t < id->unlock_until)
			continue;
		hwk_key_free(&id->key);		/* wipes, logs out */
		id->unlocked = 0;
		id->unlock_until = 0;
		LOG(a, AGENT_LOG_INFO, "%s: the lifetime of its secret is over; "
		    "forgotten", id->path);
	}
}

void
hwk_agent_forget_secrets(struct hwk_agent *a)
{
	size_t i, n = 0;

	for (i = 0; i < a->nids; i++) {
		if (a->ids[i].key == NULL)
			continue;
		hwk_key_free(&a->ids[i].key);
		a->ids[i].unlocked = 0;
		n++;
	}
	if (n > 0)
		LOG(a, AGENT_LOG_INFO, "closed %zu key%s: their secrets are "
		    "forgotten", n, n == 1 ? "" : "s");
}

/* How a secret will be asked for: the same for every key but tokens. */
static const char *
how_asked(const struct hwk_agent *a, const struct hwk_identity *id)
{
	const char *d = getenv("DISPLAY"), *w = getenv("WAYLAND_DISPLAY");
	const char *ap = getenv("SSH_ASKPASS"), *req;

	if (strcmp(id->backend->name, "pkcs11") == 0 &&
	    hwk_ctx_opt(a->ctx, "pin-source") != NULL)
		return "read from --pin-source";
	req = getenv("SSH_ASKPASS_REQUIRE");
	if ((req == NULL || strcmp(req, "never") != 0) &&
	    ((req != NULL && strcmp(req, "force") == 0) ||
	    (d != NULL && *d != '\0') || (w != NULL && *w != '\0')))
		return ap != NULL && *ap != '\0' ? "asked through SSH_ASKPASS" :
		    "asked through ssh-askpass";
	return "not asked: no display; give it with hwkey-agent add on a "
	    "terminal";
}

void
hwk_agent_log_secrets(struct hwk_agent *a)
{
	char fp[HWK_FP_LEN];
	const char *name;
	size_t i;

	for (i = 0; i < a->nids; i++) {
		const struct hwk_identity *id = &a->ids[i];

		if (id->protection == NULL || strcmp(id->protection, "none") == 0)
			continue;
		name = hwk_conn_key_name(id, fp);
		LOG(a, AGENT_LOG_INFO, "%s (%s) %s its %s: %s", name, fp,
		    strcmp(id->backend->name, "pkcs11") == 0 ? "may need" :
		    "needs", id->protection, how_asked(a, id));
	}
}
