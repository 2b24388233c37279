/*
 * Opening a backend's libraries on its first use, not at program start:
 * the TPM's and the tokens' libraries cost a software key nothing.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "backends.h"

/* One opening at a time: the agent's threads may all come first. */
static pthread_mutex_t lazy_lock = PTHREAD_MUTEX_INITIALIZER;

/* dlerror()'s words, less a leading "soname: " that only repeats it. */
static void
set_why(struct hwk_lazylib *lib, const char *err)
{
	size_t n = strlen(lib->soname);

	if (err == NULL)
		err = "unknown error";
	if (strncmp(err, lib->soname, n) == 0 && strncmp(err + n, ": ", 2) == 0)
		err += n + 2;
	snprintf(lib->why, sizeof(lib->why), "%s", err);
}

/* 1 if lib opens and has every function, else -1; under lazy_lock. */
static int
lazylib_load(struct hwk_lazylib *lib)
{
	const struct hwk_lazysym *s;
	void *h, *fn;

	/*
	 * RTLD_LOCAL: its names stay out of the program's global scope.
	 * Never closed: its functions and memory are in use until exit.
	 */
	if ((h = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		set_why(lib, dlerror());
		return -1;
	}
	for (s = lib->syms; s->name != NULL; s++) {
		(void)dlerror();
		if ((fn = dlsym(h, s->name)) == NULL) {
			set_why(lib, dlerror());	/* an older version */
			return -1;
		}
		/* A function pointer from dlsym(), as POSIX allows. */
		memcpy(s->slot, &fn, sizeof(fn));
	}
	return 1;
}

int
hwk_lazylib_open(struct hwk_lazylib *lib)
{
	int state;

	/* Acquire: a state set means its pointers and words are seen too. */
	state = atomic_load_explicit(&lib->state, memory_order_acquire);
	if (state == 0) {
		pthread_mutex_lock(&lazy_lock);
		state = atomic_load_explicit(&lib->state, memory_order_relaxed);
		if (state == 0) {
			state = lazylib_load(lib);
			atomic_store_explicit(&lib->state, state,
			    memory_order_release);
		}
		pthread_mutex_unlock(&lazy_lock);
	}
	return state > 0 ? HWK_OK : HWK_ERR_NO_DEVICE;
}

int
hwk_lazylib_need(struct hwk_ctx *ctx, struct hwk_lazylib *lib)
{
	int r;

	if ((r = hwk_lazylib_open(lib)) != 0) {
		hwk_ctx_error(ctx, r, "cannot load %s (%s), which the Debian "
		    "package %s provides", lib->soname, lib->why, lib->package);
		hwk_ctx_hint(ctx, "Install it: apt-get install %s.",
		    lib->package);
	}
	return r;
}
