/*
 * hwkeygen --list: the key pairs in ~/.ssh and where their private halves
 * live, and the keys on devices (tokens) that no file there names.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hwkey/backend.h"
#include "hwkey/buf.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "hwkey/keyfile.h"
#include "hwkey/out.h"
#include "hwkey/sshkey.h"
#include "hwkey/stubfile.h"
#include "cli.h"

struct row {
	char	*path;
	char	 type[32];
	char	 bits[16];
	char	 fp[HWK_FP_LEN];
	char	*comment;
	char	 backend[32];
	char	 protection[32];
	int	 mismatch;
	const struct hwk_backend *b;	/* of a device: its stub below */
	struct hwk_buf *stub;
};

/* A key in a device that no file names, or a device whose keys may hide. */
struct unnamed {
	const char *backend;
	struct hwk_devkey k;
	char	 type[32];
	unsigned bits;
	char	 fp[HWK_FP_LEN];
};

struct unnamed_list {
	const struct hwk_backend *b;	/* being asked */
	struct unnamed *v;
	size_t	 n;
	int	 nomem;
};

static int
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int
is_regular(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Fills a row for dir/name; 0 if it is a key pair worth listing. */
static int
examine(const char *dir, const char *name, struct row *row)
{
	struct hwk_stubfile *sf = NULL;
	struct hwk_pubkey *pubonly = NULL;
	const struct hwk_stubinfo *si = NULL;
	const struct hwk_pubkey *pub, *k;
	char path[PATH_MAX], pubpath[PATH_MAX + 8];
	int r = -1;

	memset(row, 0, sizeof(*row));
	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    (int)sizeof(path) || !is_regular(path))
		return -1;
	/* An unreadable private file may still have its .pub. */
	if (hwk_stubfile_read(NULL, path, &sf) == 0) {
		pub = sf->pubfile;
		if (sf->backend != NULL && sf->info_rc == 0)
			si = &sf->info;
	} else {
		snprintf(pubpath, sizeof(pubpath), "%s.pub", path);
		pub = pubonly = hwk_pubfile_read(pubpath);
	}
	if ((sf == NULL || sf->backend == NULL) && pub == NULL)
		goto out;	/* neither a private file nor half of a pair */
	if (sf != NULL && sf->backend != NULL && sf->info_rc != 0 &&
	    sf->info_rc != HWK_ERR_UNSUPPORTED)
		snprintf(row->protection, sizeof(row->protection), "damaged");
	else if (si != NULL && si->protection != NULL)
		snprintf(row->protection, sizeof(row->protection), "%s",
		    si->protection);
	else
		snprintf(row->protection, sizeof(row->protection), "?");
	snprintf(row->backend, sizeof(row->backend), "%s",
	    sf != NULL && sf->backend != NULL ? sf->backend->name : "unknown");
	k = pub != NULL ? pub : si != NULL ? si->pub : NULL;
	if (pub != NULL && si != NULL && si->pub != NULL &&
	    (pub->bloblen != si->pub->bloblen ||
	    memcmp(pub->blob, si->pub->blob, pub->bloblen) != 0))
		row->mismatch = 1;
	if (k != NULL) {
		snprintf(row->type, sizeof(row->type), "%s",
		    hwk_pubkey_label(k));
		snprintf(row->bits, sizeof(row->bits), "%u", k->bits);
		if (hwk_fingerprint(k->blob, k->bloblen, row->fp, NULL) != 0)
			snprintf(row->fp, sizeof(row->fp), "?");
		if (pub != NULL && pub->comment != NULL)
			row->comment = strdup(pub->comment);
		else if (pub == NULL && si != NULL && si->comment != NULL)
			row->comment = strdup(si->comment);
	} else {
		snprintf(row->type, sizeof(row->type), "?");
		snprintf(row->bits, sizeof(row->bits), "?");
		snprintf(row->fp, sizeof(row->fp), "? (no %s.pub)", name);
	}
	if ((row->path = strdup(path)) == NULL)
		goto out;
	/* Kept to tell which keys in its device some file names. */
	if (sf != NULL && sf->backend != NULL &&
	    (sf->backend->flags & HWK_BF_DEVICE)) {
		row->b = sf->backend;
		row->stub = sf->data;
		sf->data = NULL;
	}
	r = 0;
 out:
	hwk_pubkey_free(&pubonly);
	hwk_stubfile_free(&sf);
	return r;
}

static int
row_cmp(const void *a, const void *b)
{
	return strcmp(((const struct row *)a)->path,
	    ((const struct row *)b)->path);
}

static size_t
maxlen(size_t cur, const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	return n > cur ? n : cur;
}

/* The device backends' answer: one key no file names (found's arg). */
static void
unnamed_found(void *arg, const struct hwk_devkey *k)
{
	struct unnamed_list *ul = arg;
	struct unnamed *u, *nv;

	if ((nv = realloc(ul->v, (ul->n + 1) * sizeof(*nv))) == NULL) {
		ul->nomem = 1;
		return;
	}
	ul->v = nv;
	u = &ul->v[ul->n++];
	memset(u, 0, sizeof(*u));
	u->backend = ul->b->name;
	u->k = *k;
	u->k.pub = NULL;
	if (k->pub != NULL) {
		snprintf(u->type, sizeof(u->type), "%s",
		    hwk_pubkey_label(k->pub));
		u->bits = k->pub->bits;
		if (hwk_fingerprint(k->pub->blob, k->pub->bloblen, u->fp,
		    NULL) != 0)
			u->fp[0] = '\0';
	}
}

/*
 * The keys in devices that none of the files names: each device backend
 * asked with the stubs it claims, without a PIN.  A backend that cannot
 * tell, or fails, adds nothing: the files are listed all the same.
 */
static void
unnamed_collect(struct hwk_ctx *ctx, const struct row *rows, size_t n,
    struct unnamed_list *ul)
{
	const struct hwk_backend *const *b;
	const struct hwk_buf **stubs;
	size_t i, k;

	memset(ul, 0, sizeof(*ul));
	if ((stubs = calloc(n + 1, sizeof(*stubs))) == NULL) {
		ul->nomem = 1;
		return;
	}
	for (b = hwk_backends(); *b != NULL; b++) {
		if (!((*b)->flags & HWK_BF_DEVICE))
			continue;
		for (i = k = 0; i < n; i++)
			if (rows[i].b == *b)
				stubs[k++] = rows[i].stub;
		ul->b = *b;
		hwk_backend_unnamed(ctx, *b, stubs, k, unnamed_found, ul);
		hwk_ctx_clear_error(ctx);
	}
	free(stubs);
}

static void
unnamed_json(struct hwk_out *o, const struct unnamed *u)
{
	hwk_out_begin_object(o, NULL);
	hwk_out_str(o, "path", NULL);
	hwk_out_bool(o, "no_file", 1);
	hwk_out_str(o, "backend", u->backend);
	hwk_out_str(o, "device", u->k.device);
	if (u->k.hidden) {
		hwk_out_bool(o, "keys_may_be_hidden", 1);
		hwk_out_end_object(o);
		return;
	}
	hwk_out_str(o, "id", u->k.id);
	hwk_out_str(o, "label", u->k.label);
	hwk_out_str(o, "type", u->type[0] != '\0' ? u->type : NULL);
	hwk_out_int(o, "bits", u->bits);
	hwk_out_str(o, "fingerprint", u->fp[0] != '\0' ? u->fp : NULL);
	hwk_out_str(o, "delete_with", u->k.remove);
	hwk_out_end_object(o);
}

/* The keys no file names, after the table, each with its device and id. */
static void
unnamed_print(const struct unnamed_list *ul, const char *dir, FILE *out)
{
	size_t i, shown = 0;

	for (i = 0; i < ul->n; i++) {
		if (ul->v[i].k.hidden)
			continue;
		if (shown++ == 0) {
			fputs("Keys on devices that no file in ", out);
			hwk_out_vis_fputs(dir, out);
			fputs(" names (no stub):\n", out);
		}
		fputs("  ", out);
		hwk_out_vis_fputs(ul->v[i].k.device, out);
		fprintf(out, "  id %s  %s %u  %s  ", ul->v[i].k.id,
		    ul->v[i].type[0] != '\0' ? ul->v[i].type : "?",
		    ul->v[i].bits, ul->v[i].fp[0] != '\0' ? ul->v[i].fp : "?");
		hwk_out_vis_fputs(ul->v[i].k.label, out);
		fputc('\n', out);
	}
	for (i = 0; i < ul->n; i++)
		if (ul->v[i].k.hidden) {
			hwk_out_vis_fputs(ul->v[i].k.device, out);
			fputs(" shows no keys without its PIN: keys there may "
			    "be hidden.\n", out);
		}
}

static int
print_json(struct row *rows, size_t n, const struct unnamed_list *ul,
    FILE *out)
{
	struct hwk_out *o;
	size_t i;
	int r;

	if ((o = hwk_out_new(1)) == NULL)
		return HWK_ERR_NOMEM;
	hwk_out_begin_array(o, NULL);
	for (i = 0; i < n; i++) {
		hwk_out_begin_object(o, NULL);
		hwk_out_str(o, "path", rows[i].path);
		hwk_out_str(o, "type", rows[i].type);
		hwk_out_int(o, "bits", atoi(rows[i].bits));
		hwk_out_str(o, "fingerprint", rows[i].fp[0] == 'S' ?
		    rows[i].fp : NULL);
		hwk_out_str(o, "backend", rows[i].backend);
		hwk_out_str(o, "protection", rows[i].protection);
		hwk_out_str(o, "comment", rows[i].comment);
		hwk_out_bool(o, "public_key_matches", !rows[i].mismatch);
		hwk_out_end_object(o);
	}
	for (i = 0; i < ul->n; i++)
		unnamed_json(o, &ul->v[i]);
	hwk_out_end_array(o);
	r = hwk_out_print(o, out);
	hwk_out_free(&o);
	return r == 0 ? HWK_OK : HWK_ERR_SYSTEM;
}

/* The table for people, with the paths and comments from files escaped. */
static int
print_table(const struct row *rows, size_t n, FILE *out)
{
	char **v;	/* path, fingerprint, comment of each row, escaped */
	size_t i, w[6];
	int r = HWK_ERR_NOMEM;

	if ((v = calloc(n, 3 * sizeof(*v))) == NULL)
		goto out;
	for (i = 0; i < n; i++)
		if ((v[3 * i] = hwk_out_vis(rows[i].path)) == NULL ||
		    (v[3 * i + 1] = hwk_out_vis(rows[i].fp)) == NULL ||
		    (v[3 * i + 2] = hwk_out_vis(rows[i].comment != NULL ?
		    rows[i].comment : "")) == NULL)
			goto out;
	w[0] = strlen("PATH");
	w[1] = strlen("TYPE");
	w[2] = strlen("BITS");
	w[3] = strlen("FINGERPRINT");
	w[4] = strlen("BACKEND");
	w[5] = strlen("PROTECTION");
	for (i = 0; i < n; i++) {
		w[0] = maxlen(w[0], v[3 * i]);
		w[1] = maxlen(w[1], rows[i].type);
		w[2] = maxlen(w[2], rows[i].bits);
		w[3] = maxlen(w[3], v[3 * i + 1]);
		w[4] = maxlen(w[4], rows[i].backend);
		w[5] = maxlen(w[5], rows[i].protection);
	}
	fprintf(out, "%-*s  %-*s  %*s  %-*s  %-*s  %-*s  %s\n", (int)w[0],
	    "PATH", (int)w[1], "TYPE", (int)w[2], "BITS", (int)w[3],
	    "FINGERPRINT", (int)w[4], "BACKEND", (int)w[5], "PROTECTION",
	    "COMMENT");
	for (i = 0; i < n; i++)
		fprintf(out, "%-*s  %-*s  %*s  %-*s  %-*s  %-*s  %s\n",
		    (int)w[0], v[3 * i], (int)w[1], rows[i].type,
		    (int)w[2], rows[i].bits, (int)w[3], v[3 * i + 1], (int)w[4],
		    rows[i].backend, (int)w[5], rows[i].protection,
		    v[3 * i + 2]);
	for (i = 0; i < n; i++)
		if (rows[i].mismatch)
			fprintf(out, "warning: %s.pub does not match the "
			    "public key inside %s\n", v[3 * i], v[3 * i]);
	r = HWK_OK;
 out:
	if (r != HWK_OK)
		fprintf(stderr, "hwkeygen: out of memory\n");
	for (i = 0; v != NULL && i < 3 * n; i++)
		free(v[i]);
	free(v);
	return r;
}

/* The pairs in dir into *rowsp, sorted; *absent if dir does not exist. */
static int
read_dir(const char *dir, struct row **rowsp, size_t *np, int *absent)
{
	struct row *rows = NULL, *nr;
	struct dirent *de;
	size_t n = 0;
	DIR *d;
	int r = HWK_OK;

	*absent = 0;
	if ((d = opendir(dir)) == NULL) {
		if (errno == ENOENT) {
			*absent = 1;
			return HWK_OK;
		}
		fprintf(stderr, "hwkeygen: cannot read %s: %s\n", dir,
		    strerror(errno));
		return HWK_ERR_SYSTEM;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || ends_with(de->d_name, ".pub"))
			continue;
		if ((nr = realloc(rows, (n + 1) * sizeof(*rows))) == NULL) {
			fprintf(stderr, "hwkeygen: out of memory\n");
			r = HWK_ERR_NOMEM;
			break;
		}
		rows = nr;
		if (examine(dir, de->d_name, &rows[n]) == 0)
			n++;
	}
	closedir(d);
	if (n > 0)
		qsort(rows, n, sizeof(*rows), row_cmp);
	*rowsp = rows;
	*np = n;
	return r;
}

/*
 * The pairs --backup moved to dir/key_backup/, after the n rows of dir:
 * not listed, but a key one of them names is not without a file.
 */
static int
read_backups(const char *dir, struct row **rowsp, size_t *np, size_t *nbp)
{
	struct row *b = NULL, *all;
	char sub[PATH_MAX];
	size_t nb = 0, i;
	int r, absent;

	*nbp = 0;
	if (snprintf(sub, sizeof(sub), "%s/key_backup", dir) >=
	    (int)sizeof(sub) || (r = read_dir(sub, &b, &nb, &absent)) != 0 ||
	    nb == 0) {
		free(b);
		return HWK_OK;	/* an unreadable backup folder names none */
	}
	if ((all = realloc(*rowsp, (*np + nb) * sizeof(*all))) == NULL) {
		for (i = 0; i < nb; i++) {
			free(b[i].path);
			free(b[i].comment);
			hwk_buf_free(&b[i].stub);
		}
		free(b);
		fprintf(stderr, "hwkeygen: out of memory\n");
		return HWK_ERR_NOMEM;
	}
	memcpy(all + *np, b, nb * sizeof(*b));
	free(b);
	*rowsp = all;
	*nbp = nb;
	return HWK_OK;
}

int
hwk_list_keys(struct hwk_ctx *ctx, const char *dir, int json, FILE *out)
{
	struct row *rows = NULL;
	struct unnamed_list ul;
	size_t n = 0, nb = 0, i;
	int r, absent;

	memset(&ul, 0, sizeof(ul));
	if ((r = read_dir(dir, &rows, &n, &absent)) != 0 ||
	    (r = read_backups(dir, &rows, &n, &nb)) != 0)
		goto out;
	unnamed_collect(ctx, rows, n + nb, &ul);
	if (ul.nomem) {
		fprintf(stderr, "hwkeygen: out of memory\n");
		r = HWK_ERR_NOMEM;
		goto out;
	}
	if (json && n == 0 && ul.n == 0)
		fputs("[]\n", out);
	else if (json)
		r = print_json(rows, n, &ul, out);
	else {
		if (n == 0) {
			fputs("No key pairs", out);
			fputs(absent ? ": " : " in ", out);
			hwk_out_vis_fputs(dir, out);
			fputs(absent ? " does not exist.\n" : ".\n", out);
		} else
			r = print_table(rows, n, out);
		if (r == 0)
			unnamed_print(&ul, dir, out);
	}
 out:
	for (i = 0; i < n + nb; i++) {
		free(rows[i].path);
		free(rows[i].comment);
		hwk_buf_free(&rows[i].stub);
	}
	free(rows);
	for (i = 0; i < ul.n; i++)
		hwk_devkey_clear(&ul.v[i].k);
	free(ul.v);
	return r;
}

int
hwk_cli_list(struct hwk_ctx *ctx, int json)
{
	char dir[PATH_MAX];
	const char *home;

	if ((home = hwk_home_dir()) == NULL) {
		fprintf(stderr, "hwkeygen: cannot tell your home directory\n");
		return HWK_ERR_NOT_FOUND;
	}
	snprintf(dir, sizeof(dir), "%s/.ssh", home);
	return hwk_list_keys(ctx, dir, json, stdout);
}
