/*
 * hwkey-agent add STUB...: asks the running agent (SSH_AUTH_SOCK, or -a)
 * to serve more stubs, through the add-stub@hwkeygen extension, and says
 * plainly why when it cannot.
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
"Usage: hwkey-agent add [-a SOCKET] STUB ...\n"
"\n"
"Adds the stubs (with their .pub beside them) to the running hwkey-agent\n"
"at SOCKET, else at $SSH_AUTH_SOCK.  Either all of them are added or none.\n"
"ssh-add -d STUB.pub and ssh-add -D remove them again.\n");
}

/* The request: flags 0 (see hwk_agent_add_stub), then the absolute paths. */
static int
build_request(int n, char **stubs, struct hwk_buf *msg)
{
	struct hwk_buf *body = NULL;
	char abs[PATH_MAX];
	int i, r = HWK_ERR_NOMEM;

	if ((body = hwk_buf_new()) == NULL ||
	    hwk_buf_put_u8(body, AGENTC_EXTENSION) != 0 ||
	    hwk_buf_put_cstring(body, HWK_ADD_STUB_EXT) != 0 ||
	    hwk_buf_put_u32(body, 0) != 0 ||
	    hwk_buf_put_u32(body, (uint32_t)n) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		if (realpath(stubs[i], abs) == NULL) {
			fprintf(stderr, "hwkey-agent: %s: %s\n", stubs[i],
			    strerror(errno));
			r = HWK_ERR_NOT_FOUND;
			goto out;
		}
		if (hwk_buf_put_cstring(body, abs) != 0)
			goto out;
	}
	if (hwk_buf_put_stringb(msg, body) != 0)	/* u32 length, body */
		goto out;
	r = HWK_OK;
 out:
	hwk_buf_free(&body);
	return r;
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
report(struct hwk_buf *reply, const char *sock, int n, char **stubs)
{
	char *why = NULL;
	uint8_t type;
	int i;

	hwk_buf_get_u8(reply, &type);
	if (type == AGENT_SUCCESS) {
		for (i = 0; i < n; i++)
			fprintf(stderr, "Stub added: %s\n", stubs[i]);
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
	int ch, fd = -1, rc = EXIT_FAIL;

	while ((ch = getopt_long(argc, argv, "a:h", opts, NULL)) != -1) {
		if (ch == 'a')
			sock = optarg;
		else if (ch == 'h') {
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
	if (build_request(argc, argv, msg) != 0 ||
	    (fd = connect_agent(sock)) < 0 ||
	    exchange(fd, sock, msg, reply) != 0)
		goto out;
	rc = report(reply, sock, argc, argv);
 out:
	if (fd >= 0)
		close(fd);
	hwk_buf_free(&msg);
	hwk_buf_free(&reply);
	return rc;
}
