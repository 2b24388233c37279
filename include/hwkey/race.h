/*
 * Racing: the same job run in several threads at once, the first result
 * kept and the others told to give up, for work whose time varies a lot
 * from run to run (an RSA prime search).
 */
#ifndef HWKEY_RACE_H
#define HWKEY_RACE_H

#include <stdatomic.h>

struct hwk_race;

/*
 * One racer.  It runs in a thread of its own, or in the caller's when it
 * races alone, and returns 0 with *resultp set, or an error.  It asks
 * hwk_race_lost() often and gives up (any error) once that says so.
 */
typedef int	(*hwk_racer_fn)(struct hwk_race *race, void *arg,
		    void **resultp);
/* Frees a result the race does not keep, wiping what was secret in it. */
typedef void	(*hwk_race_discard_fn)(void *result);

struct hwk_race_spec {
	unsigned		 racers;	/* 1: no thread at all */
	hwk_racer_fn		 run;
	hwk_race_discard_fn	 discard;
	void			*arg;		/* shared, read-only */
	/* Set by another thread to stop every racer; may be NULL. */
	const atomic_int	*stop;
};

/* The CPUs this process may run on (its affinity mask), 1 to cap. */
unsigned	hwk_race_width(unsigned cap);
/*
 * Of width racers, as many as the machine has CPUs free for now (the
 * runnable tasks of /proc/loadavg besides this one take the others), 1 at
 * the least: on a busy machine a racer more only takes turns.
 */
unsigned	hwk_race_idle(unsigned width);
/*
 * Runs spec->racers racers and returns when every one has ended: 0 with
 * the first result in *resultp, the others discarded; or, if none
 * succeeded, the error of the first racer (as the same job run alone
 * would have failed).  Stopped through spec->stop: HWK_ERR_CANCELLED.
 */
int	hwk_race_run(const struct hwk_race_spec *spec, void **resultp);
/* Nonzero once another racer has won, or the race was stopped. */
int	hwk_race_lost(const struct hwk_race *race);

#endif /* HWKEY_RACE_H */
