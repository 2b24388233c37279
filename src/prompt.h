/* Talking to the user at a terminal: line prompts, secrets without echo. */
#ifndef HWKEY_PROMPT_H
#define HWKEY_PROMPT_H

#include <stddef.h>

/*
 * Room for a secret with its NUL: -N, -P, the prompts and PIN files all
 * take at most HWK_SECRET_MAX - 1 characters, so what one accepts the
 * others read back.
 */
#define HWK_SECRET_MAX	1024

/*
 * Reads one line without echo from the controlling terminal, or from
 * standard input when there is none (as ssh-keygen does).  HWK_ERR_CANCELLED
 * at end of input; HWK_ERR_TOO_LARGE if the line does not fit.
 */
int	hwk_prompt_secret(const char *prompt, char *buf, size_t len);
/* Prints prompt on stdout and reads a line from stdin, without its newline. */
int	hwk_prompt_line(const char *prompt, char *buf, size_t len);
struct hwk_ctx;

/*
 * Reads the first line of an RFC 7512 pin-source ("file:PATH"): a regular
 * file that only its owner can read or write.  On failure the context says
 * why, naming whose secret (a "PIN", an "SO PIN") could not be read.
 */
int	hwk_pin_source_read(struct hwk_ctx *ctx, const char *source,
	    const char *whose, char *buf, size_t len);

#endif /* HWKEY_PROMPT_H */
