/*
 * hwkeygen's key generation, ssh-keygen's flow step by step: choose the
 * backend, the file and the passphrase, make the key (meanwhile, where the
 * backend needs no answer: early.c), save the pair, and remove a key a
 * device made if it cannot be kept.
 */
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hwkey/backend.h"
#include "hwkey/buf.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "hwkey/kdf_ahead.h"
#include "hwkey/keyfile.h"
#include "hwkey/out.h"
#include "hwkey/secret.h"
#include "hwkey/sshkey.h"
#include "cli.h"
#include "early.h"
#include "progress.h"
#include "prompt.h"

/* One generation, from the options to the saved pair. */
struct gen {
	struct hwk_cli_opts	*o;
	struct hwk_ctx		*ctx;
	const struct hwk_backend *b;
	struct hwk_genparams	 gp;
	char			*comment;	/* user@host, if no -C */
	char			*pass;		/* wiped */
	struct hwk_kdf_ahead	*kdf;		/* pass's KDF, begun early */
	struct hwk_early	*early;		/* the key, begun early */
	struct hwk_key		*key;
	struct hwk_pubkey	*pub;
	char			*line;		/* the .pub line, bare */
	struct hwk_export	 ex;
	struct hwk_oldkey	*old;		/* in a device, the file named */
};

/* As ssh-keygen: a missing ~/.ssh is made (0700) when the key goes there. */
static int
make_ssh_dir(const struct hwk_cli_opts *o)
{
	const char *home = hwk_home_dir();
	char dir[PATH_MAX];
	struct stat st;
	size_t n;

	if (home == NULL || snprintf(dir, sizeof(dir), "%s/.ssh", home) >=
	    (int)sizeof(dir))
		return HWK_OK;
	n = strlen(dir);
	if (strncmp(o->path, dir, n) != 0 || o->path[n] != '/')
		return HWK_OK;
	if (stat(dir, &st) == 0 || errno != ENOENT)
		return HWK_OK;
	if (mkdir(dir, 0700) != 0) {
		fprintf(stderr, "hwkeygen: could not create directory '%s': "
		    "%s\n", dir, strerror(errno));
		return HWK_ERR_SYSTEM;
	}
	if (!o->quiet)
		fprintf(stderr, "Created directory '%s'.\n", dir);
	return HWK_OK;
}

/*
 * Nonzero if pass is longer than the backend takes (a TPM password is at
 * most 32 bytes): said at the first entry, with the limit, not after the
 * second.  Other refusals wait for the check after both entries.
 */
static int
over_limit(struct gen *g, const char *pass)
{
	struct hwk_genparams gp = g->gp;
	int r;

	gp.passphrase = pass;
	if ((r = hwk_backend_check(g->ctx, g->b, &gp)) != HWK_ERR_TOO_LARGE) {
		hwk_ctx_clear_error(g->ctx);
		return 0;
	}
	hwk_report(g->ctx, r, NULL);
	return 1;
}

/*
 * ssh-keygen's two passphrase prompts, until they agree.  With ahead, the
 * key file's bcrypt KDF starts as soon as the first is typed and runs
 * while the person types the second (*kdfp); a mismatch stops and wipes it.
 */
static int
ask_passphrase(struct gen *g, char **passp, int ahead, unsigned rounds,
    struct hwk_kdf_ahead **kdfp)
{
	char *p1 = NULL, *p2 = NULL;
	int r = HWK_ERR_NOMEM;

	*passp = NULL;
	*kdfp = NULL;
	if ((p1 = malloc(HWK_SECRET_MAX)) == NULL ||
	    (p2 = malloc(HWK_SECRET_MAX)) == NULL)
		goto out;
	for (;;) {
		if ((r = hwk_prompt_secret("Enter passphrase (empty for no "
		    "passphrase): ", p1, HWK_SECRET_MAX)) == 0 &&
		    over_limit(g, p1)) {
			printf("Try again.\n");
			fflush(stdout);
			continue;
		}
		if (r == 0 && ahead && *p1 != '\0')
			hwk_kdf_ahead_start(p1, rounds, kdfp); /* else later */
		if (r != 0 || (r = hwk_prompt_secret("Enter same passphrase "
		    "again: ", p2, HWK_SECRET_MAX)) != 0) {
			if (r == HWK_ERR_CANCELLED)
				fprintf(stderr, "hwkeygen: no passphrase given "
				    "(input ended); nothing was written\n"
				    "hwkeygen: Use -N '' for a key without a "
				    "passphrase, or -N to give one.\n");
			else if (r == HWK_ERR_TOO_LARGE)
				fprintf(stderr, "hwkeygen: the passphrase is "
				    "longer than %d characters\n",
				    HWK_SECRET_MAX - 1);
			goto out;
		}
		if (strcmp(p1, p2) == 0)
			break;
		hwk_kdf_ahead_free(kdfp);
		printf("Passphrases do not match.  Try again.\n");
		fflush(stdout);
	}
	*passp = p1;
	p1 = NULL;
	r = HWK_OK;
 out:
	if (r != 0)
		hwk_kdf_ahead_free(kdfp);
	hwk_freezero(p1, HWK_SECRET_MAX);
	hwk_freezero(p2, HWK_SECRET_MAX);
	return r;
}

static char *
default_comment(void)
{
	struct passwd *pw = getpwuid(getuid());
	char host[256], *c = NULL;

	if (gethostname(host, sizeof(host)) != 0)
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	if (asprintf(&c, "%s@%s", pw != NULL ? pw->pw_name : "user",
	    host) < 0)
		return NULL;
	return c;
}

/* Blocks the signals that would end us, to act on them when it is safe. */
static void
signals_block(sigset_t *saved)
{
	sigset_t set;

	hwk_ending_signals(&set);
	sigprocmask(SIG_BLOCK, &set, saved);
}

static int
signal_pending(void)
{
	sigset_t p, ending;
	int sig;

	sigpending(&p);
	hwk_ending_signals(&ending);
	for (sig = 1; sig < NSIG; sig++)
		if (sigismember(&ending, sig) == 1 && sigismember(&p, sig) == 1)
			return 1;
	return 0;
}

/* Removes a key just made in a device, saying so if that fails too. */
static int
rollback(struct hwk_ctx *ctx, const struct hwk_backend *b,
    struct hwk_key *key)
{
	int r;

	if (key == NULL || !(b->flags & HWK_BF_DEVICE))
		return HWK_OK;
	if ((r = hwk_key_destroy(ctx, key)) != 0)
		hwk_report(ctx, r, "could not remove the new key from the "
		    "%s device", b->name);
	return r;
}


/* Done either way: a Ctrl-C that came late changes nothing. */
static void
signals_release(const sigset_t *saved)
{
	struct timespec zero = { 0, 0 };
	sigset_t set;

	hwk_ending_signals(&set);
	while (signal_pending() && sigtimedwait(&set, NULL, &zero) > 0)
		;
	sigprocmask(SIG_SETMASK, saved, NULL);
}

/*
 * The backend: the one named, or the first that can make want's keys.
 * Auto has run the chosen backend's check (*checked), whose refusal is
 * returned for plan() to report; any other failure is reported here and
 * leaves *bp NULL.
 */
static int
choose_backend(const struct hwk_cli_opts *o, struct hwk_ctx *ctx,
    const struct hwk_genparams *want, const struct hwk_backend **bp,
    int *checked)
{
	const struct hwk_backend *b;
	char why[1024];
	int r;

	*bp = NULL;
	*checked = 0;
	/* A typo in any backend's option stops us, not only the chosen's. */
	if ((r = hwk_backends_check_opts(ctx)) != 0) {
		hwk_report(ctx, r, NULL);
		fprintf(stderr, "hwkeygen: nothing was made\n");
		return r;
	}
	if (strcmp(o->backend, "auto") != 0) {
		b = hwk_backend_find(o->backend);
		if ((r = hwk_backend_probe(ctx, b)) != 0) {
			hwk_report(ctx, r, "the %s backend cannot be used",
			    o->backend);
			return r;
		}
		*bp = b;
		return HWK_OK;
	}
	r = hwk_backend_auto(ctx, o->require_hw ? HWK_BF_DEVICE : 0, want, &b,
	    why, sizeof(why));
	if (b == NULL) {
		hwk_report(ctx, r, NULL);
		if (o->require_hw)
			fprintf(stderr, "hwkeygen: --require-hardware: nothing "
			    "was written\n");
		return r;
	}
	if (!o->quiet && hwk_backends()[1] != NULL) {
		/* The reason may quote a token label. */
		hwk_out_vis_fputs(why, o->info);
		fputc('\n', o->info);
	}
	*bp = b;
	*checked = 1;
	return r;
}

/* The backend and what to ask of it: refused before any question. */
static int
plan(struct gen *g)
{
	const struct hwk_cli_opts *o = g->o;
	struct hwk_genparams want;
	int r, checked;

	memset(&want, 0, sizeof(want));
	want.type = o->type;
	/* Ed25519 has one size: -b is ignored, as ssh-keygen ignores it. */
	if (o->type != HWK_KEY_ED25519) {
		want.bits = o->bits;
		want.bits_given = o->bits != 0;
	}
	want.kdf_rounds = o->rounds;
	if (o->comment == NULL && (g->comment = default_comment()) == NULL)
		return HWK_ERR_NOMEM;
	want.comment = o->comment != NULL ? o->comment : g->comment;
	want.passphrase = o->new_pass;	/* its limits checked too */
	/* A size no backend makes is refused before any device is asked. */
	if (want.type == HWK_KEY_RSA && want.bits_given &&
	    (r = hwk_rsa_bits_check(g->ctx, want.bits, strcmp(o->backend,
	    "auto") == 0 ? 0 : hwk_backend_find(o->backend)->default_bits))
	    != 0) {
		hwk_report(g->ctx, r, NULL);
		return HWK_ERR_USAGE;
	}
	r = choose_backend(o, g->ctx, &want, &g->b, &checked);
	if (g->b == NULL)
		return r;
	hwk_genparams_for(g->b, &want, &g->gp);
	if (r == 0 && !checked)
		r = hwk_backend_check(g->ctx, g->b, &g->gp);
	if (r != 0) {
		hwk_report(g->ctx, r, NULL);
		/* A type or size the backend cannot make is a bad -t or -b. */
		return r == HWK_ERR_KEY_SIZE || r == HWK_ERR_KEY_TYPE ?
		    HWK_ERR_USAGE : r;
	}
	if (o->json && (g->b->flags & HWK_BF_PASSPHRASE) &&
	    o->new_pass == NULL) {
		fprintf(stderr, "hwkeygen: --json does not prompt: give the "
		    "passphrase with -N (-N '' for none)\n");
		return HWK_ERR_USAGE;
	}
	return HWK_OK;
}

/* The key file: asked for if not given, its folder made, overwrite asked. */
static int
choose_file(struct gen *g)
{
	int r;

	if (!g->o->have_path && (r = hwk_cli_ask_filename(g->o,
	    "Enter file in which to save the key")) != 0)
		return r;
	if ((r = make_ssh_dir(g->o)) != 0)
		return r;
	if ((r = hwk_export_check(g->ctx, g->o->path)) != 0) {
		hwk_report(g->ctx, r, NULL);
		return r;
	}
	return hwk_cli_overwrite(g->o, g->ctx, &g->old);
}

/* The passphrase of a key kept in a file: -N, or asked twice. */
static int
take_passphrase(struct gen *g)
{
	int r;

	if (!(g->b->flags & HWK_BF_PASSPHRASE))
		return HWK_OK;
	if (g->o->new_pass != NULL) {
		if ((g->pass = strdup(g->o->new_pass)) == NULL)
			return HWK_ERR_NOMEM;
	} else if ((r = ask_passphrase(g, &g->pass, g->b->flags & HWK_BF_KDF,
	    g->gp.kdf_rounds, &g->kdf)) != 0)
		return r;
	g->gp.passphrase = g->pass;
	g->gp.kdf = g->kdf;
	/* A typed passphrase meets the backend's limits before keygen. */
	if (g->o->new_pass == NULL &&
	    (r = hwk_backend_check(g->ctx, g->b, &g->gp)) != 0) {
		hwk_report(g->ctx, r, NULL);
		fprintf(stderr, "hwkeygen: nothing was made\n");
		return r;
	}
	return HWK_OK;
}

/*
 * The key itself, begun while the questions were asked or made now; a
 * Ctrl-C held back meanwhile (blocked) undoes it.
 */
static int
make_key(struct gen *g, int blocked)
{
	struct hwk_progress progress;
	int r;

	if (g->early != NULL)
		r = hwk_early_finish(&g->early, g->ctx, g->o->quiet, &g->key);
	else {
		hwk_progress_start(&progress, g->b->name, g->gp.bits,
		    g->o->quiet);
		r = hwk_backend_generate(g->ctx, g->b, &g->gp, &g->key);
		hwk_progress_stop(&progress);
	}
	if (r != 0) {
		hwk_report(g->ctx, r, "could not generate the key");
		return r;
	}
	if (blocked && signal_pending()) {
		/* Only what the device confirmed is said to be gone. */
		fprintf(stderr, "hwkeygen: interrupted; %s and nothing was "
		    "written\n", rollback(g->ctx, g->b, g->key) == 0 ?
		    "the new key was removed" : "the new key could not be "
		    "removed (see above)");
		return HWK_ERR_SIGNAL;
	}
	return HWK_OK;
}

/* The private file and the .pub, written together or not at all. */
static int
keep_key(struct gen *g)
{
	struct hwk_buf *stub = NULL;
	char *publine = NULL;
	int r;

	if ((stub = hwk_buf_new()) == NULL) {
		r = HWK_ERR_NOMEM;
		goto out;
	}
	if ((r = hwk_backend_write_stub(g->ctx, g->key, &g->gp, stub)) != 0) {
		hwk_report(g->ctx, r, "could not encode the private key");
		goto out;
	}
	/* The .pub carries the comment even when it is empty, as ssh-keygen. */
	if ((r = hwk_key_set_comment(g->key, g->gp.comment)) != 0 ||
	    (r = hwk_key_pubkey(g->key, &g->pub)) != 0 ||
	    (r = hwk_pubkey_format(g->pub, 1, &g->line)) != 0 ||
	    asprintf(&publine, "%s\n", g->line) < 0) {
		publine = NULL;
		if (r == HWK_OK)
			r = HWK_ERR_NOMEM;	/* asprintf */
		hwk_report(g->ctx, r, "could not encode the public key");
		goto out;
	}
	g->ex.path = g->o->path;
	g->ex.priv = stub;
	g->ex.publine = publine;
	g->ex.backup = g->o->backup;
	if ((r = hwk_export_pair(g->ctx, &g->ex)) != 0) {
		hwk_report(g->ctx, r, NULL);
		fprintf(stderr, "hwkeygen: nothing was written%s\n",
		    g->o->backup ? " and the old key pair is where it was" :
		    "");
	}
 out:
	g->ex.priv = NULL;	/* freed here; backup_path stays */
	g->ex.publine = NULL;
	free(publine);
	hwk_buf_free(&stub);
	return r;
}

/* The result of a generation for scripts (--json). */
static int
print_json_result(const struct gen *g)
{
	struct hwk_out *o;
	char fp[HWK_FP_LEN], pubpath[PATH_MAX + 8];
	int r;

	if ((o = hwk_out_new(1)) == NULL)
		return HWK_ERR_NOMEM;
	if ((r = hwk_fingerprint(g->pub->blob, g->pub->bloblen, fp,
	    NULL)) != 0) {
		hwk_out_free(&o);
		return r;
	}
	snprintf(pubpath, sizeof(pubpath), "%s.pub", g->o->path);
	hwk_out_begin_object(o, NULL);
	hwk_out_str(o, "path", g->o->path);
	hwk_out_str(o, "public_path", pubpath);
	hwk_out_str(o, "backend", g->b->name);
	hwk_out_str(o, "type", hwk_pubkey_label(g->pub));
	hwk_out_int(o, "bits", g->pub->bits);
	hwk_out_str(o, "fingerprint", fp);
	hwk_out_str(o, "comment", g->pub->comment);
	hwk_out_str(o, "public_key", g->line);
	hwk_out_str(o, "backup", g->ex.backup_path[0] != '\0' ?
	    g->ex.backup_path : NULL);
	hwk_oldkey_json(g->old, o);
	hwk_out_end_object(o);
	r = hwk_out_print(o, stdout) == 0 ? HWK_OK : HWK_ERR_SYSTEM;
	hwk_out_free(&o);
	return r;
}

/* Where the pair went and its fingerprint, as ssh-keygen says it. */
static int
tell(const struct gen *g)
{
	const struct hwk_cli_opts *o = g->o;
	int r;

	if (!o->quiet) {
		if (g->ex.backup_path[0] != '\0')
			fprintf(o->info, "Your old key pair has been moved to "
			    "%s\n", g->ex.backup_path);
		fprintf(o->info, "Your identification has been saved in %s\n",
		    o->path);
		fprintf(o->info, "Your public key has been saved in %s.pub\n",
		    o->path);
		if ((r = hwk_print_fingerprint_art(o->info, g->pub)) != 0) {
			hwk_report(g->ctx, r, "could not compute the "
			    "fingerprint");
			return r;
		}
	}
	return HWK_OK;
}

/*
 * A file name or a passphrase to ask for: time to make the key meanwhile.
 * (Without, a thread would only cost its start; an overwrite question
 * alone is rare.)
 */
static int
questions_ahead(const struct gen *g)
{
	return !g->o->have_path || ((g->b->flags & HWK_BF_PASSPHRASE) &&
	    g->o->new_pass == NULL);
}

int
hwk_cli_generate(struct hwk_cli_opts *o, struct hwk_ctx *ctx)
{
	struct gen g;
	sigset_t saved;
	int r, blocked = 0;

	memset(&g, 0, sizeof(g));
	g.o = o;
	g.ctx = ctx;
	if ((r = plan(&g)) != 0)
		goto out;
	if (!o->quiet)
		fprintf(o->info, "Generating public/private %s key pair.\n",
		    hwk_key_type_name(g.gp.type));
	/* A key that needs no answer is made while the questions are asked. */
	if (questions_ahead(&g))
		hwk_early_start(g.b, &g.gp, &g.early);
	if ((r = choose_file(&g)) != 0 || (r = take_passphrase(&g)) != 0)
		goto out;
	/* A key in a device must not outlive a Ctrl-C: act on it after. */
	if (g.b->flags & HWK_BF_DEVICE) {
		signals_block(&saved);
		blocked = 1;
	}
	if ((r = make_key(&g, blocked)) != 0)
		goto out;
	if ((r = keep_key(&g)) != 0) {
		rollback(ctx, g.b, g.key);
		goto out;
	}
	r = tell(&g);
	/* The old key in its device goes only now that the new pair is saved. */
	hwk_oldkey_settle(o, ctx, g.old, g.ex.backup_path);
	if (r == 0 && o->json)
		r = print_json_result(&g);
	if (r == 0 && o->attest)
		r = hwk_cli_attest_key(o, ctx, g.key, g.pub, g.pass);
 out:
	if (blocked)
		signals_release(&saved);
	hwk_early_cancel(&g.early);	/* no key made for no one */
	hwk_kdf_ahead_free(&g.kdf);
	if (g.pass != NULL)
		hwk_freezero(g.pass, strlen(g.pass));
	free(g.comment);
	free(g.line);
	hwk_pubkey_free(&g.pub);
	hwk_key_free(&g.key);
	hwk_oldkey_free(&g.old);
	return r;
}
