/*
 * Who is at the other end of an agent connection, in words for the user:
 * the program (its pid from SO_PEERCRED at connect, its name from /proc)
 * and, when ssh bound the connection, the hosts on the way.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hwkey/sshkey.h"
#include "agent.h"
#include "conn.h"

struct hwk_conn *
hwk_conn_new(pid_t pid)
{
	struct hwk_conn *c;

	if ((c = calloc(1, sizeof(*c))) != NULL)
		c->pid = pid;
	return c;
}

void
hwk_conn_free(struct hwk_conn **cp)
{
	struct hwk_conn *c = *cp;
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nbinds; i++)
		free(c->binds[i].hostkey);
	free(c);
	*cp = NULL;
}

/* A name from /proc is any bytes: only printable ASCII goes in a prompt. */
static void
tame(char *s)
{
	for (; *s != '\0'; s++)
		if (*s < 0x20 || *s > 0x7e)
			*s = '?';
}

static void
read_prog(pid_t pid, char *buf, size_t len)
{
	char path[64], exe[PATH_MAX];
	const char *base;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		n = read(fd, buf, len - 1);
		close(fd);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		if (buf[0] != '\0')
			return;
	}
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	if ((n = readlink(path, exe, sizeof(exe) - 1)) > 0) {
		exe[n] = '\0';
		base = strrchr(exe, '/');
		base = base != NULL ? base + 1 : exe;
		/* Cut to fit, as comm is. */
		n = (ssize_t)strnlen(base, len - 1);
		memcpy(buf, base, (size_t)n);
		buf[n] = '\0';
		return;
	}
	snprintf(buf, len, "?");
}

const char *
hwk_conn_prog(struct hwk_conn *c)
{
	if (c == NULL || c->pid <= 0)
		return "?";
	/* Read once, while the process that connected is likely there. */
	if (c->prog[0] == '\0') {
		read_prog(c->pid, c->prog, sizeof(c->prog));
		tame(c->prog);
	}
	return c->prog;
}

void
hwk_conn_who(struct hwk_conn *c, char *buf, size_t len)
{
	const struct hwk_bind *last;
	size_t i, n;

	if (c == NULL || c->pid <= 0) {
		snprintf(buf, len, "Requested by an unknown program.");
		return;
	}
	n = (size_t)snprintf(buf, len, "Requested by %s (pid %d).",
	    hwk_conn_prog(c), (int)c->pid);
	if (c->nbinds == 0 || n >= len)
		return;
	for (i = 0; i < c->nbinds && !c->binds[i].forwarded; i++)
		;
	last = &c->binds[c->nbinds - 1];
	if (i < c->nbinds)
		n += (size_t)snprintf(buf + n, len - n, "\nThrough the agent "
		    "forwarded to host %s.", c->binds[i].fp);
	if (!last->forwarded && n < len)
		snprintf(buf + n, len - n, "\nFor a login to host %s.",
		    last->fp);
}

const char *
hwk_conn_key_name(const struct hwk_identity *id, char fp[HWK_FP_LEN])
{
	if (hwk_fingerprint(id->pub->blob, id->pub->bloblen, fp, NULL) != 0)
		snprintf(fp, HWK_FP_LEN, "SHA256:?");
	if (id->pub->comment != NULL && id->pub->comment[0] != '\0')
		return id->pub->comment;
	return id->path;
}
