/* Opening a key by its private file (stubfile.h), for every command. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hwkey/backend.h"
#include "hwkey/buf.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "hwkey/keyfile.h"
#include "hwkey/sshkey.h"
#include "hwkey/stubfile.h"

int
hwk_stubfile_read(struct hwk_ctx *ctx, const char *path,
    struct hwk_stubfile **sfp)
{
	struct hwk_stubfile *sf;
	char pubpath[PATH_MAX + 8];
	int r;

	*sfp = NULL;
	if ((sf = calloc(1, sizeof(*sf))) == NULL)
		return HWK_ERR_NOMEM;
	sf->info_rc = HWK_ERR_UNSUPPORTED;
	if ((sf->path = strdup(path)) == NULL) {
		r = HWK_ERR_NOMEM;
		goto out;
	}
	if ((r = hwk_file_read_stat(ctx, path, &sf->data, &sf->st)) != 0)
		goto out;
	sf->backend = hwk_backend_for_stub(hwk_buf_ptr(sf->data),
	    hwk_buf_len(sf->data));
	if (sf->backend != NULL)
		sf->info_rc = hwk_backend_stub_info(sf->backend,
		    hwk_buf_ptr(sf->data), hwk_buf_len(sf->data), &sf->info);
	snprintf(pubpath, sizeof(pubpath), "%s.pub", path);
	sf->pubfile = hwk_pubfile_read(pubpath);
	*sfp = sf;
	sf = NULL;	/* owned by the caller */
	r = HWK_OK;
 out:
	hwk_stubfile_free(&sf);
	return r;
}

const struct hwk_pubkey *
hwk_stubfile_pub(const struct hwk_stubfile *sf)
{
	if (sf->pubfile != NULL)
		return sf->pubfile;
	return sf->info_rc == 0 ? sf->info.pub : NULL;
}

struct hwk_pubkey *
hwk_stubfile_take_pub(struct hwk_stubfile *sf)
{
	struct hwk_pubkey *pub;

	if (sf->pubfile != NULL) {
		pub = sf->pubfile;
		sf->pubfile = NULL;
	} else if (sf->info_rc == 0) {
		pub = sf->info.pub;
		sf->info.pub = NULL;
	} else
		pub = NULL;
	return pub;
}

int
hwk_stubfile_too_open(const struct hwk_stubfile *sf)
{
	return sf->backend != NULL &&
	    (sf->backend->flags & HWK_BF_PASSPHRASE) != 0 &&
	    hwk_file_too_open(&sf->st);
}

int
hwk_stubfile_load(struct hwk_ctx *ctx, const struct hwk_stubfile *sf,
    struct hwk_key **keyp)
{
	*keyp = NULL;
	if (sf->backend == NULL)
		return hwk_ctx_error(ctx, HWK_ERR_FORMAT, "%s is not a private "
		    "key file that hwkeygen knows (OpenSSH, TPM or PKCS#11 "
		    "stub)", sf->path);
	return hwk_backend_load(ctx, sf->backend, hwk_buf_ptr(sf->data),
	    hwk_buf_len(sf->data), keyp);
}

void
hwk_stubfile_free(struct hwk_stubfile **sfp)
{
	struct hwk_stubfile *sf;

	if (sfp == NULL || (sf = *sfp) == NULL)
		return;
	hwk_stubinfo_clear(&sf->info);
	hwk_pubkey_free(&sf->pubfile);
	hwk_buf_free(&sf->data);	/* wipes: a key file may be plain */
	free(sf->path);
	free(sf);
	*sfp = NULL;
}
