/*
 * Keys that come and go while hwkey-agent runs: stubs made in the scanned
 * folder after the start, `hwkey-agent add` (the add-stub@hwkeygen
 * extension), and ssh-add -d / -D, which remove ours.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hwkey/backend.h"
#include "hwkey/buf.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "hwkey/keyfile.h"
#include "hwkey/secret.h"
#include "hwkey/sshkey.h"
#include "agent.h"

/*
 * The folder scanned at the start (NULL: none), the stub files taken from
 * it; the certificate of the key removed last.
 */
struct hwk_agent_runtime {
	char		*dir;
	struct timespec	 mtime;		/* of the folder when last scanned */
	struct seen {
		dev_t	 dev;
		ino_t	 ino;
	}		*seen;
	size_t		 nseen;
	uint8_t		*gone_cert;
	size_t		 gone_certlen;
};

static void
nolog(int level, const char *fmt, ...)
{
	(void)level;
	(void)fmt;
}

#define LOG(a, lvl, ...) ((a)->log != NULL ? (a)->log : nolog)(lvl, __VA_ARGS__)

static int
failure(struct hwk_buf *reply)
{
	return hwk_buf_put_u8(reply, AGENT_FAILURE);
}

void
hwk_identity_clear(struct hwk_identity *id)
{
	hwk_key_free(&id->key);		/* flushes device handles */
	hwk_pubkey_free(&id->pub);
	hwk_cert_free(&id->cert);
	free(id->path);
	memset(id, 0, sizeof(*id));
}

/* Drops the identities from n on, in any order. */
static void
truncate_ids(struct hwk_agent *a, size_t n)
{
	while (a->nids > n)
		hwk_identity_clear(&a->ids[--a->nids]);
}

static int
was_seen(const struct hwk_agent_runtime *s, const struct stat *st)
{
	size_t i;

	for (i = 0; i < s->nseen; i++)
		if (s->seen[i].dev == st->st_dev && s->seen[i].ino == st->st_ino)
			return 1;
	return 0;
}

static void
mark_seen(struct hwk_agent_runtime *s, const struct stat *st)
{
	struct seen *n;

	if ((n = realloc(s->seen, (s->nseen + 1) * sizeof(*n))) == NULL)
		return;		/* at worst it is read again next time */
	s->seen = n;
	s->seen[s->nseen].dev = st->st_dev;
	s->seen[s->nseen++].ino = st->st_ino;
}

/*
 * Adds the device-backed stubs of the folder with a .pub beside them that
 * were not taken before.  A file is taken once: one that fails is logged
 * once, and one removed by a client stays removed until it is made anew.
 */
static void
scan(struct hwk_agent *a, struct hwk_agent_runtime *s, int announce)
{
	const struct hwk_backend *b;
	struct hwk_buf *data = NULL;
	struct dirent **names = NULL;
	char path[PATH_MAX], pub[PATH_MAX + 8];
	struct stat st, pst;
	size_t nids;
	int i, n, r;

	if ((n = scandir(s->dir, &names, NULL, alphasort)) < 0) {
		LOG(a, AGENT_LOG_ERR, "cannot read %s", s->dir);
		return;
	}
	for (i = 0; i < n; i++) {
		if (names[i]->d_name[0] == '.' ||
		    snprintf(path, sizeof(path), "%s/%s", s->dir,
		    names[i]->d_name) >= (int)sizeof(path))
			continue;
		snprintf(pub, sizeof(pub), "%s.pub", path);
		if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) ||
		    was_seen(s, &st) || stat(pub, &pst) != 0)
			continue;
		if (hwk_file_read(NULL, path, &data) != 0)
			continue;
		b = hwk_backend_for_stub(hwk_buf_ptr(data), hwk_buf_len(data));
		hwk_buf_free(&data);
		/* Only keys that live in a device: software keys have ssh-agent. */
		if (b == NULL || (b->flags & HWK_BF_DEVICE) == 0)
			continue;
		mark_seen(s, &st);
		nids = a->nids;
		if ((r = hwk_agent_add(a, path)) != 0)
			LOG(a, AGENT_LOG_ERR, "%s: %s", path,
			    *hwk_ctx_detail(a->ctx) != '\0' ?
			    hwk_ctx_detail(a->ctx) : hwk_strerror(r));
		else if (announce && a->nids > nids)
			LOG(a, AGENT_LOG_INFO, "added %s (%s)", path, b->name);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static struct hwk_agent_runtime *
runtime(struct hwk_agent *a)
{
	if (a->rt == NULL)
		a->rt = calloc(1, sizeof(*a->rt));
	return a->rt;
}

int
hwk_agent_add_dir(struct hwk_agent *a, const char *dir)
{
	struct hwk_agent_runtime *s;
	struct stat st;

	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return hwk_ctx_error(a->ctx, HWK_ERR_SYSTEM, "cannot read %s",
		    dir);
	if ((s = runtime(a)) == NULL)
		return HWK_ERR_NOMEM;
	free(s->dir);
	free(s->seen);
	s->seen = NULL;
	s->nseen = 0;
	if ((s->dir = strdup(dir)) == NULL)
		return HWK_ERR_NOMEM;
	/* The mtime before the scan: a stub made during it is seen next. */
	s->mtime = st.st_mtim;
	scan(a, s, 0);	/* main lists what it serves */
	return HWK_OK;
}

/* A stat of the folder per listing; it is read only when it changed. */
void
hwk_agent_rescan(struct hwk_agent *a)
{
	struct hwk_agent_runtime *s = a->rt;
	struct stat st;

	if (s == NULL || s->dir == NULL || stat(s->dir, &st) != 0 ||
	    (st.st_mtim.tv_sec == s->mtime.tv_sec &&
	    st.st_mtim.tv_nsec == s->mtime.tv_nsec))
		return;
	s->mtime = st.st_mtim;
	LOG(a, AGENT_LOG_DEBUG, "%s changed: looking for new stubs", s->dir);
	scan(a, s, 1);
}

void
hwk_agent_runtime_free(struct hwk_agent *a)
{
	if (a->rt == NULL)
		return;
	free(a->rt->dir);
	free(a->rt->seen);
	free(a->rt->gone_cert);
	free(a->rt);
	a->rt = NULL;
}

static int
ext_failure(struct hwk_agent *a, struct hwk_buf *reply, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The agent's reason, logged and sent for `hwkey-agent add` to print. */
static int
ext_failure(struct hwk_agent *a, struct hwk_buf *reply, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	LOG(a, AGENT_LOG_INFO, "add-stub refused: %s", msg);
	if ((r = hwk_buf_put_u8(reply, AGENT_EXTENSION_FAILURE)) != 0)
		return r;
	return hwk_buf_put_cstring(reply, msg);
}

/*
 * One stub of the request, and its secret when flags say one follows (a
 * copy in *secretp, NULL if none was given).  -1 if malformed.
 */
static int
get_stub(struct hwk_buf *req, uint32_t flags, char path[PATH_MAX],
    char **secretp)
{
	const uint8_t *p;
	size_t len;

	*secretp = NULL;
	if (hwk_buf_get_string_direct(req, &p, &len) != 0 ||
	    len == 0 || len >= PATH_MAX || memchr(p, 0, len) != NULL)
		return -1;
	memcpy(path, p, len);
	path[len] = '\0';
	if ((flags & HWK_ADD_SECRETS) == 0)
		return 0;
	if (hwk_buf_get_string_direct(req, &p, &len) != 0 ||
	    len >= HWK_SECRET_MAX || memchr(p, 0, len) != NULL)
		return -1;
	if (len == 0)
		return 0;
	if ((*secretp = malloc(len + 1)) == NULL)
		return -1;
	memcpy(*secretp, p, len);
	(*secretp)[len] = '\0';
	return 0;
}

/* Adds one stub, and tries its secret; the reason is sent on failure. */
static int
add_one(struct hwk_agent *a, struct hwk_buf *reply, const char *path,
    const char *secret, uint32_t life)
{
	const char *why;
	size_t idx;
	int r;

	if (path[0] != '/')
		return ext_failure(a, reply, "%s: not an absolute path", path);
	hwk_ctx_clear_error(a->ctx);
	if ((r = hwk_agent_add_index(a, path, &idx)) == 0 && secret != NULL &&
	    (r = hwk_agent_unlock(a, &a->ids[idx], secret, life)) != 0)
		return ext_failure(a, reply, "%s: the secret was not accepted: "
		    "%s", path, hwk_ctx_detail(a->ctx));
	if (r == 0)
		return HWK_OK;
	why = *hwk_ctx_detail(a->ctx) != '\0' ? hwk_ctx_detail(a->ctx) :
	    hwk_strerror(r);
	/* The backends' words mostly name the file already. */
	return strstr(why, path) != NULL ? ext_failure(a, reply, "%s", why) :
	    ext_failure(a, reply, "%s: %s", path, why);
}

/*
 * string "add-stub@hwkeygen" (read by the caller), uint32 flags, with
 * HWK_ADD_LIFETIME a uint32 lifetime in seconds, uint32 count, then count
 * absolute paths, each followed by a string secret with HWK_ADD_SECRETS
 * ("" when none was given).  A secret is tried on the device before the
 * answer: a wrong one and the stub is not added.
 * Every stub is added, or none: the agent stays as it was on failure.
 * Any local client of the user may ask, as with ssh-add; a connection
 * forwarded from another host is refused (proto.c).
 */
int
hwk_agent_add_stub(struct hwk_agent *a, struct hwk_buf *req,
    struct hwk_buf *reply)
{
	size_t j, n0 = a->nids, start = hwk_buf_len(reply);
	uint32_t flags, count, life = 0, i;
	char path[PATH_MAX], *secret = NULL;
	int r;

	if (hwk_buf_get_u32(req, &flags) != 0 ||
	    ((flags & HWK_ADD_LIFETIME) && (hwk_buf_get_u32(req, &life) != 0 ||
	    life == 0 || life > HWK_ADD_LIFETIME_MAX)) ||
	    hwk_buf_get_u32(req, &count) != 0 || count == 0 ||
	    count > HWK_ADD_STUB_MAX)
		return failure(reply);
	if ((flags & ~(uint32_t)(HWK_ADD_SECRETS | HWK_ADD_LIFETIME)) != 0)
		return ext_failure(a, reply, "unknown flags 0x%x: this agent is "
		    "older than its client", (unsigned)flags);
	if (a->locked)
		return ext_failure(a, reply, "the agent is locked (ssh-add -X "
		    "unlocks it)");
	for (i = 0; i < count; i++) {
		if (get_stub(req, flags, path, &secret) != 0)
			goto malformed;
		r = add_one(a, reply, path, secret, life);
		if (secret != NULL)
			hwk_freezero(secret, strlen(secret) + 1);
		secret = NULL;
		if (r != 0 || hwk_buf_len(reply) > start)
			goto undo;
	}
	if (hwk_buf_len(req) != 0)
		goto malformed;
	for (j = n0; j < a->nids; j++)
		LOG(a, AGENT_LOG_INFO, "added %s (%s)", a->ids[j].path,
		    a->ids[j].backend->name);
	return hwk_buf_put_u8(reply, AGENT_SUCCESS);
 malformed:
	r = failure(reply);
 undo:
	truncate_ids(a, n0);
	return r;
}

/*
 * Drops identity i.  Its certificate goes with it, and is remembered:
 * ssh-add -d STUB removes the key, then STUB-cert.pub, which must not fail.
 */
static void
drop(struct hwk_agent *a, size_t i)
{
	struct hwk_agent_runtime *rt = runtime(a);
	const struct hwk_pubkey *c = hwk_identity_cert(&a->ids[i]);

	if (rt != NULL) {
		free(rt->gone_cert);
		rt->gone_cert = NULL;
		if (c != NULL && (rt->gone_cert = malloc(c->bloblen)) != NULL) {
			memcpy(rt->gone_cert, c->blob, c->bloblen);
			rt->gone_certlen = c->bloblen;
		}
	}
	LOG(a, AGENT_LOG_INFO, "removed %s", a->ids[i].path);
	hwk_identity_clear(&a->ids[i]);
	memmove(&a->ids[i], &a->ids[i + 1], (a->nids - i - 1) *
	    sizeof(a->ids[i]));
	a->nids--;
}

/* The certificate of the key removed last, asked once more: gone. */
static int
gone_cert(struct hwk_agent *a, const uint8_t *blob, size_t len)
{
	struct hwk_agent_runtime *rt = a->rt;

	if (rt == NULL || rt->gone_cert == NULL || rt->gone_certlen != len ||
	    memcmp(rt->gone_cert, blob, len) != 0)
		return 0;
	free(rt->gone_cert);
	rt->gone_cert = NULL;
	return 1;
}

/*
 * ssh-add -d: the key goes with its certificate; its certificate alone
 * is hidden until the file changes (a renewed one is offered again).
 */
int
hwk_agent_remove(struct hwk_agent *a, struct hwk_buf *req,
    struct hwk_buf *reply)
{
	const struct hwk_pubkey *c;
	const uint8_t *blob;
	size_t i, len;

	if (hwk_buf_get_string_direct(req, &blob, &len) != 0 ||
	    hwk_buf_len(req) != 0 || a->locked)
		return failure(reply);
	hwk_agent_certs_refresh(a);	/* the certificates as they are now */
	for (i = 0; i < a->nids; i++)
		if (a->ids[i].pub->bloblen == len &&
		    memcmp(a->ids[i].pub->blob, blob, len) == 0) {
			drop(a, i);
			return hwk_buf_put_u8(reply, AGENT_SUCCESS);
		}
	for (i = 0; i < a->nids; i++)
		if ((c = hwk_identity_cert(&a->ids[i])) != NULL &&
		    c->bloblen == len && memcmp(c->blob, blob, len) == 0) {
			LOG(a, AGENT_LOG_INFO, "removed the certificate of %s",
			    a->ids[i].path);
			hwk_identity_cert_hide(&a->ids[i]);
			return hwk_buf_put_u8(reply, AGENT_SUCCESS);
		}
	if (gone_cert(a, blob, len))
		return hwk_buf_put_u8(reply, AGENT_SUCCESS);
	LOG(a, AGENT_LOG_DEBUG, "remove refused: not a key of ours");
	return failure(reply);
}

/* ssh-add -D: every key of ours. */
int
hwk_agent_remove_all(struct hwk_agent *a, struct hwk_buf *req,
    struct hwk_buf *reply)
{
	if (hwk_buf_len(req) != 0 || a->locked)
		return failure(reply);
	LOG(a, AGENT_LOG_INFO, "removed all %zu key%s", a->nids,
	    a->nids == 1 ? "" : "s");
	truncate_ids(a, 0);
	return hwk_buf_put_u8(reply, AGENT_SUCCESS);
}
