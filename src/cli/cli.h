/* Shared by the parts of the hwkeygen command: its options and its commands. */
#ifndef HWKEY_CLI_H
#define HWKEY_CLI_H

#include <limits.h>
#include <stdio.h>

struct hwk_ctx;
struct hwk_key;
struct hwk_oldkey;
struct hwk_out;
struct hwk_pubkey;
struct hwk_ui;

/* The command line, parsed (args.c). */
struct hwk_cli_opts {
	int		 type;		/* HWK_KEY_RSA (default), _ECDSA, _ED25519 */
	unsigned	 type_bits;	/* the size -t's name gives, if it does */
	unsigned	 bits;
	const char	*comment;
	char		 path[PATH_MAX];
	int		 have_path;	/* -f, or the file name prompt */
	char		*new_pass;	/* -N; hwk_cli_opts_clear() wipes */
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
	int		 attest;	/* --attest */
	int		 gen_opts;	/* -t, -b, -N or -C: a key is made */
	const char	*attest_challenge;	/* --attest-challenge KEY.attest */
	const char	*attest_respond;	/* --attest-respond CHALLENGE */
	const char	*attest_verify;		/* --attest-verify KEY.attest */
	const char	*ca;		/* --ca ROOTS.pem */
	const char	*challenge;	/* --challenge */
	const char	*response;	/* --response */
	const char	*output;	/* -o */
	int		 done;		/* --help or --version said */
	FILE		*info;		/* where messages for people go */
};

/*
 * Every function below returns an enum hwk_err (0 ok, HWK_ERR_CANCELLED
 * for a declined prompt, HWK_ERR_USAGE for a bad command line...), and
 * hwk_cli_main() alone turns it into the exit code.
 */

/* The whole hwkeygen command; main() calls it, and so do the unit tests. */
int	hwk_cli_main(int argc, char **argv);

/* Fills o from argv (-P and backend options go to ctx); says why not. */
int	hwk_cli_parse(struct hwk_cli_opts *o, int argc, char **argv,
	    struct hwk_ctx *ctx);
/* Wipes the secrets the parse took. */
void	hwk_cli_opts_clear(struct hwk_cli_opts *o);

/* The commands: make a key pair, -y, -l, --backends, --list. */
int	hwk_cli_generate(struct hwk_cli_opts *o, struct hwk_ctx *ctx);
int	hwk_cli_print_public(struct hwk_cli_opts *o, struct hwk_ctx *ctx);
int	hwk_cli_fingerprint(struct hwk_cli_opts *o, struct hwk_ctx *ctx);
/* Attestation (attest.c): the options' checks, and the commands. */
int	hwk_cli_attest_check(struct hwk_cli_opts *o);
int	hwk_cli_attest_mode(const struct hwk_cli_opts *o);
int	hwk_cli_attest(struct hwk_cli_opts *o, struct hwk_ctx *ctx);
/* KEY.attest for a key just made or opened (pass: its new passphrase). */
int	hwk_cli_attest_key(struct hwk_cli_opts *o, struct hwk_ctx *ctx,
	    struct hwk_key *key, const struct hwk_pubkey *pub,
	    const char *pass);
/*
 * Replacing a key pair (overwrite.c): ssh-keygen's overwrite question
 * (none with --backup), and the old key a device holds that the file
 * names (*okp, or NULL): asked after "y" whether it goes too.
 */
int	hwk_cli_overwrite(const struct hwk_cli_opts *o, struct hwk_ctx *ctx,
	    struct hwk_oldkey **okp);
/* Once the new pair is saved: deletes the old key as asked, or says where. */
void	hwk_oldkey_settle(const struct hwk_cli_opts *o, struct hwk_ctx *ctx,
	    struct hwk_oldkey *ok, const char *backup_path);
/* "old_key" in the --json result. */
void	hwk_oldkey_json(const struct hwk_oldkey *ok, struct hwk_out *out);
void	hwk_oldkey_free(struct hwk_oldkey **okp);
/* --json failures as a JSON object on stdout too (jsonerr.c). */
int	hwk_cli_json_wanted(int argc, char **argv);
void	hwk_cli_json_errors_begin(void);
int	hwk_cli_json_errors_end(int r, int json);
int	hwk_cli_backends(struct hwk_ctx *ctx, int json);
int	hwk_cli_list(struct hwk_ctx *ctx, int json);
/* The key pairs in dir, one line each or as JSON. */
int	hwk_list_keys(struct hwk_ctx *ctx, const char *dir, int json,
	    FILE *out);

/* The terminal's side of what a backend asks and tells (ui.c). */
void	hwk_cli_ui_init(struct hwk_ui *ui, struct hwk_cli_opts *o);
/* ssh-keygen's file name prompt, into o->path; Enter keeps the default. */
int	hwk_cli_ask_filename(struct hwk_cli_opts *o, const char *prompt);

/* Prints the context's error (or msg if it has none) and its advice. */
void	hwk_report(struct hwk_ctx *ctx, int err, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* "The key fingerprint is:" and the randomart, as ssh-keygen -t prints them. */
int	hwk_print_fingerprint_art(FILE *f, const struct hwk_pubkey *pub);
/* ssh-keygen -l's line for pub, and with verbose its randomart. */
int	hwk_print_fp_line(const struct hwk_pubkey *pub, int verbose);

#endif /* HWKEY_CLI_H */
