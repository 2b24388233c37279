/* Shared by the parts of the hwkeygen command. */
#ifndef HWKEY_CLI_H
#define HWKEY_CLI_H

#include <stdio.h>

struct hwk_ctx;

/* The whole hwkeygen command; main() calls it, and so do the unit tests. */
int	hwk_cli_main(int argc, char **argv);
/* Prints the context's error (or msg if it has none) and its advice. */
void	hwk_report(struct hwk_ctx *ctx, int err, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* The key pairs in dir, one line each or as JSON; an hwk_err. */
int	hwk_list_keys(struct hwk_ctx *ctx, const char *dir, int json,
	    FILE *out);
/* hwkeygen --list: the key pairs in ~/.ssh. */
int	hwk_cli_list(struct hwk_ctx *ctx, int json);

#endif /* HWKEY_CLI_H */
