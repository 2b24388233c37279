/* The per-run context of ctx.h: named options, the user interface, errors. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hwkey/buf.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"

#define MAX_OPTS	32

struct opt {
	char	*name;
	char	*value;
};

struct hwk_ctx {
	struct opt	 opts[MAX_OPTS];
	size_t		 nopts;
	struct hwk_ui	 ui;
	char		 detail[1024];
	char		 advice[1024];
	char		 found[256];
};

struct hwk_ctx *
hwk_ctx_new(void)
{
	return calloc(1, sizeof(struct hwk_ctx));
}

static void
opt_clear(struct opt *o)
{
	free(o->name);
	if (o->value != NULL)
		hwk_freezero(o->value, strlen(o->value));
	o->name = o->value = NULL;
}

void
hwk_ctx_free(struct hwk_ctx **ctxp)
{
	struct hwk_ctx *ctx;
	size_t i;

	if (ctxp == NULL || (ctx = *ctxp) == NULL)
		return;
	for (i = 0; i < ctx->nopts; i++)
		opt_clear(&ctx->opts[i]);
	explicit_bzero(ctx, sizeof(*ctx));
	free(ctx);
	*ctxp = NULL;
}

void
hwk_ctx_set_ui(struct hwk_ctx *ctx, const struct hwk_ui *ui)
{
	if (ui != NULL)
		ctx->ui = *ui;
	else
		memset(&ctx->ui, 0, sizeof(ctx->ui));
}

int
hwk_ctx_set_opt(struct hwk_ctx *ctx, const char *name, const char *value)
{
	struct opt *o = NULL;
	char *v = NULL;
	size_t i;

	for (i = 0; i < ctx->nopts; i++)
		if (strcmp(ctx->opts[i].name, name) == 0)
			o = &ctx->opts[i];
	if (value != NULL && (v = strdup(value)) == NULL)
		return HWK_ERR_NOMEM;
	if (o == NULL) {
		if (ctx->nopts == MAX_OPTS) {
			free(v);
			return HWK_ERR_TOO_LARGE;
		}
		o = &ctx->opts[ctx->nopts];
		if ((o->name = strdup(name)) == NULL) {
			free(v);
			return HWK_ERR_NOMEM;
		}
		ctx->nopts++;
	} else if (o->value != NULL)
		hwk_freezero(o->value, strlen(o->value));
	o->value = v;
	return HWK_OK;
}

const char *
hwk_ctx_opt(const struct hwk_ctx *ctx, const char *name)
{
	size_t i;

	for (i = 0; i < ctx->nopts; i++)
		if (strcmp(ctx->opts[i].name, name) == 0)
			return ctx->opts[i].value;
	return NULL;
}

int
hwk_ctx_read_secret(struct hwk_ctx *ctx, const char *prompt, char *buf,
    size_t len)
{
	if (len > 0)
		buf[0] = '\0';
	if (ctx->ui.read_secret == NULL)
		return hwk_ctx_error(ctx, HWK_ERR_CANCELLED,
		    "a secret is needed but there is no way to ask for it");
	return ctx->ui.read_secret(ctx->ui.arg, prompt, buf, len);
}

void
hwk_ctx_notice(struct hwk_ctx *ctx, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (ctx->ui.notice == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ctx->ui.notice(ctx->ui.arg, msg);
}

int
hwk_ctx_error(struct hwk_ctx *ctx, int err, const char *fmt, ...)
{
	va_list ap;

	if (ctx == NULL)
		return err;
	va_start(ap, fmt);
	vsnprintf(ctx->detail, sizeof(ctx->detail), fmt, ap);
	va_end(ap);
	ctx->advice[0] = '\0';
	return err;
}

void
hwk_ctx_hint(struct hwk_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	if (ctx == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(ctx->advice, sizeof(ctx->advice), fmt, ap);
	va_end(ap);
}

const char *
hwk_ctx_detail(const struct hwk_ctx *ctx)
{
	return ctx->detail;
}

void
hwk_ctx_found(struct hwk_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctx->found, sizeof(ctx->found), fmt, ap);
	va_end(ap);
}

const char *
hwk_ctx_found_text(const struct hwk_ctx *ctx)
{
	return ctx->found;
}

const char *
hwk_ctx_advice(const struct hwk_ctx *ctx)
{
	return ctx->advice;
}

void
hwk_ctx_clear_error(struct hwk_ctx *ctx)
{
	ctx->detail[0] = ctx->advice[0] = ctx->found[0] = '\0';
}
