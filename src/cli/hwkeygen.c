/*
 * hwkeygen: ssh-keygen's key generation flow, with the private key made in
 * a TPM, on a PKCS#11 token, or in software.  This file starts the command
 * and ends it: the parts (cli.h) say what went wrong as an hwk_err, and
 * here alone it becomes the exit code.
 */
#include <sys/prctl.h>
#include <sys/resource.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "hwkey/out.h"
#include "cli.h"

/*
 * No core file and no ptrace by the user's other programs: passphrases and
 * PINs (from -N, -P, prompts and files) sit in this process's memory.
 */
static void
no_core_dumps(void)
{
	struct rlimit rl = { 0, 0 };

	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	setrlimit(RLIMIT_CORE, &rl);
}

static int
dispatch(struct hwk_cli_opts *o, struct hwk_ctx *ctx)
{
	if (o->list)
		return hwk_cli_list(ctx, o->json);
	if (o->backends)
		return hwk_cli_backends(ctx, o->json);
	if (o->print_public)
		return hwk_cli_print_public(o, ctx);
	if (o->fingerprint)
		return hwk_cli_fingerprint(o, ctx);
	if (hwk_cli_attest_mode(o))
		return hwk_cli_attest(o, ctx);
	return hwk_cli_generate(o, ctx);
}

int
hwk_cli_main(int argc, char **argv)
{
	struct hwk_cli_opts o;
	struct hwk_ctx *ctx = NULL;
	struct hwk_ui ui;
	int r, json, parsed = 0;

	memset(&o, 0, sizeof(o));
	if ((json = hwk_cli_json_wanted(argc, argv)))
		hwk_cli_json_errors_begin();
	hwk_out_setlocale();
	no_core_dumps();	/* before -N or -P is read */
	/* Read stdin byte by byte: no copy of a passphrase in a stdio buffer. */
	if (!isatty(STDIN_FILENO))
		setvbuf(stdin, NULL, _IONBF, 0);
	if ((ctx = hwk_ctx_new()) == NULL) {
		fprintf(stderr, "hwkeygen: out of memory\n");
		r = HWK_ERR_NOMEM;
		goto out;
	}
	hwk_cli_ui_init(&ui, &o);
	hwk_ctx_set_ui(ctx, &ui);
	if ((r = hwk_cli_parse(&o, argc, argv, ctx)) != 0 || o.done)
		goto out;	/* --help and --version end here, with 0 */
	parsed = 1;
	r = dispatch(&o, ctx);
 out:
	/* A bad command line may end before --json was read: it counts. */
	if (json && hwk_cli_json_errors_end(r, o.json || !parsed) != 0 &&
	    r == HWK_OK)
		r = HWK_ERR_SYSTEM;
	hwk_cli_opts_clear(&o);
	hwk_ctx_free(&ctx);
	if (fflush(stdout) != 0 && r == HWK_OK)
		r = HWK_ERR_SYSTEM;
	return hwk_exit_code(r);
}
