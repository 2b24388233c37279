/* Prompts for lines and secrets (prompt.h). */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "hwkey/keyfile.h"
#include "prompt.h"

static volatile sig_atomic_t caught[NSIG];

static void
on_signal(int sig)
{
	caught[sig] = 1;
}

static const int watched[] = {
	SIGALRM, SIGHUP, SIGINT, SIGPIPE, SIGQUIT, SIGTERM, SIGTSTP, SIGTTIN,
	SIGTTOU,
};
#define NWATCHED (sizeof(watched) / sizeof(watched[0]))

/*
 * Reads one character: from the tty fd, or through stdio from stdin.  The
 * watched signals are blocked except inside ppoll (and getc), so one that
 * comes before the read cannot be lost: ppoll returns EINTR for it.  The
 * timeout catches one that another thread of a loaded module took.
 */
static int
next_char(int fd, char *c, const sigset_t *waitmask)
{
	struct timespec tick = { 0, 250 * 1000 * 1000 };
	struct pollfd pfd;
	sigset_t blocked;
	ssize_t n;
	size_t i;
	int ch;

	for (i = 0; i < NWATCHED; i++)
		if (caught[watched[i]]) {
			errno = EINTR;
			return -1;
		}
	if (fd < 0) {
		clearerr(stdin);
		sigprocmask(SIG_SETMASK, waitmask, &blocked);
		ch = getc(stdin);
		sigprocmask(SIG_SETMASK, &blocked, NULL);
		if (ch == EOF)
			return ferror(stdin) && errno == EINTR ? -1 : 0;
		*c = (char)ch;
		return 1;
	}
	pfd.fd = fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	if ((n = ppoll(&pfd, 1, &tick, waitmask)) <= 0) {
		if (n == 0)
			errno = EINTR;	/* look at caught[] again */
		return -1;
	}
	n = read(fd, c, 1);
	return n < 0 ? -1 : (int)n;
}

/* Long: what it does to the terminal and the signals it undoes in one frame. */
int
hwk_prompt_secret(const char *prompt, char *buf, size_t len)
{
	struct sigaction sa, saved[NWATCHED];
	sigset_t block, oldmask, waitmask;
	struct termios term, oterm;
	int ttyfd, outfd, echo_off = 0, got_sig = 0, eof = 0, toolong = 0;
	size_t i, pos;
	int n, r;
	char c;

	if (len == 0)
		return HWK_ERR_INVALID_ARG;
 restart:
	buf[0] = '\0';
	pos = 0;
	eof = toolong = 0;
	memset((void *)caught, 0, sizeof(caught));
	/* The terminal if there is one, else stdin with the prompt on stderr. */
	ttyfd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	outfd = ttyfd >= 0 ? ttyfd : STDERR_FILENO;

	/* Blocked but while waiting for a key: see next_char. */
	sigemptyset(&block);
	for (i = 0; i < NWATCHED; i++)
		sigaddset(&block, watched[i]);
	sigprocmask(SIG_BLOCK, &block, &oldmask);
	waitmask = oldmask;
	for (i = 0; i < NWATCHED; i++)
		sigdelset(&waitmask, watched[i]);
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_signal;	/* no SA_RESTART: read must return */
	for (i = 0; i < NWATCHED; i++)
		sigaction(watched[i], &sa, &saved[i]);

	if (ttyfd >= 0 && tcgetattr(ttyfd, &oterm) == 0) {
		term = oterm;
		term.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
		echo_off = tcsetattr(ttyfd, TCSAFLUSH, &term) == 0;
	}
	/* Nowhere to report a failed write to; the read still decides. */
	(void)!write(outfd, prompt, strlen(prompt));
	for (;;) {
		n = next_char(ttyfd, &c, &waitmask);
		if (n < 0) {
			if (errno != EINTR)
				break;
			for (i = 0; i < NWATCHED; i++)
				if (caught[watched[i]])
					got_sig = watched[i];
			if (got_sig != 0)
				break;
			continue;
		}
		if (n == 0) {
			eof = pos == 0;
			break;
		}
		if (c == '\n' || c == '\r')
			break;
		if (pos < len - 1)
			buf[pos++] = c;
		else
			toolong = 1;
	}
	buf[pos] = '\0';
	c = 0;
	/* The Enter the terminal did not echo. */
	if (echo_off)
		(void)!write(outfd, "\n", 1);
	if (ttyfd >= 0) {
		if (echo_off)
			tcsetattr(ttyfd, TCSAFLUSH, &oterm);
		close(ttyfd);
	}
	for (i = 0; i < NWATCHED; i++)
		sigaction(watched[i], &saved[i], NULL);
	/* One that came after the loop now meets its usual handling. */
	sigprocmask(SIG_SETMASK, &oldmask, NULL);

	if (got_sig != 0) {
		explicit_bzero(buf, len);
		/* Act on the signal now the terminal is restored. */
		kill(getpid(), got_sig);
		if (got_sig == SIGTSTP || got_sig == SIGTTIN ||
		    got_sig == SIGTTOU) {
			got_sig = 0;
			goto restart;
		}
		return HWK_ERR_SIGNAL;
	}
	if (eof)
		r = HWK_ERR_CANCELLED;
	else if (toolong)
		r = HWK_ERR_TOO_LARGE;
	else
		r = HWK_OK;
	if (r != HWK_OK)
		explicit_bzero(buf, len);
	return r;
}

int
hwk_prompt_line(const char *prompt, char *buf, size_t len)
{
	size_t n;

	if (len == 0)
		return HWK_ERR_INVALID_ARG;
	buf[0] = '\0';
	fputs(prompt, stdout);
	fflush(stdout);
	if (fgets(buf, (int)len, stdin) == NULL) {
		buf[0] = '\0';
		return HWK_ERR_CANCELLED;
	}
	n = strcspn(buf, "\r\n");
	if (buf[n] == '\0' && n == len - 1 && !feof(stdin))
		return HWK_ERR_TOO_LARGE;
	buf[n] = '\0';
	return HWK_OK;
}
