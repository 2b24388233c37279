/*
 * The PKCS#11 modules in use: the one named with --module or in a file
 * (if allowed), or those registered with p11-kit, each started once and
 * kept until exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <p11-kit/p11-kit.h>
#include <p11-kit/pkcs11.h>

#include "hwkey/buf.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "pkcs11_impl.h"

static struct p11_mod *mods;
static int registered_tried;
static char *registered_note;	/* why registered modules are missing */
static int atexit_done;

/* Appends "; text" (or text) to a note list. */
void
hwk_p11_note_add(struct hwk_buf *notes, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	hwk_buf_putf(notes, "%s%s", hwk_buf_len(notes) > 0 ? "; " : "", line);
}

/* At exit: the sessions and refused PINs go first, then their modules. */
static void
mods_finalize(void)
{
	struct p11_mod *m;

	hwk_p11_conns_free();
	hwk_p11_refusals_free();
	while ((m = mods) != NULL) {
		mods = m->next;
		p11_kit_module_finalize(m->fn);
		p11_kit_module_release(m->fn);
		free(m->path);
		free(m);
	}
	free(registered_note);
	registered_note = NULL;
	registered_tried = 0;
}

/* Takes over an initialised module; fn is released on failure. */
static int
mod_add(struct hwk_ctx *ctx, CK_FUNCTION_LIST *fn, const char *given,
    struct p11_mod **mp)
{
	struct p11_mod *m = NULL;
	char *file;
	CK_RV rv;

	*mp = NULL;
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		p11_kit_module_finalize(fn);
		p11_kit_module_release(fn);
		return HWK_ERR_NOMEM;
	}
	m->fn = fn;
	file = p11_kit_module_get_filename(fn);
	m->path = strdup(file != NULL ? file : given);
	free(file);
	if (m->path == NULL ||
	    (rv = fn->C_GetInfo(&m->info)) != CKR_OK) {
		rv = m->path == NULL ? CKR_HOST_MEMORY : rv;
		p11_kit_module_finalize(fn);
		p11_kit_module_release(fn);
		free(m->path);
		free(m);
		return hwk_p11_rv_error(ctx, rv, "module %s: C_GetInfo", given);
	}
	if (!atexit_done && atexit(mods_finalize) == 0)
		atexit_done = 1;
	m->next = mods;
	mods = m;
	*mp = m;
	return HWK_OK;
}

/*
 * Sends stdout and stderr to /dev/null while a module nobody named starts,
 * and keeps the descriptors to restore them with: a module that fails to
 * start may print pages (the notes say it in one clause), and one that
 * prints on stdout would garble --json.  saved[0] and saved[1] are -1
 * where a descriptor could not be kept (and is then left as it was).
 */
static void
output_mute(int saved[2])
{
	int fd, null;

	fflush(stdout);
	fflush(stderr);
	saved[0] = saved[1] = -1;
	if ((null = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0)
		return;
	for (fd = STDOUT_FILENO; fd <= STDERR_FILENO; fd++)
		if ((saved[fd - 1] = fcntl(fd, F_DUPFD_CLOEXEC, 3)) >= 0)
			dup2(null, fd);
	close(null);
}

static void
output_restore(const int saved[2])
{
	int fd;

	fflush(stdout);
	fflush(stderr);
	for (fd = STDOUT_FILENO; fd <= STDERR_FILENO; fd++)
		if (saved[fd - 1] >= 0) {
			dup2(saved[fd - 1], fd);
			close(saved[fd - 1]);
		}
}

/*
 * A module may use the TSS (tpm2-pkcs11), which reads its log level once:
 * quiet from the first use on, or the tpm2 backend's probes would print.
 */
static void
tss_log_quiet(void)
{
	if (getenv("TSS2_LOG") == NULL)
		setenv("TSS2_LOG", "all+none", 0);
}

/*
 * Nonzero if file (a resolved path) is one of the modules registered with
 * p11-kit.  Asking opens their libraries but starts none of them.
 */
static int
registered_file(const char *file)
{
	CK_FUNCTION_LIST **all;
	char *f, canon[PATH_MAX];
	size_t i;
	int found = 0, saved[2];

	p11_kit_be_quiet();
	output_mute(saved);
	all = p11_kit_modules_load(NULL, 0);
	output_restore(saved);
	if (all == NULL)
		return 0;
	for (i = 0; all[i] != NULL && !found; i++) {
		f = p11_kit_module_get_filename(all[i]);
		found = f != NULL && realpath(f, canon) != NULL &&
		    strcmp(canon, file) == 0;
		free(f);
	}
	p11_kit_modules_release(all);
	return found;
}

/*
 * The file of the registered module whose name (p11-kit list-modules) or
 * file name is name, as --module may give it ("softhsm2",
 * "libsofthsm2.so"); NULL if none is.  The caller frees it.
 */
static char *
registered_by_name(const char *name)
{
	CK_FUNCTION_LIST **all;
	char *f, *n, *found = NULL;
	const char *base;
	size_t i;
	int saved[2];

	p11_kit_be_quiet();
	output_mute(saved);
	all = p11_kit_modules_load(NULL, 0);
	output_restore(saved);
	if (all == NULL)
		return NULL;
	for (i = 0; all[i] != NULL && found == NULL; i++) {
		f = p11_kit_module_get_filename(all[i]);
		n = p11_kit_module_get_name(all[i]);
		base = f != NULL ? strrchr(f, '/') : NULL;
		base = base != NULL ? base + 1 : f;
		if (f != NULL && ((n != NULL && strcmp(n, name) == 0) ||
		    (base != NULL && strcmp(base, name) == 0))) {
			found = f;
			f = NULL;
		}
		free(f);
		free(n);
	}
	p11_kit_modules_release(all);
	return found;
}

/*
 * A module that a file names (a stub, a --token URI) is code the file
 * would have us run: it is loaded only from an absolute path that the
 * allowed patterns take (ssh-agent's -P), or if p11-kit has it registered.
 * canon gets the file path resolves to (PATH_MAX bytes).
 */
static int
module_allowed(struct hwk_ctx *ctx, const struct p11_opts *o,
    const char *path, char *canon)
{
	const char *allow = o->allow != NULL ? o->allow :
	    HWK_P11_ALLOW_DEFAULT;

	if (path[0] != '/') {
		hwk_ctx_error(ctx, HWK_ERR_INVALID_ARG, "PKCS#11 module %s is "
		    "refused: a module named in a file is loaded only by its "
		    "absolute path", path);
		hwk_ctx_hint(ctx, "If you trust the module, name it on the "
		    "command line: --module PATH.");
		return HWK_ERR_INVALID_ARG;
	}
	if (realpath(path, canon) == NULL)
		return hwk_ctx_error(ctx, HWK_ERR_NO_DEVICE, "cannot load "
		    "PKCS#11 module %s: %s", path, strerror(errno));
	if (hwk_p11_allow_match(canon, allow) == 1 || registered_file(canon))
		return HWK_OK;
	hwk_ctx_error(ctx, HWK_ERR_INVALID_ARG, "PKCS#11 module %s%s%s%s is "
	    "refused: p11-kit does not have it registered and it is not in "
	    "the allowed module files (%s)", path, strcmp(path, canon) != 0 ?
	    " (" : "", strcmp(path, canon) != 0 ? canon : "",
	    strcmp(path, canon) != 0 ? ")" : "", allow);
	hwk_ctx_hint(ctx, "If you trust the module, name it with --module %s, "
	    "or allow its folder with --module-allow (hwkey-agent -P), or "
	    "register it with p11-kit.", path);
	return HWK_ERR_INVALID_ARG;
}

/*
 * The module at path, loading it the first time.  named: the person named
 * it with --module; else it comes from a file and must be allowed.
 */
int
hwk_p11_mod_load(struct hwk_ctx *ctx, const struct p11_opts *o,
    const char *path, int named, struct p11_mod **mp)
{
	CK_FUNCTION_LIST *fn;
	struct p11_mod *m;
	char abs[PATH_MAX], why[512], *reg = NULL;
	const char *p = path;
	CK_RV rv;
	int r;

	*mp = NULL;
	if ((r = hwk_p11_lib_need(ctx)) != 0)
		return r;
	/* Loaded already, so allowed already: a stub of a --module key. */
	for (m = mods; m != NULL; m = m->next)
		if (strcmp(m->path, path) == 0) {
			*mp = m;
			return HWK_OK;
		}
	if (!named) {
		if ((r = module_allowed(ctx, o, path, abs)) != 0)
			return r;
		p = abs;	/* the file that was checked, not a link */
	} else if (strchr(path, '/') != NULL && path[0] != '/') {
		/* p11-kit reads a relative path in its own module folder. */
		if (realpath(path, abs) == NULL)
			return hwk_ctx_error(ctx, HWK_ERR_NO_DEVICE, "cannot "
			    "load PKCS#11 module %s: %s", path,
			    strerror(errno));
		p = abs;
	}
	for (m = mods; m != NULL; m = m->next)
		if (strcmp(m->path, p) == 0) {
			*mp = m;
			return HWK_OK;
		}
	p11_kit_be_quiet();
	fn = p11_kit_module_load(p, 0);
	snprintf(why, sizeof(why), "%s", p11_kit_message() != NULL ?
	    p11_kit_message() : "unknown error");
	/* Not in p11-kit's folder: a registered module's name, perhaps. */
	if (fn == NULL && named && strchr(p, '/') == NULL &&
	    (reg = registered_by_name(p)) != NULL) {
		for (m = mods; m != NULL; m = m->next)
			if (strcmp(m->path, reg) == 0) {
				free(reg);
				*mp = m;
				return HWK_OK;
			}
		fn = p11_kit_module_load(reg, 0);
		p = reg;
	}
	if (fn == NULL) {
		free(reg);
		hwk_ctx_error(ctx, HWK_ERR_NO_DEVICE, "cannot load PKCS#11 "
		    "module %s: %s", path, reg == NULL ? why :
		    p11_kit_message() != NULL ? p11_kit_message() :
		    "unknown error");
		hwk_ctx_hint(ctx, "Give --module the module's file (a path, or "
		    "a file in p11-kit's module folder such as "
		    "opensc-pkcs11.so) or the name p11-kit list-modules "
		    "shows.");
		return HWK_ERR_NO_DEVICE;
	}
	tss_log_quiet();
	if ((rv = p11_kit_module_initialize(fn)) != CKR_OK) {
		p11_kit_module_release(fn);
		free(reg);
		hwk_p11_rv_error(ctx, rv, "PKCS#11 module %s failed to start "
		    "(C_Initialize)", path);
		return HWK_ERR_NO_DEVICE;
	}
	r = mod_add(ctx, fn, p, mp);
	free(reg);
	return r;
}

/* C_Initialize of a module nobody named, with its chatter silenced. */
static CK_RV
mod_start_quiet(CK_FUNCTION_LIST *fn)
{
	CK_RV rv;
	int saved[2];

	tss_log_quiet();
	output_mute(saved);
	rv = p11_kit_module_initialize(fn);
	output_restore(saved);
	return rv;
}

/*
 * Nonzero for tpm2-pkcs11's module: its tokens are keys of this machine's
 * TPM, which the tpm2 backend uses directly, and starting it writes a
 * store under the home folder.  Someone who wants it names it: --module.
 */
static int
is_tpm_module(CK_FUNCTION_LIST *fn)
{
	char *file, *base;
	int yes;

	if ((file = p11_kit_module_get_filename(fn)) == NULL)
		return 0;
	base = strrchr(file, '/');
	base = base != NULL ? base + 1 : file;
	yes = strncmp(base, "libtpm2_pkcs11.so", 17) == 0;
	free(file);
	return yes;
}

/* Loads the modules registered with p11-kit, once; trust stores left out. */
int
hwk_p11_mods_registered(struct hwk_ctx *ctx)
{
	CK_FUNCTION_LIST **all = NULL;
	struct hwk_buf *notes = NULL;
	struct p11_mod *m;
	char *name, *trust, *file;
	size_t i;
	char nb[48];
	CK_RV rv;
	int r = HWK_OK, saved[2];

	if ((r = hwk_p11_lib_need(ctx)) != 0)
		return r;
	if (registered_tried)
		return HWK_OK;
	registered_tried = 1;
	if ((notes = hwk_buf_new()) == NULL)
		return HWK_ERR_NOMEM;
	p11_kit_be_quiet();
	output_mute(saved);
	all = p11_kit_modules_load(NULL, 0);
	output_restore(saved);
	if (all == NULL) {
		hwk_p11_note_add(notes, "p11-kit could not load its modules: "
		    "%s", p11_kit_message() != NULL ? p11_kit_message() :
		    "unknown");
		goto out;
	}
	for (i = 0; all[i] != NULL; i++) {
		name = p11_kit_module_get_name(all[i]);
		trust = p11_kit_config_option(all[i], "trust-policy");
		file = p11_kit_module_get_filename(all[i]);
		for (m = mods; m != NULL && file != NULL; m = m->next)
			if (strcmp(m->path, file) == 0)
				break;
		free(file);
		/* A store of CA certificates holds no keys to sign with. */
		if ((p11_kit_module_get_flags(all[i]) &
		    P11_KIT_MODULE_TRUSTED) || (trust != NULL &&
		    strcmp(trust, "yes") == 0)) {
			p11_kit_module_release(all[i]);
		} else if (m == NULL && is_tpm_module(all[i])) {
			hwk_p11_note_add(notes, "module %s is the TPM, which "
			    "the tpm2 backend uses", name != NULL ? name : "?");
			p11_kit_module_release(all[i]);
		} else if (m != NULL) {
			/* Loaded already, by its path: once is enough. */
			m->registered = 1;
			p11_kit_module_release(all[i]);
		} else if ((rv = mod_start_quiet(all[i])) != CKR_OK) {
			hwk_p11_note_add(notes, "module %s failed to start "
			    "(%s)", name != NULL ? name : "?",
			    hwk_p11_rv_name(rv, nb, sizeof(nb)));
			p11_kit_module_release(all[i]);
		} else if ((r = mod_add(ctx, all[i], name != NULL ? name :
		    "?", &m)) != 0) {
			free(name);
			free(trust);
			for (i++; all[i] != NULL; i++)
				p11_kit_module_release(all[i]);
			goto out;
		} else
			m->registered = 1;
		free(name);
		free(trust);
	}
 out:
	free(all);		/* the modules are ours or released */
	if (hwk_buf_len(notes) > 0)
		registered_note = hwk_buf_dup_string(notes);
	hwk_buf_free(&notes);
	return r;
}

/* Why some registered modules are missing, or NULL. */
const char *
hwk_p11_mods_note(void)
{
	return registered_note;
}

/* The module in use after m (NULL: the first). */
struct p11_mod *
hwk_p11_mod_next(struct p11_mod *only, struct p11_mod *m)
{
	if (only != NULL)
		return m == NULL ? only : NULL;
	for (m = m == NULL ? mods : m->next; m != NULL; m = m->next)
		if (m->registered)
			break;
	return m;
}
