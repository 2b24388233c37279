/* Reading the committed fixtures of tests/fixtures (see make-fixtures.sh). */
#ifndef HWKEY_TEST_FIXTURE_H
#define HWKEY_TEST_FIXTURE_H

#include <stddef.h>

/* The whole of tests/fixtures/name, NUL-terminated; fails the test if absent. */
char	*fixture_read(const char *name, size_t *lenp);
/* A copy of a private key fixture, mode 0600, in TMPDIR; unlink and free. */
char	*fixture_private(const char *name);
/* Line n (from 0) of text, without its newline, or NULL. */
char	*fixture_line(const char *text, int n);

#endif /* HWKEY_TEST_FIXTURE_H */
