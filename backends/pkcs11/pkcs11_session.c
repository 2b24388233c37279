/*
 * Sessions on tokens: one per token, shared by every key on it, and opened
 * anew when the token drops it.
 */
#include <stdlib.h>
#include <string.h>

#include <p11-kit/pkcs11.h>

#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "pkcs11_impl.h"

static struct p11_conn *conns;

/* A session on the token, shared with other keys on it. */
int
hwk_p11_conn_open(struct hwk_ctx *ctx, const struct p11_tok *t, int rw,
    struct p11_conn **cp)
{
	struct p11_conn *c;
	CK_RV rv;

	*cp = NULL;
	for (c = conns; c != NULL; c = c->next)
		if (c->mod == t->mod && c->slot == t->slot &&
		    (c->rw || !rw)) {
			c->refs++;
			*cp = c;
			return HWK_OK;
		}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return HWK_ERR_NOMEM;
	c->mod = t->mod;
	c->slot = t->slot;
	c->ti = t->ti;
	memcpy(c->name, t->name, sizeof(c->name));
	c->rw = rw;
	c->user = HWK_P11_NO_USER;
	if ((rv = c->mod->fn->C_OpenSession(c->slot, CKF_SERIAL_SESSION |
	    (rw ? CKF_RW_SESSION : 0), NULL, NULL, &c->sess)) != CKR_OK) {
		free(c);
		return hwk_p11_rv_error(ctx, rv, "cannot open a session on "
		    "token %s", t->name);
	}
	c->refs = 1;
	c->next = conns;
	conns = c;
	*cp = c;
	return HWK_OK;
}

void
hwk_p11_conn_put(struct p11_conn **cp)
{
	struct p11_conn *c = *cp, **pp;

	*cp = NULL;
	if (c == NULL || --c->refs > 0)
		return;
	for (pp = &conns; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	/* Closing the last session of a token also logs it out. */
	c->mod->fn->C_CloseSession(c->sess);
	free(c);
}

/* Closes the session and opens a new one; the login is gone then. */
CK_RV
hwk_p11_sess_restart(struct p11_conn *c)
{
	CK_RV rv;

	c->mod->fn->C_CloseSession(c->sess);
	c->user = HWK_P11_NO_USER;
	c->epoch++;	/* a token may drop handles with its last session */
	rv = c->mod->fn->C_OpenSession(c->slot, CKF_SERIAL_SESSION |
	    (c->rw ? CKF_RW_SESSION : 0), NULL, NULL, &c->sess);
	if (rv == CKR_OK)
		c->gone = 0;
	return rv;
}

/*
 * Opens the session anew after the token dropped it (removed, reset), if
 * the token in the slot is still the one it was: readers keep their slot
 * ids when a YubiKey is swapped for its backup.
 */
int
hwk_p11_conn_reopen(struct hwk_ctx *ctx, struct p11_conn *c)
{
	CK_TOKEN_INFO ti;
	char now[HWK_P11_NAME_MAX];
	CK_RV rv;

	if ((rv = c->mod->fn->C_GetTokenInfo(c->slot, &ti)) != CKR_OK)
		return hwk_p11_rv_error(ctx, rv, "cannot read token %s again",
		    c->name);
	if (memcmp(ti.label, c->ti.label, sizeof(ti.label)) != 0 ||
	    memcmp(ti.serialNumber, c->ti.serialNumber,
	    sizeof(ti.serialNumber)) != 0) {
		hwk_p11_token_name(&ti, now, sizeof(now));
		hwk_ctx_error(ctx, HWK_ERR_NO_DEVICE, "slot %lu of %s now "
		    "holds token %s, not token %s that holds the key",
		    (unsigned long)c->slot, c->mod->path, now, c->name);
		hwk_ctx_hint(ctx, "Put token %s back.", c->name);
		return HWK_ERR_NO_DEVICE;
	}
	if ((rv = hwk_p11_sess_restart(c)) != CKR_OK)
		return hwk_p11_rv_error(ctx, rv, "cannot open a session on "
		    "token %s", c->name);
	return HWK_OK;
}

void
hwk_p11_conns_free(void)
{
	struct p11_conn *c;

	while ((c = conns) != NULL) {
		conns = c->next;
		free(c);
	}
}
