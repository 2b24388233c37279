/* Key files on disk: reading them, and writing a key pair all or nothing. */
#ifndef HWKEY_KEYFILE_H
#define HWKEY_KEYFILE_H

#include <sys/stat.h>

#include <limits.h>
#include <signal.h>
#include <stddef.h>

struct hwk_buf;
struct hwk_ctx;
struct hwk_pubkey;

#define HWK_KEYFILE_MAX	(1024 * 1024)

/* The signals that end a program (INT, TERM, HUP, QUIT), to hold off. */
void	hwk_ending_signals(sigset_t *set);

/*
 * Opens path to read without ever waiting: a FIFO, a device or a directory
 * is refused (the context says which).  *fdp is -1 on failure.
 */
int	hwk_file_open(struct hwk_ctx *ctx, const char *path, int *fdp,
	    struct stat *stp);
/* The whole of a (small) regular file. */
int	hwk_file_read(struct hwk_ctx *ctx, const char *path,
	    struct hwk_buf **outp);
/* The same, with what fstat said of the file that was read. */
int	hwk_file_read_stat(struct hwk_ctx *ctx, const char *path,
	    struct hwk_buf **outp, struct stat *stp);
/*
 * Nonzero if a private key file the user owns is open to group or others,
 * which ssh-keygen refuses to load ("UNPROTECTED PRIVATE KEY FILE!").
 */
int	hwk_file_too_open(const struct stat *st);
/* The user's home: $HOME, else the password database; NULL if neither. */
const char *hwk_home_dir(void);
/* The key on the first line of a public key file, or NULL. */
struct hwk_pubkey *hwk_pubfile_read(const char *path);

struct hwk_export {
	const char	*path;		/* private file; public is path.pub */
	const struct hwk_buf *priv;
	const char	*publine;	/* with its newline */
	int		 backup;	/* move an old pair to key_backup/ */
	char		 backup_path[PATH_MAX];	/* out: where it went, or "" */
};

/*
 * Checks that path can be written before anything is generated: the folder
 * exists and is writable, and neither file is a symbolic link.
 */
int	hwk_export_check(struct hwk_ctx *ctx, const char *path);
/*
 * Writes the private file (0600) and path.pub (0644 less the umask, as
 * ssh-keygen does) through temporary files in the same folder, fsynced and
 * renamed: both files or neither.  Signals wait until it is done, so Ctrl-C
 * leaves no temporary file behind.
 */
int	hwk_export_pair(struct hwk_ctx *ctx, struct hwk_export *ex);

#endif /* HWKEY_KEYFILE_H */
