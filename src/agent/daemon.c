/*
 * Where hwkey-agent lives: its socket (only a stale one is ever replaced),
 * the pid file beside it, going to the background, and -k, which stops
 * only a hwkey-agent of the same user.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hwkey/error.h"
#include "daemon.h"

/* The default socket: a 0700 folder of ours in the runtime directory. */
static int
default_socket(char *path, size_t len, char *dir, size_t dirlen)
{
	const char *rt = getenv("XDG_RUNTIME_DIR");

	if (rt != NULL && *rt == '/') {
		snprintf(dir, dirlen, "%s/hwkey-agent", rt);
		if (mkdir(dir, 0700) != 0 && errno != EEXIST)
			return -1;
	} else {
		snprintf(dir, dirlen, "/tmp/hwkey-agent-XXXXXX");
		if (mkdtemp(dir) == NULL)
			return -1;
	}
	if (snprintf(path, len, "%s/socket", dir) >= (int)len)
		return -1;
	return 0;
}

/* The socket's folder must be ours alone, or the socket is not private. */
static int
check_dir(const char *sock)
{
	char dir[PATH_MAX], *slash;
	struct stat st;

	snprintf(dir, sizeof(dir), "%s", sock);
	if ((slash = strrchr(dir, '/')) == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if (lstat(dir, &st) != 0) {
		fprintf(stderr, "hwkey-agent: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode) || st.st_uid != getuid() ||
	    (st.st_mode & 077) != 0) {
		fprintf(stderr, "hwkey-agent: %s must be a directory of yours "
		    "with mode 0700 (chmod 700 %s), or others could reach the "
		    "socket\n", dir, dir);
		return -1;
	}
	return 0;
}

static int
listen_on(const char *path)
{
	struct sockaddr_un sun;
	struct stat st;
	mode_t old;
	int fd, live;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "hwkey-agent: socket path too long: %s\n", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) < 0) {
		fprintf(stderr, "hwkey-agent: socket: %s\n", strerror(errno));
		return -1;
	}
	/*
	 * Only a socket left by an agent that died (nobody listens: refused)
	 * may go; a live one, or anything that is not a socket, is not ours.
	 */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			fprintf(stderr, "hwkey-agent: %s exists and is not a "
			    "socket; it was left alone: remove it or give "
			    "another -a\n", path);
			close(fd);
			return -1;
		}
		live = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
		if (live || errno != ECONNREFUSED) {
			if (live || errno == EAGAIN)
				fprintf(stderr, "hwkey-agent: an agent is "
				    "already listening on %s\n", path);
			else
				fprintf(stderr, "hwkey-agent: %s: %s\n", path,
				    strerror(errno));
			close(fd);
			return -1;
		}
		if (unlink(path) != 0) {
			fprintf(stderr, "hwkey-agent: cannot remove the stale "
			    "socket %s: %s\n", path, strerror(errno));
			close(fd);
			return -1;
		}
	} else if (errno != ENOENT) {
		fprintf(stderr, "hwkey-agent: %s: %s\n", path, strerror(errno));
		close(fd);
		return -1;
	}
	old = umask(0177);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    listen(fd, 128) != 0) {
		umask(old);
		fprintf(stderr, "hwkey-agent: %s: %s\n", path, strerror(errno));
		close(fd);
		return -1;
	}
	umask(old);
	chmod(path, 0600);
	return fd;
}

static void
print_env(int csh, const char *sock, pid_t pid)
{
	if (csh) {
		printf("setenv SSH_AUTH_SOCK %s;\n", sock);
		printf("setenv SSH_AGENT_PID %d;\n", (int)pid);
	} else {
		printf("SSH_AUTH_SOCK=%s; export SSH_AUTH_SOCK;\n", sock);
		printf("SSH_AGENT_PID=%d; export SSH_AGENT_PID;\n", (int)pid);
	}
	printf("echo Agent pid %d;\n", (int)pid);
	fflush(stdout);
}

/* A pid as SSH_AGENT_PID or a pid file holds it: digits only, above 1. */
static pid_t
parse_pid(const char *s)
{
	char *end;
	long v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || (*end != '\0' && strcmp(end, "\n") != 0) ||
	    v <= 1 || v > INT_MAX)
		return -1;
	return (pid_t)v;
}

/* The pid in a pid file, which must be a small regular file. */
static pid_t
read_pidfile(const char *path)
{
	char buf[32];
	struct stat st;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC)) < 0)
		return -1;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (n = read(fd, buf, sizeof(buf) - 1)) < 0) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	close(fd);
	buf[n] = '\0';
	errno = EINVAL;
	return parse_pid(buf);
}

/*
 * Whether pid is a hwkey-agent of our own user (by /proc/PID/status, which
 * a non-dumpable agent still shows to its user); else its name, printable.
 */
static int
is_our_agent(pid_t pid, char *name, size_t len)
{
	char path[64], line[256];
	long uid = -1;
	size_t i;
	FILE *f;

	snprintf(name, len, "no process");
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "Name:\t", 6) == 0)
			snprintf(name, len, "%.60s", line + 6);
		else if (strncmp(line, "Uid:\t", 5) == 0)
			uid = strtol(line + 5, NULL, 10);
	}
	fclose(f);
	for (i = 0; name[i] != '\0'; i++)
		if ((unsigned char)name[i] < ' ' || name[i] == 0x7f)
			name[i] = '?';
	return strcmp(name, "hwkey-agent") == 0 && uid == (long)getuid() &&
	    pid != getpid();
}

/*
 * Stops the agent of -a's pid file, else of SSH_AGENT_PID, but only a
 * hwkey-agent of ours: a stale or mistyped pid must not kill another
 * program.
 */
int
hwk_daemon_kill(int csh, const char *sock)
{
	char pidfile[PATH_MAX + 8], name[64];
	pid_t pid;

	if (sock != NULL) {
		snprintf(pidfile, sizeof(pidfile), "%s.pid", sock);
		if ((pid = read_pidfile(pidfile)) < 0) {
			fprintf(stderr, "hwkey-agent: no agent to stop: %s: %s"
			    "\n", pidfile, errno == EINVAL ? "not a pid file "
			    "of hwkey-agent" : strerror(errno));
			return HWK_ERR_NOT_FOUND;
		}
	} else if (getenv("SSH_AGENT_PID") == NULL ||
	    *getenv("SSH_AGENT_PID") == '\0') {
		/* The agent of the default socket, as the service runs it. */
		const char *rt = getenv("XDG_RUNTIME_DIR");

		if (rt == NULL || *rt != '/' || snprintf(pidfile,
		    sizeof(pidfile), "%s/hwkey-agent/socket.pid", rt) >=
		    (int)sizeof(pidfile) || (pid = read_pidfile(pidfile)) < 0) {
			fprintf(stderr, "hwkey-agent: no agent to stop: "
			    "SSH_AGENT_PID is not set and no agent runs at the "
			    "default socket (give -a SOCKET)\n");
			return HWK_ERR_NOT_FOUND;
		}
	} else if ((pid = parse_pid(getenv("SSH_AGENT_PID"))) < 0) {
		fprintf(stderr, "hwkey-agent: SSH_AGENT_PID is not the pid of "
		    "an agent (a number above 1); nothing stopped\n");
		return HWK_ERR_NOT_FOUND;
	}
	if (!is_our_agent(pid, name, sizeof(name))) {
		fprintf(stderr, "hwkey-agent: pid %d is not a hwkey-agent of "
		    "yours (%s); nothing stopped\n", (int)pid, name);
		return HWK_ERR_NOT_FOUND;
	}
	if (kill(pid, SIGTERM) != 0) {
		fprintf(stderr, "hwkey-agent: cannot stop pid %d: %s\n",
		    (int)pid, strerror(errno));
		return HWK_ERR_SYSTEM;
	}
	if (csh)
		printf("unsetenv SSH_AUTH_SOCK;\nunsetenv SSH_AGENT_PID;\n");
	else
		printf("unset SSH_AUTH_SOCK;\nunset SSH_AGENT_PID;\n");
	printf("echo Agent pid %d killed;\n", (int)pid);
	return HWK_OK;
}

/*
 * Makes the pid file beside the socket.  The socket is ours by now, so a
 * pid file there is left by an agent that died and is replaced; anything
 * else is the user's and left alone.
 */
static int
open_pidfile(const char *path)
{
	int fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) >= 0 || errno != EEXIST)
		goto out;
	if (read_pidfile(path) < 0) {
		fprintf(stderr, "hwkey-agent: %s exists and is not a pid file; "
		    "it was left alone: remove it or give another -a\n", path);
		return -1;
	}
	if (unlink(path) == 0)
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
 out:
	if (fd < 0)
		fprintf(stderr, "hwkey-agent: %s: %s\n", path, strerror(errno));
	return fd;
}

static int
write_pid(int fd, pid_t pid)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%d\n", (int)pid);

	return write(fd, buf, (size_t)n) == n ? 0 : -1;
}

/* -a relative to where we started still names it after chdir("/"). */
static int
absolute_socket(char *sock, size_t len)
{
	char cwd[PATH_MAX], abs[PATH_MAX];

	if (sock[0] == '\0' || sock[0] == '/')
		return 0;
	if (getcwd(cwd, sizeof(cwd)) == NULL || snprintf(abs, sizeof(abs),
	    "%s/%s", cwd, sock) >= (int)sizeof(abs) || strlen(abs) >= len) {
		fprintf(stderr, "hwkey-agent: cannot tell where %s is; give "
		    "-a an absolute path\n", sock);
		return -1;
	}
	memcpy(sock, abs, strlen(abs) + 1);
	return 0;
}

void
hwk_daemon_init(struct hwk_daemon *d)
{
	memset(d, 0, sizeof(*d));
	d->lfd = d->pidfd = -1;
}

int
hwk_daemon_set_socket(struct hwk_daemon *d, const char *path)
{
	if (snprintf(d->sock, sizeof(d->sock), "%s", path) >=
	    (int)sizeof(d->sock)) {
		fprintf(stderr, "hwkey-agent: socket path too long: %s\n",
		    path);
		return HWK_ERR_INVALID_ARG;
	}
	return absolute_socket(d->sock, sizeof(d->sock)) == 0 ? HWK_OK :
	    HWK_ERR_INVALID_ARG;
}

int
hwk_daemon_listen(struct hwk_daemon *d)
{
	int r;

	if ((r = hwk_daemon_inherit(d)) != 0 || d->activated)
		return r;
	if (d->sock[0] == '\0') {
		if (default_socket(d->sock, sizeof(d->sock), d->dir,
		    sizeof(d->dir)) != 0) {
			fprintf(stderr, "hwkey-agent: cannot make a folder for "
			    "the socket: %s\n", strerror(errno));
			return HWK_ERR_SYSTEM;
		}
		d->made_dir = 1;
	}
	if (check_dir(d->sock) != 0 || (d->lfd = listen_on(d->sock)) < 0)
		return HWK_ERR_SYSTEM;
	snprintf(d->pidfile, sizeof(d->pidfile), "%s.pid", d->sock);
	if ((d->pidfd = open_pidfile(d->pidfile)) < 0)
		return HWK_ERR_SYSTEM;
	d->made_pid = 1;
	return HWK_OK;
}

int
hwk_daemon_start(struct hwk_daemon *d, int foreground, int csh,
    int *parentp)
{
	pid_t pid;
	int fd;

	*parentp = 0;
	if (foreground) {
		if (d->pidfd >= 0 && write_pid(d->pidfd, getpid()) != 0)
			fprintf(stderr, "hwkey-agent: %s: %s\n", d->pidfile,
			    strerror(errno));
		print_env(csh, d->sock, getpid());
		return HWK_OK;
	}
	fflush(stdout);
	if ((pid = fork()) < 0) {
		fprintf(stderr, "hwkey-agent: fork: %s\n", strerror(errno));
		return HWK_ERR_SYSTEM;
	}
	if (pid > 0) {
		/* Written before the caller can run -k -a. */
		if (d->pidfd >= 0 && write_pid(d->pidfd, pid) != 0)
			fprintf(stderr, "hwkey-agent: %s: %s\n", d->pidfile,
			    strerror(errno));
		print_env(csh, d->sock, pid);
		close(d->lfd);
		d->lfd = -1;
		d->made_dir = d->made_pid = 0;	/* the child's now */
		d->sock[0] = '\0';
		*parentp = 1;
		return HWK_OK;
	}
	if (d->pidfd >= 0)
		close(d->pidfd);
	d->pidfd = -1;
	setsid();
	if (chdir("/") != 0)
		return HWK_ERR_SYSTEM;
	if ((fd = open("/dev/null", O_RDWR)) >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	return HWK_OK;
}

void
hwk_daemon_end(struct hwk_daemon *d)
{
	if (d->pidfd >= 0)
		close(d->pidfd);
	if (d->made_pid)
		unlink(d->pidfile);
	if (d->lfd >= 0) {
		close(d->lfd);
		if (!d->activated)
			unlink(d->sock);
	}
	if (d->made_dir && d->dir[0] != '\0')
		rmdir(d->dir);
	hwk_daemon_init(d);
}
