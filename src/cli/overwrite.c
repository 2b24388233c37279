/*
 * Replacing a key pair: ssh-keygen's overwrite question, and the old key
 * that a device (a token) still holds when its file is replaced, asked
 * about after "y", deleted only once the new pair is saved, or named with
 * the command that deletes it: never left there unsaid.
 */
#include <sys/stat.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hwkey/backend.h"
#include "hwkey/buf.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "hwkey/out.h"
#include "hwkey/sshkey.h"
#include "hwkey/stubfile.h"
#include "cli.h"
#include "prompt.h"

/* What became of the old key. */
enum { OLD_KEPT, OLD_BACKED_UP, OLD_DELETED, OLD_NOT_DELETED };

struct hwk_oldkey {
	struct hwk_stubfile *sf;	/* the old private file, read first */
	struct hwk_devkey where;	/* the key in its device */
	int		 erase;		/* the person said y */
	int		 asked;		/* the question was put */
	int		 outcome;	/* OLD_* */
	char		 why[512];	/* why it was not deleted */
};

void
hwk_oldkey_free(struct hwk_oldkey **okp)
{
	struct hwk_oldkey *ok = *okp;

	*okp = NULL;
	if (ok == NULL)
		return;
	hwk_stubfile_free(&ok->sf);
	hwk_devkey_clear(&ok->where);
	free(ok);
}

/*
 * The old private file at path, if a device backend claims it (a stub);
 * read before any question, as it is about to be replaced.  NULL else.
 */
static struct hwk_oldkey *
old_read(const char *path)
{
	struct hwk_oldkey *ok;

	if ((ok = calloc(1, sizeof(*ok))) == NULL)
		return NULL;
	if (hwk_stubfile_read(NULL, path, &ok->sf) != 0 ||
	    ok->sf->backend == NULL ||
	    !(ok->sf->backend->flags & HWK_BF_DEVICE))
		hwk_oldkey_free(&ok);
	return ok;
}

/*
 * Nonzero if the key the old file names is in its device now.  A device
 * that is not there may still hold it: said (tell), as nothing will name
 * the key once the file is replaced.
 */
static int
old_located(struct hwk_ctx *ctx, struct hwk_oldkey *ok, int tell)
{
	int r;

	r = hwk_backend_locate(ctx, ok->sf->backend,
	    hwk_buf_ptr(ok->sf->data), hwk_buf_len(ok->sf->data), &ok->where);
	if (r == HWK_ERR_NO_DEVICE && tell && ok->where.device[0] != '\0') {
		fprintf(stderr, "hwkeygen: the old key (id %s) is on ",
		    ok->where.id);
		hwk_out_vis_fputs(ok->where.device, stderr);
		fputs(", which is not here: replacing the file leaves the key "
		    "there, with no file to name it\n", stderr);
	}
	/* Else not there, or no such thing as a key left in that device. */
	hwk_ctx_clear_error(ctx);
	return r == HWK_OK;
}

/* The key, as its .pub (or the device) shows it: "SHA256:... comment". */
static void
old_describe(const struct hwk_oldkey *ok, FILE *f)
{
	const struct hwk_pubkey *pub = hwk_stubfile_pub(ok->sf);
	char fp[HWK_FP_LEN];

	if (pub == NULL)
		pub = ok->where.pub;
	fputs("The old key", f);
	if (pub != NULL && hwk_fingerprint(pub->blob, pub->bloblen, fp,
	    NULL) == 0) {
		fprintf(f, " %s", fp);
		if (pub->comment != NULL && *pub->comment != '\0') {
			fputc(' ', f);
			hwk_out_vis_fputs(pub->comment, f);
		}
	}
	fputs(" is on ", f);
	hwk_out_vis_fputs(ok->where.device, f);
	fprintf(f, " under id %s.\n", ok->where.id);
}

/* Asks whether the old key goes too: only a person at a terminal is asked. */
static void
old_ask(const struct hwk_cli_opts *o, struct hwk_oldkey *ok)
{
	char answer[16], *q = NULL, *dev;

	if (o->json || !isatty(STDIN_FILENO))
		return;
	old_describe(ok, stdout);
	/* The device's name may quote a token label: escaped. */
	if ((dev = hwk_out_vis(ok->where.device)) == NULL)
		return;
	if (asprintf(&q, "Also delete the old key from %s (id %s)? (y/n) ",
	    dev, ok->where.id) < 0)
		q = NULL;
	free(dev);
	if (q == NULL)
		return;
	ok->asked = 1;
	ok->erase = hwk_prompt_line(q, answer, sizeof(answer)) == 0 &&
	    (answer[0] == 'y' || answer[0] == 'Y');
	free(q);
}

/* ssh-keygen's overwrite question; anything but y or Y keeps the file. */
int
hwk_cli_overwrite(const struct hwk_cli_opts *o, struct hwk_ctx *ctx,
    struct hwk_oldkey **okp)
{
	char pub[PATH_MAX + 8], answer[16];
	const char *which;
	struct stat st;

	*okp = NULL;
	snprintf(pub, sizeof(pub), "%s.pub", o->path);
	if (lstat(o->path, &st) == 0)
		which = o->path;
	else if (lstat(pub, &st) == 0)
		which = pub;
	else
		return HWK_OK;
	*okp = which == o->path ? old_read(o->path) : NULL;
	if (o->backup) {
		/* The old pair is kept, not lost: its file still names it. */
		if (*okp != NULL && !old_located(ctx, *okp, 0))
			hwk_oldkey_free(okp);
		return HWK_OK;
	}
	if (o->json) {
		fprintf(stderr, "hwkeygen: %s already exists and --json does not "
		    "prompt: add --backup to keep it in key_backup/, or remove "
		    "it\n", which);
		return HWK_ERR_CANCELLED;
	}
	printf("%s already exists.\n", which);
	if (hwk_prompt_line("Overwrite (y/n)? ", answer, sizeof(answer)) != 0 ||
	    (answer[0] != 'y' && answer[0] != 'Y')) {
		fprintf(stderr, "hwkeygen: %s was not overwritten; use --backup "
		    "to keep the old key in key_backup/ and make a new one\n",
		    which);
		return HWK_ERR_CANCELLED;
	}
	if (*okp != NULL && !old_located(ctx, *okp, 1))
		hwk_oldkey_free(okp);
	if (*okp != NULL)
		old_ask(o, *okp);
	return HWK_OK;
}

/* The old key left on its device, and the command that deletes it. */
static void
old_left(const struct hwk_oldkey *ok, const char *why)
{
	fprintf(stderr, "hwkeygen: the old key (id %s) stays on ",
	    ok->where.id);
	hwk_out_vis_fputs(ok->where.device, stderr);
	fprintf(stderr, ", and no file names it now%s.  Delete it with:\n  ",
	    why);
	hwk_out_vis_fputs(ok->where.remove, stderr);
	fputc('\n', stderr);
}

/*
 * After the new pair is saved: deletes the old key if the person said so,
 * or says where it stays.  A failed delete is a warning: the new key is
 * made and saved, and the old one is only left as it was.
 */
void
hwk_oldkey_settle(const struct hwk_cli_opts *o, struct hwk_ctx *ctx,
    struct hwk_oldkey *ok, const char *backup_path)
{
	int r;

	if (ok == NULL)
		return;
	if (backup_path != NULL && *backup_path != '\0') {
		ok->outcome = OLD_BACKED_UP;
		if (!o->quiet) {
			fputs("The old key stays on ", o->info);
			hwk_out_vis_fputs(ok->where.device, o->info);
			fprintf(o->info, " (id %s); %s names it.\n",
			    ok->where.id, backup_path);
		}
		return;
	}
	if (!ok->erase) {
		ok->outcome = OLD_KEPT;
		old_left(ok, ok->asked ? "" : " (not asked: the input is not "
		    "a terminal)");
		return;
	}
	r = hwk_backend_erase(ctx, ok->sf->backend, hwk_buf_ptr(ok->sf->data),
	    hwk_buf_len(ok->sf->data), hwk_stubfile_pub(ok->sf));
	if (r == HWK_OK) {
		ok->outcome = OLD_DELETED;
		if (!o->quiet) {
			fprintf(o->info, "The old key (id %s) was deleted "
			    "from ", ok->where.id);
			hwk_out_vis_fputs(ok->where.device, o->info);
			fputs(".\n", o->info);
		}
		return;
	}
	ok->outcome = OLD_NOT_DELETED;
	snprintf(ok->why, sizeof(ok->why), "%s", *hwk_ctx_detail(ctx) != '\0' ?
	    hwk_ctx_detail(ctx) : hwk_strerror(r));
	hwk_report(ctx, r, "the old key was not deleted");
	if (r != HWK_ERR_NOT_FOUND)
		old_left(ok, "");
}

/* --json's "old_key": null, or where it is and what became of it. */
void
hwk_oldkey_json(const struct hwk_oldkey *ok, struct hwk_out *out)
{
	static const char *const outcomes[] = {
		"kept", "backed_up", "deleted", "not_deleted",
	};

	if (ok == NULL) {
		hwk_out_str(out, "old_key", NULL);
		return;
	}
	hwk_out_begin_object(out, "old_key");
	hwk_out_str(out, "device", ok->where.device);
	hwk_out_str(out, "id", ok->where.id);
	hwk_out_str(out, "outcome", outcomes[ok->outcome]);
	hwk_out_str(out, "error", ok->outcome == OLD_NOT_DELETED ? ok->why :
	    NULL);
	hwk_out_str(out, "delete_with", ok->outcome == OLD_DELETED ? NULL :
	    ok->where.remove);
	hwk_out_end_object(out);
}
