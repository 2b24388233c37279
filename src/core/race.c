/*
 * Racing one job in several threads (include/hwkey/race.h): the first
 * racer to succeed wins, the others see hwk_race_lost() and give up.
 *
 * Who owns what:
 *  - the caller owns the race and the racers' slots, on its stack; it runs
 *    racer 0 itself and starts the others, with every signal blocked so
 *    that signals stay with the caller's thread;
 *  - a racer thread owns its own slot (result, error) until it is joined,
 *    and reads only spec->arg and the two flags;
 *  - "over" (the winner's index + 1) is the only word racers write to
 *    together, once, by compare-and-swap; hwk_race_run() joins every
 *    thread before it reads a slot, so the join orders those reads.
 * Cancelling is cooperative: a racer polls hwk_race_lost() (the RSA racer
 * from OpenSSL's keygen callback) and returns early; nothing is killed, so
 * each racer frees its own state on the way out.  Results that lost (a
 * racer may finish just after another won) go to spec->discard, which
 * wipes them: no key the caller did not get survives the call, and no
 * thread does either.
 */
#include <sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hwkey/error.h"
#include "hwkey/race.h"

#define RACERS_MAX	16

struct hwk_race {
	atomic_int		 over;	/* 0, or the winner's index + 1 */
	const atomic_int	*stop;
};

struct racer {
	struct hwk_race			*race;
	const struct hwk_race_spec	*spec;
	unsigned			 index;
	pthread_t			 thread;
	int				 started;
	int				 r;
	void				*result;
};

unsigned
hwk_race_width(unsigned cap)
{
	cpu_set_t set;
	int n;

	if (cap < 1)
		cap = 1;
	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof(set), &set) != 0 ||
	    (n = CPU_COUNT(&set)) < 1)
		return 1;
	return (unsigned)n < cap ? (unsigned)n : cap;
}

unsigned
hwk_race_idle(unsigned width)
{
	unsigned long running = 0;
	FILE *f;
	int ok;

	if (width <= 1 || (f = fopen("/proc/loadavg", "re")) == NULL)
		return width;
	/* "0.20 0.18 0.12 2/80 11206": runnable/all, this thread among them. */
	ok = fscanf(f, "%*s %*s %*s %lu/", &running) == 1;
	fclose(f);
	if (!ok || running <= 1)
		return width;
	return running - 1 >= width ? 1 : width - (unsigned)(running - 1);
}

int
hwk_race_lost(const struct hwk_race *race)
{
	if (race->stop != NULL && atomic_load(race->stop))
		return 1;
	return atomic_load(&race->over) != 0;
}

/* One racer, in whichever thread: its result, and the race if it is first. */
static void
racer_go(struct racer *rc)
{
	int expected = 0;

	rc->result = NULL;
	rc->r = rc->spec->run(rc->race, rc->spec->arg, &rc->result);
	if (rc->r == 0 && rc->result == NULL)
		rc->r = HWK_ERR_INTERNAL;
	if (rc->r == 0)
		atomic_compare_exchange_strong(&rc->race->over, &expected,
		    (int)rc->index + 1);
}

static void *
racer_thread(void *arg)
{
	racer_go(arg);
	return NULL;
}

/* Racers 1 and up in threads; one that cannot start is left out. */
static void
racers_start(struct racer *rcs, unsigned n)
{
	sigset_t all, old;
	unsigned i;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (i = 1; i < n; i++)
		rcs[i].started = pthread_create(&rcs[i].thread, NULL,
		    racer_thread, &rcs[i]) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

int
hwk_race_run(const struct hwk_race_spec *spec, void **resultp)
{
	struct racer rcs[RACERS_MAX];
	struct hwk_race race;
	unsigned i, n = spec->racers, win;
	int r;

	*resultp = NULL;
	if (n < 1)
		n = 1;
	if (n > RACERS_MAX)
		n = RACERS_MAX;
	atomic_init(&race.over, 0);
	race.stop = spec->stop;
	memset(rcs, 0, sizeof(rcs));
	for (i = 0; i < n; i++) {
		rcs[i].race = &race;
		rcs[i].spec = spec;
		rcs[i].index = i;
	}
	rcs[0].started = 1;
	if (n > 1)
		racers_start(rcs, n);
	racer_go(&rcs[0]);
	for (i = 1; i < n; i++)
		if (rcs[i].started)
			pthread_join(rcs[i].thread, NULL);
	win = (unsigned)atomic_load(&race.over);
	/* A stop that came as the winner finished still stops: none is kept. */
	if (spec->stop != NULL && atomic_load(spec->stop))
		win = 0;
	for (i = 0; i < n; i++)
		if (rcs[i].started && rcs[i].result != NULL && i + 1 != win)
			spec->discard(rcs[i].result);
	if (win != 0) {
		*resultp = rcs[win - 1].result;
		return HWK_OK;
	}
	if (spec->stop != NULL && atomic_load(spec->stop))
		return HWK_ERR_CANCELLED;
	r = rcs[0].r;
	return r != 0 ? r : HWK_ERR_INTERNAL;
}
