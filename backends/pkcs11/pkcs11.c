/*
 * The PKCS#11 backend's ops table, with the ops that need no key on a
 * token: probe, --backends, the options and the stub's first look.  The
 * key pair is generated on a smartcard, USB token or HSM through its
 * PKCS#11 module (loaded by p11-kit), the private half never leaves it,
 * and the private slot holds only an RFC 7512 URI naming the key.
 * Signing logs in to the token on first use.
 */
#include <stdlib.h>
#include <string.h>

#include <p11-kit/pkcs11.h>

#include "hwkey/backend.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "hwkey/out.h"
#include "backends.h"
#include "pkcs11_impl.h"

static int
p11_probe(struct hwk_ctx *ctx)
{
	struct p11_opts o;
	struct p11_tok tok;
	int r;

	if ((r = hwk_p11_opts_get(ctx, &o)) != 0)
		return r;
	/*
	 * Whoever names a module or a token wants a key there, not one in
	 * software: check() will say what is wrong with it, if anything.
	 */
	if (o.module != NULL || o.uri != NULL) {
		hwk_p11_opts_clear(&o);
		return HWK_OK;
	}
	/* Whether it makes the type asked for is check()'s to say. */
	r = hwk_p11_token_select(ctx, &o, o.uri, P11_KEYGEN_ANY, &tok);
	/* Several tokens are usable: check() asks which one. */
	if (r == HWK_ERR_AMBIGUOUS) {
		hwk_ctx_clear_error(ctx);
		hwk_ctx_found(ctx, "several tokens");
		r = HWK_OK;
	} else if (r == HWK_OK)
		hwk_ctx_found(ctx, "token %s", tok.name);
	hwk_p11_opts_clear(&o);
	return r;
}

/* The flags of a token that matter to a user, by name. */
static void
describe_flags(struct hwk_out *out, CK_FLAGS f)
{
	static const struct { CK_FLAGS flag; const char *name; } names[] = {
		{ CKF_TOKEN_INITIALIZED, "initialized" },
		{ CKF_WRITE_PROTECTED, "write-protected" },
		{ CKF_LOGIN_REQUIRED, "login-required" },
		{ CKF_USER_PIN_INITIALIZED, "user-pin-initialized" },
		{ CKF_PROTECTED_AUTHENTICATION_PATH, "pin-pad" },
		{ CKF_USER_PIN_COUNT_LOW, "user-pin-count-low" },
		{ CKF_USER_PIN_FINAL_TRY, "user-pin-final-try" },
		{ CKF_USER_PIN_LOCKED, "user-pin-locked" },
		{ CKF_SO_PIN_LOCKED, "so-pin-locked" },
		{ CKF_RNG, "rng" },
	};
	size_t i;

	hwk_out_begin_array(out, "flags");
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (f & names[i].flag)
			hwk_out_str(out, NULL, names[i].name);
	hwk_out_end_array(out);
}

/* The token in slot of module m, if it answers, as an object of out. */
static void
describe_token(struct hwk_out *out, const struct p11_opts *o,
    struct p11_mod *m, CK_SLOT_ID slot)
{
	struct p11_tok t;
	char field[80], why[256];
	int unfit;
	unsigned bits[] = { 256, 384, 521 };
	size_t i;

	memset(&t, 0, sizeof(t));
	t.mod = m;
	t.slot = slot;
	if (m->fn->C_GetTokenInfo(t.slot, &t.ti) != CKR_OK)
		return;
	hwk_out_begin_object(out, NULL);
	hwk_out_int(out, "slot", (long long)t.slot);
	hwk_p11_field(t.ti.label, sizeof(t.ti.label), field, sizeof(field));
	hwk_out_str(out, "label", field);
	hwk_p11_field(t.ti.manufacturerID, sizeof(t.ti.manufacturerID), field,
	    sizeof(field));
	hwk_out_str(out, "manufacturer", field);
	hwk_p11_field(t.ti.model, sizeof(t.ti.model), field, sizeof(field));
	hwk_out_str(out, "model", field);
	hwk_p11_field(t.ti.serialNumber, sizeof(t.ti.serialNumber), field,
	    sizeof(field));
	hwk_out_str(out, "serial", field);
	describe_flags(out, t.ti.flags);
	unfit = hwk_p11_keygen_unfit(&t, o, HWK_KEY_RSA, why, sizeof(why));
	hwk_out_bool(out, "can_make_rsa_keys", !unfit);
	if (unfit)
		hwk_out_str(out, "why_not", why);
	else {
		/* What hwkeygen makes there: never under its floor. */
		hwk_out_int(out, "rsa_bits_min", (long long)(t.min_bits <
		    HWK_RSA_MIN_BITS ? HWK_RSA_MIN_BITS : t.min_bits));
		hwk_out_int(out, "rsa_bits_max", (long long)t.max_bits);
	}
	/* The other types, on a token that can make keys at all. */
	unfit = hwk_p11_token_unfit(&t, o, why, sizeof(why));
	if (!unfit)
		hwk_p11_tok_caps(&t);
	hwk_out_begin_array(out, "ecdsa_bits");
	for (i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
		if (!unfit && hwk_p11_tok_has_curve(&t, bits[i]))
			hwk_out_int(out, NULL, bits[i]);
	hwk_out_end_array(out);
	hwk_out_bool(out, "ed25519", !unfit && t.has_ed25519);
	hwk_out_end_object(out);
}

/* Module m and the tokens in its slots, as an object of out. */
static void
describe_module(struct hwk_out *out, const struct p11_opts *o,
    struct p11_mod *m)
{
	CK_SLOT_ID *slots = NULL;
	CK_ULONG n, i;
	char field[80];

	hwk_out_begin_object(out, NULL);
	hwk_out_str(out, "path", m->path);
	hwk_p11_field(m->info.manufacturerID, sizeof(m->info.manufacturerID),
	    field, sizeof(field));
	hwk_out_str(out, "manufacturer", field);
	hwk_p11_field(m->info.libraryDescription,
	    sizeof(m->info.libraryDescription), field, sizeof(field));
	hwk_out_str(out, "description", field);
	hwk_out_begin_array(out, "tokens");
	if (hwk_p11_slot_list(m, &slots, &n) != CKR_OK)
		n = 0;
	for (i = 0; i < n; i++)
		describe_token(out, o, m, slots[i]);
	hwk_out_end_array(out);
	hwk_out_end_object(out);
	free(slots);
}

/* --backends: every module in use and the tokens in it. */
static int
p11_describe(struct hwk_ctx *ctx, struct hwk_out *out)
{
	struct p11_opts o;
	struct p11_mod *m, *only = NULL;
	int r;

	if ((r = hwk_p11_opts_get(ctx, &o)) != 0)
		return r;
	if (o.module != NULL)
		r = hwk_p11_mod_load(ctx, &o, o.module, 1, &only);
	else
		r = hwk_p11_mods_registered(ctx);
	if (r != 0) {
		hwk_p11_opts_clear(&o);
		return r;
	}
	hwk_out_begin_array(out, "modules");
	for (m = hwk_p11_mod_next(only, NULL); m != NULL;
	    m = hwk_p11_mod_next(only, m))
		describe_module(out, &o, m);
	hwk_out_end_array(out);
	hwk_p11_opts_clear(&o);
	return HWK_OK;
}

/* The options alone, for every command, whatever backend it uses. */
static int
p11_check_opts(struct hwk_ctx *ctx)
{
	struct p11_opts o;
	int r;

	if ((r = hwk_p11_opts_get(ctx, &o)) == 0)
		hwk_p11_opts_clear(&o);
	return r;
}

static int
p11_claims(const uint8_t *stub, size_t len)
{
	return len >= 7 && memcmp(stub, "pkcs11:", 7) == 0;
}

static int
p11_stub_info(const uint8_t *stub, size_t len, struct hwk_stubinfo *info)
{
	struct hwk_p11_stub st;
	int r;

	memset(info, 0, sizeof(*info));
	/* Without the library, loading the key says which one to install. */
	if (hwk_p11_lib_need(NULL) != 0)
		return HWK_ERR_UNSUPPORTED;
	if ((r = hwk_p11_stub_parse(stub, len, &st, NULL)) != 0)
		return r;
	hwk_p11_stub_clear(&st);
	info->pub = NULL;		/* the .pub holds it; the token too */
	info->protection = "token PIN";
	return HWK_OK;
}

static int
p11_destroy(struct hwk_ctx *ctx, struct hwk_key *key)
{
	struct p11_key *pk = key->impl;

	if (pk == NULL)
		return HWK_OK;
	return hwk_p11_pair_destroy(ctx, pk);
}

static void
p11_free_impl(struct hwk_key *key)
{
	struct p11_key *pk = key->impl;

	key->impl = NULL;
	hwk_p11_key_free(&pk);
}

static const struct hwk_optdesc p11_options[] = {
	{ "module", "PATH", "PKCS#11 module (default: p11-kit's registered)",
	    HWK_OPT_BOTH },
	{ "module-allow", "LIST", "modules a stub may name ("
	    HWK_P11_ALLOW_DEFAULT ")", HWK_OPT_BOTH },
	{ "token", "URI", "pkcs11: URI of the token (label, serial, ...)",
	    HWK_OPT_BOTH },	/* the agent takes its pin-source */
	{ "pin-source", "SOURCE", "where the PIN is: file:PATH",
	    HWK_OPT_BOTH },
	{ "login", "user|so", "log in as user (default) or SO (ykcs11)",
	    HWK_OPT_MAKE },
	{ "id", "HEX", "CKA_ID of the new key (ykcs11: 01-04)",
	    HWK_OPT_MAKE },
	{ "label", "TEXT", "CKA_LABEL of the new key (default: comment)",
	    HWK_OPT_MAKE },
	{ NULL, NULL, NULL, 0 },
};

const struct hwk_backend hwk_backend_pkcs11 = {
	.name = "pkcs11",
	.summary = "key made on a PKCS#11 token; the file names it by URI",
	.flags = HWK_BF_DEVICE,
	.default_bits = HWK_DEVICE_RSA_DEFAULT_BITS,
	.options = p11_options,
	.probe = p11_probe,
	.check = hwk_p11_check,
	.generate = hwk_p11_generate,
	.write_stub = hwk_p11_write_stub,
	.claims = p11_claims,
	.stub_info = p11_stub_info,
	.load = hwk_p11_load,
	.sign = hwk_p11_sign,
	.destroy = p11_destroy,
	.locate = hwk_p11_locate,
	.erase = hwk_p11_erase,
	.unnamed = hwk_p11_unnamed,
	.free_impl = p11_free_impl,
	.describe = p11_describe,
	.check_opts = p11_check_opts,
	.attest = hwk_p11_attest,
	.attest_challenge = hwk_p11_attest_challenge,
	.attest_verify = hwk_p11_attest_verify,
};
