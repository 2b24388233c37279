/* Where hwkey-agent lives: socket, pid file, background, -k (daemon.c). */
#ifndef HWKEY_AGENT_DAEMON_H
#define HWKEY_AGENT_DAEMON_H

#include <limits.h>

struct hwk_daemon {
	char	 sock[PATH_MAX];	/* "" until -a or the default */
	char	 dir[PATH_MAX];		/* the default socket's folder */
	char	 pidfile[PATH_MAX + 8];	/* SOCKET.pid */
	int	 lfd;			/* the listening socket, or -1 */
	int	 pidfd;			/* the pid file, or -1 */
	int	 made_dir;		/* ours to remove at the end */
	int	 made_pid;
	int	 activated;		/* lfd came from the service manager */
};

void	hwk_daemon_init(struct hwk_daemon *d);
/* -a: made absolute now, as the agent leaves its folder for "/". */
int	hwk_daemon_set_socket(struct hwk_daemon *d, const char *path);
/*
 * A listening socket passed by systemd (activate.c): taken as lfd, and
 * the socket file is then the service manager's.
 */
int	hwk_daemon_inherit(struct hwk_daemon *d);
/*
 * The socket (the default one if none was set) and its pid file; or the
 * inherited socket, with neither file made.
 */
int	hwk_daemon_listen(struct hwk_daemon *d);
/*
 * Writes the pid file and prints the shell lines; unless foreground, forks
 * first and *parentp says which side returned (the parent's work is done).
 */
int	hwk_daemon_start(struct hwk_daemon *d, int foreground, int csh,
	    int *parentp);
/* Closes and removes what this process made. */
void	hwk_daemon_end(struct hwk_daemon *d);
/* hwkey-agent -k: stops the agent of sock's pid file or SSH_AGENT_PID. */
int	hwk_daemon_kill(int csh, const char *sock);

#endif /* HWKEY_AGENT_DAEMON_H */
