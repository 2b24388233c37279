/*
 * hwkey-agent: lets stock ssh use TPM and token keys.  ssh signs through an
 * agent whenever the agent holds the key an identity file's .pub names, so
 * this agent offers the keys behind hwkeygen's stubs, read-only.
 */
#include <sys/prctl.h>
#include <sys/resource.h>

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
#include "daemon.h"
#include "upstream.h"
#include "p11helper.h"

enum {
	OPT_ALLOW_SHA1 = 256, OPT_HELP, OPT_VERSION, OPT_UPSTREAM,
	OPT_ALLOW_FORWARDED, OPT_CONFIRM,
};

static const struct option fixed_longopts[] = {
	{ "allow-forwarded", no_argument, NULL, OPT_ALLOW_FORWARDED },
	{ "allow-sha1", no_argument, NULL, OPT_ALLOW_SHA1 },
	{ "confirm", no_argument, NULL, OPT_CONFIRM },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "upstream", required_argument, NULL, OPT_UPSTREAM },
	{ "version", no_argument, NULL, OPT_VERSION },
};

#define PARSE_DONE	1	/* --help or --version: nothing more to do */

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
"Usage: hwkey-agent [-c | -s] [-Dd] [-a SOCKET] [--allow-sha1] [--confirm]\n"
"                   [--allow-forwarded] [--upstream SOCKET] [options]\n"
"                   [STUB ...]\n"
"       hwkey-agent [-c | -s] [-a SOCKET] -k\n"
"       hwkey-agent add [-a SOCKET] STUB ...\n"
"\n"
"An SSH agent for the keys behind hwkeygen's stubs (TPM key files, PKCS#11\n"
"URIs).  With no STUB, every such stub in ~/.ssh with a .pub beside it,\n"
"and those made there later.  A NAME-cert.pub beside a stub NAME is offered\n"
"with its key.  'add' adds stubs to the running agent ($SSH_AUTH_SOCK).\n"
"Started by systemd with a socket (LISTEN_FDS), it serves that socket.\n"
"\n"
"  -a SOCKET       listen there (default $XDG_RUNTIME_DIR/hwkey-agent/socket)\n"
"  -c, -s          print csh or sh lines that set SSH_AUTH_SOCK\n"
"  -D              stay in the foreground\n"
"  -d              stay in the foreground and log debug messages\n"
"  -k              stop the agent of -a's pid file, else of SSH_AGENT_PID,\n"
"                  else of the default socket; for eval \"$(hwkey-agent -k)\"\n"
"  -P LIST         PKCS#11 module files a stub may name, as ssh-agent -P\n"
"                  (the same as --module-allow LIST)\n"
"  --allow-sha1    also make ssh-rsa (SHA-1) signatures\n"
"  --allow-forwarded  sign for requests through a forwarded agent too\n"
"  --confirm       ask through SSH_ASKPASS before every signature\n"
"  --upstream SOCKET\n"
"                  pass on to the agent at SOCKET what this one does not\n"
"                  hold: other keys, ssh-add KEY, -d, -D, -s\n"
"  --help, --version\n");
	hwk_backend_options_usage(f, 16, HWK_OPT_USE);
}

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void
no_core_dumps(void)
{
	struct rlimit rl = { 0, 0 };

	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	setrlimit(RLIMIT_CORE, &rl);
}

/* The agent's exit codes: 0, 2 for a bad command line, 1 for the rest. */
static int
exit_code(int r)
{
	if (r == HWK_OK || r == PARSE_DONE)
		return EXIT_OK;
	return r == HWK_ERR_USAGE ? EXIT_USAGE : EXIT_FAIL;
}

/* Says the context's error, or r's words, on stderr. */
static void
say_error(struct hwk_ctx *ctx, int r)
{
	fprintf(stderr, "hwkey-agent: %s\n", *hwk_ctx_detail(ctx) != '\0' ?
	    hwk_ctx_detail(ctx) : hwk_strerror(r));
}

static int
parse_args(int argc, char **argv, struct hwk_agent *a, struct hwk_daemon *d,
    int *cshp, int *killp)
{
	const char *shell = getenv("SHELL");
	int ch, r;

	*cshp = shell != NULL && strlen(shell) >= 3 &&
	    strcmp(shell + strlen(shell) - 3, "csh") == 0;
	*killp = 0;
	if (hwk_longopts_build(&longopts, fixed_longopts,
	    sizeof(fixed_longopts) / sizeof(fixed_longopts[0]),
	    HWK_OPT_USE) != 0)
		return HWK_ERR_INTERNAL;
	while ((ch = getopt_long(argc, argv, "a:cDdkP:s", longopts.opts,
	    NULL)) != -1) {
		switch (ch) {
		case 'a':
			if ((r = hwk_daemon_set_socket(d, optarg)) != 0)
				return r;
			break;
		case 'c':
		case 's':
			*cshp = ch == 'c';
			break;
		case 'd':
			debug = 1;
			/* FALLTHROUGH */
		case 'D':
			foreground = 1;
			break;
		case 'k':
			*killp = 1;
			break;
		case 'P':
			/* ssh-agent's name for the allowed module files. */
			if (hwk_ctx_set_opt(a->ctx, "module-allow",
			    optarg) != 0)
				return HWK_ERR_NOMEM;
			break;
		case OPT_ALLOW_SHA1:
			a->allow_sha1 = 1;
			break;
		case OPT_UPSTREAM:
			hwk_upstream_free(&a->upstream);
			if ((r = hwk_upstream_new(a->ctx, optarg,
			    &a->upstream)) != 0) {
				say_error(a->ctx, r);
				return r;
			}
			break;
		case OPT_ALLOW_FORWARDED:
			a->allow_forwarded = 1;
			break;
		case OPT_CONFIRM:
			a->confirm = 1;
			break;
		case OPT_HELP:
			usage(stdout);
			return PARSE_DONE;
		case OPT_VERSION:
			printf("hwkey-agent %s\n", HWK_VERSION);
			return PARSE_DONE;
		default:
			if ((r = hwk_longopts_take(&longopts, ch, optarg,
			    a->ctx)) < 0)
				return HWK_ERR_NOMEM;
			if (r > 0)
				break;
			fputs("Try 'hwkey-agent --help' for more information.\n",
			    stderr);
			return HWK_ERR_USAGE;
		}
	}
	return HWK_OK;
}

/*
 * A stub is read again at its first signature, and its certificate at
 * each listing: after the agent leaves for "/", only an absolute path
 * (not resolved: NAME-cert.pub is beside the name given) still names it.
 */
static const char *
absolute(const char *path, char *buf, size_t len)
{
	char cwd[PATH_MAX];

	if (path[0] == '/' || getcwd(cwd, sizeof(cwd)) == NULL ||
	    snprintf(buf, len, "%s/%s", cwd, path) >= (int)len)
		return path;
	return buf;
}

/* The keys first, so that mistakes are seen before we go away. */
static int
add_keys(struct hwk_agent *a, int argc, char **argv)
{
	char ssh[PATH_MAX];
	const char *home;
	int i, r;

	if (argc > 0) {
		for (i = 0; i < argc; i++)
			if ((r = hwk_agent_add(a, absolute(argv[i], ssh,
			    sizeof(ssh)))) != 0) {
				say_error(a->ctx, r);
				return r;
			}
	} else if ((home = hwk_home_dir()) != NULL) {
		snprintf(ssh, sizeof(ssh), "%s/.ssh", home);
		hwk_agent_add_dir(a, ssh);
	}
	if (a->nids == 0)
		fprintf(stderr, "hwkey-agent: no keys yet: give stubs as "
		    "arguments, add them with hwkey-agent add, or make some "
		    "with hwkeygen --backend tpm2 or pkcs11\n");
	return HWK_OK;
}

/* Signals only interrupt the wait in the poll loop. */
static void
catch_signals(void)
{
	struct sigaction sa;
	sigset_t block;

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
}

int
main(int argc, char **argv)
{
	struct hwk_agent agent;
	struct hwk_daemon d;
	size_t i;
	int csh, kill_mode, parent, r;

	/* The agent's PKCS#11 helper, with the socket as its stdin. */
	if (argc == 2 && strcmp(argv[1], P11H_ARG) == 0)
		hwk_p11helper_main(STDIN_FILENO);
	/* A client of the running agent, not an agent. */
	if (argc > 1 && strcmp(argv[1], "add") == 0)
		return hwk_agent_add_cmd(argc - 1, argv + 1);
	memset(&agent, 0, sizeof(agent));
	hwk_daemon_init(&d);
	if ((agent.ctx = hwk_ctx_new()) == NULL)
		return EXIT_FAIL;
	if ((r = parse_args(argc, argv, &agent, &d, &csh, &kill_mode)) != 0)
		goto out;
	if (kill_mode) {
		r = hwk_daemon_kill(csh, d.sock[0] != '\0' ? d.sock : NULL);
		goto out;
	}
	/* Modules are loaded in a helper process only, never in here. */
	if ((r = hwk_agent_p11_isolate(&agent)) != 0)
		goto out;
	/* A typo in a backend's option is said now, not at a signature. */
	if ((r = hwk_backends_check_opts(agent.ctx)) != 0) {
		say_error(agent.ctx, r);
		if (*hwk_ctx_advice(agent.ctx) != '\0')
			fprintf(stderr, "hwkey-agent: %s\n",
			    hwk_ctx_advice(agent.ctx));
		goto out;
	}
	no_core_dumps();
	agent.log = logmsg;
	hwk_agent_askpass_ui(agent.ctx);
	if ((r = add_keys(&agent, argc - optind, argv + optind)) != 0 ||
	    (r = hwk_daemon_listen(&d)) != 0)
		goto out;
	if (agent.upstream != NULL && strcmp(agent.upstream->path,
	    d.sock) == 0) {
		fprintf(stderr, "hwkey-agent: --upstream %s is this agent's own "
		    "socket\n", d.sock);
		r = HWK_ERR_USAGE;
		goto out;
	}
	catch_signals();
	if ((r = hwk_daemon_start(&d, foreground, csh, &parent)) != 0 ||
	    parent)
		goto out;
	if (!foreground) {
		openlog("hwkey-agent", LOG_PID, LOG_AUTH);
		to_syslog = 1;
	}
	logmsg(AGENT_LOG_INFO, "serving %zu key%s on %s", agent.nids,
	    agent.nids == 1 ? "" : "s", d.sock);
	for (i = 0; i < agent.nids; i++)
		logmsg(AGENT_LOG_INFO, "  %s (%s)", agent.ids[i].path,
		    agent.ids[i].backend->name);
	if (agent.upstream != NULL)
		logmsg(AGENT_LOG_INFO, "and passing on to %s",
		    agent.upstream->path);
	hwk_agent_log_secrets(&agent);
	hwk_agent_serve(&agent, d.lfd, &stop);
	logmsg(AGENT_LOG_INFO, "stopping");
	r = HWK_OK;
 out:
	/* Flush every device handle, remove the socket and its folder. */
	hwk_agent_clear(&agent);
	hwk_upstream_free(&agent.upstream);
	hwk_agent_p11_end();
	hwk_ctx_free(&agent.ctx);
	hwk_daemon_end(&d);
	return exit_code(r);
}
