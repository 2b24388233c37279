/* The "Generating ... N s" counter shown while a slow device makes a key. */
#ifndef HWKEY_PROGRESS_H
#define HWKEY_PROGRESS_H

#include <pthread.h>
#include <time.h>

struct hwk_progress {
	pthread_t	 thread;
	pthread_mutex_t	 lock;
	pthread_cond_t	 cond;
	int		 done;
	int		 running;
	int		 paused;
	int		 shown;
	struct timespec	 start;
	const char	*backend;
	unsigned	 bits;
};

/* Starts the count on stderr if it is a terminal and not quiet. */
void	hwk_progress_start(struct hwk_progress *p, const char *backend,
	    unsigned bits, int quiet);
/* Ends the count and clears its line; again is harmless. */
void	hwk_progress_stop(struct hwk_progress *p);
/* Around a prompt: no count over it, and a fresh count after it. */
void	hwk_progress_pause(int pause);

#endif /* HWKEY_PROGRESS_H */
