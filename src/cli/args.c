/* hwkeygen's command line: the options, their checks, and --help. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hwkey/backend.h"
#include "hwkey/buf.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "hwkey/options.h"
#include "hwkey/secret.h"
#include "hwkey/sshkey.h"
#include "hwkey/version.h"
#include "cli.h"

enum {
	OPT_BACKEND = 256, OPT_BACKUP, OPT_LIST, OPT_HELP, OPT_VERSION,
	OPT_JSON, OPT_BACKENDS, OPT_REQUIRE_HW, OPT_ATTEST, OPT_ATTEST_CHALLENGE,
	OPT_ATTEST_RESPOND, OPT_ATTEST_VERIFY, OPT_CA, OPT_CHALLENGE,
	OPT_RESPONSE,
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
	{ "attest", no_argument, NULL, OPT_ATTEST },
	{ "attest-challenge", required_argument, NULL, OPT_ATTEST_CHALLENGE },
	{ "attest-respond", required_argument, NULL, OPT_ATTEST_RESPOND },
	{ "attest-verify", required_argument, NULL, OPT_ATTEST_VERIFY },
	{ "ca", required_argument, NULL, OPT_CA },
	{ "challenge", required_argument, NULL, OPT_CHALLENGE },
	{ "response", required_argument, NULL, OPT_RESPONSE },
};

static int
usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Says what is wrong with the command line: HWK_ERR_USAGE. */
static int
usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("hwkeygen: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'hwkeygen --help' for more information.\n", stderr);
	return HWK_ERR_USAGE;
}

static void
usage(FILE *f)
{
	const struct hwk_backend *const *b;

	fprintf(f,
"Usage: hwkeygen [-q] [-t rsa | ecdsa | ed25519] [-b bits] [-C comment]\n"
"                [-f file] [-N passphrase] [-a rounds] [--backend NAME]\n"
"                [--backup] [backend options]\n"
"       hwkeygen -y [-f file] [-P passphrase]\n"
"       hwkeygen -l [-v] [-f file]\n"
"       hwkeygen --list [--json]\n"
"       hwkeygen --backends [--json]\n"
"       hwkeygen --attest -f file [-P passphrase]\n"
"       hwkeygen --attest-challenge file.attest --ca roots.pem -o challenge\n"
"       hwkeygen --attest-respond challenge -o response\n"
"       hwkeygen --attest-verify file.attest --ca roots.pem\n"
"                [--challenge challenge --response response] [--json]\n"
"\n"
"Makes an SSH key pair the way ssh-keygen does, with the private key born\n"
"inside a PKCS#11 token or a TPM when there is one, and in software when not.\n"
"\n"
"  -t type          key type: rsa (the default, the one type every TPM and\n"
"                   token makes), ecdsa or ed25519 (no TPM makes ed25519)\n"
"  -b bits          key size: rsa 2048 to 16384, default 3072 in software\n"
"                   and 2048 on a TPM or token; ecdsa 256 (default), 384\n"
"                   or 521; ed25519 ignores it\n"
"  -C comment       comment for the public key (default: user@host)\n"
"  -f file          private key file (default: ~/.ssh/id_rsa, id_ecdsa or\n"
"                   id_ed25519, as the type); the public key goes to\n"
"                   file.pub\n"
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
"  --list           list the key pairs in ~/.ssh, and the keys on tokens\n"
"                   that no file there names\n"
"  --backends       what each backend finds on this machine\n"
"  --attest         write file.attest, the proof that a TPM made the key\n"
"                   (with key generation, or alone for an existing key)\n"
"  --attest-challenge file.attest  check the proof (no device needed) and\n"
"                   write a challenge for the device to -o, its secret to\n"
"                   the same name + .secret\n"
"  --attest-respond challenge  answer it with the device, into -o\n"
"  --attest-verify file.attest  check everything: with --challenge and\n"
"                   --response for a TPM; exit 0 only if all holds\n"
"  --ca roots.pem   the certificates the verifier trusts\n"
"  -o file          where --attest-challenge and --attest-respond write\n"
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
		return HWK_ERR_INVALID_ARG;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return HWK_ERR_INVALID_ARG;
	*out = (unsigned)v;
	return HWK_OK;
}

/* -t: ssh-keygen's names for the types hwkeygen makes. */
static int
check_type(struct hwk_cli_opts *o, const char *t)
{
	static const struct {
		const char	*name;
		int		 type;
		unsigned	 bits;	/* the size the name gives; 0: none */
	} types[] = {
		{ "rsa", HWK_KEY_RSA, 0 },
		{ "ssh-rsa", HWK_KEY_RSA, 0 },
		{ "ecdsa", HWK_KEY_ECDSA, 0 },
		{ "ecdsa-sha2-nistp256", HWK_KEY_ECDSA, 256 },
		{ "ecdsa-sha2-nistp384", HWK_KEY_ECDSA, 384 },
		{ "ecdsa-sha2-nistp521", HWK_KEY_ECDSA, 521 },
		{ "ed25519", HWK_KEY_ED25519, 0 },
		{ "ssh-ed25519", HWK_KEY_ED25519, 0 },
	};
	static const char *const others[] = { "dsa", "ed25519-sk", "ecdsa-sk",
	    "ssh-dss", NULL };
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcasecmp(t, types[i].name) == 0) {
			o->type = types[i].type;
			o->type_bits = types[i].bits;
			return HWK_OK;
		}
	for (i = 0; others[i] != NULL; i++)
		if (strcasecmp(t, others[i]) == 0) {
			fprintf(stderr, "hwkeygen: key type '%s' is not "
			    "supported: hwkeygen makes rsa, ecdsa and ed25519 "
			    "keys\nhwkeygen: For a %s key use ssh-keygen -t "
			    "%s.\n", t, t, t);
			return HWK_ERR_USAGE;
		}
	return usage_error("unknown key type '%s'; hwkeygen makes rsa, ecdsa "
	    "and ed25519 keys (-t rsa, -t ecdsa, -t ed25519)", t);
}

/* -N: the new passphrase, out of argv. */
static int
set_new_pass(struct hwk_cli_opts *o, char *arg)
{
	free(o->new_pass);
	if ((o->new_pass = take_secret(arg)) == NULL)
		return HWK_ERR_NOMEM;
	if (strlen(o->new_pass) >= HWK_SECRET_MAX)
		return usage_error("-N: the passphrase is longer than %d "
		    "characters, the most -P and the prompt take",
		    HWK_SECRET_MAX - 1);
	return HWK_OK;
}

/* -P: the passphrase of an existing key, for the backend that opens it. */
static int
set_old_pass(struct hwk_ctx *ctx, char *arg)
{
	int r;

	if (strlen(arg) >= HWK_SECRET_MAX) {
		explicit_bzero(arg, strlen(arg));
		return usage_error("-P: the passphrase is longer than %d "
		    "characters, the most -N and the prompt take",
		    HWK_SECRET_MAX - 1);
	}
	r = hwk_ctx_set_opt(ctx, "passphrase", arg);
	explicit_bzero(arg, strlen(arg));
	return r;
}

static int
set_backend(struct hwk_cli_opts *o, const char *arg)
{
	const struct hwk_backend *const *b;

	if (strcmp(arg, "auto") != 0 && hwk_backend_find(arg) == NULL) {
		fprintf(stderr, "hwkeygen: unknown backend '%s'; choose one "
		    "of: auto", arg);
		for (b = hwk_backends(); *b != NULL; b++)
			fprintf(stderr, ", %s", (*b)->name);
		fputc('\n', stderr);
		return HWK_ERR_USAGE;
	}
	o->backend = arg;
	return HWK_OK;
}

/* One option from getopt_long: a case each, so the switch runs long. */
static int
take_option(struct hwk_cli_opts *o, int ch, char *arg, struct hwk_ctx *ctx,
    const struct hwk_longopts *lo)
{
	int r;

	switch (ch) {
	case 'a':
		if (parse_uint(arg, 1, INT_MAX, &o->rounds) != 0)
			return usage_error("-a: '%s' is not a number of KDF "
			    "rounds (1 or more; default 24)", arg);
		break;
	case 'b':
		o->gen_opts = 1;
		if (parse_uint(arg, 1, UINT_MAX, &o->bits) == 0)
			break;
		if (o->type == HWK_KEY_ECDSA)	/* when -t came first */
			return usage_error("-b: '%s' is not a number of bits; "
			    "ECDSA keys take 256, 384 or 521", arg);
		return usage_error("-b: '%s' is not a number of bits; use a "
		    "size from %u to %u, such as 3072 or 4096", arg,
		    HWK_RSA_MIN_BITS, HWK_RSA_MAX_BITS);
	case 'C':
		o->gen_opts = 1;
		if (strpbrk(arg, "\r\n") != NULL)
			return usage_error("-C: a comment cannot hold a line "
			    "break (the .pub file is one line)");
		o->comment = arg;
		break;
	case 'E':
		if (strcasecmp(arg, "sha256") != 0)
			return usage_error("-E %s: only sha256 fingerprints "
			    "are supported", arg);
		break;
	case 'f':
		if (strlen(arg) + 5 >= sizeof(o->path))
			return usage_error("-f: the path is too long");
		strcpy(o->path, arg);
		o->have_path = 1;
		break;
	case 'l':
		o->fingerprint = 1;
		break;
	case 'N':
		o->gen_opts = 1;
		return set_new_pass(o, arg);
	case 'o':
		o->output = arg;
		break;
	case 'P':
		return set_old_pass(ctx, arg);
	case 'q':
		o->quiet = 1;
		break;
	case 't':
		o->gen_opts = 1;
		return check_type(o, arg);
	case 'v':
		o->verbose = 1;
		break;
	case 'y':
		o->print_public = 1;
		break;
	case OPT_BACKEND:
		return set_backend(o, arg);
	case OPT_BACKUP:
		o->backup = 1;
		break;
	case OPT_LIST:
		o->list = 1;
		break;
	case OPT_JSON:
		o->json = 1;
		break;
	case OPT_BACKENDS:
		o->backends = 1;
		break;
	case OPT_REQUIRE_HW:
		o->require_hw = 1;
		break;
	case OPT_ATTEST:
		o->attest = 1;
		break;
	case OPT_ATTEST_CHALLENGE:
		o->attest_challenge = arg;
		break;
	case OPT_ATTEST_RESPOND:
		o->attest_respond = arg;
		break;
	case OPT_ATTEST_VERIFY:
		o->attest_verify = arg;
		break;
	case OPT_CA:
		o->ca = arg;
		break;
	case OPT_CHALLENGE:
		o->challenge = arg;
		break;
	case OPT_RESPONSE:
		o->response = arg;
		break;
	case OPT_HELP:
		usage(stdout);
		o->done = 1;
		break;
	case OPT_VERSION:
		printf("hwkeygen %s\n", HWK_VERSION);
		o->done = 1;
		break;
	default:
		/* A backend's option, or one getopt has complained of. */
		if ((r = hwk_longopts_take(lo, ch, arg, ctx)) < 0)
			return HWK_ERR_INVALID_ARG;	/* not stored */
		if (r > 0)
			break;
		fputs("Try 'hwkeygen --help' for more information.\n", stderr);
		return HWK_ERR_USAGE;
	}
	return HWK_OK;
}

/*
 * What no single option can tell: arguments left over, combinations, and
 * the size a -t name gives when -b did not.
 */
static int
check_args(struct hwk_cli_opts *o, int argc, char **argv)
{
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (hwk_cli_attest_check(o) != 0)
		return HWK_ERR_USAGE;
	if (o->print_public + o->fingerprint + o->list + o->backends > 1)
		return usage_error("-y, -l, --list and --backends cannot be "
		    "combined");
	if (o->require_hw && strcmp(o->backend, "auto") != 0 &&
	    (hwk_backend_find(o->backend)->flags & HWK_BF_DEVICE) == 0)
		return usage_error("--require-hardware and --backend %s "
		    "contradict each other: the %s backend keeps the key in a "
		    "file", o->backend, o->backend);
	/* As ssh-keygen, whichever of -t and -b came first; Ed25519 ignores -b. */
	if (o->bits == 0)
		o->bits = o->type_bits;	/* -t ecdsa-sha2-nistp384 */
	if (o->type == HWK_KEY_ECDSA && o->bits != 0 &&
	    hwk_ecdsa_md(o->bits) == NULL)
		return usage_error("Invalid ECDSA key length: valid lengths are "
		    "256, 384 or 521 bits");
	if (o->json && (o->print_public || o->fingerprint))
		return usage_error("--json goes with --list, --backends and "
		    "key generation");
	if (o->json && !o->list && !o->backends && !hwk_cli_attest_mode(o)) {
		/* Scripts get no prompts: everything must be on the line. */
		if (!o->have_path)
			return usage_error("--json does not prompt: give the "
			    "key file with -f");
	}
	return HWK_OK;
}

int
hwk_cli_parse(struct hwk_cli_opts *o, int argc, char **argv,
    struct hwk_ctx *ctx)
{
	struct hwk_longopts lo;
	int ch, r;

	memset(o, 0, sizeof(*o));
	o->type = HWK_KEY_RSA;
	o->backend = "auto";
	o->info = stdout;
	optind = 0;		/* a full rescan: tests call this repeatedly */
	if (hwk_longopts_build(&lo, fixed_longopts,
	    sizeof(fixed_longopts) / sizeof(fixed_longopts[0]),
	    HWK_OPT_BOTH) != 0)
		return usage_error("too many options");
	while ((ch = getopt_long(argc, argv, "a:b:C:E:f:lN:o:P:qt:vy", lo.opts,
	    NULL)) != -1) {
		if ((r = take_option(o, ch, optarg, ctx, &lo)) != 0 || o->done)
			return r;
	}
	if ((r = check_args(o, argc, argv)) != 0)
		return r;
	o->info = o->json ? stderr : stdout;
	return HWK_OK;
}

void
hwk_cli_opts_clear(struct hwk_cli_opts *o)
{
	if (o->new_pass != NULL)
		hwk_freezero(o->new_pass, strlen(o->new_pass));
	o->new_pass = NULL;
}
