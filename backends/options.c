/* The backends' own options, as getopt tables and --help sections. */
#include <string.h>

#include "hwkey/backend.h"
#include "hwkey/ctx.h"
#include "hwkey/options.h"

int
hwk_longopts_build(struct hwk_longopts *lo, const struct option *fixed,
    size_t nfixed, unsigned when)
{
	const struct hwk_backend *const *b;
	const struct hwk_optdesc *o;
	size_t n = 0, i;
	int dup;

	memset(lo, 0, sizeof(*lo));
	if (nfixed >= HWK_LONGOPTS_MAX)
		return -1;
	for (i = 0; i < nfixed; i++)
		lo->opts[n++] = fixed[i];
	for (b = hwk_backends(); *b != NULL; b++)
		for (o = (*b)->options; o != NULL && o->name != NULL; o++) {
			if ((o->when & when) == 0)
				continue;
			for (dup = 0, i = 0; i < n; i++)
				if (strcmp(lo->opts[i].name, o->name) == 0)
					dup = 1;
			if (dup)
				continue;	/* shared by two backends */
			if (n + 1 >= HWK_LONGOPTS_MAX)
				return -1;
			lo->descs[n] = o;
			lo->opts[n].name = o->name;
			lo->opts[n].has_arg = o->arg != NULL ?
			    required_argument : no_argument;
			lo->opts[n].val = HWK_OPT_BACKEND_BASE + (int)n;
			n++;
		}
	return 0;	/* the table ends with the zeroed entry after n */
}

int
hwk_longopts_take(const struct hwk_longopts *lo, int ch, const char *arg,
    struct hwk_ctx *ctx)
{
	const struct hwk_optdesc *o;

	if (ch < HWK_OPT_BACKEND_BASE ||
	    ch >= HWK_OPT_BACKEND_BASE + HWK_LONGOPTS_MAX ||
	    (o = lo->descs[ch - HWK_OPT_BACKEND_BASE]) == NULL)
		return 0;
	return hwk_ctx_set_opt(ctx, o->name, o->arg != NULL ? arg : "1") == 0 ?
	    1 : -1;
}

void
hwk_backend_options_usage(FILE *f, int width, unsigned when)
{
	const struct hwk_backend *const *b;
	const struct hwk_optdesc *o;
	char arg[64];
	int n;

	for (b = hwk_backends(); *b != NULL; b++) {
		for (n = 0, o = (*b)->options; o != NULL && o->name != NULL;
		    o++)
			n += (o->when & when) != 0;
		if (n == 0)
			continue;
		fprintf(f, "\nOptions of the %s backend:\n", (*b)->name);
		for (o = (*b)->options; o->name != NULL; o++) {
			if ((o->when & when) == 0)
				continue;
			snprintf(arg, sizeof(arg), "--%s%s%s", o->name,
			    o->arg != NULL ? " " : "",
			    o->arg != NULL ? o->arg : "");
			if ((int)strlen(arg) < width)
				fprintf(f, "  %-*s%s\n", width, arg, o->help);
			else
				fprintf(f, "  %s\n  %-*s%s\n", arg, width, "",
				    o->help);
		}
	}
}
