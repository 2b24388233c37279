/*
 * Socket activation: the listening socket systemd passes (LISTEN_PID,
 * LISTEN_FDS, fd 3 on; the sd_listen_fds(3) protocol, a few lines rather
 * than a library), which the agent then serves but never unlinks.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hwkey/error.h"
#include "daemon.h"

#define LISTEN_FDS_START 3	/* SD_LISTEN_FDS_START */

/* A decimal number of the whole string, or -1. */
static long
env_number(const char *s)
{
	char *end;
	long v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	return errno != 0 || *end != '\0' ? -1 : v;
}

/* The fd must be a listening UNIX stream socket: anything else is a mistake. */
static int
check_socket(int fd, char *path, size_t len)
{
	struct sockaddr_un sun;
	socklen_t sl = sizeof(sun);
	int type = 0, acc = 0;
	socklen_t il = sizeof(int);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &il) != 0 ||
	    type != SOCK_STREAM ||
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &il) != 0 ||
	    !acc || getsockname(fd, (struct sockaddr *)&sun, &sl) != 0 ||
	    sun.sun_family != AF_UNIX) {
		fprintf(stderr, "hwkey-agent: the socket passed by the service "
		    "manager (fd %d) is not a listening UNIX stream socket\n",
		    fd);
		return -1;
	}
	/* Its name, for the log and SSH_AUTH_SOCK (abstract: none). */
	if (sl > offsetof(struct sockaddr_un, sun_path) &&
	    sun.sun_path[0] != '\0')
		snprintf(path, len, "%.*s", (int)(sl -
		    offsetof(struct sockaddr_un, sun_path)), sun.sun_path);
	return 0;
}

int
hwk_daemon_inherit(struct hwk_daemon *d)
{
	long pid = env_number(getenv("LISTEN_PID"));
	long n = env_number(getenv("LISTEN_FDS"));
	int fd = LISTEN_FDS_START, flags;

	/* Meant for us or not, they must not reach what we start. */
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (pid != (long)getpid() || n <= 0)
		return HWK_OK;
	if (n != 1) {
		fprintf(stderr, "hwkey-agent: the service manager passed %ld "
		    "sockets; give the socket unit one ListenStream\n", n);
		return HWK_ERR_USAGE;
	}
	if (check_socket(fd, d->sock, sizeof(d->sock)) != 0)
		return HWK_ERR_USAGE;
	if ((flags = fcntl(fd, F_GETFL)) < 0 ||
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
		fprintf(stderr, "hwkey-agent: fd %d: %s\n", fd, strerror(errno));
		return HWK_ERR_SYSTEM;
	}
	d->lfd = fd;
	d->activated = 1;
	return HWK_OK;
}
