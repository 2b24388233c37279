/*
 * libFuzzer harness: what a client writes to hwkey-agent's socket, taken
 * through the agent's own code without a socket: framing (server.c's
 * process()), parsing and dispatch (proto.c), the connection's
 * session-binds (bind.c), signatures by the mock backend, and the framed
 * replies, which must be well formed.
 *
 * Input: one byte for the mock's signature (bits 0-1: succeed, fail, wrong
 * PIN; bit 2: a length of (bits 3-7) * 16 bytes instead of the modulus'),
 * one byte for the size of the reads (0: all at once), then the stream.
 */
#include <openssl/evp.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hwkey/backend.h"
#include "hwkey/buf.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "conn.h"
#include "mock_backend.h"

/*
 * The agent's own files, so that the static framing code runs as it is.
 * Only two delays are cut short, or the fuzzer would spend its time in
 * them: the lock's key stretching and the pause after a wrong unlock.
 */
static int fuzz_nanosleep(const struct timespec *req, struct timespec *rem);
#define nanosleep(req, rem)	fuzz_nanosleep(req, rem)
#define PKCS5_PBKDF2_HMAC(pw, pwl, s, sl, iter, md, kl, out) \
	PKCS5_PBKDF2_HMAC(pw, pwl, s, sl, 1, md, kl, out)
#define nolog	proto_nolog	/* both files have one */
#include "proto.c"
#undef nolog
#undef LOG
#include "server.c"
#undef nanosleep
#undef PKCS5_PBKDF2_HMAC

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

static const struct hwk_backend *const mock_table[] = {
	&hwk_mock_backend, NULL,
};
static struct hwk_agent agent;
static char dir[] = "/tmp/hwk-fuzz-agent.XXXXXX";

static int
fuzz_nanosleep(const struct timespec *req, struct timespec *rem)
{
	(void)req;
	(void)rem;
	return 0;
}

static void
cleanup(void)
{
	char p[sizeof(dir) + 16];
	const char *const names[] = { "a", "a.pub", "b", "b.pub", NULL };
	int i;

	for (i = 0; names[i] != NULL; i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		unlink(p);
	}
	rmdir(dir);
}

/* A mock stub named name, with the public key of fixture pub beside it. */
static void
stub(const char *name, const char *pub)
{
	char p[sizeof(dir) + 16], line[4096];
	FILE *in, *out;
	size_t n;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if ((out = fopen(p, "w")) == NULL)
		abort();
	fprintf(out, "MOCK-SLOT %s\n", name);
	fclose(out);
	snprintf(p, sizeof(p), "%s/%s.pub", dir, name);
	snprintf(line, sizeof(line), "tests/fixtures/%s", pub);
	if ((in = fopen(line, "r")) == NULL || (out = fopen(p, "w")) == NULL)
		abort();
	while ((n = fread(line, 1, sizeof(line), in)) > 0)
		fwrite(line, 1, n, out);
	fclose(in);
	fclose(out);
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if (hwk_agent_add(&agent, p) != 0)
		abort();
}

static void
setup(void)
{
	if (mkdtemp(dir) == NULL || (agent.ctx = hwk_ctx_new()) == NULL)
		abort();
	atexit(cleanup);
	hwk_backends_override(mock_table);
	/* "a" holds the mock's key; "b" announces another one. */
	stub("a", "rsa2048.key.pub");
	stub("b", "rsa3072-enc.key.pub");
}

/* ssh-add -d, -D and add-stub change the keys: back to "a" and "b". */
static void
restore_keys(void)
{
	char p[sizeof(dir) + 16];

	if (agent.nids == 2)
		return;
	hwk_agent_clear(&agent);
	snprintf(p, sizeof(p), "%s/a", dir);
	if (hwk_agent_add(&agent, p) != 0)
		abort();
	snprintf(p, sizeof(p), "%s/b", dir);
	if (hwk_agent_add(&agent, p) != 0)
		abort();
}

/* Every reply is whole and of a type the agent may send. */
static void
check_replies(struct hwk_buf *out)
{
	struct hwk_buf *msg;
	uint8_t type;

	while (hwk_buf_len(out) > 0) {
		if (hwk_buf_get_stringb(out, &msg) != 0 ||
		    hwk_buf_get_u8(msg, &type) != 0)
			abort();
		if (type != AGENT_FAILURE && type != AGENT_SUCCESS &&
		    type != AGENT_IDENTITIES_ANSWER &&
		    type != AGENT_SIGN_RESPONSE &&
		    type != AGENT_EXTENSION_FAILURE)
			abort();
		hwk_buf_free(&msg);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct server sv;
	struct client c;
	size_t step, n;
	uint8_t how;

	if (agent.ctx == NULL)
		setup();
	if (len < 2)
		return 0;
	how = data[0];
	mock.sign_rc = (how & 3) == 1 ? HWK_ERR_DEVICE :
	    (how & 3) == 2 ? HWK_ERR_PIN_INCORRECT : 0;
	mock.sign_len = how & 4 ? (size_t)(how >> 3) * 16 : 0;
	step = data[1] != 0 ? data[1] : len;
	data += 2;
	len -= 2;

	memset(&sv, 0, sizeof(sv));
	memset(&c, 0, sizeof(c));
	c.fd = -1;
	if ((c.in = hwk_buf_new()) == NULL || (c.out = hwk_buf_new()) == NULL ||
	    (c.conn = hwk_conn_new(getpid())) == NULL ||
	    hwk_buf_set_max(c.in, AGENT_MAX_MSG + 4 + 4096) != 0)
		goto out;
	/* As client_read() gets it: in pieces, each answered at once. */
	while (len > 0) {
		n = len < step ? len : step;
		if (hwk_buf_put(c.in, data, n) != 0 || process(&agent, &sv, &c) != 0)
			break;
		data += n;
		len -= n;
	}
	check_replies(c.out);
 out:
	hwk_buf_free(&c.in);
	hwk_buf_free(&c.out);
	hwk_conn_free(&c.conn);
	/* Each input starts from an unlocked agent with its two keys. */
	agent.locked = 0;
	agent.failed_unlocks = 0;
	restore_keys();
	return 0;
}
