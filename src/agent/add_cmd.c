/*
 * hwkey-agent add STUB...: asks the running agent (SSH_AUTH_SOCK, or -a)
 * to serve more stubs, through the add-stub@hwkeygen extension, with the
 * secrets they need read on this terminal, and says plainly why when it
 * cannot.
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hwkey/buf.h"
#include "hwkey/error.h"
#include "hwkey/out.h"
#include "agent.h"

#define ADD_TIMEOUT	300	/* s: the agent may be asking a PIN for another */

static void
add_usage(FILE *f)
{
	fprintf(f,
"Usage: hwkey-agent add [-a SOCKET] [-t LIFE] STUB ...\n"
"\n"
"Adds the stubs (with their .pub beside them) to the running hwkey-agent\n"
"at SOCKET, else at $SSH_AUTH_SOCK.  Either all of them are added or none.\n"
"A key with a TPM password or on a token with a PIN: asked here, checked\n"
"once by the agent, then kept there (for LIFE seconds with -t, as ssh-add\n"
"-t; 30m, 2h, 1d work too).  Enter alone: the agent asks when it signs.\n"
"ssh-add -d STUB.pub and ssh-add -D remove them again.\n");
}

/* ssh-add -t's form: seconds, or numbers with s, m, h, d or w after them. */
static int
parse_life(const char *s, uint32_t *lifep)
{
	unsigned long long total = 0, v;
	char *end;

	if (*s == '\0')
		return -1;
	while (*s != '\0') {
		if (*s < '0' || *s > '9')
			return -1;
		errno = 0;
		v = strtoull(s, &end, 10);
		if (errno != 0 || v > HWK_ADD_LIFETIME_MAX)
			return -1;
		switch (*end) {
		case '\0': case 's': case 'S': break;
		case 'm': case 'M': v *= 60; break;
		case 'h': case 'H': v *= 3600; break;
		case 'd': case 'D': v *= 86400; break;
		case 'w': case 'W': v *= 604800; break;
		default: return -1;
		}
		total += v;
		if (total > HWK_ADD_LIFETIME_MAX)
			return -1;
		s = *end != '\0' ? end + 1 : end;
	}
	if (total == 0)
		return -1;
	*lifep = (uint32_t)total;
	return 0;
}

/*
 * The request (see hwk_agent_add_stub): the absolute paths, each with the
 * secret read for it when any was.  The secrets are wiped by the caller.
 */
static int
build_request(int n, char **stubs, char **secrets, uint32_t life,
    struct hwk_buf *msg)
{
	struct hwk_buf *body = NULL;
	char abs[PATH_MAX];
	uint32_t flags = life > 0 ? HWK_ADD_LIFETIME : 0;
	int i, r = HWK_ERR_NOMEM;

	for (i = 0; i < n; i++)
		if (secrets[i] != NULL)
			flags |= HWK_ADD_SECRETS;
	if ((body = hwk_buf_new()) == NULL ||
	    hwk_buf_put_u8(body, AGENTC_EXTENSION) != 0 ||
	    hwk_buf_put_cstring(body, HWK_ADD_STUB_EXT) != 0 ||
	    hwk_buf_put_u32(body, flags) != 0 ||
	    (life > 0 && hwk_buf_put_u32(body, life) != 0) ||
	    hwk_buf_put_u32(body, (uint32_t)n) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		if (realpath(stubs[i], abs) == NULL) {
			fprintf(stderr, "hwkey-agent: %s: %s\n", stubs[i],
			    strerror(errno));
			r = HWK_ERR_NOT_FOUND;
			goto out;
		}
		if (hwk_buf_put_cstring(body, abs) != 0 ||
		    ((flags & HWK_ADD_SECRETS) && hwk_buf_put_cstring(body,
		    secrets[i] != NULL ? secrets[i] : "") != 0))
			goto out;
	}
	if (hwk_buf_put_stringb(msg, body) != 0)	/* u32 length, body */
		goto out;
	r = HWK_OK;
 out:
	hwk_buf_free(&body);	/* wipes */
	return r;
}

/* The secrets the stubs need, read on the terminal before connecting. */
static int
ask_secrets(int n, char **stubs, char **secrets)
{
	int i, no_tty;

	for (i = 0; i < n; i++) {
		no_tty = 0;
		if (hwk_add_ask_secret(stubs[i], &secrets[i], &no_tty) != 0)
			return -1;
		if (no_tty)
			fprintf(stderr, "hwkey-agent: %s: no terminal to ask its "
			    "secret on: added without it; the agent asks "
			    "through SSH_ASKPASS when it signs\n", stubs[i]);
	}
	return 0;
}

static void
wipe_secrets(int n, char **secrets)
{
	int i;

	for (i = 0; i < n; i++)
		if (secrets[i] != NULL)
			hwk_freezero(secrets[i], strlen(secrets[i]) + 1);
}

static int
connect_agent(const char *sock)
{
	struct sockaddr_un sun;
	struct timeval tv = { ADD_TIMEOUT, 0 };
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(sock) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "hwkey-agent: socket path too long: %s\n", sock);
		return -1;
	}
	strcpy(sun.sun_path, sock);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		fprintf(stderr, "hwkey-agent: cannot reach an agent at %s: %s "
		    "(is hwkey-agent running there?)\n", sock, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

static int
io_all(int fd, void *p, size_t len, int writing)
{
	ssize_t n;

	while (len > 0) {
		n = writing ? write(fd, p, len) : read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p = (uint8_t *)p + n;
		len -= (size_t)n;
	}
	return 0;
}

/* Sends msg and reads the answer's body (type byte first). */
static int
exchange(int fd, const char *sock, const struct hwk_buf *msg,
    struct hwk_buf *reply)
{
	uint8_t hdr[4], *p;
	uint32_t len;

	errno = 0;
	if (io_all(fd, (void *)hwk_buf_ptr(msg), hwk_buf_len(msg), 1) != 0 ||
	    io_all(fd, hdr, sizeof(hdr), 0) != 0) {
		fprintf(stderr, "hwkey-agent: the agent at %s did not answer: "
		    "%s\n", sock, errno != 0 ? strerror(errno) : "it hung up");
		return -1;
	}
	len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
	    (uint32_t)hdr[2] << 8 | hdr[3];
	if (len == 0 || len > AGENT_MAX_MSG ||
	    hwk_buf_reserve(reply, len, &p) != 0 || io_all(fd, p, len, 0) != 0) {
		fprintf(stderr, "hwkey-agent: the agent at %s sent a broken "
		    "answer\n", sock);
		return -1;
	}
	return 0;
}

/* What the answer means to the person who typed the command. */
static int
report(struct hwk_buf *reply, const char *sock, int n, char **stubs,
    char **secrets, uint32_t life)
{
	char *why = NULL;
	uint8_t type;
	int i;

	hwk_buf_get_u8(reply, &type);
	if (type == AGENT_SUCCESS) {
		for (i = 0; i < n; i++)
			if (secrets[i] == NULL)
				fprintf(stderr, "Stub added: %s\n", stubs[i]);
			else if (life > 0)
				fprintf(stderr, "Stub added: %s (secret checked; "
				    "kept for %u s)\n", stubs[i], (unsigned)life);
			else
				fprintf(stderr, "Stub added: %s (secret checked; "
				    "kept until ssh-add -x, -d or -D)\n",
				    stubs[i]);
		return EXIT_OK;
	}
	if (type == AGENT_EXTENSION_FAILURE &&
	    hwk_buf_get_cstring(reply, &why, NULL) == 0) {
		fputs("hwkey-agent: ", stderr);
		hwk_out_vis_fputs(why, stderr);
		fprintf(stderr, "\nhwkey-agent: %s added\n", n == 1 ?
		    "the stub was not" : "none of the stubs was");
		free(why);
	} else if (type == AGENT_FAILURE || type == AGENT_EXTENSION_FAILURE)
		fprintf(stderr, "hwkey-agent: the agent at %s refused: it is "
		    "not a hwkey-agent (or one too old to add stubs)\n", sock);
	else
		fprintf(stderr, "hwkey-agent: the agent at %s gave an answer "
		    "of type %u\n", sock, type);
	return EXIT_FAIL;
}

int
hwk_agent_add_cmd(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct hwk_buf *msg = NULL, *reply = NULL;
	const char *sock = getenv("SSH_AUTH_SOCK");
	char *secrets[HWK_ADD_STUB_MAX];
	uint32_t life = 0;
	int ch, fd = -1, rc = EXIT_FAIL;

	memset(secrets, 0, sizeof(secrets));
	while ((ch = getopt_long(argc, argv, "a:ht:", opts, NULL)) != -1) {
		if (ch == 'a')
			sock = optarg;
		else if (ch == 't') {
			if (parse_life(optarg, &life) != 0) {
				fprintf(stderr, "hwkey-agent: -t %s: not a "
				    "lifetime (seconds, or as 30m, 2h, 1d)\n",
				    optarg);
				return EXIT_USAGE;
			}
		} else if (ch == 'h') {
			add_usage(stdout);
			return EXIT_OK;
		} else {
			add_usage(stderr);
			return EXIT_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0) {
		add_usage(stderr);
		return EXIT_USAGE;
	}
	if (argc > HWK_ADD_STUB_MAX) {
		fprintf(stderr, "hwkey-agent: at most %d stubs at a time\n",
		    HWK_ADD_STUB_MAX);
		return EXIT_USAGE;
	}
	if (sock == NULL || *sock == '\0') {
		fprintf(stderr, "hwkey-agent: no agent to add to: SSH_AUTH_SOCK "
		    "is not set (or give -a SOCKET)\n");
		return EXIT_FAIL;
	}
	signal(SIGPIPE, SIG_IGN);
	if ((msg = hwk_buf_new()) == NULL || (reply = hwk_buf_new()) == NULL) {
		fprintf(stderr, "hwkey-agent: out of memory\n");
		goto out;
	}
	if (ask_secrets(argc, argv, secrets) != 0 ||
	    build_request(argc, argv, secrets, life, msg) != 0 ||
	    (fd = connect_agent(sock)) < 0 ||
	    exchange(fd, sock, msg, reply) != 0)
		goto out;
	rc = report(reply, sock, argc, argv, secrets, life);
 out:
	if (fd >= 0)
		close(fd);
	wipe_secrets(argc, secrets);
	hwk_buf_free(&msg);	/* wipes */
	hwk_buf_free(&reply);
	return rc;
}
