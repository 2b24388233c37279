/*
 * hwkey-agent: lets stock ssh use TPM and token keys.  ssh signs through an
 * agent whenever the agent holds the key an identity file's .pub names, so
 * this agent offers the keys behind hwkeygen's stubs, read-only.
 */
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "hwkey/backend.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "hwkey/keyfile.h"
#include "hwkey/options.h"
#include "hwkey/out.h"
#include "hwkey/version.h"
#include "agent.h"

enum {
	OPT_ALLOW_SHA1 = 256, OPT_HELP, OPT_VERSION,
};

static const struct option fixed_longopts[] = {
	{ "allow-sha1", no_argument, NULL, OPT_ALLOW_SHA1 },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "version", no_argument, NULL, OPT_VERSION },
};

static struct hwk_longopts longopts;
static int foreground, debug, to_syslog;
static volatile int stop;

static void
logmsg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
logmsg(int level, const char *fmt, ...)
{
	va_list ap;
	char ts[32], *msg = NULL, *safe;
	time_t t;

	if (level == AGENT_LOG_DEBUG && !debug)
		return;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	/* Paths, labels and a client's words: escaped, as OpenSSH logs. */
	if (msg == NULL || (safe = hwk_out_vis(msg)) == NULL) {
		free(msg);
		return;
	}
	if (to_syslog)
		syslog(level == AGENT_LOG_ERR ? LOG_ERR : level ==
		    AGENT_LOG_INFO ? LOG_INFO : LOG_DEBUG, "%s", safe);
	else {
		t = time(NULL);
		strftime(ts, sizeof(ts), "%H:%M:%S", localtime(&t));
		fprintf(stderr, "hwkey-agent[%d] %s: %s\n", (int)getpid(), ts,
		    safe);
	}
	free(safe);
	free(msg);
}

static void
usage(FILE *f)
{
	fprintf(f,
"Usage: hwkey-agent [-c | -s] [-Dd] [-a SOCKET] [--allow-sha1] [options]\n"
"                   [STUB ...]\n"
"       hwkey-agent [-c | -s] [-a SOCKET] -k\n"
"\n"
"An SSH agent for the keys behind hwkeygen's stubs (TPM key files, PKCS#11\n"
"URIs).  With no STUB, every such stub in ~/.ssh with a .pub beside it.\n"
"\n"
"  -a SOCKET       listen there (default $XDG_RUNTIME_DIR/hwkey-agent/socket)\n"
"  -c, -s          print csh or sh lines that set SSH_AUTH_SOCK\n"
"  -D              stay in the foreground\n"
"  -d              stay in the foreground and log debug messages\n"
"  -k              stop the agent of -a's pid file, else of SSH_AGENT_PID\n"
"  -P LIST         PKCS#11 module files a stub may name, as ssh-agent -P\n"
"                  (the same as --module-allow LIST)\n"
"  --allow-sha1    also make ssh-rsa (SHA-1) signatures\n"
"  --help, --version\n");
	hwk_backend_options_usage(f, 16, HWK_OPT_USE);
}

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

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
static int
kill_agent(int csh, const char *sock)
{
	char pidfile[PATH_MAX + 8], name[64];
	pid_t pid;

	if (sock != NULL) {
		snprintf(pidfile, sizeof(pidfile), "%s.pid", sock);
		if ((pid = read_pidfile(pidfile)) < 0) {
			fprintf(stderr, "hwkey-agent: no agent to stop: %s: %s"
			    "\n", pidfile, errno == EINVAL ? "not a pid file "
			    "of hwkey-agent" : strerror(errno));
			return EXIT_FAIL;
		}
	} else if (getenv("SSH_AGENT_PID") == NULL ||
	    *getenv("SSH_AGENT_PID") == '\0') {
		fprintf(stderr, "hwkey-agent: no agent to stop: SSH_AGENT_PID "
		    "is not set (or give -a SOCKET)\n");
		return EXIT_FAIL;
	} else if ((pid = parse_pid(getenv("SSH_AGENT_PID"))) < 0) {
		fprintf(stderr, "hwkey-agent: SSH_AGENT_PID is not the pid of "
		    "an agent (a number above 1); nothing stopped\n");
		return EXIT_FAIL;
	}
	if (!is_our_agent(pid, name, sizeof(name))) {
		fprintf(stderr, "hwkey-agent: pid %d is not a hwkey-agent of "
		    "yours (%s); nothing stopped\n", (int)pid, name);
		return EXIT_FAIL;
	}
	if (kill(pid, SIGTERM) != 0) {
		fprintf(stderr, "hwkey-agent: cannot stop pid %d: %s\n",
		    (int)pid, strerror(errno));
		return EXIT_FAIL;
	}
	if (csh)
		printf("unsetenv SSH_AUTH_SOCK;\nunsetenv SSH_AGENT_PID;\n");
	else
		printf("unset SSH_AUTH_SOCK;\nunset SSH_AGENT_PID;\n");
	printf("echo Agent pid %d killed;\n", (int)pid);
	return EXIT_OK;
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

static void
no_core_dumps(void)
{
	struct rlimit rl = { 0, 0 };

	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	setrlimit(RLIMIT_CORE, &rl);
}

int
main(int argc, char **argv)
{
	struct hwk_agent agent;
	struct sigaction sa;
	sigset_t block;
	char sock[PATH_MAX], dir[PATH_MAX], pidfile[PATH_MAX + 8], ssh[PATH_MAX];
	const char *home, *shell = getenv("SHELL");
	int ch, i, csh, kill_mode = 0, lfd = -1, rc = EXIT_FAIL, made_dir = 0;
	int r, pidfd = -1, made_pid = 0;
	pid_t pid;

	memset(&agent, 0, sizeof(agent));
	sock[0] = dir[0] = '\0';
	csh = shell != NULL && strlen(shell) >= 3 &&
	    strcmp(shell + strlen(shell) - 3, "csh") == 0;
	if (hwk_longopts_build(&longopts, fixed_longopts,
	    sizeof(fixed_longopts) / sizeof(fixed_longopts[0]),
	    HWK_OPT_USE) != 0 ||
	    (agent.ctx = hwk_ctx_new()) == NULL)
		return EXIT_FAIL;
	while ((ch = getopt_long(argc, argv, "a:cDdkP:s", longopts.opts,
	    NULL)) != -1) {
		switch (ch) {
		case 'a':
			snprintf(sock, sizeof(sock), "%s", optarg);
			break;
		case 'c':
			csh = 1;
			break;
		case 's':
			csh = 0;
			break;
		case 'D':
			foreground = 1;
			break;
		case 'd':
			foreground = debug = 1;
			break;
		case 'k':
			kill_mode = 1;
			break;
		case 'P':
			/* ssh-agent's name for the allowed module files. */
			if (hwk_ctx_set_opt(agent.ctx, "module-allow",
			    optarg) != 0)
				goto out;
			break;
		case OPT_ALLOW_SHA1:
			agent.allow_sha1 = 1;
			break;
		case OPT_HELP:
			usage(stdout);
			rc = EXIT_OK;
			goto out;
		case OPT_VERSION:
			printf("hwkey-agent %s\n", HWK_VERSION);
			rc = EXIT_OK;
			goto out;
		default:
			if ((r = hwk_longopts_take(&longopts, ch, optarg,
			    agent.ctx)) < 0)
				goto out;
			if (r > 0)
				break;
			fputs("Try 'hwkey-agent --help' for more information.\n",
			    stderr);
			rc = EXIT_USAGE;
			goto out;
		}
	}
	if (absolute_socket(sock, sizeof(sock)) != 0)
		goto out;
	if (kill_mode) {
		rc = kill_agent(csh, sock[0] != '\0' ? sock : NULL);
		goto out;
	}
	/* A typo in a backend's option is said now, not at a signature. */
	if ((r = hwk_backends_check_opts(agent.ctx)) != 0) {
		fprintf(stderr, "hwkey-agent: %s\n",
		    *hwk_ctx_detail(agent.ctx) != '\0' ?
		    hwk_ctx_detail(agent.ctx) : hwk_strerror(r));
		if (*hwk_ctx_advice(agent.ctx) != '\0')
			fprintf(stderr, "hwkey-agent: %s\n",
			    hwk_ctx_advice(agent.ctx));
		rc = r == HWK_ERR_USAGE ? EXIT_USAGE : EXIT_FAIL;
		goto out;
	}
	no_core_dumps();
	agent.log = logmsg;
	hwk_agent_askpass_ui(agent.ctx);

	/* The keys first, so that mistakes are seen before we go away. */
	if (optind < argc) {
		for (i = optind; i < argc; i++)
			if ((r = hwk_agent_add(&agent, argv[i])) != 0) {
				fprintf(stderr, "hwkey-agent: %s\n",
				    *hwk_ctx_detail(agent.ctx) != '\0' ?
				    hwk_ctx_detail(agent.ctx) :
				    hwk_strerror(r));
				goto out;
			}
	} else if ((home = hwk_home_dir()) != NULL) {
		snprintf(ssh, sizeof(ssh), "%s/.ssh", home);
		hwk_agent_add_dir(&agent, ssh);
	}
	if (agent.nids == 0)
		fprintf(stderr, "hwkey-agent: no keys: give stubs as arguments, "
		    "or make some with hwkeygen --backend tpm2 or pkcs11\n");

	if (sock[0] == '\0') {
		if (default_socket(sock, sizeof(sock), dir, sizeof(dir)) != 0) {
			fprintf(stderr, "hwkey-agent: cannot make a folder for "
			    "the socket: %s\n", strerror(errno));
			goto out;
		}
		made_dir = 1;
	}
	if (check_dir(sock) != 0 || (lfd = listen_on(sock)) < 0)
		goto out;
	snprintf(pidfile, sizeof(pidfile), "%s.pid", sock);
	if ((pidfd = open_pidfile(pidfile)) < 0)
		goto out;
	made_pid = 1;

	/* Signals only interrupt the wait in the poll loop. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, NULL);

	if (!foreground) {
		fflush(stdout);
		if ((pid = fork()) < 0) {
			fprintf(stderr, "hwkey-agent: fork: %s\n",
			    strerror(errno));
			goto out;
		}
		if (pid > 0) {
			/* Written before the caller can run -k -a. */
			if (write_pid(pidfd, pid) != 0)
				fprintf(stderr, "hwkey-agent: %s: %s\n",
				    pidfile, strerror(errno));
			print_env(csh, sock, pid);
			close(lfd);
			lfd = -1;
			made_dir = made_pid = 0;	/* the child's now */
			sock[0] = '\0';
			rc = EXIT_OK;
			goto out;
		}
		close(pidfd);
		pidfd = -1;
		setsid();
		if (chdir("/") != 0)
			goto out;
		if ((i = open("/dev/null", O_RDWR)) >= 0) {
			dup2(i, STDIN_FILENO);
			dup2(i, STDOUT_FILENO);
			dup2(i, STDERR_FILENO);
			if (i > STDERR_FILENO)
				close(i);
		}
		openlog("hwkey-agent", LOG_PID, LOG_AUTH);
		to_syslog = 1;
	} else {
		if (write_pid(pidfd, getpid()) != 0)
			fprintf(stderr, "hwkey-agent: %s: %s\n", pidfile,
			    strerror(errno));
		print_env(csh, sock, getpid());
	}
	logmsg(AGENT_LOG_INFO, "serving %zu key%s on %s", agent.nids,
	    agent.nids == 1 ? "" : "s", sock);
	for (i = 0; (size_t)i < agent.nids; i++)
		logmsg(AGENT_LOG_INFO, "  %s (%s)", agent.ids[i].path,
		    agent.ids[i].backend->name);
	hwk_agent_serve(&agent, lfd, &stop);
	logmsg(AGENT_LOG_INFO, "stopping");
	rc = EXIT_OK;
 out:
	/* Flush every device handle, remove the socket and its folder. */
	hwk_agent_clear(&agent);
	hwk_ctx_free(&agent.ctx);
	if (pidfd >= 0)
		close(pidfd);
	if (made_pid)
		unlink(pidfile);
	if (lfd >= 0) {
		close(lfd);
		unlink(sock);
	}
	if (made_dir && dir[0] != '\0')
		rmdir(dir);
	return rc;
}
