/*
 * The terminal's side of the conversation: what a backend asks (a PIN) and
 * tells while it works, and the file name question -y, -l and keygen share.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hwkey/backend.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "hwkey/keyfile.h"
#include "hwkey/out.h"
#include "cli.h"
#include "progress.h"
#include "prompt.h"

static int
ui_read_secret(void *arg, const char *prompt, char *buf, size_t len)
{
	const struct hwk_cli_opts *o = arg;
	char *safe;
	size_t n;
	int r;

	/* A prompt may quote a token's label: escaped like all foreign text. */
	if ((safe = hwk_out_vis(prompt)) == NULL)
		return HWK_ERR_NOMEM;
	if (o->json) {
		/* One line, the question quoted: a script reads the first. */
		n = strlen(safe);
		if (n >= 2 && strcmp(safe + n - 2, ": ") == 0)
			n -= 2;
		fprintf(stderr, "hwkeygen: --json does not prompt: give the "
		    "secret with -N, -P or --pin-source (it would ask \"%.*s\")\n",
		    (int)n, safe);
		free(safe);
		return HWK_ERR_CANCELLED;
	}
	hwk_progress_pause(1);
	r = hwk_prompt_secret(safe, buf, len);
	hwk_progress_pause(0);
	free(safe);
	return r;
}

static void
ui_notice(void *arg, const char *msg)
{
	const struct hwk_cli_opts *o = arg;

	if (!o->quiet) {
		/* The message may quote a token label. */
		hwk_out_vis_fputs(msg, o->info);
		fputc('\n', o->info);
	}
}

void
hwk_cli_ui_init(struct hwk_ui *ui, struct hwk_cli_opts *o)
{
	memset(ui, 0, sizeof(*ui));
	ui->read_secret = ui_read_secret;
	ui->notice = ui_notice;
	ui->arg = o;
}

/* ~/.ssh/id_rsa, id_ecdsa or id_ed25519, as ssh-keygen names them. */
static int
default_path(int type, char *buf, size_t len)
{
	const char *home = hwk_home_dir();
	const char *name = hwk_key_type_name(type);

	if (home == NULL || name == NULL || snprintf(buf, len, "%s/.ssh/id_%s",
	    home, name) >= (int)len) {
		fprintf(stderr, "hwkeygen: cannot tell your home directory; "
		    "give the key file with -f\n");
		return HWK_ERR_NOT_FOUND;
	}
	return HWK_OK;
}

/* ssh-keygen's "Enter file in which ... (%s): ". */
int
hwk_cli_ask_filename(struct hwk_cli_opts *o, const char *prompt)
{
	char line[PATH_MAX], q[PATH_MAX + 128];
	int r;

	if ((r = default_path(o->type, o->path, sizeof(o->path))) != 0)
		return r;
	snprintf(q, sizeof(q), "%s (%s): ", prompt, o->path);
	if ((r = hwk_prompt_line(q, line, sizeof(line))) != 0) {
		fputc('\n', stdout);
		fprintf(stderr, "hwkeygen: %s; nothing was done\n",
		    r == HWK_ERR_CANCELLED ? "no file name given (input ended)" :
		    "the file name is too long");
		/* A name too long for a path is a bad answer, as a bad -f. */
		return r == HWK_ERR_CANCELLED ? HWK_ERR_CANCELLED :
		    HWK_ERR_USAGE;
	}
	if (line[0] != '\0') {
		/*
		 * A person typing ~/ means the home folder, as a shell would
		 * read it (and as the default shown is there).  ~user is not.
		 */
		const char *home = hwk_home_dir(), *rest = line;

		if (home != NULL && line[0] == '~' &&
		    (line[1] == '\0' || line[1] == '/'))
			rest = line + 1;
		else
			home = "";
		if (strlen(home) + strlen(rest) + 5 >= sizeof(o->path)) {
			fprintf(stderr, "hwkeygen: the file name is too long\n");
			return HWK_ERR_USAGE;
		}
		snprintf(o->path, sizeof(o->path), "%s%s", home, rest);
	}
	o->have_path = 1;
	return HWK_OK;
}
