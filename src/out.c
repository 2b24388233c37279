/* Structured output as JSON or indented text (out.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static void
json_string(struct hwk_out *o, const char *s)
{
	const unsigned char *p;
	char esc[8];

	put(o, "\"");
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			esc[2] = '\0';
			put(o, esc);
		} else if (*p < 0x20 || *p == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", *p);
			put(o, esc);
		} else {
			esc[0] = (char)*p;
			esc[1] = '\0';
			put(o, esc);
		}
	}
	put(o, "\"");
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
		put(o, v != NULL ? v : "-");
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
