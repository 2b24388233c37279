/* Shared by the parts of the hwkeygen command. */
#ifndef HWKEY_CLI_H
#define HWKEY_CLI_H

#include <stdio.h>

struct hwk_ctx;

#define HWK_VERSION	"0.1.0"

/* Exit codes, documented in hwkeygen(1). */
#define EXIT_OK		0
#define EXIT_FAIL	1	/* the operation failed */
#define EXIT_USAGE	2	/* bad command line */
#define EXIT_CANCEL	3	/* declined at a prompt, or input ended */
#define EXIT_NODEV	4	/* no usable device */
#define EXIT_AUTH	5	/* wrong passphrase or PIN, locked, lockout */
#define EXIT_SIGNAL	130	/* interrupted */

/* The whole hwkeygen command; main() calls it, and so do the unit tests. */
int	hwk_cli_main(int argc, char **argv);
/* The exit code for an error code. */
int	hwk_exit_code(int err);
/* Prints the context's error (or msg if it has none) and its advice. */
void	hwk_report(struct hwk_ctx *ctx, int err, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* The key pairs in dir, one line each or as JSON (hwkeygen --list). */
int	hwk_list_keys(struct hwk_ctx *ctx, const char *dir, int json,
	    FILE *out);
/* The user's home: $HOME, else the password database. */
const char *hwk_home_dir(void);

#endif /* HWKEY_CLI_H */
