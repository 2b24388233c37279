/*
 * Which token a command means: the options that name it, the tokens in
 * the slots of the modules in use, and the one among them that fits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/p11-kit.h>
#include <p11-kit/pkcs11.h>
#include <p11-kit/uri.h>

#include "hwkey/backend.h"
#include "hwkey/buf.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "pkcs11_impl.h"

#define SLOTS_LIMIT	65536	/* a module listing more is broken */

void
hwk_p11_opts_clear(struct p11_opts *o)
{
	p11_kit_uri_free(o->uri);
	free(o->pin_source);
	memset(o, 0, sizeof(*o));
}

/*
 * Where an unattended PIN comes from: --pin-source, else the pin-source of
 * the --token URI; NULL to ask.  The one place that decides, for keygen,
 * load and sign alike.  uri: the --token URI if parsed already, else NULL.
 */
int
hwk_p11_pin_source_get(struct hwk_ctx *ctx, P11KitUri *uri, char **srcp)
{
	P11KitUri *own = NULL;
	const char *s, *t;
	int r = HWK_OK;

	*srcp = NULL;
	s = hwk_ctx_opt(ctx, "pin-source");
	if (s == NULL && uri == NULL &&
	    (t = hwk_ctx_opt(ctx, "token")) != NULL) {
		if ((r = hwk_p11_uri_parse(ctx, "--token", t, &own)) != 0)
			return r;
		uri = own;
	}
	if (s == NULL && uri != NULL)
		s = p11_kit_uri_get_pin_source(uri);
	if (s != NULL && (strncmp(s, "file:", 5) != 0 || s[5] == '\0')) {
		hwk_ctx_error(ctx, HWK_ERR_USAGE, "--pin-source '%s': %s", s,
		    strncmp(s, "file:", 5) != 0 ? "only file: sources are "
		    "supported" : "the file is missing after file:");
		hwk_ctx_hint(ctx, "Write --pin-source file:/path/to/pinfile.");
		r = HWK_ERR_USAGE;
	} else if (s != NULL && (*srcp = strdup(s)) == NULL)
		r = HWK_ERR_NOMEM;
	p11_kit_uri_free(own);
	return r;
}

/* Reads and checks the backend's options from the context. */
int
hwk_p11_opts_get(struct hwk_ctx *ctx, struct p11_opts *o)
{
	const char *s;
	int r;

	memset(o, 0, sizeof(*o));
	o->login = CKU_USER;
	o->module = hwk_ctx_opt(ctx, "module");
	o->allow = hwk_ctx_opt(ctx, "module-allow");
	o->label = hwk_ctx_opt(ctx, "label");
	if (o->module != NULL && *o->module == '\0')
		return hwk_ctx_error(ctx, HWK_ERR_USAGE, "--module: give the "
		    "file of a PKCS#11 module");
	if (o->allow != NULL && *o->allow == '\0') {
		hwk_ctx_error(ctx, HWK_ERR_USAGE, "--module-allow: give the "
		    "module files that stubs may name, as patterns");
		hwk_ctx_hint(ctx, "For example --module-allow "
		    "'/usr/lib*/*,/opt/token/lib/*'.");
		return HWK_ERR_USAGE;
	}
	if ((o->token = hwk_ctx_opt(ctx, "token")) != NULL) {
		if ((r = hwk_p11_uri_parse(ctx, "--token", o->token,
		    &o->uri)) != 0)
			return r;
		if (p11_kit_uri_get_pin_value(o->uri) != NULL) {
			hwk_p11_opts_clear(o);
			hwk_ctx_error(ctx, HWK_ERR_USAGE, "--token: a PIN in "
			    "the URI (pin-value) would show in the process "
			    "list and the shell history");
			hwk_ctx_hint(ctx, "Put the PIN in a file only you can "
			    "read and give --pin-source file:PATH.");
			return HWK_ERR_USAGE;
		}
	}
	if ((r = hwk_p11_pin_source_get(ctx, o->uri, &o->pin_source)) != 0) {
		hwk_p11_opts_clear(o);
		return r;
	}
	if ((s = hwk_ctx_opt(ctx, "login")) != NULL) {
		if (strcmp(s, "so") == 0)
			o->login = CKU_SO;
		else if (strcmp(s, "user") != 0) {
			hwk_p11_opts_clear(o);
			return hwk_ctx_error(ctx, HWK_ERR_USAGE, "--login '%s': "
			    "use --login user (the default) or --login so", s);
		}
	}
	if ((s = hwk_ctx_opt(ctx, "id")) != NULL &&
	    hwk_p11_id_parse(s, o->id, &o->idlen) != 0) {
		hwk_p11_opts_clear(o);
		hwk_ctx_error(ctx, HWK_ERR_USAGE, "--id '%s' is not a key id "
		    "in hex (1 to %d bytes)", s, HWK_P11_ID_MAX);
		hwk_ctx_hint(ctx, "Write it as hex digits, such as --id 01 or "
		    "--id 4a5b.");
		return HWK_ERR_USAGE;
	}
	return HWK_OK;
}

/* The slots with a token in module m, in a new array *slotsp of *n. */
CK_RV
hwk_p11_slot_list(struct p11_mod *m, CK_SLOT_ID **slotsp, CK_ULONG *n)
{
	CK_SLOT_ID *slots = NULL;
	CK_ULONG count = 0, room;
	CK_RV rv = CKR_OK;
	int tries;

	*slotsp = NULL;
	*n = 0;
	/* A token plugged in between the two calls makes the list grow. */
	for (tries = 0; tries < 3; tries++) {
		if ((rv = m->fn->C_GetSlotList(CK_TRUE, NULL, &count)) !=
		    CKR_OK)
			break;
		if (count == 0)
			break;
		if (count > SLOTS_LIMIT) {
			rv = CKR_HOST_MEMORY;
			break;
		}
		free(slots);
		if ((slots = calloc(count, sizeof(*slots))) == NULL) {
			rv = CKR_HOST_MEMORY;
			break;
		}
		room = count;
		rv = m->fn->C_GetSlotList(CK_TRUE, slots, &count);
		if (rv == CKR_OK) {
			/* Never more than the list holds, whatever it says. */
			*n = count < room ? count : room;
			*slotsp = slots;
			return CKR_OK;
		}
		if (rv != CKR_BUFFER_TOO_SMALL)
			break;
	}
	free(slots);
	return rv;
}

/* Nonzero if module m is the one named name (a URI's module-name). */
static int
mod_named(struct p11_mod *m, const char *name)
{
	char *got;
	int same;

	got = p11_kit_module_get_name(m->fn);
	same = got != NULL && strcmp(got, name) == 0;
	free(got);
	return same;
}

/* What a scan saw besides the tokens that fit. */
struct scan_tally {
	int		 type_only;	/* tokens that lack only the type */
	const char	*uninit_mod;	/* the first token not initialised: */
	CK_SLOT_ID	 uninit_slot;	/* its module's file and slot */
};

/*
 * A token that is there but not initialised needs a label and PINs, which
 * only its owner can choose: say how, in the words of the usual tools.
 */
static void
uninit_hint(struct hwk_ctx *ctx, const struct scan_tally *tl)
{
	const char *base = strrchr(tl->uninit_mod, '/');

	base = base != NULL ? base + 1 : tl->uninit_mod;
	if (strstr(base, "softhsm") != NULL)
		hwk_ctx_hint(ctx, "Initialise the token first: softhsm2-util "
		    "--init-token --free --label NAME (it asks for the SO PIN "
		    "and the user PIN).");
	else
		hwk_ctx_hint(ctx, "Initialise the token first: pkcs11-tool "
		    "--module %s --slot %lu --init-token --label NAME, then "
		    "--init-pin (or the tool that came with the token).",
		    tl->uninit_mod, (unsigned long)tl->uninit_slot);
}

/*
 * Reads the token in slot of module m (base: its file name) into *t:
 * nonzero if it matches uri and, for keygen, can make the key; else notes
 * says why not, and tl counts tokens that lack only the type and keeps
 * the first that is not initialised.
 */
static int
scan_slot(const struct p11_opts *o, P11KitUri *uri, int keygen,
    struct p11_mod *m, CK_SLOT_ID slot, const char *base, struct p11_tok *t,
    struct hwk_buf *notes, struct scan_tally *tl)
{
	CK_SLOT_INFO si;
	char why[256], nb[48];
	int unfit;
	CK_RV rv;

	memset(t, 0, sizeof(*t));
	t->mod = m;
	t->slot = slot;
	if ((rv = m->fn->C_GetSlotInfo(t->slot, &si)) == CKR_OK)
		rv = m->fn->C_GetTokenInfo(t->slot, &t->ti);
	if (rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_DEVICE_REMOVED)
		return 0;	/* pulled out meanwhile */
	if (rv != CKR_OK) {
		hwk_p11_note_add(notes, "module %s: slot %lu: cannot read its "
		    "token (%s)", m->path, (unsigned long)t->slot,
		    hwk_p11_rv_name(rv, nb, sizeof(nb)));
		return 0;
	}
	hwk_p11_token_name(&t->ti, t->name, sizeof(t->name));
	/* An uninitialised token has no label to name it by. */
	if (strcmp(t->name, "''") == 0)
		snprintf(t->name, sizeof(t->name), "in slot %lu of %s",
		    (unsigned long)t->slot, base);
	if (!hwk_p11_uri_match(uri, &m->info, t->slot, &si, &t->ti)) {
		hwk_p11_note_add(notes, "token %s does not match", t->name);
		return 0;
	}
	if (keygen)
		unfit = hwk_p11_keygen_unfit(t, o, keygen, why,
		    sizeof(why));
	else if ((unfit = !(t->ti.flags & CKF_TOKEN_INITIALIZED)))
		snprintf(why, sizeof(why), "is not initialised");
	if (unfit) {
		hwk_p11_note_add(notes, "token %s %s", t->name, why);
		if (unfit == 2)
			tl->type_only++;
		if (!(t->ti.flags & CKF_TOKEN_INITIALIZED) &&
		    tl->uninit_mod == NULL) {
			tl->uninit_mod = m->path;
			tl->uninit_slot = t->slot;
		}
		return 0;
	}
	return 1;
}

/* The tokens of module m that fit, added to toks as scan() counts them. */
static void
scan_module(const struct p11_opts *o, P11KitUri *uri, int keygen,
    struct p11_mod *m, struct p11_tok *toks, size_t max, size_t *ntoks,
    struct hwk_buf *notes, struct scan_tally *tl)
{
	CK_SLOT_ID *slots = NULL;
	CK_ULONG n, i;
	struct p11_tok t;
	const char *base;
	char nb[48];
	CK_RV rv;

	/* The file's name: the auto line has one short clause each. */
	base = strrchr(m->path, '/') != NULL ? strrchr(m->path, '/') + 1 :
	    m->path;
	if ((rv = hwk_p11_slot_list(m, &slots, &n)) != CKR_OK) {
		hwk_p11_note_add(notes, "module %s: cannot list its slots (%s)",
		    base, hwk_p11_rv_name(rv, nb, sizeof(nb)));
		return;
	}
	if (n == 0)
		hwk_p11_note_add(notes, "module %s: no slot with a token",
		    base);
	for (i = 0; i < n; i++) {
		if (!scan_slot(o, uri, keygen, m, slots[i], base, &t, notes,
		    tl))
			continue;
		if (*ntoks < max)
			toks[*ntoks] = t;
		(*ntoks)++;
	}
	free(slots);
}

/*
 * The tokens of the modules in use that match uri (and, for keygen,
 * can make a key of that type); notes says what else was found and why it is unfit.
 */
static int
scan(struct hwk_ctx *ctx, const struct p11_opts *o, P11KitUri *uri,
    int keygen, struct p11_tok *toks, size_t max, size_t *ntoks,
    struct hwk_buf *notes, struct scan_tally *tl)
{
	struct p11_mod *only = NULL, *m;
	const char *mp, *mname, *note;
	int r, any = 0;

	*ntoks = 0;
	memset(tl, 0, sizeof(*tl));
	/* --module wins over the URI's: modules move between releases. */
	mp = o->module;
	if (mp == NULL && uri != NULL)
		mp = p11_kit_uri_get_module_path(uri);
	if (mp != NULL) {
		if ((r = hwk_p11_mod_load(ctx, o, mp, mp == o->module,
		    &only)) != 0)
			return r;
	} else {
		if ((r = hwk_p11_mods_registered(ctx)) != 0)
			return r;
		if ((note = hwk_p11_mods_note()) != NULL)
			hwk_p11_note_add(notes, "%s", note);
	}
	mname = uri != NULL ? p11_kit_uri_get_module_name(uri) : NULL;
	for (m = hwk_p11_mod_next(only, NULL); m != NULL;
	    m = hwk_p11_mod_next(only, m)) {
		if (mname != NULL && only == NULL && !mod_named(m, mname))
			continue;
		any = 1;
		scan_module(o, uri, keygen, m, toks, max, ntoks, notes, tl);
	}
	if (!any && mp == NULL && mname != NULL)
		hwk_p11_note_add(notes, "no registered module is named %s",
		    mname);
	else if (!any && mp == NULL && hwk_p11_mods_note() == NULL)
		/* (with a note, the registered modules are there: it says why
		 * none is in use) */
		hwk_p11_note_add(notes, "no PKCS#11 module is registered with "
		    "p11-kit");
	return HWK_OK;
}

/*
 * The one token the options point at.  keygen: 0, or the type of key
 * (HWK_KEY_*, P11_KEYGEN_ANY) it must make.  uri: o->uri, or the token a stub names.
 */
int
hwk_p11_token_select(struct hwk_ctx *ctx, const struct p11_opts *o,
    P11KitUri *uri, int keygen, struct p11_tok *tok)
{
	struct p11_tok toks[8];
	struct hwk_buf *notes = NULL;
	char *found = NULL, *turi = NULL;
	size_t n = 0, i;
	struct scan_tally tl;
	int r, none;

	memset(tok, 0, sizeof(*tok));
	if ((notes = hwk_buf_new()) == NULL)
		return HWK_ERR_NOMEM;
	if ((r = scan(ctx, o, uri, keygen, toks, 8, &n, notes,
	    &tl)) != 0)
		goto out;
	if ((found = hwk_buf_dup_string(notes)) == NULL) {
		r = HWK_ERR_NOMEM;
		goto out;
	}
	if (n == 1) {
		*tok = toks[0];
		goto out;
	}
	if (n > 1) {
		hwk_buf_reset(notes);
		for (i = 0; i < n && i < 8; i++)
			hwk_p11_note_add(notes, "%s in %s", toks[i].name,
			    toks[i].mod->path);
		free(found);
		if ((found = hwk_buf_dup_string(notes)) == NULL ||
		    hwk_p11_token_uri(&toks[0].ti, &turi) != 0) {
			r = HWK_ERR_NOMEM;
			goto out;
		}
		r = hwk_ctx_error(ctx, HWK_ERR_AMBIGUOUS, "%zu tokens %s: %s",
		    n, keygen ? "could hold the new key" : "match", found);
		hwk_ctx_hint(ctx, "Choose one with --token, for example "
		    "--token '%s'.", turi);
		goto out;
	}
	/*
	 * Tokens that make keys, only not of this type: a type this backend
	 * cannot make here (auto passes it over), not a device missing; or,
	 * for the token or module the person named, a wrong -t.
	 */
	none = HWK_ERR_NO_DEVICE;
	if (keygen != 0 && tl.type_only > 0)
		none = o->module != NULL || o->uri != NULL ? HWK_ERR_USAGE :
		    HWK_ERR_KEY_TYPE;
	if (uri != NULL && uri == o->uri)
		r = hwk_ctx_error(ctx, none, "no token matches "
		    "--token '%s' (%s)", o->token, *found != '\0' ? found :
		    "nothing found");
	else
		r = hwk_ctx_error(ctx, none, "%s%s (%s)", keygen ?
		    "no token that can make " : "no token", !keygen ? "" :
		    keygen == HWK_KEY_ECDSA ? "an ECDSA key" :
		    keygen == HWK_KEY_ED25519 ? "an Ed25519 key" :
		    keygen == HWK_KEY_RSA ? "an RSA key" : "a key",
		    *found != '\0' ? found : "nothing found");
	if (none != HWK_ERR_NO_DEVICE)
		hwk_ctx_hint(ctx, "Ask for a type the token makes (hwkeygen "
		    "--backends lists them), or use --backend software.");
	else if (keygen && tl.uninit_mod != NULL)
		uninit_hint(ctx, &tl);
	else if (keygen)
		hwk_ctx_hint(ctx, "Plug in the token, or name its module with "
		    "--module and the token with --token.");
 out:
	free(turi);
	free(found);
	hwk_buf_free(&notes);
	return r;
}
