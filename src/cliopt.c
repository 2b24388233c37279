/* The options both commands share: the backends' own (cliopt.h). */
#include <string.h>

#include "hwkey/backend.h"
#include "hwkey/ctx.h"
#include "cliopt.h"

int
hwk_longopts_build(struct hwk_longopts *lo, const struct option *fixed,
    size_t nfixed)
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
hwk_backend_options_usage(FILE *f, int width)
{
	const struct hwk_backend *const *b;
	const struct hwk_optdesc *o;
	char arg[64];

	for (b = hwk_backends(); *b != NULL; b++) {
		if ((*b)->options == NULL || (*b)->options[0].name == NULL)
			continue;
		fprintf(f, "\nOptions of the %s backend:\n", (*b)->name);
		for (o = (*b)->options; o->name != NULL; o++) {
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
