/*
 * Structured output: the same calls give JSON (for --json, for scripts) or
 * indented "key: value" text (for people).  Backends describe themselves
 * through it for --backends.
 */
#ifndef HWKEY_OUT_H
#define HWKEY_OUT_H

#include <stdio.h>

struct hwk_out;

struct hwk_out *hwk_out_new(int json);
void	hwk_out_free(struct hwk_out **op);

/* key is NULL inside arrays. */
void	hwk_out_begin_object(struct hwk_out *o, const char *key);
void	hwk_out_end_object(struct hwk_out *o);
void	hwk_out_begin_array(struct hwk_out *o, const char *key);
void	hwk_out_end_array(struct hwk_out *o);
void	hwk_out_str(struct hwk_out *o, const char *key, const char *v);
void	hwk_out_int(struct hwk_out *o, const char *key, long long v);
void	hwk_out_bool(struct hwk_out *o, const char *key, int v);

/* Writes what was built (with a final newline); nonzero if it failed. */
int	hwk_out_print(struct hwk_out *o, FILE *f);

/*
 * Text from files, tokens or TPMs made safe to show on a terminal, as
 * ssh-keygen shows it: printable characters of the locale's charset stay,
 * every other byte becomes \ooo.  Text mode of hwk_out_str does this itself;
 * every other print of foreign text goes through these.
 */
char   *hwk_out_vis(const char *s);		/* NULL when out of memory */
int	hwk_out_vis_fputs(const char *s, FILE *f);

/* LC_CTYPE from the environment as ssh-keygen takes it; call it first. */
void	hwk_out_setlocale(void);

#endif /* HWKEY_OUT_H */
