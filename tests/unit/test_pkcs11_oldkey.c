/*
 * Keys already on a token, through the pkcs11 backend's ops locate, erase
 * and unnamed, against a SoftHSM2 token of the test's own behind
 * build/tests/pkcs11_fault.so: finding the key a stub names without a PIN,
 * erasing exactly it (and not another key under its id), the faults of
 * erasing, and the keys no stub names.  Skipped where SoftHSM2 is missing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "hwkey/backend.h"
#include "hwkey/buf.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "hwkey/sshkey.h"
#include "backends.h"
#include "p11token.h"

#define FAULT_SO	"tests/pkcs11_fault.so"
#define PIN		"87654321"

/*
 * A label the shell would split, for the command to quote (the fixture
 * hands it to sh as it is: hence the double quotes).
 */
static int
setup(void **state)
{
	return p11_token_setup(state, FAULT_SO, "\"it's a token\"", PIN, PIN);
}

/* A new ECDSA key on the token, its stub and its public key. */
static void
make_key(struct p11_token *f, struct hwk_buf **stubp, struct hwk_pubkey **pubp)
{
	struct hwk_genparams gp;
	struct hwk_key *key = NULL;

	memset(&gp, 0, sizeof(gp));
	gp.type = HWK_KEY_ECDSA;
	gp.bits = 256;
	gp.comment = "old@unit";
	assert_int_equal(hwk_backend_generate(f->ctx, f->b, &gp, &key), 0);
	*stubp = hwk_buf_new();
	assert_int_equal(hwk_backend_write_stub(f->ctx, key, &gp, *stubp), 0);
	assert_int_equal(hwk_key_pubkey(key, pubp), 0);
	hwk_key_free(&key);
}

/* The stub with its id replaced by hex (one byte). */
static struct hwk_buf *
stub_with_id(const struct hwk_buf *stub, const char *hex)
{
	struct hwk_buf *b = hwk_buf_new();
	const char *s = (const char *)hwk_buf_ptr(stub), *id;

	assert_non_null(id = strstr(s, "id=%"));
	assert_int_equal(hwk_buf_put(b, s, (size_t)(id - s) + 4), 0);
	assert_int_equal(hwk_buf_put(b, hex, 2), 0);
	assert_int_equal(hwk_buf_put(b, id + 6, hwk_buf_len(stub) -
	    (size_t)(id + 6 - s)), 0);
	return b;
}

static int
same_pub(const struct hwk_pubkey *a, const struct hwk_pubkey *b)
{
	return a != NULL && b != NULL && a->bloblen == b->bloblen &&
	    memcmp(a->blob, b->blob, a->bloblen) == 0;
}

static void
test_locate(void **state)
{
	struct p11_token *f = *state;
	struct hwk_buf *stub = NULL, *gone = NULL;
	struct hwk_pubkey *pub = NULL;
	struct hwk_devkey k;
	char want[64];

	p11_token_need(f);
	make_key(f, &stub, &pub);
	unlink(f->log);
	assert_int_equal(hwk_backend_locate(f->ctx, f->b, hwk_buf_ptr(stub),
	    hwk_buf_len(stub), &k), 0);
	assert_non_null(strstr(k.device, "token 'it's a token' (serial "));
	assert_int_equal(strlen(k.id), 2);
	assert_true(same_pub(k.pub, pub));
	assert_string_equal(k.label, "old@unit");
	snprintf(want, sizeof(want), "--type $t --id %s; done", k.id);
	assert_non_null(strstr(k.remove, want));
	assert_non_null(strstr(k.remove, "for t in privkey pubkey; do "
	    "pkcs11-tool --module "));
	/* No PIN for a look. */
	assert_int_equal(p11_token_log_count(f, "C_Login"), 0);
	hwk_devkey_clear(&k);

	gone = stub_with_id(stub, "7f");
	assert_int_equal(hwk_backend_locate(f->ctx, f->b, hwk_buf_ptr(gone),
	    hwk_buf_len(gone), &k), HWK_ERR_NOT_FOUND);
	assert_non_null(strstr(hwk_ctx_detail(f->ctx), "shows no key with id "
	    "7f"));
	hwk_devkey_clear(&k);
	assert_int_equal(hwk_backend_locate(f->ctx, f->b,
	    (const uint8_t *)"pkcs11:token=t", 14, &k), HWK_ERR_FORMAT);
	assert_int_equal(hwk_backend_erase(f->ctx, f->b, hwk_buf_ptr(stub),
	    hwk_buf_len(stub), pub), 0);
	hwk_buf_free(&gone);
	hwk_buf_free(&stub);
	hwk_pubkey_free(&pub);
}

static void
test_erase(void **state)
{
	struct p11_token *f = *state;
	struct hwk_buf *a = NULL, *b = NULL;
	struct hwk_pubkey *pa = NULL, *pb = NULL;
	struct hwk_devkey k;

	p11_token_need(f);
	make_key(f, &a, &pa);
	make_key(f, &b, &pb);
	/* Another key's .pub: the key under the id is left alone. */
	unlink(f->log);
	assert_int_equal(hwk_backend_erase(f->ctx, f->b, hwk_buf_ptr(a),
	    hwk_buf_len(a), pb), HWK_ERR_WRONG_DEVICE);
	assert_non_null(strstr(hwk_ctx_detail(f->ctx), "holds another key "
	    "under id"));
	assert_int_equal(p11_token_log_count(f, "C_DestroyObject"), 0);
	/* A failing C_DestroyObject: said, with the command. */
	setenv("HWK_FAKE_FAIL", "C_DestroyObject", 1);
	assert_int_equal(hwk_backend_erase(f->ctx, f->b, hwk_buf_ptr(a),
	    hwk_buf_len(a), pa), HWK_ERR_DEVICE);
	unsetenv("HWK_FAKE_FAIL");
	assert_non_null(strstr(hwk_ctx_detail(f->ctx), "cannot delete the old "
	    "key (id "));
	assert_non_null(strstr(hwk_ctx_advice(f->ctx), "Remove it by hand: for "
	    "t in privkey pubkey cert; do pkcs11-tool"));
	/* A module that says CKR_OK and keeps it is found out. */
	setenv("HWK_FAKE_DESTROY_KEEPS", "1", 1);
	assert_int_equal(hwk_backend_erase(f->ctx, f->b, hwk_buf_ptr(a),
	    hwk_buf_len(a), pa), HWK_ERR_DEVICE);
	unsetenv("HWK_FAKE_DESTROY_KEEPS");
	assert_non_null(strstr(hwk_ctx_detail(f->ctx), "still holds the old "
	    "key's private key"));
	/* Its own key: both objects go, and only they. */
	unlink(f->log);
	assert_int_equal(hwk_backend_erase(f->ctx, f->b, hwk_buf_ptr(a),
	    hwk_buf_len(a), pa), 0);
	assert_int_equal(p11_token_log_count(f, "C_DestroyObject 0x0"), 2);
	assert_int_equal(hwk_backend_locate(f->ctx, f->b, hwk_buf_ptr(a),
	    hwk_buf_len(a), &k), HWK_ERR_NOT_FOUND);
	hwk_devkey_clear(&k);
	assert_int_equal(hwk_backend_locate(f->ctx, f->b, hwk_buf_ptr(b),
	    hwk_buf_len(b), &k), 0);
	hwk_devkey_clear(&k);
	/* Again: it is gone, and nothing else is touched. */
	assert_int_equal(hwk_backend_erase(f->ctx, f->b, hwk_buf_ptr(a),
	    hwk_buf_len(a), NULL), HWK_ERR_NOT_FOUND);
	assert_non_null(strstr(hwk_ctx_detail(f->ctx), "is no longer on "
	    "token"));
	assert_int_equal(hwk_backend_erase(f->ctx, f->b, hwk_buf_ptr(b),
	    hwk_buf_len(b), pb), 0);
	hwk_buf_free(&a);
	hwk_buf_free(&b);
	hwk_pubkey_free(&pa);
	hwk_pubkey_free(&pb);
}

/* What unnamed found: the ids, space-separated, and the hidden notes. */
struct seen {
	char	 ids[256];
	int	 hidden;
};

static void
found(void *arg, const struct hwk_devkey *k)
{
	struct seen *s = arg;

	if (k->hidden) {
		s->hidden++;
		return;
	}
	assert_non_null(k->pub);
	assert_non_null(strstr(k->remove, k->id));
	strncat(s->ids, k->id, sizeof(s->ids) - strlen(s->ids) - 2);
	strcat(s->ids, " ");
}

static void
test_unnamed(void **state)
{
	struct p11_token *f = *state;
	struct hwk_buf *a = NULL, *b = NULL, *other = NULL;
	const struct hwk_buf *stubs[3];
	struct hwk_pubkey *pa = NULL, *pb = NULL;
	struct hwk_devkey k;
	struct seen s;
	char ida[136], idb[136], both[272];

	p11_token_need(f);
	make_key(f, &a, &pa);
	make_key(f, &b, &pb);
	assert_int_equal(hwk_backend_locate(f->ctx, f->b, hwk_buf_ptr(a),
	    hwk_buf_len(a), &k), 0);
	snprintf(ida, sizeof(ida), "%s ", k.id);
	hwk_devkey_clear(&k);
	assert_int_equal(hwk_backend_locate(f->ctx, f->b, hwk_buf_ptr(b),
	    hwk_buf_len(b), &k), 0);
	snprintf(idb, sizeof(idb), "%s ", k.id);
	hwk_devkey_clear(&k);
	snprintf(both, sizeof(both), "%s%s", ida, idb);

	/* One named: the other is found, once. */
	memset(&s, 0, sizeof(s));
	stubs[0] = a;
	unlink(f->log);
	assert_int_equal(hwk_backend_unnamed(f->ctx, f->b, stubs, 1, found,
	    &s), 0);
	assert_string_equal(s.ids, idb);
	assert_int_equal(s.hidden, 0);
	assert_int_equal(p11_token_log_count(f, "C_Login"), 0);
	/* A stub of another token, or of another id, names neither. */
	other = stub_with_id(b, "7e");
	memset(&s, 0, sizeof(s));
	stubs[0] = other;
	assert_int_equal(hwk_backend_unnamed(f->ctx, f->b, stubs, 1, found,
	    &s), 0);
	assert_true(strcmp(s.ids, both) == 0 || (strlen(s.ids) ==
	    strlen(both) && strstr(s.ids, ida) != NULL &&
	    strstr(s.ids, idb) != NULL));
	/* Both named: nothing. */
	memset(&s, 0, sizeof(s));
	stubs[0] = a;
	stubs[1] = b;
	assert_int_equal(hwk_backend_unnamed(f->ctx, f->b, stubs, 2, found,
	    &s), 0);
	assert_string_equal(s.ids, "");
	/* No public object to see: the token may hide its keys, it says. */
	setenv("HWK_FAKE_NO_PUBKEY", "1", 1);
	memset(&s, 0, sizeof(s));
	assert_int_equal(hwk_backend_unnamed(f->ctx, f->b, stubs, 0, found,
	    &s), 0);
	unsetenv("HWK_FAKE_NO_PUBKEY");
	assert_string_equal(s.ids, "");
	assert_int_equal(s.hidden, 1);
	assert_int_equal(hwk_backend_erase(f->ctx, f->b, hwk_buf_ptr(a),
	    hwk_buf_len(a), pa), 0);
	assert_int_equal(hwk_backend_erase(f->ctx, f->b, hwk_buf_ptr(b),
	    hwk_buf_len(b), pb), 0);
	hwk_buf_free(&other);
	hwk_buf_free(&a);
	hwk_buf_free(&b);
	hwk_pubkey_free(&pa);
	hwk_pubkey_free(&pb);
}

/* The command quotes the label for the shell, and works as printed. */
static void
test_command_quoted(void **state)
{
	struct p11_token *f = *state;
	struct hwk_buf *stub = NULL;
	struct hwk_pubkey *pub = NULL;
	struct hwk_devkey k;
	char cmd[1400], *at, *out;

	p11_token_need(f);
	make_key(f, &stub, &pub);
	assert_int_equal(hwk_backend_locate(f->ctx, f->b, hwk_buf_ptr(stub),
	    hwk_buf_len(stub), &k), 0);
	assert_non_null(strstr(k.remove, "--token-label 'it'\\''s a token' "
	    "--login"));
	/* Run as printed, with the PIN the person would type. */
	assert_non_null(at = strstr(k.remove, "--login"));
	snprintf(cmd, sizeof(cmd), "%.*s--login --pin %s%s 2>&1",
	    (int)(at - k.remove), k.remove, PIN, at + 7);
	hwk_devkey_clear(&k);
	out = p11_token_run("%s", cmd);
	free(out);
	assert_int_equal(hwk_backend_locate(f->ctx, f->b, hwk_buf_ptr(stub),
	    hwk_buf_len(stub), &k), HWK_ERR_NOT_FOUND);
	hwk_devkey_clear(&k);
	hwk_buf_free(&stub);
	hwk_pubkey_free(&pub);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_locate),
		cmocka_unit_test(test_erase),
		cmocka_unit_test(test_unnamed),
		cmocka_unit_test(test_command_quoted),
	};

	return cmocka_run_group_tests(tests, setup, p11_token_teardown);
}
