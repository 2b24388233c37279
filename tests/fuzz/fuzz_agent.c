/* libFuzzer harness: agent requests, answered by an agent holding one key. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hwkey/buf.h"
#include "hwkey/ctx.h"
#include "agent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

static struct hwk_agent agent;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct hwk_buf *reply;

	if (agent.ctx == NULL) {
		agent.ctx = hwk_ctx_new();
		hwk_agent_add(&agent, "tests/fixtures/rsa2048.key");
	}
	if ((reply = hwk_buf_new()) == NULL)
		return 0;
	hwk_agent_dispatch(&agent, data, len, reply);
	hwk_buf_free(&reply);
	/* Do not stay locked: the rest of the protocol matters more. */
	agent.locked = 0;
	return 0;
}
