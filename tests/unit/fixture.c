/* Reads test fixtures from tests/fixtures, relative to the source tree. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture.h"

char *
fixture_read(const char *name, size_t *lenp)
{
	char path[4096];
	const char *dir = getenv("HWK_FIXTURES");
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/%s",
	    dir != NULL ? dir : "tests/fixtures", name);
	if ((f = fopen(path, "rb")) == NULL)
		fail_msg("cannot open fixture %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	if (lenp != NULL)
		*lenp = (size_t)n;
	return buf;
}

char *
fixture_line(const char *text, int n)
{
	const char *p = text, *nl;

	for (; n > 0; n--) {
		if ((p = strchr(p, '\n')) == NULL)
			return NULL;
		p++;
	}
	if (*p == '\0')
		return NULL;
	nl = strchr(p, '\n');
	return strndup(p, nl != NULL ? (size_t)(nl - p) : strlen(p));
}

char *
fixture_private(const char *name)
{
	const char *tmp = getenv("TMPDIR");
	char *path, *data;
	size_t len;
	int fd;

	data = fixture_read(name, &len);
	assert_true(asprintf(&path, "%s/hwk-fixture.XXXXXX",
	    tmp != NULL ? tmp : "/tmp") > 0);
	/* mkstemp makes it 0600, as a private key file must be. */
	assert_true((fd = mkstemp(path)) >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
	free(data);
	return path;
}
