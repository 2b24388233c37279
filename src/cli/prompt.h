/* Talking to the user at a terminal: line prompts, secrets without echo. */
#ifndef HWKEY_PROMPT_H
#define HWKEY_PROMPT_H

#include <stddef.h>

#include "hwkey/secret.h"

/*
 * Reads one line without echo from the controlling terminal, or from
 * standard input when there is none (as ssh-keygen does).  HWK_ERR_CANCELLED
 * at end of input; HWK_ERR_TOO_LARGE if the line does not fit.
 */
int	hwk_prompt_secret(const char *prompt, char *buf, size_t len);
/* Prints prompt on stdout and reads a line from stdin, without its newline. */
int	hwk_prompt_line(const char *prompt, char *buf, size_t len);

#endif /* HWKEY_PROMPT_H */
