/*
 * The files of attestation as JSON: a flat object whose members are
 * strings or arrays of strings, written and read here and nothing more
 * (no numbers, no nesting), so the reader stays small enough to trust.
 */
#include <stdlib.h>
#include <string.h>

#include "hwkey/attest.h"
#include "hwkey/buf.h"
#include "hwkey/error.h"

void
hwk_attest_clear(struct hwk_attest *a)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		if (a->item[i].value != NULL)
			hwk_freezero(a->item[i].value,
			    strlen(a->item[i].value));
	explicit_bzero(a, sizeof(*a));
}

/* Takes value (a malloc'd string) in any case. */
static int
put_owned(struct hwk_attest *a, const char *name, int list, char *value)
{
	struct hwk_attest_item *it;

	if (value == NULL)
		return HWK_ERR_NOMEM;
	if (a->n >= HWK_ATTEST_ITEMS_MAX ||
	    strlen(name) >= sizeof(it->name)) {
		hwk_freezero(value, strlen(value));
		return HWK_ERR_TOO_LARGE;
	}
	it = &a->item[a->n++];
	strcpy(it->name, name);
	it->value = value;
	it->list = list;
	return HWK_OK;
}

int
hwk_attest_put_str(struct hwk_attest *a, const char *name, int list,
    const char *text)
{
	return put_owned(a, name, list, strdup(text));
}

int
hwk_attest_put_bytes(struct hwk_attest *a, const char *name, int list,
    const uint8_t *data, size_t len)
{
	struct hwk_buf *b;
	char *s = NULL;
	int r;

	if ((b = hwk_buf_new()) == NULL)
		return HWK_ERR_NOMEM;
	if ((r = hwk_buf_put_base64(b, data, len, 0)) == 0) {
		if ((s = hwk_buf_dup_string(b)) == NULL)
			r = HWK_ERR_NOMEM;
	}
	hwk_buf_free(&b);
	return r != 0 ? r : put_owned(a, name, list, s);
}

const char *
hwk_attest_str(const struct hwk_attest *a, const char *name, size_t nth)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		if (strcmp(a->item[i].name, name) == 0 && nth-- == 0)
			return a->item[i].value;
	return NULL;
}

int
hwk_attest_bytes(const struct hwk_attest *a, const char *name, size_t nth,
    struct hwk_buf **outp)
{
	const char *s;
	int r;

	*outp = NULL;
	if ((s = hwk_attest_str(a, name, nth)) == NULL)
		return HWK_ERR_NOT_FOUND;
	if ((*outp = hwk_buf_new()) == NULL)
		return HWK_ERR_NOMEM;
	if ((r = hwk_base64_decode(s, strlen(s), *outp)) != 0)
		hwk_buf_free(outp);
	return r == 0 ? HWK_OK : HWK_ERR_FORMAT;
}

/* A JSON string: our values are printable ASCII, but a text may not be. */
static int
put_json_string(struct hwk_buf *out, const char *s)
{
	int r = hwk_buf_put_u8(out, '"');

	for (; r == 0 && *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			r = hwk_buf_putf(out, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			r = hwk_buf_putf(out, "\\u%04x", c);
		else
			r = hwk_buf_put_u8(out, c);
	}
	return r != 0 ? r : hwk_buf_put_u8(out, '"');
}

int
hwk_attest_write(const struct hwk_attest *a, struct hwk_buf *out)
{
	size_t i, j;
	int r = hwk_buf_put(out, "{", 1), first = 1, firstv;

	for (i = 0; r == 0 && i < a->n; i++) {
		const struct hwk_attest_item *it = &a->item[i];

		/* A list is written whole where its first member is. */
		for (j = 0; j < i && it->list; j++)
			if (strcmp(a->item[j].name, it->name) == 0)
				break;
		if (it->list && j < i)
			continue;
		if ((r = hwk_buf_putf(out, "%s\n  ", first ? "" : ",")) != 0 ||
		    (r = put_json_string(out, it->name)) != 0 ||
		    (r = hwk_buf_putf(out, ": %s", it->list ? "[" : "")) != 0)
			break;
		first = 0;
		if (!it->list) {
			r = put_json_string(out, it->value);
			continue;
		}
		for (j = i, firstv = 1; r == 0 && j < a->n; j++) {
			if (strcmp(a->item[j].name, it->name) != 0)
				continue;
			if ((r = hwk_buf_putf(out, "%s\n    ", firstv ? "" :
			    ",")) == 0)
				r = put_json_string(out, a->item[j].value);
			firstv = 0;
		}
		if (r == 0)
			r = hwk_buf_putf(out, "\n  ]");
	}
	return r != 0 ? r : hwk_buf_putf(out, "\n}\n");
}

/* The reader: p walks text up to end. */
struct jr {
	const char	*p, *end;
};

static void
skip_ws(struct jr *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' ||
	    *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static int
expect(struct jr *j, char c)
{
	skip_ws(j);
	if (j->p >= j->end || *j->p != c)
		return HWK_ERR_FORMAT;
	j->p++;
	return HWK_OK;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* One JSON string into *sp (new); escapes beyond ASCII are refused. */
static int
read_string(struct jr *j, char **sp)
{
	struct hwk_buf *b = NULL;
	int r, v, k, d;

	*sp = NULL;
	if ((r = expect(j, '"')) != 0)
		return r;
	if ((b = hwk_buf_new()) == NULL)
		return HWK_ERR_NOMEM;
	for (r = HWK_ERR_FORMAT; j->p < j->end; j->p++) {
		unsigned char c = (unsigned char)*j->p;

		if (c == '"') {
			j->p++;
			r = (*sp = hwk_buf_dup_string(b)) == NULL ?
			    HWK_ERR_NOMEM : HWK_OK;
			break;
		}
		if (c < 0x20)
			break;
		if (c == '\\') {
			if (++j->p >= j->end)
				break;
			switch (*j->p) {
			case '"': case '\\': case '/': c = (unsigned char)*j->p;
				break;
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'u':
				if (j->end - j->p < 5)
					goto out;
				for (v = 0, k = 1; k <= 4; k++) {
					if ((d = hexval(j->p[k])) < 0)
						goto out;
					v = v * 16 + d;
				}
				if (v == 0 || v > 0x7f)
					goto out;
				c = (unsigned char)v;
				j->p += 4;
				break;
			default:
				goto out;
			}
		}
		if (c == '\0' || hwk_buf_put_u8(b, c) != 0)
			goto out;
	}
 out:
	hwk_buf_free(&b);
	return r;
}

/* A member's value: a string, or an array of strings. */
static int
read_value(struct jr *j, struct hwk_attest *a, const char *name)
{
	char *v;
	int r;

	skip_ws(j);
	if (j->p < j->end && *j->p != '[') {
		if ((r = read_string(j, &v)) != 0)
			return r;
		return put_owned(a, name, 0, v);
	}
	j->p++;
	skip_ws(j);
	if (j->p < j->end && *j->p == ']') {
		j->p++;
		return HWK_OK;
	}
	for (;;) {
		if ((r = read_string(j, &v)) != 0 ||
		    (r = put_owned(a, name, 1, v)) != 0)
			return r;
		skip_ws(j);
		if (j->p < j->end && *j->p == ']') {
			j->p++;
			return HWK_OK;
		}
		if ((r = expect(j, ',')) != 0)
			return r;
	}
}

int
hwk_attest_read(const uint8_t *text, size_t len, struct hwk_attest *a)
{
	struct jr j = { (const char *)text, (const char *)text + len };
	char *name = NULL;
	int r;

	memset(a, 0, sizeof(*a));
	if (len > HWK_ATTEST_FILE_MAX)
		return HWK_ERR_TOO_LARGE;
	if ((r = expect(&j, '{')) != 0)
		goto out;
	skip_ws(&j);
	if (j.p < j.end && *j.p == '}')
		j.p++;
	else for (;;) {
		if ((r = read_string(&j, &name)) != 0 ||
		    (r = expect(&j, ':')) != 0)
			goto out;
		if (strlen(name) >= HWK_ATTEST_NAME_MAX ||
		    hwk_attest_str(a, name, 0) != NULL) {
			r = HWK_ERR_FORMAT;	/* twice: which one counts? */
			goto out;
		}
		if ((r = read_value(&j, a, name)) != 0)
			goto out;
		free(name);
		name = NULL;
		skip_ws(&j);
		if (j.p < j.end && *j.p == '}') {
			j.p++;
			break;
		}
		if ((r = expect(&j, ',')) != 0)
			goto out;
	}
	skip_ws(&j);
	r = j.p == j.end ? HWK_OK : HWK_ERR_FORMAT;
 out:
	free(name);
	if (r != 0)
		hwk_attest_clear(a);
	return r == HWK_ERR_NOMEM || r == HWK_ERR_TOO_LARGE ? r :
	    r != 0 ? HWK_ERR_FORMAT : HWK_OK;
}

X509 *
hwk_attest_cert(const struct hwk_attest *a, const char *name, size_t nth)
{
	struct hwk_buf *b = NULL;
	const unsigned char *p;
	X509 *x = NULL;

	if (hwk_attest_bytes(a, name, nth, &b) != 0)
		return NULL;
	p = hwk_buf_ptr(b);
	x = d2i_X509(NULL, &p, (long)hwk_buf_len(b));
	if (x != NULL && p != hwk_buf_ptr(b) + hwk_buf_len(b)) {
		X509_free(x);
		x = NULL;
	}
	hwk_buf_free(&b);
	return x;
}
