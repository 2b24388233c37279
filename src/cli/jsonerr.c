/*
 * --json on failure: the messages a person reads on stderr, also as one
 * JSON object on stdout, so that a script gets {"error": ...} rather than
 * nothing.  While --json may be in effect, stderr is a stream that writes
 * through to descriptor 2 and keeps a copy; the lines that start with
 * "hwkeygen: " become the object.  Nothing secret is ever written to
 * stderr, so the copy holds no secret either.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hwkey/buf.h"
#include "hwkey/error.h"
#include "hwkey/out.h"
#include "cli.h"

#define KEEP_MAX	(64 * 1024)	/* more is a flood, not a message */
#define PREFIX		"hwkeygen: "

static FILE *real_stderr;
static FILE *tee;
static struct hwk_buf *kept;

static ssize_t
tee_write(void *cookie, const char *data, size_t len)
{
	size_t off = 0;
	ssize_t n;

	(void)cookie;
	if (kept != NULL && hwk_buf_len(kept) + len <= KEEP_MAX)
		(void)hwk_buf_put(kept, data, len);
	while (off < len) {
		if ((n = write(STDERR_FILENO, data + off, len - off)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		off += (size_t)n;
	}
	return (ssize_t)len;
}

/*
 * Whether the command line asks for --json: getopt_long takes any
 * unambiguous start of it ("--js"), and nothing after "--".
 */
int
hwk_cli_json_wanted(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strlen(argv[i]) >= 3 && strncmp(argv[i], "--json",
		    strlen(argv[i])) == 0)
			return 1;
	}
	return 0;
}

void
hwk_cli_json_errors_begin(void)
{
	cookie_io_functions_t io = { .write = tee_write };
	FILE *f;

	if (real_stderr != NULL || (kept = hwk_buf_new()) == NULL)
		return;
	if ((f = fopencookie(NULL, "w", io)) == NULL) {
		hwk_buf_free(&kept);
		return;
	}
	setvbuf(f, NULL, _IONBF, 0);	/* in order with what goes to fd 2 */
	fflush(stderr);
	real_stderr = stderr;
	stderr = tee = f;
}

/* The object for a failure r, from the lines kept; then stderr as it was. */
int
hwk_cli_json_errors_end(int r, int json)
{
	struct hwk_out *o = NULL;
	char *text = NULL, *line, *save = NULL;
	int first = 1, pr = HWK_OK;

	if (real_stderr == NULL)
		return HWK_OK;
	/*
	 * The stream stays open: a module started meanwhile may keep it as
	 * its log (OpenSC does, and closes it when it finalizes at exit).
	 * Writes to it still reach descriptor 2; only the copy stops.
	 */
	stderr = real_stderr;
	real_stderr = NULL;
	if (r == HWK_OK || !json)
		goto out;
	if ((text = hwk_buf_dup_string(kept)) == NULL ||
	    (o = hwk_out_new(1)) == NULL) {
		pr = HWK_ERR_NOMEM;
		goto out;
	}
	hwk_out_begin_object(o, NULL);
	hwk_out_begin_object(o, "error");
	hwk_out_int(o, "exit", hwk_exit_code(r));
	hwk_out_str(o, "code", hwk_strerror(r));
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, PREFIX, strlen(PREFIX)) != 0)
			continue;
		if (first) {
			hwk_out_str(o, "message", line + strlen(PREFIX));
			hwk_out_begin_array(o, "more");
			first = 0;
		} else
			hwk_out_str(o, NULL, line + strlen(PREFIX));
	}
	if (first)
		hwk_out_str(o, "message", hwk_strerror(r));
	else
		hwk_out_end_array(o);
	hwk_out_end_object(o);
	hwk_out_end_object(o);
	pr = hwk_out_print(o, stdout);
 out:
	hwk_out_free(&o);
	free(text);
	hwk_buf_free(&kept);
	return pr;
}
