/*
 * Who is at the other end of an agent connection, in words for the user:
 * the program (its pid from SO_PEERCRED at connect, its name from /proc)
 * and, when ssh bound the connection, the hosts on the way, by the names
 * known_hosts gives their keys.
 */
#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hwkey/buf.h"
#include "hwkey/keyfile.h"
#include "hwkey/sshkey.h"
#include "agent.h"
#include "conn.h"
#include "upstream.h"

struct hwk_conn *
hwk_conn_new(pid_t pid)
{
	struct hwk_conn *c;

	if ((c = calloc(1, sizeof(*c))) != NULL) {
		c->pid = pid;
		c->up_fd = -1;
	}
	return c;
}

void
hwk_wait_free(struct hwk_wait **wp)
{
	struct hwk_wait *w = *wp;

	if (w == NULL)
		return;
	if (w->kind == WAIT_CONFIRM)
		hwk_confirm_cancel(w);
	free(w->blob);
	free(w->data);
	free(w->stub);
	hwk_upx_free(&w->x);
	hwk_buf_free(&w->ours);
	free(w);
	*wp = NULL;
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
	free(c->binds);
	/* The helper's answer is still to come, for nobody. */
	if (c->wait != NULL && c->wait->kind == WAIT_HELPER) {
		hwk_agent_sign_orphan(c->wait);
		c->wait = NULL;
	}
	/* An exchange cut short leaves the connection out of step: close. */
	hwk_wait_free(&c->wait);
	hwk_upstream_close(&c->up_fd);
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

/*
 * The first clear name on a known_hosts line (no marker) for the key
 * blob, into name; 0 if the line has none.  Hashed names (HashKnownHosts)
 * cannot be read back: such a line names nothing.
 */
static int
known_name(char *line, const uint8_t *blob, size_t len, char *name,
    size_t namelen)
{
	struct hwk_pubkey *k = NULL;
	char *hosts, *end;
	int same;

	for (hosts = line; isspace((unsigned char)*hosts); hosts++)
		;
	if (*hosts == '\0' || *hosts == '#' || *hosts == '@' ||
	    *hosts == '|' || *hosts == '!')
		return 0;
	end = hosts + strcspn(hosts, " \t");
	if (*end == '\0' || hwk_pubkey_from_line(end + 1, &k) != 0)
		return 0;
	same = k->bloblen == len && memcmp(k->blob, blob, len) == 0;
	hwk_pubkey_free(&k);
	if (!same)
		return 0;
	*end = '\0';
	hosts[strcspn(hosts, ",")] = '\0';
	snprintf(name, namelen, "%s", hosts);
	tame(name);
	return 1;
}

/* The user's known_hosts, then the system's, as ssh reads them. */
static void
look_up(const uint8_t *blob, size_t len, char *name, size_t namelen)
{
	char path[PATH_MAX], *line = NULL;
	const char *home = hwk_home_dir();
	size_t cap = 0;
	FILE *f;
	int i, found = 0;

	name[0] = '\0';
	for (i = 0; i < 2 && !found; i++) {
		if (i == 0 && (home == NULL || snprintf(path, sizeof(path),
		    "%s/.ssh/known_hosts", home) >= (int)sizeof(path)))
			continue;
		if ((f = fopen(i == 0 ? path : "/etc/ssh/ssh_known_hosts",
		    "re")) == NULL)
			continue;
		while (!found && getline(&line, &cap, f) > 0)
			found = known_name(line, blob, len, name, namelen);
		fclose(f);
	}
	free(line);
}

const char *
hwk_conn_host(struct hwk_bind *b, char *buf, size_t len)
{
	if (!b->looked_up) {
		look_up(b->hostkey, b->hostkeylen, b->name, sizeof(b->name));
		b->looked_up = 1;
	}
	if (b->name[0] != '\0')
		snprintf(buf, len, "%s (%s)", b->name, b->fp);
	else
		snprintf(buf, len, "%s", b->fp);
	return buf;
}

void
hwk_conn_who(struct hwk_conn *c, char *buf, size_t len)
{
	struct hwk_bind *last;
	char host[CONN_NAME_MAX + HWK_FP_LEN + 4];
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
		    "forwarded to host %s.", hwk_conn_host(&c->binds[i], host,
		    sizeof(host)));
	if (!last->forwarded && n < len)
		snprintf(buf + n, len - n, "\nFor a login to host %s.",
		    hwk_conn_host(last, host, sizeof(host)));
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
