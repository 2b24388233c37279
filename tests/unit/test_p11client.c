/*
 * Unit tests of hwkey-agent's side of the PKCS#11 helper (p11client.c,
 * p11wire.c): this test program plays the helper (it is what the agent
 * starts, /proc/self/exe), scripted by $HWK_TEST_HELPER, so that every
 * answer the agent may get is tried: a PIN asked and relayed, an error
 * with its words, a crash, an exit, a hang past the timeout, garbage;
 * requests in steps, one at a time, and a PIN kept for a new helper.
 */
#include <sys/socket.h>

#include <poll.h>
#include <signal.h>
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
#include "agent.h"
#include "fixture.h"
#include "p11helper.h"

#define STUB	"pkcs11:token=t;id=%01;object=k"
#define PIN	"4321"

/* The helper's side: one answer a request, as $HWK_TEST_HELPER says. */

/* The token's key: the same in every helper, as a token's is. */
static int
put_key(struct hwk_buf *m)
{
	struct hwk_pubkey *pub = NULL;
	char *line = fixture_read("ecdsa256.key.pub", NULL);
	int r;

	if (hwk_pubkey_from_line(line, &pub) != 0)
		return -1;
	r = hwk_buf_put_u8(m, P11H_KEY) | hwk_buf_put_u32(m, 7) |
	    hwk_buf_put_string(m, pub->blob, pub->bloblen) |
	    hwk_buf_put_cstring(m, "k@token");
	hwk_pubkey_free(&pub);
	free(line);
	return r;
}

static int
put_err(struct hwk_buf *m, int err, const char *detail, const char *advice)
{
	return hwk_buf_put_u8(m, P11H_ERR) | hwk_buf_put_u32(m,
	    (uint32_t)-err) | hwk_buf_put_cstring(m, detail) |
	    hwk_buf_put_cstring(m, advice);
}

/* LOAD in the "ask" script: a notice, a PIN asked, the key if it is right. */
static void
ask_pin(int fd, struct hwk_buf *m)
{
	const uint8_t *s;
	uint32_t neg;
	size_t len;
	uint8_t type;

	hwk_buf_reset(m);
	hwk_buf_put_u8(m, P11H_NOTICE);
	hwk_buf_put_cstring(m, "a notice");
	if (p11h_send(fd, m, 0) != 0 || p11h_recv(fd, m, 0) != 0 ||
	    hwk_buf_get_u8(m, &type) != 0 || type != P11H_OK)
		_exit(2);
	hwk_buf_reset(m);
	hwk_buf_put_u8(m, P11H_ASK);
	hwk_buf_put_cstring(m, "PIN for k:");
	if (p11h_send(fd, m, 0) != 0 || p11h_recv(fd, m, 0) != 0 ||
	    hwk_buf_get_u8(m, &type) != 0 || type != P11H_SECRET ||
	    hwk_buf_get_u32(m, &neg) != 0 ||
	    hwk_buf_get_string_direct(m, &s, &len) != 0)
		_exit(2);
	if (neg == 0 && len == strlen(PIN) && memcmp(s, PIN, len) == 0) {
		hwk_buf_reset(m);
		put_key(m);
	} else {
		hwk_buf_reset(m);
		put_err(m, HWK_ERR_PIN_INCORRECT, "not the PIN", "");
	}
}

static void __attribute__((noreturn))
fake_helper(void)
{
	const char *mode = getenv("HWK_TEST_HELPER");
	struct hwk_buf *m = hwk_buf_new(), *out = hwk_buf_new();
	uint8_t type;

	if (mode == NULL || m == NULL || out == NULL)
		_exit(2);
	hwk_buf_set_max(m, P11H_MAX_MSG);
	while (p11h_recv(STDIN_FILENO, m, 0) == 0) {
		hwk_buf_reset(out);
		if (hwk_buf_get_u8(m, &type) != 0)
			_exit(2);
		if (type != P11H_LOAD) {
			/* OPTS, SIGN, FREE: the simplest right answer. */
			if (type == P11H_SIGN) {
				hwk_buf_put_u8(out, P11H_SIG);
				hwk_buf_put_cstring(out, "rawsig");
			} else
				hwk_buf_put_u8(out, P11H_OK);
		} else if (strcmp(mode, "ask") == 0)
			ask_pin(STDIN_FILENO, out);
		else if (strcmp(mode, "err") == 0)
			put_err(out, HWK_ERR_PIN_INCORRECT, "the token refused "
			    "the PIN", "Try again.");
		else if (strcmp(mode, "crash") == 0)
			abort();	/* SIGABRT: the sanitizers let it kill */
		else if (strcmp(mode, "exit") == 0)
			_exit(3);
		else if (strcmp(mode, "hang") == 0)
			for (;;)
				pause();
		else if (strcmp(mode, "garbage") == 0) {
			/* A length over the limit. */
			if (write(STDOUT_FILENO, "\xff\xff\xff\xff", 4) < 0 ||
			    write(STDIN_FILENO, "\xff\xff\xff\xff", 4) < 0)
				_exit(2);
			continue;
		}
		if (p11h_send(STDIN_FILENO, out, 0) != 0)
			_exit(2);
	}
	_exit(0);
}

/* The agent's side. */

static struct hwk_agent agent;
static char asked[256];

static int
read_pin(void *arg, const char *prompt, char *buf, size_t len)
{
	(void)arg;
	snprintf(asked, sizeof(asked), "%s", prompt);
	snprintf(buf, len, "%s", PIN);
	return HWK_OK;
}

static int
setup(void **state)
{
	struct hwk_ui ui = { read_pin, NULL, NULL };

	(void)state;
	memset(&agent, 0, sizeof(agent));
	asked[0] = '\0';
	if ((agent.ctx = hwk_ctx_new()) == NULL)
		return -1;
	hwk_ctx_set_ui(agent.ctx, &ui);
	setenv("HWK_AGENT_HELPER_TIMEOUT", "0.3", 1);
	return hwk_agent_p11_isolate(&agent);
}

static int
teardown(void **state)
{
	(void)state;
	hwk_agent_p11_end();
	hwk_backends_override(NULL);
	hwk_ctx_free(&agent.ctx);
	return 0;
}

static int
load(const char *mode, struct hwk_key **keyp)
{
	setenv("HWK_TEST_HELPER", mode, 1);
	return hwk_backend_load(agent.ctx, hwk_backend_find("pkcs11"),
	    (const uint8_t *)STUB, strlen(STUB), keyp);
}

static void
test_pin_relayed_and_sign(void **state)
{
	struct hwk_key *key = NULL;
	struct hwk_pubkey *pub = NULL;
	uint8_t *sig = NULL;
	size_t siglen = 0;

	(void)state;
	assert_int_equal(load("ask", &key), HWK_OK);
	assert_string_equal(asked, "PIN for k:");
	assert_int_equal(hwk_key_pubkey(key, &pub), HWK_OK);
	assert_string_equal(pub->type, "ecdsa-sha2-nistp256");
	assert_string_equal(pub->comment, "k@token");
	assert_int_equal(hwk_key_sign(agent.ctx, key, HWK_SIG_ECDSA,
	    (const uint8_t *)"data", 4, &sig, &siglen), HWK_OK);
	assert_int_equal(siglen, 6);
	assert_memory_equal(sig, "rawsig", 6);
	free(sig);
	hwk_pubkey_free(&pub);
	hwk_key_free(&key);
}

static void
test_error_words(void **state)
{
	struct hwk_key *key = NULL;

	(void)state;
	assert_int_equal(load("err", &key), HWK_ERR_PIN_INCORRECT);
	assert_null(key);
	assert_string_equal(hwk_ctx_detail(agent.ctx),
	    "the token refused the PIN");
	assert_string_equal(hwk_ctx_advice(agent.ctx), "Try again.");
}

static void
test_crash_then_restart(void **state)
{
	struct hwk_key *key = NULL;

	(void)state;
	assert_int_equal(load("crash", &key), HWK_ERR_DEVICE);
	assert_non_null(strstr(hwk_ctx_detail(agent.ctx),
	    "module crashed in a request (Aborted)"));
	/* The next use starts another helper. */
	assert_int_equal(load("ask", &key), HWK_OK);
	hwk_key_free(&key);
}

static void
test_exit(void **state)
{
	struct hwk_key *key = NULL;

	(void)state;
	assert_int_equal(load("exit", &key), HWK_ERR_DEVICE);
	assert_non_null(strstr(hwk_ctx_detail(agent.ctx),
	    "helper ended in a request (exit status 3)"));
}

static void
test_hang_timeout(void **state)
{
	struct hwk_key *key = NULL;
	uint64_t t0 = p11h_now_ms();

	(void)state;
	assert_int_equal(load("hang", &key), HWK_ERR_DEVICE);
	assert_true(p11h_now_ms() - t0 >= 300);
	assert_true(p11h_now_ms() - t0 < 3000);
	assert_non_null(strstr(hwk_ctx_detail(agent.ctx),
	    "gave no answer in 300 ms"));
	assert_int_equal(load("ask", &key), HWK_OK);
	hwk_key_free(&key);
}

static void
test_garbage(void **state)
{
	struct hwk_key *key = NULL;

	(void)state;
	assert_int_equal(load("garbage", &key), HWK_ERR_DEVICE);
	assert_non_null(strstr(hwk_ctx_detail(agent.ctx),
	    "talking to the PKCS#11 helper failed"));
}

/* Steps of the request out until its answer: the signature it holds. */
static void
signed_in_steps(void)
{
	struct pollfd p = { .events = POLLIN };
	struct hwk_buf *reply = hwk_buf_new();
	uint64_t dl;
	uint8_t *sig = NULL;
	size_t siglen = 0;
	int rc = -1, n = 0;

	assert_non_null(reply);
	while (p11c_step(agent.ctx, reply, &rc) == 0) {
		assert_true(++n < 100);
		assert_true((p.fd = p11c_waiting(&dl)) >= 0);
		assert_true(poll(&p, 1, 3000) == 1);
	}
	assert_int_equal(rc, HWK_OK);
	assert_int_equal(p11c_waiting(&dl), -1);
	assert_false(hwk_agent_p11_busy());
	assert_int_equal(hwk_agent_p11_sign_end(agent.ctx, reply, &sig,
	    &siglen), HWK_OK);
	assert_int_equal(siglen, 6);
	assert_memory_equal(sig, "rawsig", 6);
	free(sig);
	hwk_buf_free(&reply);
}

/*
 * A signature started and finished in steps; one request at a time: a
 * second start is refused while one is out, a blocking call meanwhile
 * waits for it and keeps its answer for the steps; a key opened in steps.
 */
static void
test_in_steps(void **state)
{
	struct hwk_key *key = NULL, *key2 = NULL;
	uint64_t dl;

	(void)state;
	assert_int_equal(load("ask", &key), HWK_OK);
	assert_false(hwk_agent_p11_busy());
	assert_int_equal(hwk_agent_p11_sign_start(agent.ctx, key,
	    HWK_SIG_ECDSA, (const uint8_t *)"d1", 2), 0);
	assert_true(hwk_agent_p11_busy());
	assert_true(p11c_waiting(&dl) >= 0);
	assert_int_equal(hwk_agent_p11_sign_start(agent.ctx, key,
	    HWK_SIG_ECDSA, (const uint8_t *)"d2", 2), 1);
	signed_in_steps();
	/* A blocking call while one is out: that one's answer is kept. */
	assert_int_equal(hwk_agent_p11_sign_start(agent.ctx, key,
	    HWK_SIG_ECDSA, (const uint8_t *)"d3", 2), 0);
	asked[0] = '\0';
	assert_int_equal(load("ask", &key2), HWK_OK);
	assert_string_equal(asked, "PIN for k:");
	assert_int_equal(p11c_waiting(&dl), -2);
	assert_true(hwk_agent_p11_busy());
	signed_in_steps();
	hwk_key_free(&key2);
	/* Opening a key in steps. */
	assert_int_equal(hwk_agent_p11_open_start(agent.ctx,
	    (const uint8_t *)STUB, strlen(STUB)), 0);
	assert_int_equal(hwk_agent_p11_open_start(agent.ctx,
	    (const uint8_t *)STUB, strlen(STUB)), 1);
	{
		struct hwk_buf *reply = hwk_buf_new();
		struct pollfd p = { .events = POLLIN };
		int rc = -1;

		assert_non_null(reply);
		while (p11c_step(agent.ctx, reply, &rc) == 0) {
			assert_true((p.fd = p11c_waiting(&dl)) >= 0);
			assert_true(poll(&p, 1, 3000) == 1);
		}
		assert_int_equal(rc, HWK_OK);
		assert_int_equal(hwk_agent_p11_open_end(agent.ctx, reply,
		    (const uint8_t *)STUB, strlen(STUB), &key2), HWK_OK);
		hwk_buf_free(&reply);
	}
	assert_non_null(key2);
	assert_int_equal(hwk_agent_p11_sign_start(agent.ctx, key2,
	    HWK_SIG_ECDSA, (const uint8_t *)"d4", 2), 0);
	signed_in_steps();
	hwk_key_free(&key2);
	hwk_key_free(&key);
}

static int
no_pin(void *arg, const char *prompt, char *buf, size_t len)
{
	(void)arg;
	snprintf(asked, sizeof(asked), "%s", prompt);
	buf[0] = '\0';
	(void)len;
	return HWK_ERR_CANCELLED;
}

/*
 * A PIN kept for a key (hwkey-agent add's) logs a new helper in, unasked;
 * without it the question is asked, and here refused.
 */
static void
test_kept_pin(void **state)
{
	struct hwk_ui ui = { no_pin, NULL, NULL }, yes = { read_pin, NULL,
		NULL };
	struct hwk_key *key = NULL;
	uint8_t *sig = NULL;
	size_t siglen = 0;

	(void)state;
	assert_int_equal(load("ask", &key), HWK_OK);
	assert_int_equal(hwk_agent_p11_keep_pin(key, PIN), HWK_OK);
	hwk_ctx_set_ui(agent.ctx, &ui);
	p11c_stop(1);			/* the helper is gone */
	assert_true(hwk_agent_p11_reopens(key));
	asked[0] = '\0';
	assert_int_equal(hwk_key_sign(agent.ctx, key, HWK_SIG_ECDSA,
	    (const uint8_t *)"d", 1, &sig, &siglen), HWK_OK);
	assert_string_equal(asked, "");
	assert_false(hwk_agent_p11_reopens(key));
	free(sig);
	hwk_key_free(&key);
	/* No PIN kept: asked, and nothing signs without it. */
	hwk_ctx_set_ui(agent.ctx, &yes);
	assert_int_equal(load("ask", &key), HWK_OK);
	hwk_ctx_set_ui(agent.ctx, &ui);
	p11c_stop(1);
	assert_int_not_equal(hwk_key_sign(agent.ctx, key, HWK_SIG_ECDSA,
	    (const uint8_t *)"d", 1, &sig, &siglen), HWK_OK);
	assert_string_equal(asked, "PIN for k:");
	hwk_key_free(&key);
}

/* A frame's length is checked before anything is read into it. */
static void
test_wire_lengths(void **state)
{
	struct hwk_buf *m = hwk_buf_new();
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(write(sv[0], "\0\0\0\0", 4), 4);
	assert_int_equal(p11h_recv(sv[1], m, 0), HWK_ERR_FORMAT);
	assert_int_equal(write(sv[0], "\0\x10\0\x01", 4), 4);
	assert_int_equal(p11h_recv(sv[1], m, 0), HWK_ERR_FORMAT);
	/* Cut short by the peer's end: the helper is gone. */
	assert_int_equal(write(sv[0], "\0\0\0\x05xy", 6), 6);
	close(sv[0]);
	assert_int_equal(p11h_recv(sv[1], m, 0), HWK_ERR_NO_DEVICE);
	close(sv[1]);
	hwk_buf_free(&m);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pin_relayed_and_sign,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_words, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_crash_then_restart, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_exit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hang_timeout, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_in_steps, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_kept_pin, setup,
		    teardown),
		cmocka_unit_test(test_wire_lengths),
	};

	if (argc == 2 && strcmp(argv[1], P11H_ARG) == 0)
		fake_helper();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
