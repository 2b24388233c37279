/* Reading key files and writing key pairs all or nothing (keyfile.h). */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hwkey/buf.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "hwkey/keyfile.h"
#include "hwkey/sshkey.h"

/* What a file that is not a regular one is, for the message. */
static const char *
file_kind(mode_t mode)
{
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISFIFO(mode))
		return "a named pipe (FIFO)";
	if (S_ISCHR(mode) || S_ISBLK(mode))
		return "a device";
	if (S_ISSOCK(mode))
		return "a socket";
	return "something else";
}

int
hwk_file_open(struct hwk_ctx *ctx, const char *path, int *fdp,
    struct stat *stp)
{
	int fd, fl;

	*fdp = -1;
	/* O_NONBLOCK: opening a FIFO must not wait for a writer. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK)) < 0)
		return hwk_ctx_error(ctx, HWK_ERR_SYSTEM, "%s: %s", path,
		    strerror(errno));
	if (fstat(fd, stp) != 0) {
		hwk_ctx_error(ctx, HWK_ERR_SYSTEM, "%s: %s", path,
		    strerror(errno));
		close(fd);
		return HWK_ERR_SYSTEM;
	}
	if (!S_ISREG(stp->st_mode)) {
		hwk_ctx_error(ctx, HWK_ERR_FORMAT, "%s: not a regular file "
		    "but %s; give the path of a plain file", path,
		    file_kind(stp->st_mode));
		close(fd);
		return HWK_ERR_FORMAT;
	}
	/* A regular file never blocks; reads go back to the usual mode. */
	if ((fl = fcntl(fd, F_GETFL)) != -1)
		fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	*fdp = fd;
	return HWK_OK;
}

int
hwk_file_too_open(const struct stat *st)
{
	/* OpenSSH's rule: a file of someone else's is theirs to worry about. */
	return st->st_uid == getuid() && (st->st_mode & 077) != 0;
}

int
hwk_file_read(struct hwk_ctx *ctx, const char *path, struct hwk_buf **outp)
{
	struct stat st;

	return hwk_file_read_stat(ctx, path, outp, &st);
}

int
hwk_file_read_stat(struct hwk_ctx *ctx, const char *path,
    struct hwk_buf **outp, struct stat *stp)
{
	struct hwk_buf *b = NULL;
	struct stat st;
	uint8_t *p;
	ssize_t n;
	int fd, r;

	*outp = NULL;
	memset(stp, 0, sizeof(*stp));
	if ((r = hwk_file_open(ctx, path, &fd, &st)) != 0)
		return r;
	if (st.st_size > HWK_KEYFILE_MAX) {
		r = hwk_ctx_error(ctx, HWK_ERR_TOO_LARGE, "%s: too large for a "
		    "key file", path);
		goto out;
	}
	if ((b = hwk_buf_new()) == NULL) {
		r = HWK_ERR_NOMEM;
		goto out;
	}
	for (;;) {
		if ((r = hwk_buf_reserve(b, 4096, &p)) != 0)
			goto out;
		n = read(fd, p, 4096);
		if (n < 0 && errno == EINTR) {
			hwk_buf_consume_end(b, 4096);
			continue;
		}
		if (n < 0) {
			r = hwk_ctx_error(ctx, HWK_ERR_SYSTEM, "%s: %s", path,
			    strerror(errno));
			goto out;
		}
		hwk_buf_consume_end(b, 4096 - (size_t)n);
		if (n == 0)
			break;
		if (hwk_buf_len(b) > HWK_KEYFILE_MAX) {
			r = hwk_ctx_error(ctx, HWK_ERR_TOO_LARGE,
			    "%s: too large for a key file", path);
			goto out;
		}
	}
	*outp = b;
	b = NULL;
	*stp = st;
	r = HWK_OK;
 out:
	hwk_buf_free(&b);
	close(fd);
	return r;
}

void
hwk_ending_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGQUIT);
}

struct hwk_pubkey *
hwk_pubfile_read(const char *path)
{
	struct hwk_buf *data = NULL;
	struct hwk_pubkey *pub = NULL;
	char *text;

	if (hwk_file_read(NULL, path, &data) != 0)
		return NULL;
	if ((text = hwk_buf_dup_string(data)) != NULL)
		hwk_pubkey_from_line(text, &pub);
	free(text);
	hwk_buf_free(&data);
	return pub;
}

/* The folder and the last component of path. */
static int
split_path(const char *path, char *dir, char *base)
{
	char tmp[PATH_MAX];

	if (strlen(path) >= sizeof(tmp) || *path == '\0')
		return HWK_ERR_INVALID_ARG;
	strcpy(tmp, path);
	strcpy(dir, dirname(tmp));
	strcpy(tmp, path);
	strcpy(base, basename(tmp));
	if (*base == '\0' || strcmp(base, "/") == 0 || strcmp(base, ".") == 0 ||
	    strcmp(base, "..") == 0)
		return HWK_ERR_INVALID_ARG;
	return HWK_OK;
}

static int
not_symlink(struct hwk_ctx *ctx, const char *path)
{
	struct stat st;

	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
		hwk_ctx_error(ctx, HWK_ERR_EXISTS, "%s is a symbolic link; "
		    "hwkeygen does not write through links", path);
		hwk_ctx_hint(ctx, "Remove the link or give the real path "
		    "with -f.");
		return HWK_ERR_EXISTS;
	}
	if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		hwk_ctx_error(ctx, HWK_ERR_EXISTS, "%s exists and is not a "
		    "regular file", path);
		hwk_ctx_hint(ctx, "Choose another path with -f.");
		return HWK_ERR_EXISTS;
	}
	return HWK_OK;
}

int
hwk_export_check(struct hwk_ctx *ctx, const char *path)
{
	char dir[PATH_MAX], base[PATH_MAX], pub[PATH_MAX];
	struct stat st;
	int r;

	if (split_path(path, dir, base) != 0)
		return hwk_ctx_error(ctx, HWK_ERR_INVALID_ARG,
		    "'%s' is not a usable file name", path);
	if (snprintf(pub, sizeof(pub), "%s.pub", path) >= (int)sizeof(pub))
		return hwk_ctx_error(ctx, HWK_ERR_INVALID_ARG,
		    "the path is too long");
	if (stat(dir, &st) != 0) {
		hwk_ctx_error(ctx, HWK_ERR_NOT_FOUND, "cannot save the key in "
		    "%s: %s", dir, strerror(errno));
		hwk_ctx_hint(ctx, "Create the directory first (mkdir -p %s) or "
		    "choose another path with -f.", dir);
		return HWK_ERR_NOT_FOUND;
	}
	if (!S_ISDIR(st.st_mode))
		return hwk_ctx_error(ctx, HWK_ERR_NOT_FOUND, "cannot save the "
		    "key in %s: not a directory", dir);
	if (access(dir, W_OK | X_OK) != 0) {
		hwk_ctx_error(ctx, HWK_ERR_SYSTEM, "cannot save the key in "
		    "%s: %s", dir, strerror(errno));
		hwk_ctx_hint(ctx, "Choose a directory you can write to with "
		    "-f, or fix its permissions.");
		return HWK_ERR_SYSTEM;
	}
	if ((r = not_symlink(ctx, path)) != 0 ||
	    (r = not_symlink(ctx, pub)) != 0)
		return r;
	return HWK_OK;
}

static int
write_all(int fd, const uint8_t *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* A new temporary file beside the target holding data, on disk. */
static int
write_temp(struct hwk_ctx *ctx, const char *dir, const char *base,
    const char *target, const uint8_t *data, size_t len, mode_t mode,
    char *tmp, size_t tmplen)
{
	int fd, saved;

	if (snprintf(tmp, tmplen, "%s/.%s.hwk-XXXXXX", dir, base) >=
	    (int)tmplen)
		return hwk_ctx_error(ctx, HWK_ERR_INVALID_ARG,
		    "the path is too long");
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		saved = errno;
		tmp[0] = '\0';
		return hwk_ctx_error(ctx, HWK_ERR_SYSTEM,
		    "Saving key \"%s\" failed: %s", target, strerror(saved));
	}
	if (fchmod(fd, mode) != 0 || write_all(fd, data, len) != 0 ||
	    fsync(fd) != 0) {
		saved = errno;
		close(fd);
		return hwk_ctx_error(ctx, HWK_ERR_SYSTEM,
		    "Saving key \"%s\" failed: %s", target, strerror(saved));
	}
	if (close(fd) != 0)
		return hwk_ctx_error(ctx, HWK_ERR_SYSTEM,
		    "Saving key \"%s\" failed: %s", target, strerror(errno));
	return HWK_OK;
}

static int
exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/*
 * Hard links to the old pair under key_backup/, with a name no older
 * backup has: the old files live on there once the new ones replace them.
 */
static int
make_backup(struct hwk_ctx *ctx, const char *dir, const char *base,
    const char *path, const char *pub, char *bpriv, char *bpub, size_t len)
{
	char bdir[PATH_MAX], stamp[32];
	struct stat st;
	struct tm tm;
	time_t now = time(NULL);
	int n, i, has_priv = exists(path), has_pub = exists(pub);

	bpriv[0] = bpub[0] = '\0';
	if (snprintf(bdir, sizeof(bdir), "%s/key_backup", dir) >=
	    (int)sizeof(bdir))
		return hwk_ctx_error(ctx, HWK_ERR_INVALID_ARG,
		    "the path is too long");
	if (mkdir(bdir, 0700) != 0 && errno != EEXIST)
		return hwk_ctx_error(ctx, HWK_ERR_SYSTEM, "cannot create %s: "
		    "%s", bdir, strerror(errno));
	if (lstat(bdir, &st) != 0 || !S_ISDIR(st.st_mode))
		return hwk_ctx_error(ctx, HWK_ERR_SYSTEM, "%s is not a "
		    "directory; the old key was not moved", bdir);
	localtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
	for (i = 1; i < 1000; i++) {
		n = i == 1 ? snprintf(bpriv, len, "%s/%s-%s", bdir, base,
		    stamp) : snprintf(bpriv, len, "%s/%s-%s-%d", bdir, base,
		    stamp, i);
		if (n < 0 || (size_t)n + 4 >= len)
			return hwk_ctx_error(ctx, HWK_ERR_INVALID_ARG,
			    "the path is too long");
		snprintf(bpub, len, "%s.pub", bpriv);
		if (exists(bpriv) || exists(bpub))
			continue;
		if (has_priv && link(path, bpriv) != 0) {
			if (errno == EEXIST)
				continue;
			goto fail;
		}
		if (has_pub && link(pub, bpub) != 0) {
			if (errno == EEXIST) {
				if (has_priv)
					unlink(bpriv);
				continue;
			}
			if (has_priv)
				unlink(bpriv);
			goto fail;
		}
		if (!has_priv)
			bpriv[0] = '\0';
		if (!has_pub)
			bpub[0] = '\0';
		return HWK_OK;
	}
	errno = EEXIST;
 fail:
	n = errno;
	bpriv[0] = bpub[0] = '\0';
	return hwk_ctx_error(ctx, HWK_ERR_SYSTEM, "cannot keep the old key in "
	    "%s: %s; nothing was changed", bdir, strerror(n));
}

static void
fsync_dir(const char *dir)
{
	int fd;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(fd);
		close(fd);
	}
}

/* The names one export works with; "" where there is none (any more). */
struct export_names {
	char	 dir[PATH_MAX], base[PATH_MAX], pub[PATH_MAX];
	char	 tpriv[PATH_MAX], tpub[PATH_MAX];	/* the temporaries */
	char	 old[PATH_MAX];		/* a way back to the old key */
	char	 bpriv[PATH_MAX], bpub[PATH_MAX];	/* backups made */
	int	 keep_old;		/* --backup: the old pair stays */
};

/* Keeps a way back to the old key: its backup (--backup), else a link. */
static int
keep_old_pair(struct hwk_ctx *ctx, const struct hwk_export *ex,
    struct export_names *n)
{
	int r, had_priv = exists(ex->path);

	if (ex->backup && (had_priv || exists(n->pub))) {
		if ((r = make_backup(ctx, n->dir, n->base, ex->path, n->pub,
		    n->bpriv, n->bpub, sizeof(n->bpriv))) != 0)
			return r;
		if (n->bpriv[0] != '\0')
			strcpy(n->old, n->bpriv);
		n->keep_old = 1;
	} else if (had_priv) {
		/* A link to restore the old key should the second rename fail. */
		if (snprintf(n->old, sizeof(n->old), "%s/.%s.hwk-old-%ld",
		    n->dir, n->base, (long)getpid()) >= (int)sizeof(n->old) ||
		    (unlink(n->old), link(ex->path, n->old)) != 0) {
			n->old[0] = '\0';
			return hwk_ctx_error(ctx, HWK_ERR_SYSTEM, "Saving key "
			    "\"%s\" failed: %s", ex->path, strerror(errno));
		}
	}
	return HWK_OK;
}

/* Renames the temporaries into place; never leaves a mismatched pair. */
static int
install_pair(struct hwk_ctx *ctx, const struct hwk_export *ex,
    struct export_names *n)
{
	int r;

	if (rename(n->tpriv, ex->path) != 0)
		return hwk_ctx_error(ctx, HWK_ERR_SYSTEM, "Saving key \"%s\" "
		    "failed: %s", ex->path, strerror(errno));
	n->tpriv[0] = '\0';
	if (rename(n->tpub, n->pub) == 0) {
		n->tpub[0] = '\0';
		return HWK_OK;
	}
	r = hwk_ctx_error(ctx, HWK_ERR_SYSTEM, "Saving key \"%s\" failed: %s",
	    n->pub, strerror(errno));
	/* Put the old private key back. */
	if (n->old[0] == '\0')
		unlink(ex->path);
	else if (rename(n->old, ex->path) == 0) {
		if (n->keep_old)
			n->bpriv[0] = '\0';
		n->old[0] = '\0';
	} else {
		hwk_ctx_hint(ctx, "The old private key is kept as %s.", n->old);
		n->bpriv[0] = n->old[0] = '\0';	/* the only copy */
	}
	return r;
}

int
hwk_export_pair(struct hwk_ctx *ctx, struct hwk_export *ex)
{
	struct export_names names, *n = &names;
	sigset_t block, saved;
	mode_t mask;
	int r;

	ex->backup_path[0] = '\0';
	if ((r = hwk_export_check(ctx, ex->path)) != 0)
		return r;
	memset(n, 0, sizeof(*n));
	split_path(ex->path, n->dir, n->base);
	snprintf(n->pub, sizeof(n->pub), "%s.pub", ex->path);

	/* As ssh-keygen: the .pub is 0644 less the umask, the key 0600. */
	mask = umask(077);
	umask(mask);

	/* Ctrl-C waits until the files are whole and the temporaries gone. */
	hwk_ending_signals(&block);
	sigprocmask(SIG_BLOCK, &block, &saved);

	if ((r = write_temp(ctx, n->dir, n->base, ex->path,
	    hwk_buf_ptr(ex->priv), hwk_buf_len(ex->priv), 0600, n->tpriv,
	    sizeof(n->tpriv))) != 0 ||
	    (r = write_temp(ctx, n->dir, n->base, n->pub,
	    (const uint8_t *)ex->publine, strlen(ex->publine),
	    0644 & ~mask, n->tpub, sizeof(n->tpub))) != 0 ||
	    (r = keep_old_pair(ctx, ex, n)) != 0 ||
	    (r = install_pair(ctx, ex, n)) != 0)
		goto out;
	if (n->keep_old)
		snprintf(ex->backup_path, sizeof(ex->backup_path), "%s",
		    n->bpriv[0] != '\0' ? n->bpriv : n->bpub);
	r = HWK_OK;
 out:
	if (n->tpriv[0] != '\0')
		unlink(n->tpriv);
	if (n->tpub[0] != '\0')
		unlink(n->tpub);
	if (r != HWK_OK) {
		/* The old pair is still in place: its backup links must go. */
		if (n->bpriv[0] != '\0')
			unlink(n->bpriv);
		if (n->bpub[0] != '\0')
			unlink(n->bpub);
	}
	if (!n->keep_old && n->old[0] != '\0')
		unlink(n->old);
	fsync_dir(n->dir);
	sigprocmask(SIG_SETMASK, &saved, NULL);
	return r;
}

const char *
hwk_home_dir(void)
{
	const char *home = getenv("HOME");
	struct passwd *pw;

	if (home != NULL && *home != '\0')
		return home;
	if ((pw = getpwuid(getuid())) != NULL && pw->pw_dir != NULL)
		return pw->pw_dir;
	return NULL;
}
