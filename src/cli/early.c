/*
 * A key generated in the background while the person answers the
 * questions (file name, overwrite, passphrase), for backends that need
 * nothing from those answers (HWK_BF_EARLY): the key is ready when the
 * person is.
 *
 * Who owns what: the main thread owns the struct and prompts; the
 * generating thread (started with every signal blocked, so that Ctrl-C
 * reaches the prompt) owns a copy of the parameters, a context of its own
 * for the words of a failure, and the key it makes, until it is joined.
 * "stop" is the one word both touch: set, it ends an RSA race through
 * OpenSSL's keygen callback (backends/rsa_race.c).  The thread is always
 * joined before its key or its words are read, or freed: a cancelled key
 * goes to hwk_key_free(), whose EVP_PKEY_free() clears it.  A failure is
 * reported where the key is needed, in the words generate gave.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "hwkey/backend.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "early.h"
#include "progress.h"

struct hwk_early {
	pthread_t		 thread;
	atomic_int		 stop;
	const struct hwk_backend *b;
	struct hwk_genparams	 gp;	/* a copy, without the passphrase */
	struct hwk_ctx		*ctx;	/* the thread's own */
	struct hwk_key		*key;
	int			 r;
};

static void *
early_run(void *arg)
{
	struct hwk_early *e = arg;

	e->r = hwk_backend_generate(e->ctx, e->b, &e->gp, &e->key);
	return NULL;
}

static void
early_free(struct hwk_early *e)
{
	hwk_key_free(&e->key);
	hwk_ctx_free(&e->ctx);
	free(e);
}

void
hwk_early_start(const struct hwk_backend *b, const struct hwk_genparams *gp,
    struct hwk_early **ep)
{
	struct hwk_early *e;
	sigset_t all, old;
	int r;

	*ep = NULL;
	if (!(b->flags & HWK_BF_EARLY) || (e = calloc(1, sizeof(*e))) == NULL)
		return;
	atomic_init(&e->stop, 0);
	e->b = b;
	e->gp = *gp;
	e->gp.passphrase = NULL;	/* not asked yet, and not needed */
	e->gp.kdf = NULL;
	e->gp.stop = &e->stop;
	if ((e->ctx = hwk_ctx_new()) == NULL) {
		early_free(e);
		return;			/* made later, as without */
	}
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&e->thread, NULL, early_run, e);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		early_free(e);
		return;
	}
	*ep = e;
}

int
hwk_early_finish(struct hwk_early **ep, struct hwk_ctx *ctx, int quiet,
    struct hwk_key **keyp)
{
	struct hwk_early *e = *ep;
	struct hwk_progress progress;
	int r;

	*keyp = NULL;
	*ep = NULL;
	/* Counted from now: only the time the person waits. */
	hwk_progress_start(&progress, e->b->name, e->gp.bits, quiet);
	pthread_join(e->thread, NULL);
	hwk_progress_stop(&progress);
	if ((r = e->r) != 0) {
		hwk_ctx_clear_error(ctx);
		if (*hwk_ctx_detail(e->ctx) != '\0')
			hwk_ctx_error(ctx, r, "%s", hwk_ctx_detail(e->ctx));
		if (*hwk_ctx_advice(e->ctx) != '\0')
			hwk_ctx_hint(ctx, "%s", hwk_ctx_advice(e->ctx));
	} else {
		*keyp = e->key;
		e->key = NULL;
	}
	early_free(e);
	return r;
}

void
hwk_early_cancel(struct hwk_early **ep)
{
	struct hwk_early *e = *ep;

	if (e == NULL)
		return;
	*ep = NULL;
	atomic_store(&e->stop, 1);
	pthread_join(e->thread, NULL);
	early_free(e);
}
