/*
 * RFC 7512 URIs for the PKCS#11 backend, through p11-kit: the --token
 * selector, the one-line stub that names a key, key ids in hex and the
 * names of tokens in messages.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "pkcs11_int.h"

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int
hwk_p11_id_parse(const char *hex, uint8_t *id, size_t *lenp)
{
	size_t n = 0;
	int hi, lo;

	*lenp = 0;
	if (hex == NULL || *hex == '\0')
		return HWK_ERR_USAGE;
	while (*hex != '\0') {
		if (n > 0 && *hex == ':')	/* "01:ab", as pkcs11-tool shows */
			hex++;
		if ((hi = hexval((unsigned char)hex[0])) < 0 ||
		    (lo = hexval((unsigned char)hex[1])) < 0 ||
		    n == HWK_P11_ID_MAX)
			return HWK_ERR_USAGE;
		id[n++] = (uint8_t)(hi << 4 | lo);
		hex += 2;
	}
	*lenp = n;
	return HWK_OK;
}

void
hwk_p11_id_format(const uint8_t *id, size_t len, char *buf, size_t buflen)
{
	size_t i;

	if (buflen == 0)
		return;
	buf[0] = '\0';
	for (i = 0; i < len && 2 * i + 2 < buflen; i++)
		snprintf(buf + 2 * i, 3, "%02x", id[i]);
}

void
hwk_p11_field(const unsigned char *field, size_t flen, char *buf, size_t len)
{
	size_t n = flen;

	if (len == 0)
		return;
	/* Fields are blank padded; a zeroed one (unset in a URI) ends early. */
	if (memchr(field, '\0', flen) != NULL)
		n = (size_t)((const unsigned char *)memchr(field, '\0', flen) -
		    field);
	while (n > 0 && field[n - 1] == ' ')
		n--;
	if (n >= len)
		n = len - 1;
	memcpy(buf, field, n);
	buf[n] = '\0';
}

void
hwk_p11_token_name(const CK_TOKEN_INFO *ti, char *buf, size_t len)
{
	char label[sizeof(ti->label) + 1], serial[sizeof(ti->serialNumber) + 1];

	hwk_p11_field(ti->label, sizeof(ti->label), label, sizeof(label));
	hwk_p11_field(ti->serialNumber, sizeof(ti->serialNumber), serial,
	    sizeof(serial));
	if (*serial != '\0')
		snprintf(buf, len, "'%s' (serial %s)", label, serial);
	else
		snprintf(buf, len, "'%s'", label);
}

/*
 * s as a message may show it: cut before a PIN (pin-value=, its name maybe
 * percent-encoded), which must never reach a terminal or a log.
 */
static void
uri_shown(const char *s, char *buf, size_t len)
{
	size_t n;

	for (n = 0; s[n] != '\0'; n++)
		if (strncasecmp(s + n, "pin-value", 9) == 0 ||
		    strncasecmp(s + n, "pin%2d", 6) == 0)
			break;
	snprintf(buf, len, "%.*s%s", (int)n, s, s[n] != '\0' ? "..." : "");
}

int
hwk_p11_uri_parse(struct hwk_ctx *ctx, const char *what, const char *s,
    P11KitUri **urip)
{
	P11KitUri *uri = NULL;
	char shown[512];
	int r;

	*urip = NULL;
	if ((r = hwk_p11_lib_need(ctx)) != 0)
		return r;
	uri_shown(s, shown, sizeof(shown));
	if ((uri = p11_kit_uri_new()) == NULL)
		return HWK_ERR_NOMEM;
	if ((r = p11_kit_uri_parse(s, P11_KIT_URI_FOR_ANY, uri)) !=
	    P11_KIT_URI_OK) {
		p11_kit_uri_free(uri);
		hwk_ctx_error(ctx, HWK_ERR_USAGE, "%s '%s' is not a PKCS#11 URI: "
		    "%s", what, shown, p11_kit_uri_message(r));
		hwk_ctx_hint(ctx, "Write it as RFC 7512 says, for example "
		    "'pkcs11:token=My%%20Token;serial=1234'.");
		return HWK_ERR_USAGE;
	}
	/* p11-kit matches nothing when a part is unknown: say which, early. */
	if (p11_kit_uri_any_unrecognized(uri)) {
		p11_kit_uri_free(uri);
		hwk_ctx_error(ctx, HWK_ERR_USAGE, "%s '%s' has a part that "
		    "hwkeygen does not know", what, shown);
		hwk_ctx_hint(ctx, "Use token=, serial=, manufacturer=, model=, "
		    "slot-id=, module-name= or module-path=.");
		return HWK_ERR_USAGE;
	}
	*urip = uri;
	return HWK_OK;
}

int
hwk_p11_uri_match(P11KitUri *uri, const CK_INFO *mi, CK_SLOT_ID slot,
    const CK_SLOT_INFO *si, const CK_TOKEN_INFO *ti)
{
	CK_SLOT_ID want;

	if (uri == NULL)
		return 1;
	want = p11_kit_uri_get_slot_id(uri);
	if (want != (CK_SLOT_ID)-1 && want != slot)
		return 0;
	if (mi != NULL && !p11_kit_uri_match_module_info(uri, mi))
		return 0;
	if (si != NULL && !p11_kit_uri_match_slot_info(uri, si))
		return 0;
	return p11_kit_uri_match_token_info(uri, ti);
}

/* A URI naming the token of ti by its label and serial. */
static P11KitUri *
token_only_uri(const CK_TOKEN_INFO *ti)
{
	P11KitUri *uri;
	CK_TOKEN_INFO *u;

	if ((uri = p11_kit_uri_new()) == NULL)
		return NULL;
	u = p11_kit_uri_get_token_info(uri);
	memcpy(u->label, ti->label, sizeof(u->label));
	memcpy(u->serialNumber, ti->serialNumber, sizeof(u->serialNumber));
	return uri;
}

int
hwk_p11_token_uri(const CK_TOKEN_INFO *ti, char **urip)
{
	P11KitUri *uri;
	int r = HWK_OK;

	*urip = NULL;
	if ((uri = token_only_uri(ti)) == NULL)
		return HWK_ERR_NOMEM;
	if (p11_kit_uri_format(uri, P11_KIT_URI_FOR_TOKEN, urip) !=
	    P11_KIT_URI_OK) {
		*urip = NULL;
		r = HWK_ERR_NOMEM;
	}
	p11_kit_uri_free(uri);
	return r;
}

int
hwk_p11_stub_format(const CK_TOKEN_INFO *ti, const uint8_t *id, size_t idlen,
    const char *label, const char *module, char **stubp)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE a;
	P11KitUri *uri = NULL;
	char *s = NULL;
	int r = HWK_ERR_NOMEM;

	*stubp = NULL;
	if (idlen == 0 || idlen > HWK_P11_ID_MAX)
		return HWK_ERR_INVALID_ARG;
	if ((uri = token_only_uri(ti)) == NULL)
		goto out;
	a.type = CKA_ID;
	a.pValue = (void *)id;
	a.ulValueLen = idlen;
	if (p11_kit_uri_set_attribute(uri, &a) != P11_KIT_URI_OK)
		goto out;
	if (label != NULL && *label != '\0') {
		a.type = CKA_LABEL;
		a.pValue = (void *)label;
		a.ulValueLen = strlen(label);
		if (p11_kit_uri_set_attribute(uri, &a) != P11_KIT_URI_OK)
			goto out;
	}
	a.type = CKA_CLASS;
	a.pValue = &cls;
	a.ulValueLen = sizeof(cls);
	if (p11_kit_uri_set_attribute(uri, &a) != P11_KIT_URI_OK)
		goto out;
	if (module != NULL)
		p11_kit_uri_set_module_path(uri, module);
	if (p11_kit_uri_format(uri, P11_KIT_URI_FOR_OBJECT_ON_TOKEN_AND_MODULE,
	    &s) != P11_KIT_URI_OK) {
		s = NULL;
		goto out;
	}
	if (asprintf(stubp, "%s\n", s) < 0) {
		*stubp = NULL;
		goto out;
	}
	r = HWK_OK;
 out:
	free(s);
	p11_kit_uri_free(uri);
	return r;
}

void
hwk_p11_stub_clear(struct hwk_p11_stub *st)
{
	free(st->label);
	free(st->module);
	memset(st, 0, sizeof(*st));
}

int
hwk_p11_stub_parse(const uint8_t *stub, size_t len, struct hwk_p11_stub *st,
    P11KitUri **urip)
{
	P11KitUri *uri = NULL;
	CK_ATTRIBUTE *a;
	const char *mp;
	char *s = NULL;
	int r = HWK_ERR_FORMAT;

	memset(st, 0, sizeof(*st));
	if (urip != NULL)
		*urip = NULL;
	if (len < 7 || len > HWK_P11_STUB_MAX || memcmp(stub, "pkcs11:", 7) != 0)
		return HWK_ERR_FORMAT;
	while (len > 0 && (stub[len - 1] == '\n' || stub[len - 1] == '\r' ||
	    stub[len - 1] == ' ' || stub[len - 1] == '\t'))
		len--;
	/* One line, one URI: nothing after it, no NUL inside it. */
	if (memchr(stub, '\n', len) != NULL || memchr(stub, '\0', len) != NULL)
		return HWK_ERR_FORMAT;
	if ((s = strndup((const char *)stub, len)) == NULL)
		return HWK_ERR_NOMEM;
	if ((uri = p11_kit_uri_new()) == NULL) {
		r = HWK_ERR_NOMEM;
		goto out;
	}
	if (p11_kit_uri_parse(s, P11_KIT_URI_FOR_ANY, uri) != P11_KIT_URI_OK ||
	    p11_kit_uri_any_unrecognized(uri))
		goto out;
	if ((a = p11_kit_uri_get_attribute(uri, CKA_ID)) == NULL ||
	    a->ulValueLen == 0 || a->ulValueLen > HWK_P11_ID_MAX)
		goto out;
	memcpy(st->id, a->pValue, a->ulValueLen);
	st->idlen = a->ulValueLen;
	if ((a = p11_kit_uri_get_attribute(uri, CKA_CLASS)) != NULL &&
	    (a->ulValueLen != sizeof(CK_OBJECT_CLASS) ||
	    *(CK_OBJECT_CLASS *)a->pValue != CKO_PRIVATE_KEY))
		goto out;
	if ((a = p11_kit_uri_get_attribute(uri, CKA_LABEL)) != NULL &&
	    (st->label = strndup(a->pValue, a->ulValueLen)) == NULL) {
		r = HWK_ERR_NOMEM;
		goto out;
	}
	if ((mp = p11_kit_uri_get_module_path(uri)) != NULL &&
	    (st->module = strdup(mp)) == NULL) {
		r = HWK_ERR_NOMEM;
		goto out;
	}
	st->token = *p11_kit_uri_get_token_info(uri);
	if (urip != NULL) {
		*urip = uri;
		uri = NULL;
	}
	r = HWK_OK;
 out:
	if (r != HWK_OK)
		hwk_p11_stub_clear(st);
	p11_kit_uri_free(uri);
	free(s);
	return r;
}
