/*
 * Opening a key by its private file, the same way in every command: read
 * it without ever waiting (hwk_file_open), find the backend whose format it
 * is, take the public key from path.pub or from the stub, and load it.
 */
#ifndef HWKEY_STUBFILE_H
#define HWKEY_STUBFILE_H

#include <sys/stat.h>

#include "hwkey/backend.h"

struct hwk_buf;
struct hwk_ctx;
struct hwk_key;
struct hwk_pubkey;

struct hwk_stubfile {
	char		*path;
	struct hwk_buf	*data;		/* the private file's bytes */
	struct stat	 st;		/* of the file that was read */
	const struct hwk_backend *backend;	/* NULL: no backend's format */
	struct hwk_stubinfo info;	/* what the stub tells unopened */
	int		 info_rc;	/* 0 if info is valid */
	struct hwk_pubkey *pubfile;	/* path.pub, or NULL */
};

/*
 * Reads path and path.pub.  A file in no backend's format is not an error
 * here (it may be a public key file): backend is NULL then.  ctx may be NULL.
 */
int	hwk_stubfile_read(struct hwk_ctx *ctx, const char *path,
	    struct hwk_stubfile **sfp);
/* The public key: path.pub if it reads, else the stub's own; may be NULL. */
const struct hwk_pubkey *hwk_stubfile_pub(const struct hwk_stubfile *sf);
/* The same, handed over to the caller (who frees it). */
struct hwk_pubkey *hwk_stubfile_take_pub(struct hwk_stubfile *sf);
/*
 * Nonzero if the file holds a secret (a key, or a TPM's blob of one) and
 * others may read it: ssh refuses such a key.  A PKCS#11 stub only names a
 * key, and may be read by all.
 */
int	hwk_stubfile_too_open(const struct hwk_stubfile *sf);
/* Opens the key for signing; may ask for its passphrase, password or PIN. */
int	hwk_stubfile_load(struct hwk_ctx *ctx, const struct hwk_stubfile *sf,
	    struct hwk_key **keyp);
void	hwk_stubfile_free(struct hwk_stubfile **sfp);

#endif /* HWKEY_STUBFILE_H */
