/*
 * "Generating ... N s" on the terminal while a slow device works.  A prompt
 * (a token's PIN) pauses it: the line is cleared and the count starts again
 * once the answer is in.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "progress.h"

/*
 * The one count running, if any: a prompt asked from deep inside a backend
 * pauses it through the terminal ui, which is not handed the count.
 */
static struct hwk_progress *active_progress;

static void *
progress_run(void *arg)
{
	struct hwk_progress *p = arg;
	struct timespec now, until;
	long secs;

	pthread_mutex_lock(&p->lock);
	while (!p->done) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		secs = now.tv_sec - p->start.tv_sec;
		until = p->start;
		until.tv_sec += secs + 1;
		while (!p->done && pthread_cond_timedwait(&p->cond, &p->lock,
		    &until) == 0)
			;
		if (p->done || p->paused)
			continue;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((secs = now.tv_sec - p->start.tv_sec) < 1)
			continue;
		fprintf(stderr, "\rGenerating the %u-bit key (%s)... %ld s ",
		    p->bits, p->backend, secs);
		fflush(stderr);
		p->shown = 1;
	}
	if (p->shown) {
		fputs("\r\033[K", stderr);	/* leave the line clean */
		fflush(stderr);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

void
hwk_progress_start(struct hwk_progress *p, const char *backend, unsigned bits,
    int quiet)
{
	pthread_condattr_t ca;
	sigset_t all, old;

	memset(p, 0, sizeof(*p));
	if (quiet || !isatty(STDERR_FILENO))
		return;
	p->backend = backend;
	p->bits = bits;
	clock_gettime(CLOCK_MONOTONIC, &p->start);
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cond, &ca);
	pthread_condattr_destroy(&ca);
	/* Signals stay with the main thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	p->running = pthread_create(&p->thread, NULL, progress_run, p) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (p->running)
		active_progress = p;
}

void
hwk_progress_pause(int pause)
{
	struct hwk_progress *p = active_progress;

	if (p == NULL || !p->running)
		return;
	pthread_mutex_lock(&p->lock);
	p->paused = pause;
	if (pause && p->shown) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
		p->shown = 0;
	}
	if (!pause)
		clock_gettime(CLOCK_MONOTONIC, &p->start);
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

void
hwk_progress_stop(struct hwk_progress *p)
{
	if (!p->running)
		return;
	pthread_mutex_lock(&p->lock);
	p->done = 1;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	p->running = 0;
	active_progress = NULL;
}
