/*
 * Logging in to a token: where the PIN comes from, what the token says of
 * the tries left, and the PINs from files that it refused, never sent again.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/pkcs11.h>

#include "hwkey/buf.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "hwkey/secret.h"
#include "pkcs11_impl.h"

/*
 * A PIN from a pin-source that a token refused.  The source still holds
 * the same wrong PIN on the next try, and an agent would try it at every
 * signature until the token locks: it is not sent again until restart.
 */
struct p11_refusal {
	unsigned char	 label[32];	/* as in CK_TOKEN_INFO */
	unsigned char	 serial[16];
	int		 so;		/* an SO PIN (else a user PIN) */
	char		*source;
	struct p11_refusal *next;
};

static struct p11_refusal *refusals;

/* Nonzero if one of the signals that end us is waiting. */
static int
signal_waiting(void)
{
	sigset_t p;

	sigpending(&p);
	return sigismember(&p, SIGINT) || sigismember(&p, SIGTERM) ||
	    sigismember(&p, SIGHUP) || sigismember(&p, SIGQUIT);
}

/*
 * Asks for a PIN with the ui.  Nothing exists on the token yet, so Ctrl-C
 * at the prompt may end us even while the CLI holds signals back for
 * keygen; a signal that still got held back aborts before the PIN is used.
 */
static int
ask_pin(struct hwk_ctx *ctx, const char *prompt, char *pin, size_t len)
{
	sigset_t set, saved;
	int r;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	sigprocmask(SIG_UNBLOCK, &set, &saved);
	r = hwk_ctx_read_secret(ctx, prompt, pin, len);
	sigprocmask(SIG_SETMASK, &saved, NULL);
	if (r == 0 && signal_waiting()) {
		explicit_bzero(pin, len);
		return hwk_ctx_error(ctx, HWK_ERR_SIGNAL, "interrupted at the "
		    "PIN prompt; the PIN was not used");
	}
	return r;
}

/* The refusal of the PIN in source by the token of ti, if there was one. */
static struct p11_refusal *
refusal_find(const CK_TOKEN_INFO *ti, CK_USER_TYPE who, const char *source)
{
	struct p11_refusal *f;

	for (f = refusals; f != NULL; f = f->next)
		if (memcmp(f->label, ti->label, sizeof(f->label)) == 0 &&
		    memcmp(f->serial, ti->serialNumber,
		    sizeof(f->serial)) == 0 && f->so == (who == CKU_SO) &&
		    strcmp(f->source, source) == 0)
			return f;
	return NULL;
}

/* Remembers, until exit, that the token of ti refused the PIN in source. */
static void
refusal_add(const CK_TOKEN_INFO *ti, CK_USER_TYPE who, const char *source)
{
	struct p11_refusal *f;

	if (refusal_find(ti, who, source) != NULL ||
	    (f = calloc(1, sizeof(*f))) == NULL)
		return;
	if ((f->source = strdup(source)) == NULL) {
		free(f);
		return;
	}
	memcpy(f->label, ti->label, sizeof(f->label));
	memcpy(f->serial, ti->serialNumber, sizeof(f->serial));
	f->so = who == CKU_SO;
	f->next = refusals;
	refusals = f;
}

/* What the token says about the tries left, after a wrong PIN. */
static const char *
tries_left(CK_FLAGS flags, CK_USER_TYPE who)
{
	int so = who == CKU_SO;

	if (flags & (so ? CKF_SO_PIN_LOCKED : CKF_USER_PIN_LOCKED))
		return "the token says the PIN is now locked";
	if (flags & (so ? CKF_SO_PIN_FINAL_TRY : CKF_USER_PIN_FINAL_TRY))
		return "the token says one more wrong PIN will lock it";
	if (flags & (so ? CKF_SO_PIN_COUNT_LOW : CKF_USER_PIN_COUNT_LOW))
		return "the token says few tries remain";
	return "the token does not say how many tries remain";
}

/* Whose PIN a login as who takes, for messages. */
static const char *
pin_whose(CK_USER_TYPE who)
{
	return who == CKU_SO ? "SO PIN" : "PIN";
}

/*
 * *done if the session is logged in as who already, by another session of
 * ours.  A session the token dropped is an error, and c->gone.
 */
static int
login_known(struct hwk_ctx *ctx, struct p11_conn *c, CK_USER_TYPE who,
    int *done)
{
	CK_SESSION_INFO sinfo;
	CK_RV rv;

	*done = 0;
	rv = c->mod->fn->C_GetSessionInfo(c->sess, &sinfo);
	/* A session the token dropped is worth no PIN: a new one is. */
	if (rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED) {
		c->gone = 1;
		return hwk_p11_rv_error(ctx, rv, "token %s dropped the "
		    "session", c->name);
	}
	/* Logged in by another session of ours: no PIN to ask for. */
	if (rv == CKR_OK && (who == CKU_SO ?
	    sinfo.state == CKS_RW_SO_FUNCTIONS :
	    (sinfo.state == CKS_RO_USER_FUNCTIONS ||
	    sinfo.state == CKS_RW_USER_FUNCTIONS))) {
		c->user = who;
		*done = 1;
	}
	return HWK_OK;
}

/*
 * Refuses a login that the token's flags (ti) advise against: a locked
 * PIN, or a PIN from a file that the token refused before or that would
 * be its last try.  Warns when few tries remain.
 */
static int
login_may_try(struct hwk_ctx *ctx, const struct p11_conn *c,
    const CK_TOKEN_INFO *ti, CK_USER_TYPE who, const char *pin_source,
    int unattended)
{
	const char *whose = pin_whose(who);
	CK_FLAGS locked, final, low;

	locked = who == CKU_SO ? CKF_SO_PIN_LOCKED : CKF_USER_PIN_LOCKED;
	final = who == CKU_SO ? CKF_SO_PIN_FINAL_TRY : CKF_USER_PIN_FINAL_TRY;
	low = who == CKU_SO ? CKF_SO_PIN_COUNT_LOW : CKF_USER_PIN_COUNT_LOW;
	if (ti->flags & locked) {
		hwk_ctx_error(ctx, HWK_ERR_PIN_LOCKED, "the %s of token %s is "
		    "locked", whose, c->name);
		hwk_ctx_hint(ctx, who == CKU_SO ? "Only the token's maker "
		    "or a reset can help now." : "Unblock it with the SO PIN "
		    "(pkcs11-tool --init-pin --login --login-type so; on a "
		    "YubiKey: yubico-piv-tool -a unblock-pin with the PUK).");
		return HWK_ERR_PIN_LOCKED;
	}
	if (unattended && refusal_find(&c->ti, who, pin_source) != NULL) {
		hwk_ctx_error(ctx, HWK_ERR_PIN_INCORRECT, "the %s from %s was "
		    "refused by token %s; fix the file and restart", whose,
		    pin_source, c->name);
		hwk_ctx_hint(ctx, "A refused PIN is not sent again until "
		    "restart: each try counts towards locking the token.");
		return HWK_ERR_PIN_INCORRECT;
	}
	if ((ti->flags & final) && unattended) {
		hwk_ctx_error(ctx, HWK_ERR_PIN_LOCKED, "token %s says one more "
		    "wrong %s locks it: the %s from %s is not tried unattended",
		    c->name, whose, whose, pin_source);
		hwk_ctx_hint(ctx, "Type the %s instead (leave out --pin-source "
		    "and pin-source=), after checking it is the right one.",
		    whose);
		return HWK_ERR_PIN_LOCKED;
	}
	if (ti->flags & final)
		hwk_ctx_notice(ctx, "Warning: one more wrong %s locks token "
		    "%s.", whose, c->name);
	else if (ti->flags & low)
		hwk_ctx_notice(ctx, "Warning: a wrong %s was given for token "
		    "%s since the last right one; few tries remain.", whose,
		    c->name);
	return HWK_OK;
}

/*
 * C_Login as who, its answer in *rvp: on the reader's keypad, or with a
 * PIN from pin_source or the ui, wiped once sent.  An error if no PIN was
 * sent.
 */
static int
login_send(struct hwk_ctx *ctx, struct p11_conn *c, const CK_TOKEN_INFO *ti,
    CK_USER_TYPE who, const char *pin_source, CK_RV *rvp)
{
	const char *whose = pin_whose(who);
	char *pin = NULL, prompt[HWK_P11_NAME_MAX + 64], label[33];
	int r;

	*rvp = CKR_GENERAL_ERROR;	/* until the token answers */
	if (ti->flags & CKF_PROTECTED_AUTHENTICATION_PATH) {
		hwk_ctx_notice(ctx, "Enter the %s for token %s on the reader's "
		    "keypad.", whose, c->name);
		*rvp = c->mod->fn->C_Login(c->sess, who, NULL, 0);
		return HWK_OK;
	}
	if ((pin = malloc(HWK_SECRET_MAX)) == NULL)
		return HWK_ERR_NOMEM;
	if (pin_source != NULL) {
		if ((r = hwk_pin_source_read(ctx, pin_source, whose, pin,
		    HWK_SECRET_MAX)) != 0)
			goto out;
	} else {
		hwk_p11_field(ti->label, sizeof(ti->label), label,
		    sizeof(label));
		snprintf(prompt, sizeof(prompt), "Enter %s%s for '%s': ",
		    whose, who == CKU_CONTEXT_SPECIFIC ? " again" : "", label);
		if ((r = ask_pin(ctx, prompt, pin, HWK_SECRET_MAX)) != 0) {
			if (r == HWK_ERR_CANCELLED)
				hwk_ctx_error(ctx, r, "no %s given; nothing "
				    "was done", whose);
			goto out;
		}
	}
	/* An empty line is a slip, not a try worth spending. */
	if (*pin == '\0') {
		r = hwk_ctx_error(ctx, HWK_ERR_CANCELLED, "empty %s; the token "
		    "was not asked", whose);
		goto out;
	}
	*rvp = c->mod->fn->C_Login(c->sess, who, (CK_UTF8CHAR *)pin,
	    strlen(pin));
	r = HWK_OK;
 out:
	hwk_freezero(pin, HWK_SECRET_MAX);
	return r;
}

/* What the token's answer rv to C_Login means, with what to do about it. */
static int
login_result(struct hwk_ctx *ctx, struct p11_conn *c, const CK_TOKEN_INFO *ti,
    CK_USER_TYPE who, CK_RV rv, const char *pin_source, int unattended)
{
	const char *whose = pin_whose(who);
	CK_FLAGS locked;
	CK_TOKEN_INFO now;
	int r;

	locked = who == CKU_SO ? CKF_SO_PIN_LOCKED : CKF_USER_PIN_LOCKED;
	if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN) {
		if (who != CKU_CONTEXT_SPECIFIC)
			c->user = who;
		r = HWK_OK;
	} else if (rv == CKR_PIN_INCORRECT) {
		if (c->mod->fn->C_GetTokenInfo(c->slot, &now) != CKR_OK)
			now.flags = 0;
		r = hwk_ctx_error(ctx, (now.flags & locked) ?
		    HWK_ERR_PIN_LOCKED : HWK_ERR_PIN_INCORRECT, "incorrect %s "
		    "for token %s; %s", whose, c->name, tries_left(now.flags,
		    who));
		if (unattended)
			hwk_ctx_hint(ctx, "The %s came from %s: fix the "
			    "file (a running hwkey-agent does not send it "
			    "again until restarted).", whose, pin_source);
		else
			hwk_ctx_hint(ctx, "hwkeygen never tries a PIN twice, "
			    "so that a slip costs one try only; run it again "
			    "with the right %s.", whose);
	} else if (rv == CKR_PIN_LOCKED) {
		r = hwk_ctx_error(ctx, HWK_ERR_PIN_LOCKED, "the %s of token "
		    "%s is locked", whose, c->name);
	} else if (rv == CKR_PIN_EXPIRED) {
		r = hwk_ctx_error(ctx, hwk_p11_rv_err(rv), "the %s of token %s "
		    "has expired and must be changed (CKR_PIN_EXPIRED)", whose,
		    c->name);
		hwk_ctx_hint(ctx, "Change it (pkcs11-tool --change-pin; on a "
		    "YubiKey: ykman piv access change-pin), then try again.");
	} else if (rv == CKR_PIN_LEN_RANGE) {
		r = hwk_ctx_error(ctx, HWK_ERR_PIN_INCORRECT, "the %s has the "
		    "wrong length: token %s wants %lu to %lu characters",
		    whose, c->name, (unsigned long)ti->ulMinPinLen,
		    (unsigned long)ti->ulMaxPinLen);
	} else {
		r = hwk_p11_rv_error(ctx, rv, "cannot log in to token %s as %s",
		    c->name, who == CKU_SO ? "security officer" : "user");
		if (rv == CKR_USER_PIN_NOT_INITIALIZED)
			hwk_ctx_hint(ctx, "Set a user PIN first (pkcs11-tool "
			    "--init-pin).");
	}
	return r;
}

/*
 * Logs in as who (CKU_USER, CKU_SO or CKU_CONTEXT_SPECIFIC): with a PIN
 * from pin_source or the ui, or on the reader's keypad.  A wrong PIN is
 * reported, never tried again: each try counts towards locking the token.
 * A PIN from a file is sent by nobody watching, so it is never sent when
 * the token has one try left, nor after the token refused it once.
 */
int
hwk_p11_conn_login(struct hwk_ctx *ctx, struct p11_conn *c, CK_USER_TYPE who,
    const char *pin_source)
{
	CK_TOKEN_INFO ti;
	CK_RV rv;
	int r, done, unattended;

	if (who != CKU_CONTEXT_SPECIFIC) {
		if (c->user == who)
			return HWK_OK;
		if ((r = login_known(ctx, c, who, &done)) != 0 || done)
			return r;
	}
	/* Fresh flags: the count of wrong tries changes under us. */
	if (c->mod->fn->C_GetTokenInfo(c->slot, &ti) != CKR_OK)
		ti = c->ti;
	if (who == CKU_USER && !(ti.flags & CKF_LOGIN_REQUIRED))
		return HWK_OK;
	unattended = pin_source != NULL &&
	    !(ti.flags & CKF_PROTECTED_AUTHENTICATION_PATH);
	if ((r = login_may_try(ctx, c, &ti, who, pin_source,
	    unattended)) != 0 ||
	    (r = login_send(ctx, c, &ti, who, pin_source, &rv)) != 0)
		return r;
	/* The file will say the same next time: never send it again. */
	if (unattended && (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_INVALID ||
	    rv == CKR_PIN_LEN_RANGE))
		refusal_add(&c->ti, who, pin_source);
	return login_result(ctx, c, &ti, who, rv, pin_source, unattended);
}

void
hwk_p11_refusals_free(void)
{
	struct p11_refusal *f;

	while ((f = refusals) != NULL) {
		refusals = f->next;
		free(f->source);
		free(f);
	}
}
