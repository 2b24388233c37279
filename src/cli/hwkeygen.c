/*
 * hwkeygen: ssh-keygen's key generation flow, with the private key made in
 * a TPM, on a PKCS#11 token, or in software.  This file is the only part
 * that talks to the user: options, prompts, messages, exit codes.
 */
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "hwkey/backend.h"
#include "hwkey/buf.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "hwkey/keyfile.h"
#include "hwkey/options.h"
#include "hwkey/out.h"
#include "hwkey/sshkey.h"
#include "hwkey/stubfile.h"
#include "hwkey/version.h"
#include "cli.h"
#include "prompt.h"


struct options {
	const char	*type;
	unsigned	 bits;
	const char	*comment;
	char		 path[PATH_MAX];
	int		 have_path;
	char		*new_pass;	/* -N */
	unsigned	 rounds;	/* -a */
	int		 quiet;
	int		 print_public;	/* -y */
	int		 fingerprint;	/* -l */
	int		 verbose;	/* -v */
	int		 list;
	int		 backup;
	int		 json;
	int		 backends;	/* --backends */
	int		 require_hw;
	const char	*backend;
};

static struct options opt;
static FILE *info;		/* where messages for the user go */

enum {
	OPT_BACKEND = 256, OPT_BACKUP, OPT_LIST, OPT_HELP, OPT_VERSION,
	OPT_JSON, OPT_BACKENDS, OPT_REQUIRE_HW,
};

static const struct option fixed_longopts[] = {
	{ "backend", required_argument, NULL, OPT_BACKEND },
	{ "backup", no_argument, NULL, OPT_BACKUP },
	{ "list", no_argument, NULL, OPT_LIST },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "backends", no_argument, NULL, OPT_BACKENDS },
	{ "require-hardware", no_argument, NULL, OPT_REQUIRE_HW },
};

#define PARSE_DONE	(-1)	/* --help or --version: nothing more to do */

static struct hwk_longopts longopts;

void
hwk_report(struct hwk_ctx *ctx, int err, const char *fmt, ...)
{
	const char *detail = ctx != NULL ? hwk_ctx_detail(ctx) : "";
	char *msg = NULL;
	va_list ap;

	/* Paths, labels and URIs in messages come from files: escaped. */
	fflush(stdout);
	fputs("hwkeygen: ", stderr);
	if (fmt != NULL) {
		va_start(ap, fmt);
		if (vasprintf(&msg, fmt, ap) < 0)
			msg = NULL;
		va_end(ap);
		hwk_out_vis_fputs(msg != NULL ? msg : fmt, stderr);
		if (*detail != '\0') {
			fputs(": ", stderr);
			hwk_out_vis_fputs(detail, stderr);
		}
	} else
		hwk_out_vis_fputs(*detail != '\0' ? detail : hwk_strerror(err),
		    stderr);
	fputc('\n', stderr);
	if (ctx != NULL && *hwk_ctx_advice(ctx) != '\0') {
		fputs("hwkeygen: ", stderr);
		hwk_out_vis_fputs(hwk_ctx_advice(ctx), stderr);
		fputc('\n', stderr);
	}
	free(msg);
	if (ctx != NULL)
		hwk_ctx_clear_error(ctx);
}

static int
usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("hwkeygen: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'hwkeygen --help' for more information.\n", stderr);
	return EXIT_USAGE;
}

static void
usage(FILE *f)
{
	const struct hwk_backend *const *b;

	fprintf(f,
"Usage: hwkeygen [-q] [-t rsa] [-b bits] [-C comment] [-f file] [-N passphrase]\n"
"                [-a rounds] [--backend NAME] [--backup] [backend options]\n"
"       hwkeygen -y [-f file] [-P passphrase]\n"
"       hwkeygen -l [-v] [-f file]\n"
"       hwkeygen --list [--json]\n"
"       hwkeygen --backends [--json]\n"
"\n"
"Makes an SSH key pair the way ssh-keygen does, with the private key born\n"
"inside a PKCS#11 token or a TPM when there is one, and in software when not.\n"
"\n"
"  -t rsa           key type (RSA is the one type every TPM and token makes)\n"
"  -b bits          key size: 2048 to 16384; default 3072 in software,\n"
"                   2048 on a TPM or token\n"
"  -C comment       comment for the public key (default: user@host)\n"
"  -f file          private key file (default: ~/.ssh/id_rsa); the public\n"
"                   key goes to file.pub\n"
"  -N passphrase    new passphrase ('' for none) instead of the prompt\n"
"  -P passphrase    passphrase of an existing key, for -y\n"
"  -a rounds        bcrypt KDF rounds for an encrypted key file (default 24)\n"
"  -q               quiet\n"
"  -y               print the public key of a private key file\n"
"  -l               print the fingerprint of a key file (-v: with randomart)\n"
"  --backend NAME   where the private key is made: auto (default)");
	for (b = hwk_backends(); *b != NULL; b++)
		fprintf(f, ", %s", (*b)->name);
	fprintf(f, "\n"
"  --backup         move an existing key pair to key_backup/ instead of\n"
"                   asking whether to overwrite it\n"
"  --require-hardware  refuse to fall back to a key in a file\n"
"  --list           list the key pairs in ~/.ssh\n"
"  --backends       what each backend finds on this machine\n"
"  --json           machine-readable output for --list, --backends and\n"
"                   key generation (no prompts: use -f, -N, --pin-source)\n"
"  --help           this text\n"
"  --version        the version\n");
	hwk_backend_options_usage(f, 17, HWK_OPT_BOTH);
}

/* Copies a secret given on the command line and blanks it in argv. */
static char *
take_secret(char *arg)
{
	char *s = strdup(arg);

	explicit_bzero(arg, strlen(arg));
	return s;
}

static int
parse_uint(const char *s, unsigned long min, unsigned long max,
    unsigned *out)
{
	unsigned long v;
	char *end;

	if (*s == '\0' || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static int
check_type(const char *t)
{
	static const char *const others[] = { "ed25519", "ecdsa", "dsa",
	    "ed25519-sk", "ecdsa-sk", "ssh-ed25519", "ssh-dss", NULL };
	int i;

	if (strcasecmp(t, "rsa") == 0 || strcmp(t, "ssh-rsa") == 0)
		return 0;
	for (i = 0; others[i] != NULL; i++)
		if (strcasecmp(t, others[i]) == 0) {
			fprintf(stderr, "hwkeygen: key type '%s' is not "
			    "supported: hwkeygen makes RSA keys, the type "
			    "every TPM and PKCS#11 token can generate\n"
			    "hwkeygen: Use -t rsa (the default); for a "
			    "software %s key use ssh-keygen -t %s.\n", t, t, t);
			return -1;
		}
	usage_error("unknown key type '%s'; hwkeygen makes RSA keys (-t rsa)",
	    t);
	return -1;
}

static int
parse_args(int argc, char **argv, struct hwk_ctx *ctx)
{
	int ch, r;

	memset(&opt, 0, sizeof(opt));
	opt.backend = "auto";
	optind = 0;		/* a full rescan: tests call this repeatedly */
	if (hwk_longopts_build(&longopts, fixed_longopts,
	    sizeof(fixed_longopts) / sizeof(fixed_longopts[0]),
	    HWK_OPT_BOTH) != 0)
		return usage_error("too many options");
	while ((ch = getopt_long(argc, argv, "a:b:C:E:f:lN:P:qt:vy",
	    longopts.opts, NULL)) != -1) {
		switch (ch) {
		case 'a':
			if (parse_uint(optarg, 1, INT_MAX, &opt.rounds) != 0)
				return usage_error("-a: '%s' is not a number of "
				    "KDF rounds (1 or more; default 24)", optarg);
			break;
		case 'b':
			if (parse_uint(optarg, 1, UINT_MAX, &opt.bits) != 0)
				return usage_error("-b: '%s' is not a number of "
				    "bits; use a size from %u to %u, such as "
				    "3072 or 4096", optarg, HWK_RSA_MIN_BITS,
				    HWK_RSA_MAX_BITS);
			break;
		case 'C':
			if (strpbrk(optarg, "\r\n") != NULL)
				return usage_error("-C: a comment cannot hold a "
				    "line break (the .pub file is one line)");
			opt.comment = optarg;
			break;
		case 'E':
			if (strcasecmp(optarg, "sha256") != 0)
				return usage_error("-E %s: only sha256 "
				    "fingerprints are supported", optarg);
			break;
		case 'f':
			if (strlen(optarg) + 5 >= sizeof(opt.path))
				return usage_error("-f: the path is too long");
			strcpy(opt.path, optarg);
			opt.have_path = 1;
			break;
		case 'l':
			opt.fingerprint = 1;
			break;
		case 'N':
			free(opt.new_pass);
			if ((opt.new_pass = take_secret(optarg)) == NULL)
				return EXIT_FAIL;
			if (strlen(opt.new_pass) >= HWK_SECRET_MAX)
				return usage_error("-N: the passphrase is longer "
				    "than %d characters, the most -P and the "
				    "prompt take", HWK_SECRET_MAX - 1);
			break;
		case 'P':
			if (strlen(optarg) >= HWK_SECRET_MAX) {
				explicit_bzero(optarg, strlen(optarg));
				return usage_error("-P: the passphrase is longer "
				    "than %d characters, the most -N and the "
				    "prompt take", HWK_SECRET_MAX - 1);
			}
			r = hwk_ctx_set_opt(ctx, "passphrase", optarg);
			explicit_bzero(optarg, strlen(optarg));
			if (r != 0)
				return EXIT_FAIL;
			break;
		case 'q':
			opt.quiet = 1;
			break;
		case 't':
			opt.type = optarg;
			if (check_type(optarg) != 0)
				return EXIT_USAGE;
			break;
		case 'v':
			opt.verbose = 1;
			break;
		case 'y':
			opt.print_public = 1;
			break;
		case OPT_BACKEND:
			if (strcmp(optarg, "auto") != 0 &&
			    hwk_backend_find(optarg) == NULL) {
				const struct hwk_backend *const *b;

				fprintf(stderr, "hwkeygen: unknown backend "
				    "'%s'; choose one of: auto", optarg);
				for (b = hwk_backends(); *b != NULL; b++)
					fprintf(stderr, ", %s", (*b)->name);
				fputc('\n', stderr);
				return EXIT_USAGE;
			}
			opt.backend = optarg;
			break;
		case OPT_BACKUP:
			opt.backup = 1;
			break;
		case OPT_LIST:
			opt.list = 1;
			break;
		case OPT_JSON:
			opt.json = 1;
			break;
		case OPT_BACKENDS:
			opt.backends = 1;
			break;
		case OPT_REQUIRE_HW:
			opt.require_hw = 1;
			break;
		case OPT_HELP:
			usage(stdout);
			return PARSE_DONE;
		case OPT_VERSION:
			printf("hwkeygen %s\n", HWK_VERSION);
			return PARSE_DONE;
		default:
			if ((r = hwk_longopts_take(&longopts, ch, optarg,
			    ctx)) < 0)
				return EXIT_FAIL;
			if (r > 0)
				break;
			fputs("Try 'hwkeygen --help' for more information.\n",
			    stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (opt.print_public + opt.fingerprint + opt.list + opt.backends > 1)
		return usage_error("-y, -l, --list and --backends cannot be "
		    "combined");
	if (opt.require_hw && strcmp(opt.backend, "auto") != 0 &&
	    (hwk_backend_find(opt.backend)->flags & HWK_BF_DEVICE) == 0)
		return usage_error("--require-hardware and --backend %s "
		    "contradict each other: the %s backend keeps the key in a "
		    "file", opt.backend, opt.backend);
	if (opt.json && (opt.print_public || opt.fingerprint))
		return usage_error("--json goes with --list, --backends and "
		    "key generation");
	if (opt.json && !opt.list && !opt.backends) {
		/* Scripts get no prompts: everything must be on the line. */
		if (!opt.have_path)
			return usage_error("--json does not prompt: give the "
			    "key file with -f");
	}
	info = opt.json ? stderr : stdout;
	return EXIT_OK;
}

/* hwk_ui for the terminal. */
static void progress_pause(int);

static int
ui_read_secret(void *arg, const char *prompt, char *buf, size_t len)
{
	char *safe;
	int r;

	(void)arg;
	/* A prompt may quote a token's label: escaped like all foreign text. */
	if ((safe = hwk_out_vis(prompt)) == NULL)
		return HWK_ERR_NOMEM;
	if (opt.json) {
		fprintf(stderr, "hwkeygen: %s\nhwkeygen: --json does not prompt: "
		    "give the secret with -N, -P or --pin-source\n", safe);
		free(safe);
		return HWK_ERR_CANCELLED;
	}
	progress_pause(1);
	r = hwk_prompt_secret(safe, buf, len);
	progress_pause(0);
	free(safe);
	return r;
}

static void
ui_notice(void *arg, const char *msg)
{
	(void)arg;
	if (!opt.quiet) {
		hwk_out_vis_fputs(msg, info);	/* may quote a token label */
		fputc('\n', info);
	}
}

static const struct hwk_ui terminal_ui = { ui_read_secret, ui_notice, NULL };

static int
default_path(char *buf, size_t len)
{
	const char *home = hwk_home_dir();

	if (home == NULL || snprintf(buf, len, "%s/.ssh/id_rsa", home) >=
	    (int)len) {
		fprintf(stderr, "hwkeygen: cannot tell your home directory; "
		    "give the key file with -f\n");
		return -1;
	}
	return 0;
}

/* ssh-keygen's "Enter file in which ... (%s): "; Enter keeps the default. */
static int
ask_filename(const char *prompt)
{
	char line[PATH_MAX], q[PATH_MAX + 128];
	int r;

	if (default_path(opt.path, sizeof(opt.path)) != 0)
		return EXIT_FAIL;
	snprintf(q, sizeof(q), "%s (%s): ", prompt, opt.path);
	if ((r = hwk_prompt_line(q, line, sizeof(line))) != 0) {
		fputc('\n', stdout);
		fprintf(stderr, "hwkeygen: %s; nothing was done\n",
		    r == HWK_ERR_CANCELLED ? "no file name given (input ended)" :
		    "the file name is too long");
		return r == HWK_ERR_CANCELLED ? EXIT_CANCEL : EXIT_USAGE;
	}
	if (line[0] != '\0') {
		if (strlen(line) + 5 >= sizeof(opt.path)) {
			fprintf(stderr, "hwkeygen: the file name is too long\n");
			return EXIT_USAGE;
		}
		strcpy(opt.path, line);
	}
	opt.have_path = 1;
	return EXIT_OK;
}

/* As ssh-keygen: a missing ~/.ssh is made (0700) when the key goes there. */
static int
make_ssh_dir(void)
{
	const char *home = hwk_home_dir();
	char dir[PATH_MAX];
	struct stat st;
	size_t n;

	if (home == NULL || snprintf(dir, sizeof(dir), "%s/.ssh", home) >=
	    (int)sizeof(dir))
		return EXIT_OK;
	n = strlen(dir);
	if (strncmp(opt.path, dir, n) != 0 || opt.path[n] != '/')
		return EXIT_OK;
	if (stat(dir, &st) == 0 || errno != ENOENT)
		return EXIT_OK;
	if (mkdir(dir, 0700) != 0) {
		fprintf(stderr, "hwkeygen: could not create directory '%s': "
		    "%s\n", dir, strerror(errno));
		return EXIT_FAIL;
	}
	if (!opt.quiet)
		fprintf(stderr, "Created directory '%s'.\n", dir);
	return EXIT_OK;
}

/* ssh-keygen's overwrite question; anything but y or Y keeps the file. */
static int
confirm_overwrite(void)
{
	char pub[PATH_MAX + 8], answer[16];
	const char *which;
	struct stat st;

	snprintf(pub, sizeof(pub), "%s.pub", opt.path);
	if (lstat(opt.path, &st) == 0)
		which = opt.path;
	else if (lstat(pub, &st) == 0)
		which = pub;
	else
		return EXIT_OK;
	if (opt.backup)
		return EXIT_OK;		/* the old pair is kept, not lost */
	if (opt.json) {
		fprintf(stderr, "hwkeygen: %s already exists and --json does not "
		    "prompt: add --backup to keep it in key_backup/, or remove "
		    "it\n", which);
		return EXIT_CANCEL;
	}
	printf("%s already exists.\n", which);
	if (hwk_prompt_line("Overwrite (y/n)? ", answer, sizeof(answer)) != 0 ||
	    (answer[0] != 'y' && answer[0] != 'Y')) {
		fprintf(stderr, "hwkeygen: %s was not overwritten; use --backup "
		    "to keep the old key in key_backup/ and make a new one\n",
		    which);
		return EXIT_CANCEL;
	}
	return EXIT_OK;
}

/* ssh-keygen's two passphrase prompts, until they agree. */
static int
ask_passphrase(char **passp)
{
	char *p1 = NULL, *p2 = NULL;
	int r, rc = EXIT_FAIL;

	*passp = NULL;
	if ((p1 = malloc(HWK_SECRET_MAX)) == NULL ||
	    (p2 = malloc(HWK_SECRET_MAX)) == NULL)
		goto out;
	for (;;) {
		if ((r = hwk_prompt_secret("Enter passphrase (empty for no "
		    "passphrase): ", p1, HWK_SECRET_MAX)) != 0 ||
		    (r = hwk_prompt_secret("Enter same passphrase again: ", p2,
		    HWK_SECRET_MAX)) != 0) {
			if (r == HWK_ERR_CANCELLED)
				fprintf(stderr, "hwkeygen: no passphrase given "
				    "(input ended); nothing was written\n"
				    "hwkeygen: Use -N '' for a key without a "
				    "passphrase, or -N to give one.\n");
			else if (r == HWK_ERR_TOO_LARGE)
				fprintf(stderr, "hwkeygen: the passphrase is "
				    "longer than %d characters\n",
				    HWK_SECRET_MAX - 1);
			rc = hwk_exit_code(r);
			goto out;
		}
		if (strcmp(p1, p2) == 0)
			break;
		printf("Passphrases do not match.  Try again.\n");
		fflush(stdout);
	}
	*passp = p1;
	p1 = NULL;
	rc = EXIT_OK;
 out:
	hwk_freezero(p1, HWK_SECRET_MAX);
	hwk_freezero(p2, HWK_SECRET_MAX);
	return rc;
}

static char *
default_comment(void)
{
	struct passwd *pw = getpwuid(getuid());
	char host[256], *c = NULL;

	if (gethostname(host, sizeof(host)) != 0)
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	if (asprintf(&c, "%s@%s", pw != NULL ? pw->pw_name : "user",
	    host) < 0)
		return NULL;
	return c;
}

/* "The key fingerprint is:" and the randomart, as ssh-keygen prints them. */
static int
print_fingerprint_art(const struct hwk_pubkey *pub)
{
	char fp[HWK_FP_LEN], *art = NULL;
	uint8_t digest[32];
	int r;

	if ((r = hwk_fingerprint(pub->blob, pub->bloblen, fp, digest)) != 0 ||
	    (r = hwk_randomart(digest, sizeof(digest), hwk_pubkey_label(pub),
	    pub->bits, "SHA256", &art)) != 0)
		return r;
	fprintf(info, "The key fingerprint is:\n%s ", fp);
	hwk_out_vis_fputs(pub->comment != NULL ? pub->comment : "", info);
	fputc('\n', info);
	fprintf(info, "The key's randomart image is:\n%s\n", art);
	free(art);
	return HWK_OK;
}

/* Blocks the signals that would end us, to act on them when it is safe. */
static void
signals_block(sigset_t *saved)
{
	sigset_t set;

	hwk_ending_signals(&set);
	sigprocmask(SIG_BLOCK, &set, saved);
}

static int
signal_pending(void)
{
	sigset_t p, ending;
	int sig;

	sigpending(&p);
	hwk_ending_signals(&ending);
	for (sig = 1; sig < NSIG; sig++)
		if (sigismember(&ending, sig) == 1 && sigismember(&p, sig) == 1)
			return 1;
	return 0;
}

/* Removes a key just made in a device, saying so if that fails too. */
static int
rollback(struct hwk_ctx *ctx, const struct hwk_backend *b,
    struct hwk_key *key)
{
	int r;

	if (key == NULL || !(b->flags & HWK_BF_DEVICE))
		return HWK_OK;
	if ((r = hwk_key_destroy(ctx, key)) != 0)
		hwk_report(ctx, r, "could not remove the new key from the "
		    "%s device", b->name);
	return r;
}

static int
choose_backend(struct hwk_ctx *ctx, const struct hwk_backend **bp)
{
	char why[1024];
	int r;

	/* A typo in any backend's option stops us, not only the chosen's. */
	if ((r = hwk_backends_check_opts(ctx)) != 0) {
		hwk_report(ctx, r, NULL);
		fprintf(stderr, "hwkeygen: nothing was made\n");
		return r;
	}
	if (strcmp(opt.backend, "auto") != 0) {
		*bp = hwk_backend_find(opt.backend);
		if ((r = hwk_backend_probe(ctx, *bp)) != 0) {
			hwk_report(ctx, r, "the %s backend cannot be used",
			    opt.backend);
			return r;
		}
		return HWK_OK;
	}
	if ((r = hwk_backend_auto(ctx, opt.require_hw ? HWK_BF_DEVICE : 0, bp,
	    why, sizeof(why))) != 0) {
		hwk_report(ctx, r, NULL);
		if (opt.require_hw)
			fprintf(stderr, "hwkeygen: --require-hardware: nothing "
			    "was written\n");
		return r;
	}
	if (!opt.quiet && hwk_backends()[1] != NULL) {
		hwk_out_vis_fputs(why, info);	/* may quote a token label */
		fputc('\n', info);
	}
	return HWK_OK;
}

/*
 * "Generating ... N s" on the terminal while a slow device works.  A prompt
 * (a token's PIN) pauses it: the line is cleared and the count starts again
 * once the answer is in.
 */
struct progress {
	pthread_t	 thread;
	pthread_mutex_t	 lock;
	pthread_cond_t	 cond;
	int		 done;
	int		 running;
	int		 paused;
	int		 shown;
	struct timespec	 start;
	const char	*backend;
	unsigned	 bits;
};

static struct progress *active_progress;

static void *
progress_run(void *arg)
{
	struct progress *p = arg;
	struct timespec now, until;
	long secs;

	pthread_mutex_lock(&p->lock);
	while (!p->done) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		secs = now.tv_sec - p->start.tv_sec;
		until = p->start;
		until.tv_sec += secs + 1;
		while (!p->done && pthread_cond_timedwait(&p->cond, &p->lock,
		    &until) == 0)
			;
		if (p->done || p->paused)
			continue;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((secs = now.tv_sec - p->start.tv_sec) < 1)
			continue;
		fprintf(stderr, "\rGenerating the %u-bit key (%s)... %ld s ",
		    p->bits, p->backend, secs);
		fflush(stderr);
		p->shown = 1;
	}
	if (p->shown) {
		fputs("\r\033[K", stderr);	/* leave the line clean */
		fflush(stderr);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static void
progress_start(struct progress *p, const char *backend, unsigned bits)
{
	pthread_condattr_t ca;
	sigset_t all, old;

	memset(p, 0, sizeof(*p));
	if (opt.quiet || !isatty(STDERR_FILENO))
		return;
	p->backend = backend;
	p->bits = bits;
	clock_gettime(CLOCK_MONOTONIC, &p->start);
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cond, &ca);
	pthread_condattr_destroy(&ca);
	/* Signals stay with the main thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	p->running = pthread_create(&p->thread, NULL, progress_run, p) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (p->running)
		active_progress = p;
}

/* Around a prompt: no count over it, and a fresh count after it. */
static void
progress_pause(int pause)
{
	struct progress *p = active_progress;

	if (p == NULL || !p->running)
		return;
	pthread_mutex_lock(&p->lock);
	p->paused = pause;
	if (pause && p->shown) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
		p->shown = 0;
	}
	if (!pause)
		clock_gettime(CLOCK_MONOTONIC, &p->start);
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

static void
progress_stop(struct progress *p)
{
	if (!p->running)
		return;
	pthread_mutex_lock(&p->lock);
	p->done = 1;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	p->running = 0;
	active_progress = NULL;
}

/* The result of a generation for scripts (--json). */
static int
print_json_result(const struct hwk_backend *b, const struct hwk_pubkey *pub,
    const char *publine, const struct hwk_export *ex)
{
	struct hwk_out *o;
	char fp[HWK_FP_LEN], pubpath[PATH_MAX + 8];
	int r;

	if ((o = hwk_out_new(1)) == NULL ||
	    hwk_fingerprint(pub->blob, pub->bloblen, fp, NULL) != 0) {
		hwk_out_free(&o);
		return -1;
	}
	snprintf(pubpath, sizeof(pubpath), "%s.pub", opt.path);
	hwk_out_begin_object(o, NULL);
	hwk_out_str(o, "path", opt.path);
	hwk_out_str(o, "public_path", pubpath);
	hwk_out_str(o, "backend", b->name);
	hwk_out_str(o, "type", hwk_pubkey_label(pub));
	hwk_out_int(o, "bits", pub->bits);
	hwk_out_str(o, "fingerprint", fp);
	hwk_out_str(o, "comment", pub->comment);
	hwk_out_str(o, "public_key", publine);
	hwk_out_str(o, "backup", ex->backup_path[0] != '\0' ?
	    ex->backup_path : NULL);
	hwk_out_end_object(o);
	r = hwk_out_print(o, stdout);
	hwk_out_free(&o);
	return r;
}

static int
do_generate(struct hwk_ctx *ctx)
{
	const struct hwk_backend *b = NULL;
	struct hwk_genparams gp;
	struct hwk_key *key = NULL;
	struct hwk_pubkey *pub = NULL;
	struct hwk_buf *stub = NULL;
	struct hwk_export ex;
	char *pass = NULL, *comment = NULL, *line = NULL, *publine = NULL;
	struct progress progress;
	sigset_t saved;
	int r, rc = EXIT_FAIL, blocked = 0;

	memset(&progress, 0, sizeof(progress));
	memset(&gp, 0, sizeof(gp));
	memset(&ex, 0, sizeof(ex));
	if ((r = choose_backend(ctx, &b)) != 0)
		return hwk_exit_code(r);
	gp.type = HWK_KEY_RSA;
	gp.bits = opt.bits != 0 ? opt.bits : b->default_bits;
	gp.bits_given = opt.bits != 0;
	gp.kdf_rounds = opt.rounds;
	if (opt.comment == NULL && (comment = default_comment()) == NULL)
		goto out;
	gp.comment = opt.comment != NULL ? opt.comment : comment;
	if (b->flags & HWK_BF_PASSPHRASE)
		gp.passphrase = opt.new_pass;	/* its limits are checked too */
	/* Refuse what cannot be made before asking anything. */
	if ((r = hwk_backend_check(ctx, b, &gp)) != 0) {
		hwk_report(ctx, r, NULL);
		rc = r == HWK_ERR_KEY_SIZE ? EXIT_USAGE : hwk_exit_code(r);
		goto out;
	}
	if (opt.json && (b->flags & HWK_BF_PASSPHRASE) && opt.new_pass == NULL) {
		fprintf(stderr, "hwkeygen: --json does not prompt: give the "
		    "passphrase with -N (-N '' for none)\n");
		rc = EXIT_USAGE;
		goto out;
	}
	if (!opt.quiet)
		fprintf(info, "Generating public/private rsa key pair.\n");
	if (!opt.have_path && (rc = ask_filename("Enter file in which to "
	    "save the key")) != EXIT_OK)
		goto out;
	rc = EXIT_FAIL;
	if (make_ssh_dir() != EXIT_OK)
		goto out;
	if ((r = hwk_export_check(ctx, opt.path)) != 0) {
		hwk_report(ctx, r, NULL);
		goto out;
	}
	if ((rc = confirm_overwrite()) != EXIT_OK)
		goto out;
	if (b->flags & HWK_BF_PASSPHRASE) {
		if (opt.new_pass != NULL)
			pass = strdup(opt.new_pass);
		else if ((rc = ask_passphrase(&pass)) != EXIT_OK)
			goto out;
		if (pass == NULL) {
			rc = EXIT_FAIL;
			goto out;
		}
		gp.passphrase = pass;
		/* A typed passphrase meets the backend's limits before keygen. */
		if (opt.new_pass == NULL &&
		    (r = hwk_backend_check(ctx, b, &gp)) != 0) {
			hwk_report(ctx, r, NULL);
			fprintf(stderr, "hwkeygen: nothing was made\n");
			rc = hwk_exit_code(r);
			goto out;
		}
	}
	rc = EXIT_FAIL;

	/* A key in a device must not outlive a Ctrl-C: act on it after. */
	if (b->flags & HWK_BF_DEVICE) {
		signals_block(&saved);
		blocked = 1;
	}
	progress_start(&progress, b->name, gp.bits);
	r = hwk_backend_generate(ctx, b, &gp, &key);
	progress_stop(&progress);
	if (r != 0) {
		hwk_report(ctx, r, "could not generate the key");
		rc = hwk_exit_code(r);
		goto out;
	}
	if (blocked && signal_pending()) {
		/* Only what the device confirmed is said to be gone. */
		fprintf(stderr, "hwkeygen: interrupted; %s and nothing was "
		    "written\n", rollback(ctx, b, key) == 0 ? "the new key was "
		    "removed" : "the new key could not be removed (see above)");
		rc = EXIT_SIGNAL;
		goto out;
	}
	if ((stub = hwk_buf_new()) == NULL)
		goto fail_rollback;
	if ((r = hwk_backend_write_stub(ctx, key, &gp, stub)) != 0) {
		hwk_report(ctx, r, "could not encode the private key");
		goto fail_rollback;
	}
	/* The .pub carries the comment even when it is empty, as ssh-keygen. */
	if ((r = hwk_key_set_comment(key, gp.comment)) != 0 ||
	    (r = hwk_key_pubkey(key, &pub)) != 0 ||
	    (r = hwk_pubkey_format(pub, 1, &line)) != 0 ||
	    asprintf(&publine, "%s\n", line) < 0) {
		publine = NULL;
		hwk_report(ctx, r, "could not encode the public key");
		goto fail_rollback;
	}
	ex.path = opt.path;
	ex.priv = stub;
	ex.publine = publine;
	ex.backup = opt.backup;
	if ((r = hwk_export_pair(ctx, &ex)) != 0) {
		hwk_report(ctx, r, NULL);
		fprintf(stderr, "hwkeygen: nothing was written%s\n",
		    opt.backup ? " and the old key pair is where it was" : "");
		goto fail_rollback;
	}
	if (!opt.quiet) {
		if (ex.backup_path[0] != '\0')
			fprintf(info, "Your old key pair has been moved to %s\n",
			    ex.backup_path);
		fprintf(info, "Your identification has been saved in %s\n",
		    opt.path);
		fprintf(info, "Your public key has been saved in %s.pub\n",
		    opt.path);
		if ((r = print_fingerprint_art(pub)) != 0) {
			hwk_report(ctx, r, "could not compute the fingerprint");
			goto out;
		}
	}
	if (opt.json && print_json_result(b, pub, line, &ex) != 0)
		goto out;
	rc = EXIT_OK;
	goto out;

 fail_rollback:
	rollback(ctx, b, key);
 out:
	progress_stop(&progress);
	if (blocked) {
		/* Done either way: a Ctrl-C that came late changes nothing. */
		struct timespec zero = { 0, 0 };
		sigset_t set;

		hwk_ending_signals(&set);
		while (signal_pending() && sigtimedwait(&set, NULL, &zero) > 0)
			;
		sigprocmask(SIG_SETMASK, &saved, NULL);
	}
	if (pass != NULL)
		hwk_freezero(pass, strlen(pass));
	free(comment);
	free(line);
	free(publine);
	hwk_buf_free(&stub);
	hwk_pubkey_free(&pub);
	hwk_key_free(&key);
	return rc;
}

/* ssh-keygen's refusal of a private key file others can read. */
static int
refuse_open_file(struct hwk_ctx *ctx, const char *path, const struct stat *st)
{
	fprintf(stderr,
	    "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
	    "@         WARNING: UNPROTECTED PRIVATE KEY FILE!          @\n"
	    "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
	    "Permissions 0%3.3o for '%s' are too open.\n"
	    "It is required that your private key files are NOT accessible "
	    "by others.\n"
	    "This private key will be ignored.\n",
	    (unsigned)st->st_mode & 0777, path);
	hwk_ctx_error(ctx, HWK_ERR_SYSTEM, "Load key \"%s\": bad permissions",
	    path);
	hwk_ctx_hint(ctx, "Make it yours alone: chmod 600 %s", path);
	hwk_report(ctx, HWK_ERR_SYSTEM, NULL);
	return HWK_ERR_SYSTEM;
}

/* Opens a private file with the backend whose format it is. */
static int
load_stub(struct hwk_ctx *ctx, const struct hwk_stubfile *sf,
    struct hwk_key **keyp)
{
	int r;

	*keyp = NULL;
	if (hwk_stubfile_too_open(sf))
		return refuse_open_file(ctx, sf->path, &sf->st);
	if ((r = hwk_stubfile_load(ctx, sf, keyp)) == 0)
		return HWK_OK;
	if (sf->backend == NULL)
		hwk_report(ctx, r, NULL);
	else
		hwk_report(ctx, r, "Load key \"%s\"", sf->path);
	return r;
}

/* A copy of the comment of path.pub, if there is one. */
static char *
pub_comment(const struct hwk_stubfile *sf)
{
	if (sf->pubfile == NULL || sf->pubfile->comment == NULL)
		return NULL;
	return strdup(sf->pubfile->comment);
}

/*
 * The .pub of a private file that does not hold its public key (a token's
 * stub): it answers -y without the device, and without loading the module
 * the stub names.  NULL if the stub holds the key itself, or no .pub reads.
 */
static const struct hwk_pubkey *
stub_pub(const struct hwk_stubfile *sf)
{
	if (sf->backend == NULL || sf->info_rc != 0 || sf->info.pub != NULL)
		return NULL;
	return sf->pubfile;
}

static int
do_print_public(struct hwk_ctx *ctx)
{
	struct hwk_stubfile *sf = NULL;
	struct hwk_key *key = NULL;
	struct hwk_pubkey *pub = NULL;
	const struct hwk_pubkey *spub;
	char *line = NULL, *c;
	int r;

	if (!opt.have_path && (r = ask_filename("Enter file in which the key "
	    "is")) != EXIT_OK)
		return r;
	if ((r = hwk_stubfile_read(ctx, opt.path, &sf)) != 0) {
		hwk_report(ctx, r, NULL);
		return hwk_exit_code(r);
	}
	if ((spub = stub_pub(sf)) != NULL) {
		/* An empty comment is none: no blank after the key. */
		if ((r = hwk_pubkey_format(spub, spub->comment != NULL &&
		    *spub->comment != '\0', &line)) != 0) {
			hwk_report(ctx, r, "cannot encode the public key");
			goto out;
		}
		printf("%s\n", line);
		goto out;
	}
	if ((r = load_stub(ctx, sf, &key)) != 0)
		goto out;
	/* A stub keeps no comment: take the one of its .pub. */
	if (key->comment == NULL || *key->comment == '\0') {
		c = pub_comment(sf);
		hwk_key_set_comment(key, c);
		free(c);
	}
	if (key->comment != NULL && *key->comment == '\0')
		hwk_key_set_comment(key, NULL);
	if ((r = hwk_key_pubkey(key, &pub)) != 0 ||
	    (r = hwk_pubkey_format(pub, 1, &line)) != 0) {
		hwk_report(ctx, r, "cannot encode the public key");
		goto out;
	}
	/* Escaped on a terminal; as it is into a file, a .pub to be. */
	if (isatty(STDOUT_FILENO))
		hwk_out_vis_fputs(line, stdout);
	else
		fputs(line, stdout);
	putchar('\n');
 out:
	free(line);
	hwk_pubkey_free(&pub);
	hwk_key_free(&key);
	hwk_stubfile_free(&sf);
	return hwk_exit_code(r);
}

static int
print_fp_line(const struct hwk_pubkey *pub)
{
	char fp[HWK_FP_LEN], *art = NULL;
	uint8_t digest[32];
	int r;

	if ((r = hwk_fingerprint(pub->blob, pub->bloblen, fp, digest)) != 0)
		return r;
	/* The comment is foreign text: escaped as ssh-keygen -l escapes it. */
	printf("%u %s ", pub->bits, fp);
	hwk_out_vis_fputs(pub->comment != NULL ? pub->comment : "no comment",
	    stdout);
	printf(" (%s)\n", hwk_pubkey_label(pub));
	if (opt.verbose) {
		if ((r = hwk_randomart(digest, sizeof(digest),
		    hwk_pubkey_label(pub), pub->bits, "SHA256", &art)) != 0)
			return r;
		printf("%s\n", art);
		free(art);
	}
	return HWK_OK;
}

/* Every key line of a public key file; -1 if none parses. */
static int
fingerprint_public_text(const char *text)
{
	struct hwk_pubkey *pub = NULL;
	const char *p = text, *nl;
	char *line;
	int n = 0, r;

	while (*p != '\0') {
		nl = strchr(p, '\n');
		line = strndup(p, nl != NULL ? (size_t)(nl - p) : strlen(p));
		if (line == NULL)
			return -1;
		if (line[strspn(line, " \t\r")] != '\0' &&
		    line[strspn(line, " \t\r")] != '#' &&
		    hwk_pubkey_from_line(line, &pub) == 0) {
			r = print_fp_line(pub);
			hwk_pubkey_free(&pub);
			if (r != 0) {
				free(line);
				return -1;
			}
			n++;
		}
		free(line);
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	return n > 0 ? 0 : -1;
}

static int
do_fingerprint(struct hwk_ctx *ctx)
{
	struct hwk_stubfile *sf = NULL;
	struct hwk_key *key = NULL;
	struct hwk_pubkey *pub = NULL;
	char *text = NULL, *c;
	int r, rc = EXIT_FAIL;

	if (!opt.have_path && (r = ask_filename("Enter file in which the key "
	    "is")) != EXIT_OK)
		return r;
	if ((r = hwk_stubfile_read(ctx, opt.path, &sf)) != 0) {
		hwk_report(ctx, r, NULL);
		return EXIT_FAIL;
	}
	if (sf->backend == NULL) {
		/* A public key file: every key line in it. */
		if ((text = hwk_buf_dup_string(sf->data)) != NULL &&
		    fingerprint_public_text(text) == 0)
			rc = EXIT_OK;
		else
			fprintf(stderr, "hwkeygen: %s is not a key file\n",
			    opt.path);
		goto out;
	}
	/* A private file: its .pub first, as ssh-keygen does. */
	if (sf->pubfile != NULL) {
		rc = print_fp_line(sf->pubfile) == 0 ? EXIT_OK : EXIT_FAIL;
		goto out;
	}
	if (sf->info_rc != 0 && sf->info_rc != HWK_ERR_UNSUPPORTED) {
		fprintf(stderr, "hwkeygen: %s is not a valid key file: it is "
		    "damaged or truncated\n", opt.path);
		goto out;
	}
	if (sf->info_rc == 0 && sf->info.pub != NULL) {
		free(sf->info.pub->comment);
		sf->info.pub->comment = sf->info.comment;
		sf->info.comment = NULL;
		rc = print_fp_line(sf->info.pub) == 0 ? EXIT_OK : EXIT_FAIL;
		goto out;
	}
	/* The public half is not in the file: open the key. */
	if ((r = load_stub(ctx, sf, &key)) != 0) {
		rc = hwk_exit_code(r);
		goto out;
	}
	c = pub_comment(sf);
	if (c == NULL || *c == '\0' || hwk_key_set_comment(key, c) != 0)
		hwk_key_set_comment(key, key->comment);
	free(c);
	if (key->comment != NULL && *key->comment == '\0')
		hwk_key_set_comment(key, NULL);
	if ((r = hwk_key_pubkey(key, &pub)) == 0 && print_fp_line(pub) == 0)
		rc = EXIT_OK;
 out:
	hwk_pubkey_free(&pub);
	hwk_key_free(&key);
	hwk_stubfile_free(&sf);
	free(text);
	return rc;
}

/* hwkeygen --backends: what each backend finds on this machine. */
static int
do_backends(struct hwk_ctx *ctx)
{
	const struct hwk_backend *const *b;
	struct hwk_out *o;
	int r, rc;

	if ((o = hwk_out_new(opt.json)) == NULL)
		return EXIT_FAIL;
	hwk_out_begin_object(o, NULL);
	for (b = hwk_backends(); *b != NULL; b++) {
		hwk_out_begin_object(o, (*b)->name);
		hwk_out_str(o, "summary", (*b)->summary);
		hwk_ctx_clear_error(ctx);
		r = hwk_backend_probe(ctx, *b);
		hwk_out_bool(o, "usable", r == 0);
		if (r != 0)
			hwk_out_str(o, "reason", *hwk_ctx_detail(ctx) != '\0' ?
			    hwk_ctx_detail(ctx) : hwk_strerror(r));
		hwk_out_bool(o, "hardware", ((*b)->flags & HWK_BF_DEVICE) != 0);
		hwk_out_int(o, "default_bits", (*b)->default_bits);
		hwk_ctx_clear_error(ctx);
		hwk_backend_describe(ctx, *b, o);
		hwk_out_end_object(o);
	}
	hwk_out_end_object(o);
	rc = hwk_out_print(o, stdout) == 0 ? EXIT_OK : EXIT_FAIL;
	hwk_out_free(&o);
	return rc;
}

/*
 * No core file and no ptrace by the user's other programs: passphrases and
 * PINs (from -N, -P, prompts and files) sit in this process's memory.
 */
static void
no_core_dumps(void)
{
	struct rlimit rl = { 0, 0 };

	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	setrlimit(RLIMIT_CORE, &rl);
}

int
hwk_cli_main(int argc, char **argv)
{
	struct hwk_ctx *ctx = NULL;
	int rc;

	hwk_out_setlocale();
	info = stdout;
	no_core_dumps();	/* before -N or -P is read */
	/* Read stdin byte by byte: no copy of a passphrase in a stdio buffer. */
	if (!isatty(STDIN_FILENO))
		setvbuf(stdin, NULL, _IONBF, 0);
	if ((ctx = hwk_ctx_new()) == NULL) {
		fprintf(stderr, "hwkeygen: out of memory\n");
		return EXIT_FAIL;
	}
	hwk_ctx_set_ui(ctx, &terminal_ui);
	if ((rc = parse_args(argc, argv, ctx)) != EXIT_OK) {
		if (rc == PARSE_DONE)
			rc = EXIT_OK;
		goto out;
	}
	if (opt.list)
		rc = hwk_exit_code(hwk_cli_list(ctx, opt.json));
	else if (opt.backends)
		rc = do_backends(ctx);
	else if (opt.print_public)
		rc = do_print_public(ctx);
	else if (opt.fingerprint)
		rc = do_fingerprint(ctx);
	else
		rc = do_generate(ctx);
 out:
	if (opt.new_pass != NULL)
		hwk_freezero(opt.new_pass, strlen(opt.new_pass));
	opt.new_pass = NULL;
	hwk_ctx_free(&ctx);
	if (fflush(stdout) != 0 && rc == EXIT_OK)
		rc = EXIT_FAIL;
	return rc;
}
