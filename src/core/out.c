/* Structured output as JSON or indented text (out.h). */
#include <langinfo.h>
#include <locale.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wchar.h>

#include "hwkey/buf.h"
#include "hwkey/out.h"

#define MAX_DEPTH	16

struct hwk_out {
	struct hwk_buf	*b;
	int		 json;
	int		 depth;
	int		 count[MAX_DEPTH];	/* members so far at each level */
	int		 array[MAX_DEPTH];	/* level is an array */
	int		 err;
};

struct hwk_out *
hwk_out_new(int json)
{
	struct hwk_out *o;

	if ((o = calloc(1, sizeof(*o))) == NULL)
		return NULL;
	if ((o->b = hwk_buf_new()) == NULL) {
		free(o);
		return NULL;
	}
	o->json = json;
	return o;
}

void
hwk_out_free(struct hwk_out **op)
{
	if (op == NULL || *op == NULL)
		return;
	hwk_buf_free(&(*op)->b);
	free(*op);
	*op = NULL;
}

static void
put(struct hwk_out *o, const char *s)
{
	if (hwk_buf_put(o->b, s, strlen(s)) != 0)
		o->err = 1;
}

/*
 * The character at s: its length, with its code point in *cp, when it is
 * well-formed UTF-8 (RFC 3629: no overlong form, no surrogate, nothing past
 * U+10FFFF); else 0, with in *bad the bytes of the longest prefix that could
 * have begun one, which Unicode replaces by a single U+FFFD.  s ends in a NUL,
 * which no continuation byte matches, so nothing past it is read.
 */
static size_t
utf8_next(const unsigned char *s, uint32_t *cp, size_t *bad)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n, i;
	uint32_t v;

	*cp = 0;
	*bad = 1;
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		v = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		v = s[0] & 0x0f;
		if (s[0] == 0xe0)
			lo = 0xa0;	/* overlong */
		else if (s[0] == 0xed)
			hi = 0x9f;	/* surrogates */
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		v = s[0] & 0x07;
		if (s[0] == 0xf0)
			lo = 0x90;	/* overlong */
		else if (s[0] == 0xf4)
			hi = 0x8f;	/* past U+10FFFF */
	} else
		return 0;	/* a continuation byte, C0, C1 or F5..FF */
	for (i = 1; i < n; i++) {
		if (s[i] < lo || s[i] > hi) {
			*bad = i;
			return 0;
		}
		v = v << 6 | (s[i] & 0x3f);
		lo = 0x80;
		hi = 0xbf;
	}
	*cp = v;
	return n;
}

/*
 * A JSON string that is valid UTF-8 whatever s holds: controls (C0, DEL, C1)
 * and the two line separators JavaScript chokes on are escaped, and each
 * ill-formed sequence becomes U+FFFD.
 */
static void
json_string(struct hwk_out *o, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n, bad;
	uint32_t cp;
	char esc[8];

	put(o, "\"");
	while (*p != '\0') {
		if ((n = utf8_next(p, &cp, &bad)) == 0) {
			put(o, "\xef\xbf\xbd");	/* U+FFFD */
			p += bad;
			continue;
		}
		if (cp == '"' || cp == '\\') {
			esc[0] = '\\';
			esc[1] = (char)cp;
			esc[2] = '\0';
			put(o, esc);
		} else if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) ||
		    cp == 0x2028 || cp == 0x2029) {
			snprintf(esc, sizeof(esc), "\\u%04x", (unsigned)cp);
			put(o, esc);
		} else if (hwk_buf_put(o->b, p, n) != 0)
			o->err = 1;
		p += n;
	}
	put(o, "\"");
}

/* Whether the character prints as itself (not a control, not unassigned). */
static int
vis_printable(uint32_t cp, int utf8)
{
	if (cp < 0x80)
		return cp >= 0x20 && cp < 0x7f;
	return utf8 && wcwidth((wchar_t)cp) >= 0;
}

/*
 * s as ssh-keygen prints foreign text (utf8.c): printable characters of the
 * locale's charset as they are, every other byte as \ooo.  Unlike ssh-keygen
 * it escapes tab and carriage return too: a CR would let a comment overwrite
 * the fingerprint printed before it.
 */
static int
vis_put(struct hwk_buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	int utf8 = strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
	size_t n, bad, i;
	uint32_t cp;
	char esc[8];
	int r;

	while (*p != '\0') {
		if ((n = utf8_next(p, &cp, &bad)) != 0 &&
		    vis_printable(cp, utf8)) {
			if ((r = hwk_buf_put(b, p, n)) != 0)
				return r;
			p += n;
			continue;
		}
		/* An ill-formed sequence is escaped a byte at a time. */
		for (i = 0; i < (n != 0 ? n : 1); i++, p++) {
			snprintf(esc, sizeof(esc), "\\%03o", (unsigned)*p);
			if ((r = hwk_buf_put(b, esc, 4)) != 0)
				return r;
		}
	}
	return 0;
}

char *
hwk_out_vis(const char *s)
{
	struct hwk_buf *b;
	char *v = NULL;

	if (s == NULL || (b = hwk_buf_new()) == NULL)
		return NULL;
	if (vis_put(b, s) == 0)
		v = hwk_buf_dup_string(b);
	hwk_buf_free(&b);
	return v;
}

int
hwk_out_vis_fputs(const char *s, FILE *f)
{
	char *v;
	int r;

	/* Without memory for the copy, at least nothing raw reaches f. */
	if ((v = hwk_out_vis(s)) == NULL)
		return fputs("?", f) == EOF ? -1 : 0;
	r = fputs(v, f) == EOF ? -1 : 0;
	free(v);
	return r;
}

void
hwk_out_setlocale(void)
{
	static const char *const vars[] = { "LC_ALL", "LC_CTYPE", "LANG" };
	const char *v;
	size_t i;

	/* As ssh-keygen (msetlocale): Turkish case rules stay out. */
	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		if ((v = getenv(vars[i])) == NULL)
			continue;
		if (strncasecmp(v, "tr", 2) != 0)
			break;
		if ((strcasestr(v, "UTF-8") == NULL &&
		    strcasestr(v, "UTF8") == NULL) ||
		    (setlocale(LC_CTYPE, "C.UTF-8") == NULL &&
		    setlocale(LC_CTYPE, "POSIX.UTF-8") == NULL))
			setlocale(LC_CTYPE, "C");
		return;
	}
	setlocale(LC_CTYPE, "");
}

static void
indent(struct hwk_out *o, int extra)
{
	int i;

	for (i = 0; i < o->depth - 1 + extra; i++)
		put(o, "  ");
}

/* What comes before a member: separators, indentation, the key. */
static void
member(struct hwk_out *o, const char *key, int container)
{
	int d = o->depth;

	if (o->json) {
		if (d > 0 && o->count[d - 1]++ > 0)
			put(o, ",");
		if (d > 0) {
			put(o, "\n");
			indent(o, 1);
		}
		if (key != NULL && d > 0 && !o->array[d - 1]) {
			json_string(o, key);
			put(o, ": ");
		}
		return;
	}
	if (d == 0)
		return;
	o->count[d - 1]++;
	indent(o, 0);
	if (o->array[d - 1])
		put(o, container ? "-" : "- ");
	else if (key != NULL) {
		put(o, key);
		put(o, container ? ":\n" : ": ");
	}
}

static void
open_level(struct hwk_out *o, const char *key, int array)
{
	member(o, key, 1);
	if (o->json)
		put(o, array ? "[" : "{");
	else if (o->depth > 0 && o->array[o->depth - 1])
		put(o, "\n");
	if (o->depth < MAX_DEPTH) {
		o->count[o->depth] = 0;
		o->array[o->depth] = array;
	}
	o->depth++;
}

static void
close_level(struct hwk_out *o, int array)
{
	if (o->depth == 0)
		return;
	o->depth--;
	if (!o->json) {
		if (array && o->count[o->depth] == 0) {
			indent(o, 1);
			put(o, "(none)\n");
		}
		return;
	}
	if (o->count[o->depth] > 0) {
		put(o, "\n");
		indent(o, 1);
	}
	put(o, array ? "]" : "}");
}

void
hwk_out_begin_object(struct hwk_out *o, const char *key)
{
	open_level(o, key, 0);
}

void
hwk_out_end_object(struct hwk_out *o)
{
	close_level(o, 0);
}

void
hwk_out_begin_array(struct hwk_out *o, const char *key)
{
	open_level(o, key, 1);
}

void
hwk_out_end_array(struct hwk_out *o)
{
	close_level(o, 1);
}

void
hwk_out_str(struct hwk_out *o, const char *key, const char *v)
{
	member(o, key, 0);
	if (o->json) {
		if (v == NULL)
			put(o, "null");
		else
			json_string(o, v);
	} else {
		if (v == NULL)
			put(o, "-");
		else if (vis_put(o->b, v) != 0)
			o->err = 1;
		put(o, "\n");
	}
}

void
hwk_out_int(struct hwk_out *o, const char *key, long long v)
{
	char n[32];

	snprintf(n, sizeof(n), "%lld", v);
	member(o, key, 0);
	put(o, n);
	if (!o->json)
		put(o, "\n");
}

void
hwk_out_bool(struct hwk_out *o, const char *key, int v)
{
	member(o, key, 0);
	put(o, o->json ? (v ? "true" : "false") : (v ? "yes" : "no"));
	if (!o->json)
		put(o, "\n");
}

int
hwk_out_print(struct hwk_out *o, FILE *f)
{
	if (o->err || o->depth != 0)
		return -1;
	if (fwrite(hwk_buf_ptr(o->b), 1, hwk_buf_len(o->b), f) !=
	    hwk_buf_len(o->b))
		return -1;
	if (o->json)
		fputc('\n', f);
	return fflush(f) == 0 ? 0 : -1;
}
