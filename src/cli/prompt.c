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

/* The terminal and the signals as a prompt set them, to be put back. */
struct prompt_state {
	int		 ttyfd;		/* /dev/tty, or -1: stdin */
	int		 outfd;		/* where the prompt goes */
	int		 echo_off;	/* oterm is to be restored */
	struct termios	 oterm;
	struct sigaction saved[NWATCHED];
	sigset_t	 oldmask;
	sigset_t	 waitmask;	/* while waiting for a key */
};

/* Opens the terminal, turns echo off and catches the watched signals. */
static void
prompt_begin(struct prompt_state *st)
{
	struct sigaction sa;
	struct termios term;
	sigset_t block;
	size_t i;

	memset((void *)caught, 0, sizeof(caught));
	st->echo_off = 0;
	/* The terminal if there is one, else stdin with the prompt on stderr. */
	st->ttyfd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	st->outfd = st->ttyfd >= 0 ? st->ttyfd : STDERR_FILENO;

	/* Blocked but while waiting for a key: see next_char. */
	sigemptyset(&block);
	for (i = 0; i < NWATCHED; i++)
		sigaddset(&block, watched[i]);
	sigprocmask(SIG_BLOCK, &block, &st->oldmask);
	st->waitmask = st->oldmask;
	for (i = 0; i < NWATCHED; i++)
		sigdelset(&st->waitmask, watched[i]);
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_signal;	/* no SA_RESTART: read must return */
	for (i = 0; i < NWATCHED; i++)
		sigaction(watched[i], &sa, &st->saved[i]);

	if (st->ttyfd >= 0 && tcgetattr(st->ttyfd, &st->oterm) == 0) {
		term = st->oterm;
		term.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
		st->echo_off = tcsetattr(st->ttyfd, TCSAFLUSH, &term) == 0;
	}
}

/* Puts the terminal and the signals back as they were. */
static void
prompt_end(struct prompt_state *st)
{
	size_t i;

	/* The Enter the terminal did not echo. */
	if (st->echo_off)
		(void)!write(st->outfd, "\n", 1);
	if (st->ttyfd >= 0) {
		if (st->echo_off)
			tcsetattr(st->ttyfd, TCSAFLUSH, &st->oterm);
		close(st->ttyfd);
	}
	for (i = 0; i < NWATCHED; i++)
		sigaction(watched[i], &st->saved[i], NULL);
	/* One that came after the read now meets its usual handling. */
	sigprocmask(SIG_SETMASK, &st->oldmask, NULL);
}

/*
 * Reads the line into buf: HWK_OK, HWK_ERR_CANCELLED at end of input,
 * HWK_ERR_TOO_LARGE, HWK_ERR_SIGNAL with *sigp, or HWK_ERR_SYSTEM.
 */
static int
read_secret_line(const struct prompt_state *st, char *buf, size_t len,
    int *sigp)
{
	size_t i, pos = 0;
	int n, toolong = 0, r;
	char c;

	*sigp = 0;
	for (;;) {
		n = next_char(st->ttyfd, &c, &st->waitmask);
		if (n < 0) {
			if (errno != EINTR) {
				r = HWK_ERR_SYSTEM;
				break;
			}
			for (i = 0; i < NWATCHED; i++)
				if (caught[watched[i]])
					*sigp = watched[i];
			if (*sigp == 0)
				continue;
			r = HWK_ERR_SIGNAL;
			break;
		}
		if (n == 0) {
			r = pos == 0 ? HWK_ERR_CANCELLED : HWK_OK;
			break;
		}
		if (c == '\n' || c == '\r') {
			r = HWK_OK;
			break;
		}
		if (pos < len - 1)
			buf[pos++] = c;
		else
			toolong = 1;
	}
	buf[pos] = '\0';
	c = 0;
	if (r == HWK_OK && toolong)
		r = HWK_ERR_TOO_LARGE;
	return r;
}

int
hwk_prompt_secret(const char *prompt, char *buf, size_t len)
{
	struct prompt_state st;
	int sig, r;

	if (len == 0)
		return HWK_ERR_INVALID_ARG;
	for (;;) {
		buf[0] = '\0';
		prompt_begin(&st);
		/* Nowhere to report a failed write to; the read still decides. */
		(void)!write(st.outfd, prompt, strlen(prompt));
		r = read_secret_line(&st, buf, len, &sig);
		prompt_end(&st);
		/* Input that ended: what is said of it gets a line of its own. */
		if (r == HWK_ERR_CANCELLED && !st.echo_off)
			(void)!write(st.outfd, "\n", 1);
		if (r != HWK_OK)
			explicit_bzero(buf, len);
		if (sig == 0)
			break;
		/* Act on the signal now the terminal is restored. */
		kill(getpid(), sig);
		if (sig != SIGTSTP && sig != SIGTTIN && sig != SIGTTOU)
			break;
		/* Back from a stop: ask again. */
	}
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
