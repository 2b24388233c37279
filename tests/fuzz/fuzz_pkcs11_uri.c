/*
 * libFuzzer harness for the PKCS#11 URIs (backends/pkcs11_uri.c): the input
 * as a pkcs11: stub file, as the text of --token and of --id, and as a
 * token's fields.  A stub that parses must come back the same through the
 * stub writer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "pkcs11_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

static void
token_info(CK_TOKEN_INFO *ti)
{
	memset(ti, ' ', sizeof(*ti));
	memcpy(ti->label, "fuzz token", 10);
	memcpy(ti->serialNumber, "0042", 4);
	memcpy(ti->manufacturerID, "ACME", 4);
	memcpy(ti->model, "Token 9", 7);
	ti->flags = CKF_TOKEN_INITIALIZED;
}

/* Nonzero if two token fields read the same (up to a NUL, unpadded). */
static int
same_field(const unsigned char *a, const unsigned char *b, size_t len)
{
	char fa[64 + 1], fb[64 + 1];

	hwk_p11_field(a, len, fa, sizeof(fa));
	hwk_p11_field(b, len, fb, sizeof(fb));
	return strcmp(fa, fb) == 0;
}

/*
 * Writes the stub st describes and reads it back: the same key and token.
 * Token fields are compared as they are read (p11-kit writes nothing for
 * a field that starts with a NUL, and reads an absent one as zeros).
 */
static void
roundtrip(const struct hwk_p11_stub *st)
{
	struct hwk_p11_stub back;
	char *text = NULL;

	if (hwk_p11_stub_format(&st->token, st->id, st->idlen, st->label,
	    st->module, &text) != 0)
		return;
	if (hwk_p11_stub_parse((const uint8_t *)text, strlen(text), &back,
	    NULL) != 0 || back.idlen != st->idlen ||
	    memcmp(back.id, st->id, st->idlen) != 0 ||
	    !same_field(back.token.label, st->token.label,
	    sizeof(st->token.label)) ||
	    !same_field(back.token.serialNumber, st->token.serialNumber,
	    sizeof(st->token.serialNumber)) ||
	    (st->label == NULL || *st->label == '\0') != (back.label == NULL) ||
	    (back.label != NULL && strcmp(back.label, st->label) != 0) ||
	    (st->module == NULL) != (back.module == NULL) ||
	    (back.module != NULL && strcmp(back.module, st->module) != 0))
		abort();
	hwk_p11_stub_clear(&back);
	free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static struct hwk_ctx *ctx;
	struct hwk_p11_stub st;
	P11KitUri *uri = NULL;
	CK_TOKEN_INFO ti;
	char name[HWK_P11_NAME_MAX], hex[2 * HWK_P11_ID_MAX + 1], *s;
	uint8_t id[HWK_P11_ID_MAX];
	size_t idlen;

	if (ctx == NULL && (ctx = hwk_ctx_new()) == NULL)
		abort();
	token_info(&ti);
	/* A key file. */
	if (hwk_p11_stub_parse(data, len, &st, &uri) == 0) {
		hwk_p11_uri_match(uri, NULL, 0, NULL, &ti);
		hwk_p11_token_name(&st.token, name, sizeof(name));
		roundtrip(&st);
		p11_kit_uri_free(uri);
		hwk_p11_stub_clear(&st);
	}
	/* The words of --token and --id. */
	if ((s = strndup((const char *)data, len)) == NULL)
		return 0;
	if (hwk_p11_uri_parse(ctx, "--token", s, &uri) == 0) {
		hwk_p11_uri_match(uri, NULL, 0, NULL, &ti);
		p11_kit_uri_free(uri);
	}
	hwk_ctx_clear_error(ctx);
	if (hwk_p11_id_parse(s, id, &idlen) == 0)
		hwk_p11_id_format(id, idlen, hex, sizeof(hex));
	free(s);
	/* A token's fields, blank padded or not, as a module may give them. */
	if (len >= sizeof(ti)) {
		memcpy(&ti, data, sizeof(ti));
		hwk_p11_token_name(&ti, name, sizeof(name));
		if (hwk_p11_token_uri(&ti, &s) == 0)
			free(s);
	}
	return 0;
}
