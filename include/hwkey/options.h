/*
 * Command-line options of the backends (--tcti, --module, ...), which go
 * into the context by name; each command takes those meant for it.
 */
#ifndef HWKEY_OPTIONS_H
#define HWKEY_OPTIONS_H

#include <getopt.h>
#include <stddef.h>
#include <stdio.h>

struct hwk_ctx;
struct hwk_optdesc;

#define HWK_LONGOPTS_MAX	64
#define HWK_OPT_BACKEND_BASE	512	/* getopt values of backend options */

struct hwk_longopts {
	struct option	 opts[HWK_LONGOPTS_MAX];
	const struct hwk_optdesc *descs[HWK_LONGOPTS_MAX];
};

/*
 * The getopt_long table: fixed, then once each backend option that is for
 * when (HWK_OPT_MAKE for hwkeygen, HWK_OPT_USE for the agent).
 */
int	hwk_longopts_build(struct hwk_longopts *lo, const struct option *fixed,
	    size_t nfixed, unsigned when);
/* 1 if ch was a backend option (stored in ctx), 0 if not, -1 on error. */
int	hwk_longopts_take(const struct hwk_longopts *lo, int ch,
	    const char *arg, struct hwk_ctx *ctx);
/* The "Options of the X backend:" sections of --help, for when. */
void	hwk_backend_options_usage(FILE *f, int width, unsigned when);

#endif /* HWKEY_OPTIONS_H */
