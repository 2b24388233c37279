/* A key generated in the background while the questions are asked. */
#ifndef HWKEY_EARLY_H
#define HWKEY_EARLY_H

struct hwk_backend;
struct hwk_ctx;
struct hwk_early;
struct hwk_genparams;
struct hwk_key;

/*
 * Starts making gp's key with b in a thread if b needs nothing the
 * questions give (HWK_BF_EARLY); else, or if it cannot, *ep stays NULL
 * and the key is made when needed, as before.
 */
void	hwk_early_start(const struct hwk_backend *b,
	    const struct hwk_genparams *gp, struct hwk_early **ep);
/*
 * Waits for the key, with the seconds counter if the wait is long; its
 * error, if any, with generate's words recorded in ctx.  Frees *ep.
 */
int	hwk_early_finish(struct hwk_early **ep, struct hwk_ctx *ctx, int quiet,
	    struct hwk_key **keyp);
/* Stops the generation, waits for its thread, wipes any key; NULLs *ep. */
void	hwk_early_cancel(struct hwk_early **ep);

#endif /* HWKEY_EARLY_H */
