/*
 * A context for one run: the options a user gave (by name, so a backend can
 * own options the CLI does not know), the way to ask the user for secrets,
 * and the detail of the last error, for the CLI to print.
 */
#ifndef HWKEY_CTX_H
#define HWKEY_CTX_H

#include <stddef.h>

struct hwk_ctx;

/* How library code reaches the user; only the CLI implements it. */
struct hwk_ui {
	/* Reads a secret without echo into buf; HWK_ERR_CANCELLED at EOF. */
	int	(*read_secret)(void *arg, const char *prompt, char *buf,
		    size_t len);
	/* One line of information for the user (not an error). */
	void	(*notice)(void *arg, const char *msg);
	void	*arg;
};

struct hwk_ctx *hwk_ctx_new(void);
void	hwk_ctx_free(struct hwk_ctx **ctxp);
void	hwk_ctx_set_ui(struct hwk_ctx *ctx, const struct hwk_ui *ui);

/* Options by name; a later set replaces an earlier one; values wiped on free. */
int	hwk_ctx_set_opt(struct hwk_ctx *ctx, const char *name,
	    const char *value);
const char *hwk_ctx_opt(const struct hwk_ctx *ctx, const char *name);

int	hwk_ctx_read_secret(struct hwk_ctx *ctx, const char *prompt, char *buf,
	    size_t len);
void	hwk_ctx_notice(struct hwk_ctx *ctx, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/* Records what went wrong in words and returns err, for "return hwk_ctx_error(...)". */
int	hwk_ctx_error(struct hwk_ctx *ctx, int err, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* Adds advice on what to do to the recorded error. */
void	hwk_ctx_hint(struct hwk_ctx *ctx, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
const char *hwk_ctx_detail(const struct hwk_ctx *ctx);	/* "" if none */
/* What a successful probe found, for the line --backend auto prints. */
void	hwk_ctx_found(struct hwk_ctx *ctx, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
const char *hwk_ctx_found_text(const struct hwk_ctx *ctx);	/* "" if none */
const char *hwk_ctx_advice(const struct hwk_ctx *ctx);	/* "" if none */
void	hwk_ctx_clear_error(struct hwk_ctx *ctx);

#endif /* HWKEY_CTX_H */
