/*
 * Unit tests of the hwkeygen command through the mock backend: option
 * parsing, exit codes, messages, and that no failure leaves a file or an
 * orphan key behind.
 */
#include <sys/stat.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "hwkey/backend.h"
#include "hwkey/error.h"
#include "hwkey/version.h"
#include "cli.h"
#include "fixture.h"
#include "mock_backend.h"

extern const struct hwk_backend hwk_backend_software;

static const struct hwk_backend *const table[] = {
	&hwk_mock_backend, &hwk_backend_software, NULL,
};

static char dir[256], key[512], pub[520];
static char out[65536], err[65536];

static void
slurp(FILE *f, char *buf, size_t len)
{
	size_t n;

	fflush(f);
	rewind(f);
	n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
}

/* Runs hwkeygen with the given arguments (NULL-terminated) and stdin text. */
static int
run(const char *input, ...)
{
	char *argv[32];
	const char *a;
	FILE *fo = tmpfile(), *fe = tmpfile(), *fi = tmpfile();
	int argc = 0, so, se, si, rc, i;
	va_list ap;

	argv[argc++] = strdup("hwkeygen");
	va_start(ap, input);
	while ((a = va_arg(ap, const char *)) != NULL && argc < 31)
		argv[argc++] = strdup(a);	/* writable: -N gets blanked */
	va_end(ap);
	argv[argc] = NULL;
	fputs(input != NULL ? input : "", fi);
	rewind(fi);
	fflush(stdout);
	fflush(stderr);
	so = dup(1);
	se = dup(2);
	si = dup(0);
	dup2(fileno(fo), 1);
	dup2(fileno(fe), 2);
	dup2(fileno(fi), 0);
	__fpurge(stdin);
	clearerr(stdin);
	rc = hwk_cli_main(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(so, 1);
	dup2(se, 2);
	dup2(si, 0);
	close(so);
	close(se);
	close(si);
	__fpurge(stdin);
	clearerr(stdin);
	slurp(fo, out, sizeof(out));
	slurp(fe, err, sizeof(err));
	fclose(fi);
	for (i = 0; i < argc; i++)
		free(argv[i]);
	return rc;
}

static int
exists(const char *p)
{
	struct stat st;

	return lstat(p, &st) == 0;
}

static int
rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int
setup(void **state)
{
	char home[300];

	(void)state;
	strcpy(dir, "/tmp/hwk-cli.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(home, sizeof(home), "%s/home", dir);
	assert_int_equal(mkdir(home, 0700), 0);
	setenv("HOME", home, 1);
	snprintf(key, sizeof(key), "%s/id_test", dir);
	snprintf(pub, sizeof(pub), "%s.pub", key);
	hwk_backends_override(table);
	mock_reset();
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	hwk_backends_override(NULL);
	return 0;
}

static int
count_files(const char *d)
{
	char cmd[600];
	FILE *p;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", d);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_int_equal(fscanf(p, "%d", &n), 1);
	pclose(p);
	return n;
}

static void
test_version_help(void **state)
{
	(void)state;
	assert_int_equal(run(NULL, "--version", NULL), 0);
	assert_string_equal(out, "hwkeygen " HWK_VERSION "\n");
	assert_int_equal(run(NULL, "--help", NULL), 0);
	assert_non_null(strstr(out, "--backend NAME"));
	/* A backend's own options are listed and accepted. */
	assert_non_null(strstr(out, "--mock-opt VALUE"));
	assert_non_null(strstr(out, "auto (default), mock, software"));
}

static void
test_bad_bits(void **state)
{
	(void)state;
	assert_int_equal(run(NULL, "-b", "abc", "-f", key, NULL), EXIT_USAGE);
	assert_non_null(strstr(err, "'abc' is not a number of bits"));
	assert_int_equal(run(NULL, "-b", "-5", "-f", key, NULL), EXIT_USAGE);
	assert_int_equal(run(NULL, "-b", "3072x", "-f", key, NULL),
	    EXIT_USAGE);
	assert_int_equal(run(NULL, "--backend", "software", "-b", "1024",
	    "-N", "", "-f", key, NULL), EXIT_USAGE);
	assert_non_null(strstr(err, "1024 bits is below the minimum of 2048"));
	assert_non_null(strstr(err, "-b 2048 or more"));
	assert_int_equal(run(NULL, "--backend", "software", "-b", "16385",
	    "-N", "", "-f", key, NULL), EXIT_USAGE);
	assert_non_null(strstr(err, "maximum is 16384 bits"));
	assert_false(exists(key));
	assert_false(exists(pub));
	assert_int_equal(mock.generate_calls, 0);
}

static void
test_bad_type(void **state)
{
	(void)state;
	assert_int_equal(run(NULL, "-t", "dsa", "-f", key, NULL),
	    EXIT_USAGE);
	assert_non_null(strstr(err, "key type 'dsa' is not supported"));
	assert_int_equal(run(NULL, "-t", "foo", "-f", key, NULL), EXIT_USAGE);
	assert_non_null(strstr(err, "unknown key type 'foo'"));
	assert_int_equal(run(NULL, "-t", "rsa", "--backend", "mock", "-f", key,
	    NULL), EXIT_OK);
}

/* ECDSA and Ed25519 as ssh-keygen: the words, the sizes, the art. */
static void
test_ec_types(void **state)
{
	(void)state;
	assert_int_equal(run(NULL, "--backend", "mock", "-t", "ecdsa", "-C",
	    "e", "-f", key, NULL), EXIT_OK);
	assert_int_equal(mock.seen_type, HWK_KEY_ECDSA);
	assert_int_equal(mock.seen_bits, 256);	/* ssh-keygen's default */
	assert_non_null(strstr(out, "Generating public/private ecdsa key "
	    "pair.\n"));
	assert_non_null(strstr(out, "\n+---[ECDSA 256]---+\n"));
	assert_int_equal(run(NULL, "--backend", "mock", "-t", "ECDSA", "-b",
	    "521", "--backup", "-f", key, NULL), EXIT_OK);
	assert_int_equal(mock.seen_bits, 521);
	assert_non_null(strstr(out, "\n+---[ECDSA 521]---+\n"));
	/* ssh-keygen's full names: the curve's name gives its size. */
	assert_int_equal(run(NULL, "--backend", "mock", "-t",
	    "ecdsa-sha2-nistp384", "-q", "--backup", "-f", key, NULL), EXIT_OK);
	assert_int_equal(mock.seen_bits, 384);
	/* Ed25519 has one size: -b is ignored. */
	assert_int_equal(run(NULL, "--backend", "mock", "-t", "ed25519", "-b",
	    "1234", "--backup", "--json", "-f", key, NULL), EXIT_OK);
	assert_int_equal(mock.seen_type, HWK_KEY_ED25519);
	assert_int_equal(mock.seen_bits, 256);
	assert_non_null(strstr(err, "Generating public/private ed25519 key "
	    "pair.\n"));
	assert_non_null(strstr(err, "\n+--[ED25519 256]--+\n"));
	assert_non_null(strstr(out, "\"type\": \"ED25519\""));
	assert_non_null(strstr(out, "\"public_key\": \"ssh-ed25519 "));
	/* Curves ssh-keygen has not, whichever of -t and -b comes first. */
	assert_int_equal(mock.generate_calls, 4);
	assert_int_equal(run(NULL, "--backend", "mock", "-t", "ecdsa", "-b",
	    "2048", "-f", pub, NULL), EXIT_USAGE);
	assert_non_null(strstr(err, "hwkeygen: Invalid ECDSA key length: "
	    "valid lengths are 256, 384 or 521 bits\n"));
	assert_int_equal(run(NULL, "-b", "384", "-b", "255", "-t", "ecdsa",
	    "-f", pub, NULL), EXIT_USAGE);
	assert_non_null(strstr(err, "Invalid ECDSA key length"));
	assert_int_equal(run(NULL, "-t", "ecdsa", "-b", "384", "-b", "p384",
	    "-f", pub, NULL), EXIT_USAGE);
	assert_non_null(strstr(err, "-b: 'p384' is not a number of bits; "
	    "ECDSA keys take 256, 384 or 521\n"));
	assert_int_equal(mock.generate_calls, 4);
}

/* Auto passes over what cannot make the type and says so. */
static void
test_auto_type(void **state)
{
	(void)state;
	mock.refuse_type = HWK_KEY_ED25519;
	assert_int_equal(run(NULL, "-t", "ed25519", "--require-hardware", "-f",
	    key, NULL), EXIT_NODEV);
	assert_non_null(strstr(err, "no hardware backend is usable: mock: "
	    "cannot make ed25519 keys\n"));
	assert_false(exists(key) || exists(pub));
	/* The backend named cannot: a bad -t, exit 2 before any prompt. */
	assert_int_equal(run(NULL, "--backend", "mock", "-t", "ed25519", "-f",
	    key, NULL), EXIT_USAGE);
	assert_string_equal(err, "hwkeygen: mock makes no such keys\n");
	assert_string_equal(out, "");
	assert_int_equal(run(NULL, "-t", "ed25519", "-N", "", "-f", key, NULL),
	    EXIT_OK);
	assert_non_null(strstr(out, "mock: cannot make ed25519 keys: using "
	    "software\n"));
	assert_int_equal(mock.generate_calls, 0);
	assert_int_equal(run(NULL, "-l", "-f", pub, NULL), EXIT_OK);
	assert_non_null(strstr(out, "256 SHA256:"));
	assert_non_null(strstr(out, " (ED25519)\n"));
	/* Other refusals are the chosen backend's, after the line. */
	mock.check_rc = -9;	/* HWK_ERR_KEY_SIZE */
	assert_int_equal(run(NULL, "-t", "ecdsa", "-b", "384", "--backup",
	    "-f", key, NULL), EXIT_USAGE);
	assert_string_equal(out, "using mock\n");
	assert_non_null(strstr(err, "mock refuses 384 bits"));
	assert_int_equal(mock.generate_calls, 0);
}

static void
test_bad_usage(void **state)
{
	(void)state;
	assert_int_equal(run(NULL, "--backend", "nope", NULL), EXIT_USAGE);
	assert_non_null(strstr(err, "unknown backend 'nope'; choose one of: "
	    "auto, mock, software"));
	assert_int_equal(run(NULL, "-f", key, "extra", NULL), EXIT_USAGE);
	assert_non_null(strstr(err, "unexpected argument 'extra'"));
	assert_int_equal(run(NULL, "-y", "-l", NULL), EXIT_USAGE);
	assert_int_equal(run(NULL, "--no-such-option", NULL), EXIT_USAGE);
	assert_int_equal(run(NULL, "-a", "0", NULL), EXIT_USAGE);
	assert_int_equal(run(NULL, "-E", "md5", NULL), EXIT_USAGE);
	assert_int_equal(run(NULL, "-C", "two\nlines", "-f", key, NULL),
	    EXIT_USAGE);
	assert_non_null(strstr(err, "cannot hold a line break"));
	assert_int_equal(mock.generate_calls, 0);
}

static void
test_generate_mock(void **state)
{
	char *text;

	(void)state;
	assert_int_equal(run(NULL, "--backend", "mock", "--mock-opt", "v1",
	    "-C", "c@d", "-f", key, NULL), EXIT_OK);
	assert_string_equal(mock.seen_opt, "v1");
	assert_int_equal(mock.seen_bits, 2048);	/* the backend's default */
	assert_int_equal(mock.destroy_calls, 0);
	assert_true(exists(key) && exists(pub));
	assert_non_null(strstr(out, "Generating public/private rsa key pair.\n"
	    "Your identification has been saved in "));
	assert_non_null(strstr(out, "The key's randomart image is:\n"
	    "+---[RSA 2048]----+\n"));
	text = fixture_read("rsa2048.key.pub", NULL);
	/* Same key as the fixture, our comment. */
	assert_int_equal(run(NULL, "-l", "-f", pub, NULL), EXIT_OK);
	assert_non_null(strstr(out, " c@d (RSA)"));
	free(text);
	/* -q prints nothing. */
	assert_int_equal(run(NULL, "--backend", "mock", "-q", "--backup", "-f",
	    key, NULL), EXIT_OK);
	assert_string_equal(out, "");
	assert_string_equal(err, "");
}

static void
test_generate_fails(void **state)
{
	(void)state;
	mock.generate_rc = -14;	/* HWK_ERR_DEVICE */
	assert_int_equal(run(NULL, "--backend", "mock", "-f", key, NULL),
	    EXIT_FAIL);
	assert_non_null(strstr(err, "could not generate the key: mock "
	    "generate"));
	assert_false(exists(key) || exists(pub));
	assert_int_equal(mock.destroy_calls, 0);
	assert_int_equal(count_files(dir), 1);	/* home only */
}

static void
test_write_stub_fails_rolls_back(void **state)
{
	(void)state;
	mock.write_rc = -6;
	assert_int_equal(run(NULL, "--backend", "mock", "-f", key, NULL),
	    EXIT_FAIL);
	assert_int_equal(mock.generate_calls, 1);
	assert_int_equal(mock.destroy_calls, 1);
	assert_false(exists(key) || exists(pub));
	assert_int_equal(count_files(dir), 1);
}

static void
remove_key_dir(void)
{
	char sub[300];

	snprintf(sub, sizeof(sub), "%s/sub", dir);
	assert_int_equal(rmdir(sub), 0);
}

static void
test_export_fails_rolls_back(void **state)
{
	char sub[300], k[320];

	(void)state;
	/* The folder vanishes between the checks and the write. */
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	snprintf(k, sizeof(k), "%s/id", sub);
	assert_int_equal(mkdir(sub, 0700), 0);
	mock.on_generate = remove_key_dir;
	assert_int_equal(run(NULL, "--backend", "mock", "-f", k, NULL),
	    EXIT_FAIL);
	assert_int_equal(mock.destroy_calls, 1);
	assert_non_null(strstr(err, "cannot save the key in"));
	assert_non_null(strstr(err, "nothing was written"));
}

static void
test_missing_dir_checked_first(void **state)
{
	char k[320];

	(void)state;
	snprintf(k, sizeof(k), "%s/nodir/id", dir);
	assert_int_equal(run(NULL, "--backend", "mock", "-f", k, NULL),
	    EXIT_FAIL);
	assert_non_null(strstr(err, "No such file or directory"));
	assert_non_null(strstr(err, "Create the directory first"));
	assert_int_equal(mock.generate_calls, 0);	/* no orphan key */
}

static void
test_overwrite_question(void **state)
{
	FILE *f;
	char buf[64];

	(void)state;
	f = fopen(key, "w");
	fputs("old private\n", f);
	fclose(f);
	f = fopen(pub, "w");
	fputs("old public\n", f);
	fclose(f);
	assert_int_equal(run("n\n", "--backend", "mock", "-f", key, NULL),
	    EXIT_CANCEL);
	assert_non_null(strstr(out, " already exists.\nOverwrite (y/n)? "));
	assert_int_equal(mock.generate_calls, 0);
	/* End of input is a no as well. */
	assert_int_equal(run("", "--backend", "mock", "-f", key, NULL),
	    EXIT_CANCEL);
	f = fopen(key, "r");
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_string_equal(buf, "old private\n");
	assert_int_equal(run("y\n", "--backend", "mock", "-f", key, NULL),
	    EXIT_OK);
	f = fopen(key, "r");
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_memory_equal(buf, "MOCK-SLOT ", 10);
}

static void
test_backup(void **state)
{
	char bdir[300], cmd[700];
	struct stat st;
	FILE *f;

	(void)state;
	assert_int_equal(run(NULL, "--backend", "mock", "-q", "-C", "first",
	    "-f", key, NULL), EXIT_OK);
	assert_int_equal(run(NULL, "--backend", "mock", "--backup", "-C",
	    "second", "-f", key, NULL), EXIT_OK);
	assert_non_null(strstr(out, "Your old key pair has been moved to "));
	assert_null(strstr(out, "Overwrite"));
	snprintf(bdir, sizeof(bdir), "%s/key_backup", dir);
	assert_int_equal(stat(bdir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(run(NULL, "--backend", "mock", "--backup", "-C",
	    "third", "-f", key, NULL), EXIT_OK);
	/* Two backups, neither overwritten: both old comments are there. */
	assert_int_equal(count_files(bdir), 4);
	snprintf(cmd, sizeof(cmd), "cat %s/*.pub | grep -c -e first -e second",
	    bdir);
	f = popen(cmd, "r");
	assert_non_null(fgets(cmd, sizeof(cmd), f));
	pclose(f);
	assert_string_equal(cmd, "2\n");
}

static void
test_auto_and_probe(void **state)
{
	(void)state;
	mock.probe_rc = -13;	/* HWK_ERR_NO_DEVICE */
	mock.probe_detail = "no mock device";
	assert_int_equal(run(NULL, "--backend", "mock", "-f", key, NULL),
	    EXIT_NODEV);
	assert_non_null(strstr(err, "the mock backend cannot be used: no mock "
	    "device"));
	assert_int_equal(run(NULL, "-b", "2048", "-N", "", "-f", key, NULL),
	    EXIT_OK);
	assert_non_null(strstr(out, "no mock device: using software\n"));
	assert_int_equal(mock.generate_calls, 0);
	mock.probe_rc = 0;
	assert_int_equal(run(NULL, "-f", key, "--backup", NULL), EXIT_OK);
	assert_non_null(strstr(out, "using mock"));
	assert_int_equal(mock.generate_calls, 1);
}

static void
test_check_refuses(void **state)
{
	(void)state;
	mock.check_rc = -9;	/* HWK_ERR_KEY_SIZE */
	assert_int_equal(run(NULL, "--backend", "mock", "-b", "4096", "-f",
	    key, NULL), EXIT_USAGE);
	assert_non_null(strstr(err, "mock refuses 4096 bits"));
	assert_int_equal(mock.generate_calls, 0);
	assert_string_equal(out, "");	/* before "Generating ..." */
}

static void
test_symlink_refused(void **state)
{
	char target[300];

	(void)state;
	snprintf(target, sizeof(target), "%s/elsewhere", dir);
	assert_int_equal(symlink(target, key), 0);
	assert_int_equal(run(NULL, "--backend", "mock", "-f", key, NULL),
	    EXIT_FAIL);
	assert_non_null(strstr(err, "is a symbolic link"));
	assert_false(exists(target));
	assert_int_equal(mock.generate_calls, 0);
}

static void
test_fingerprint_files(void **state)
{
	char *want = fixture_read("rsa2048.l.out", NULL);
	char path[300];
	FILE *f;

	(void)state;
	assert_int_equal(run(NULL, "-l", "-f",
	    "tests/fixtures/rsa2048.key.pub", NULL), EXIT_OK);
	assert_string_equal(out, want);
	free(want);
	/* A truncated private key. */
	snprintf(path, sizeof(path), "%s/trunc", dir);
	f = fopen(path, "w");
	fputs("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAA\n",
	    f);
	fclose(f);
	assert_int_equal(run(NULL, "-l", "-f", path, NULL), EXIT_FAIL);
	assert_non_null(strstr(err, "damaged or truncated"));
	assert_int_equal(run(NULL, "-y", "-f", path, NULL), EXIT_FAIL);
	assert_non_null(strstr(err, "Load key"));
	assert_int_equal(run(NULL, "-l", "-f", "/nonexistent/x", NULL),
	    EXIT_FAIL);
	assert_non_null(strstr(err, "No such file or directory"));
}

static void
test_json_generation(void **state)
{
	(void)state;
	/* No prompts with --json: the file must be given. */
	assert_int_equal(run(NULL, "--backend", "mock", "--json", NULL),
	    EXIT_USAGE);
	assert_non_null(strstr(err, "--json does not prompt: give the key file "
	    "with -f"));
	assert_int_equal(run(NULL, "--backend", "software", "--json", "-f",
	    key, NULL), EXIT_USAGE);
	assert_non_null(strstr(err, "give the passphrase with -N"));
	assert_int_equal(run(NULL, "--backend", "mock", "--json", "-C", "j",
	    "-f", key, NULL), EXIT_OK);
	/* stdout is the JSON alone; the usual messages went to stderr. */
	assert_memory_equal(out, "{\n  \"path\": \"", 12);
	assert_non_null(strstr(out, "\"backend\": \"mock\""));
	assert_non_null(strstr(out, "\"bits\": 2048"));
	assert_non_null(strstr(out, "\"comment\": \"j\""));
	assert_non_null(strstr(out, "\"backup\": null"));
	assert_non_null(strstr(err, "Your identification has been saved"));
	/* An existing key is not silently replaced. */
	assert_int_equal(run(NULL, "--backend", "mock", "--json", "-f", key,
	    NULL), EXIT_CANCEL);
	assert_non_null(strstr(err, "add --backup"));
	assert_int_equal(run(NULL, "--backend", "mock", "--json", "--backup",
	    "-f", key, NULL), EXIT_OK);
	assert_null(strstr(out, "\"backup\": null"));
}

static void
test_require_hardware(void **state)
{
	(void)state;
	assert_int_equal(run(NULL, "--require-hardware", "--backend",
	    "software", "-f", key, NULL), EXIT_USAGE);
	assert_non_null(strstr(err, "contradict"));
	mock.probe_rc = -13;
	mock.probe_detail = "no mock device here";
	assert_int_equal(run(NULL, "--require-hardware", "-N", "", "-f", key,
	    NULL), EXIT_NODEV);
	assert_non_null(strstr(err, "no hardware backend is usable: no mock "
	    "device here"));
	assert_false(exists(key));
	mock.probe_rc = 0;
	assert_int_equal(run(NULL, "--require-hardware", "-f", key, NULL),
	    EXIT_OK);
	assert_int_equal(mock.generate_calls, 1);
}

static void
test_backends(void **state)
{
	(void)state;
	mock.probe_rc = -13;
	mock.probe_detail = "nothing plugged in";
	assert_int_equal(run(NULL, "--backends", NULL), EXIT_OK);
	assert_non_null(strstr(out, "mock:\n  summary: unit-test backend\n"
	    "  usable: no\n  reason: nothing plugged in\n"));
	assert_non_null(strstr(out, "software:\n"));
	assert_int_equal(run(NULL, "--backends", "--json", NULL), EXIT_OK);
	assert_non_null(strstr(out, "\"mock\": {"));
	assert_non_null(strstr(out, "\"usable\": false"));
	assert_non_null(strstr(out, "\"library\": \"OpenSSL"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_version_help, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bad_bits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_type, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ec_types, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_auto_type, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bad_usage, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_generate_mock, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_generate_fails, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_write_stub_fails_rolls_back,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_export_fails_rolls_back,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_dir_checked_first,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_overwrite_question, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_backup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_auto_and_probe, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_check_refuses, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_symlink_refused, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_fingerprint_files, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_json_generation, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_require_hardware, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_backends, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
