/*
 * libFuzzer harness: agent requests, answered by an agent holding one key,
 * each on a connection of its own (session-bind keeps state on one).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hwkey/buf.h"
#include "hwkey/ctx.h"
#include "agent.h"
#include "conn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

static struct hwk_agent agent;
static const char *fixture_path;

static void
remove_fixture_key(void)
{
	if (fixture_path != NULL)
		unlink(fixture_path);
}

/*
 * The fixture key, copied to a file of mode 0600: the agent refuses a
 * private key file others can read, and git checks the fixture out 0644.
 */
static void
add_fixture_key(void)
{
	static char path[] = "/tmp/hwk-fuzz-agent.XXXXXX";
	FILE *in;
	char buf[4096];
	size_t n;
	int fd;

	if ((in = fopen("tests/fixtures/rsa2048.key", "rb")) == NULL ||
	    (fd = mkstemp(path)) < 0)
		abort();
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (write(fd, buf, n) != (ssize_t)n)
			abort();
	fclose(in);
	close(fd);
	if (hwk_agent_add(&agent, path) != 0)
		abort();
	/* The agent reads it again at each signature: removed at exit. */
	fixture_path = path;
	atexit(remove_fixture_key);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct hwk_buf *reply;
	struct hwk_conn *c;

	if (agent.ctx == NULL) {
		agent.ctx = hwk_ctx_new();
		add_fixture_key();
	}
	if ((reply = hwk_buf_new()) == NULL)
		return 0;
	if ((c = hwk_conn_new(0)) != NULL)
		hwk_agent_dispatch_conn(&agent, c, data, len, reply);
	hwk_conn_free(&c);
	hwk_buf_free(&reply);
	/* Do not stay locked: the rest of the protocol matters more. */
	agent.locked = 0;
	/* Nor without the key (ssh-add -D), nor with one it added. */
	if (agent.nids != 1) {
		hwk_agent_clear(&agent);
		if (hwk_agent_add(&agent, fixture_path) != 0)
			abort();
	}
	return 0;
}
