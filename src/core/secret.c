/* Secrets read from files: PIN files named by an RFC 7512 pin-source. */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "hwkey/keyfile.h"
#include "hwkey/secret.h"

int
hwk_pin_source_read(struct hwk_ctx *ctx, const char *source,
    const char *whose, char *buf, size_t len)
{
	const char *path;
	char why[512];
	struct stat st;
	FILE *f = NULL;
	size_t n;
	int fd = -1, open_to_others = 0, r;

	why[0] = '\0';
	if (len == 0)
		return HWK_ERR_INVALID_ARG;
	buf[0] = '\0';
	if (strncmp(source, "file:", 5) != 0)
		return hwk_ctx_error(ctx, HWK_ERR_UNSUPPORTED, "cannot read "
		    "the %s from %s: only file: sources are supported", whose,
		    source);
	path = source + 5;
	/* A FIFO or a device here would hang us, or feed us anything. */
	if ((r = hwk_file_open(ctx, path, &fd, &st)) != 0) {
		snprintf(why, sizeof(why), "%s", hwk_ctx_detail(ctx));
		goto out;
	}
	/* As ssh refuses a private key others can read. */
	if ((st.st_mode & (S_IRGRP | S_IWGRP | S_IROTH | S_IWOTH)) != 0) {
		r = HWK_ERR_SYSTEM;
		open_to_others = 1;
		snprintf(why, sizeof(why), "permissions 0%03o are too open: "
		    "others than you can read or change it",
		    (unsigned)st.st_mode & 0777);
		goto out;
	}
	if ((f = fdopen(fd, "r")) == NULL) {
		r = HWK_ERR_SYSTEM;
		snprintf(why, sizeof(why), "%s", strerror(errno));
		goto out;
	}
	fd = -1;	/* owned by f */
	setvbuf(f, NULL, _IONBF, 0);	/* no copy of the PIN in a buffer */
	if (fgets(buf, (int)len, f) == NULL) {
		r = ferror(f) ? HWK_ERR_SYSTEM : HWK_ERR_FORMAT;
		snprintf(why, sizeof(why), "%s", r == HWK_ERR_SYSTEM ?
		    strerror(errno) : "the file is empty");
		goto out;
	}
	n = strcspn(buf, "\r\n");
	if (buf[n] == '\0' && n == len - 1) {
		r = HWK_ERR_TOO_LARGE;
		snprintf(why, sizeof(why), "the first line is longer than "
		    "%zu bytes", len - 1);
		goto out;
	}
	buf[n] = '\0';
	r = HWK_OK;
 out:
	if (f != NULL)
		fclose(f);
	if (fd >= 0)
		close(fd);
	if (r != HWK_OK) {
		explicit_bzero(buf, len);
		hwk_ctx_error(ctx, r, "cannot read the %s from %s: %s", whose,
		    source, why);
		if (open_to_others)
			hwk_ctx_hint(ctx, "Make the file yours alone: chmod "
			    "600 %s", path);
	}
	return r;
}
