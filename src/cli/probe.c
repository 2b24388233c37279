/* hwkeygen --backends: what each backend finds on this machine. */
#include <stdio.h>

#include "hwkey/backend.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "hwkey/out.h"
#include "cli.h"

int
hwk_cli_backends(struct hwk_ctx *ctx, int json)
{
	const struct hwk_backend *const *b;
	struct hwk_out *o;
	int r;

	if ((o = hwk_out_new(json)) == NULL)
		return HWK_ERR_NOMEM;
	hwk_out_begin_object(o, NULL);
	for (b = hwk_backends(); *b != NULL; b++) {
		hwk_out_begin_object(o, (*b)->name);
		hwk_out_str(o, "summary", (*b)->summary);
		hwk_ctx_clear_error(ctx);
		r = hwk_backend_probe(ctx, *b);
		hwk_out_bool(o, "usable", r == 0);
		if (r != 0)
			hwk_out_str(o, "reason", *hwk_ctx_detail(ctx) != '\0' ?
			    hwk_ctx_detail(ctx) : hwk_strerror(r));
		hwk_out_bool(o, "hardware", ((*b)->flags & HWK_BF_DEVICE) != 0);
		hwk_out_int(o, "default_bits", (*b)->default_bits);
		hwk_ctx_clear_error(ctx);
		hwk_backend_describe(ctx, *b, o);
		hwk_out_end_object(o);
	}
	hwk_out_end_object(o);
	r = hwk_out_print(o, stdout) == 0 ? HWK_OK : HWK_ERR_SYSTEM;
	hwk_out_free(&o);
	return r;
}
