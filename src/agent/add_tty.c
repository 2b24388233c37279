/*
 * hwkey-agent add on a terminal: which stubs need a secret (a TPM
 * password, a token PIN), and asking for it on /dev/tty with echo off,
 * with a prompt that names the key.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "hwkey/backend.h"
#include "hwkey/buf.h"
#include "hwkey/error.h"
#include "hwkey/out.h"
#include "hwkey/secret.h"
#include "hwkey/sshkey.h"
#include "hwkey/stubfile.h"
#include "agent.h"

#define PROMPT_MAX	1024

static volatile sig_atomic_t interrupted;

static void
on_signal(int sig)
{
	interrupted = sig;
}

/* The token= of a pkcs11: URI, as written (escaped for the terminal). */
static char *
token_name(const struct hwk_stubfile *sf)
{
	const char *s = (const char *)hwk_buf_ptr(sf->data);
	size_t len = hwk_buf_len(sf->data), i, n;
	char *raw, *vis;

	for (i = 0; i + 7 <= len; i++)
		if ((s[i] == ':' || s[i] == ';') &&
		    memcmp(s + i + 1, "token=", 6) == 0)
			break;
	if (i + 7 > len)
		return NULL;
	s += i + 7;
	len -= i + 7;
	for (n = 0; n < len && strchr(";?\r\n", s[n]) == NULL && s[n] != '\0';
	    n++)
		;
	if ((raw = strndup(s, n)) == NULL)
		return NULL;
	vis = hwk_out_vis(raw);
	free(raw);
	return vis;
}

/* "TPM password for KEY (SHA256:...)": what the prompt asks for. */
static int
describe(const struct hwk_stubfile *sf, char *buf, size_t len)
{
	const struct hwk_pubkey *pub = sf->pubfile != NULL ? sf->pubfile :
	    sf->info.pub;
	const char *what = sf->info.protection;
	char fp[HWK_FP_LEN], *tok = NULL, *comment = NULL;

	if (pub == NULL || hwk_fingerprint(pub->blob, pub->bloblen, fp,
	    NULL) != 0)
		snprintf(fp, sizeof(fp), "SHA256:?");
	if (pub != NULL && pub->comment != NULL && *pub->comment != '\0')
		comment = hwk_out_vis(pub->comment);
	if (strcmp(what, "token PIN") == 0 && (tok = token_name(sf)) != NULL)
		snprintf(buf, len, "PIN of token \"%s\" for %s (%s)", tok,
		    comment != NULL ? comment : sf->path, fp);
	else
		snprintf(buf, len, "%s for %s (%s)", what, comment != NULL ?
		    comment : sf->path, fp);
	free(tok);
	free(comment);
	return HWK_OK;
}

/* One line from the terminal with echo off; -1 if cut short. */
static int
read_tty(int fd, const char *prompt, char *buf, size_t len)
{
	struct sigaction sa, old[3];
	static const int sigs[3] = { SIGINT, SIGTERM, SIGQUIT };
	struct termios t, saved;
	size_t pos = 0;
	ssize_t n;
	char c;
	int i, echo_off = 0, r = -1;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;	/* no SA_RESTART: read() returns */
	for (i = 0; i < 3; i++)
		sigaction(sigs[i], &sa, &old[i]);
	if (tcgetattr(fd, &saved) == 0) {
		t = saved;
		t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
		echo_off = tcsetattr(fd, TCSAFLUSH, &t) == 0;
	}
	if (write(fd, prompt, strlen(prompt)) < 0)
		goto out;
	while (!interrupted) {
		if ((n = read(fd, &c, 1)) < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto out;
		if (c == '\n' || c == '\r')
			break;
		if (pos + 1 >= len)
			goto out;	/* never send a cut secret: it costs a try */
		buf[pos++] = c;
	}
	if (!interrupted)
		r = 0;
 out:
	c = 0;
	buf[r == 0 ? pos : 0] = '\0';
	if (r != 0)
		explicit_bzero(buf, len);
	if (echo_off)
		tcsetattr(fd, TCSAFLUSH, &saved);
	if (write(fd, "\n", 1) < 0)
		r = -1;
	for (i = 0; i < 3; i++)
		sigaction(sigs[i], &old[i], NULL);
	if (interrupted)
		raise(interrupted);
	return r;
}

int
hwk_add_ask_secret(const char *path, char **secretp, int *no_ttyp)
{
	struct hwk_stubfile *sf = NULL;
	char prompt[PROMPT_MAX], what[PROMPT_MAX - 32], *s = NULL;
	int fd = -1, r = HWK_OK;

	*secretp = NULL;
	/* What does not read is the agent's to refuse, with its reasons. */
	if (hwk_stubfile_read(NULL, path, &sf) != 0 || sf->backend == NULL ||
	    sf->info_rc != 0 || sf->info.protection == NULL ||
	    strcmp(sf->info.protection, "none") == 0)
		goto out;
	if ((fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) {
		*no_ttyp = 1;
		goto out;
	}
	describe(sf, what, sizeof(what));
	snprintf(prompt, sizeof(prompt), "Enter %s: ", what);
	if ((s = calloc(1, HWK_SECRET_MAX)) == NULL) {
		r = HWK_ERR_NOMEM;
		goto out;
	}
	if (read_tty(fd, prompt, s, HWK_SECRET_MAX) != 0) {
		fprintf(stderr, "hwkey-agent: no %s read (at most %d "
		    "characters)\n", sf->info.protection, HWK_SECRET_MAX - 1);
		r = HWK_ERR_CANCELLED;
		goto out;
	}
	if (*s == '\0')		/* Enter alone: the agent asks when it signs */
		goto out;
	*secretp = s;
	s = NULL;
 out:
	if (s != NULL)
		hwk_freezero(s, HWK_SECRET_MAX);
	if (fd >= 0)
		close(fd);
	hwk_stubfile_free(&sf);
	return r;
}
