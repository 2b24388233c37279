/*
 * libFuzzer harness: the upstream agent's answer to REQUEST_IDENTITIES,
 * merged after two keys of our own (upstream.c); a merged list must be
 * well formed, ours first, no key twice, within OpenSSH's limits.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hwkey/buf.h"
#include "hwkey/error.h"
#include "agent.h"
#include "upstream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

static const uint8_t ours[] = {
	AGENT_IDENTITIES_ANSWER, 0, 0, 0, 2,
	0, 0, 0, 5, 'k', 'e', 'y', '-', 'A', 0, 0, 0, 1, 'A',
	0, 0, 0, 5, 'k', 'e', 'y', '-', 'B', 0, 0, 0, 0,
};

/* The merged list, checked; aborts on anything amiss. */
static void
check(struct hwk_buf *out)
{
	const uint8_t *blob[UPSTREAM_MAX_IDS], *c;
	size_t bloblen[UPSTREAM_MAX_IDS], clen, i;
	uint32_t n, k;
	uint8_t type;

	if (hwk_buf_len(out) > AGENT_MAX_MSG ||
	    hwk_buf_get_u8(out, &type) != 0 ||
	    type != AGENT_IDENTITIES_ANSWER || hwk_buf_get_u32(out, &n) != 0 ||
	    n < 2 || n > UPSTREAM_MAX_IDS)
		abort();
	for (k = 0; k < n; k++) {
		if (hwk_buf_get_string_direct(out, &blob[k], &bloblen[k]) != 0 ||
		    hwk_buf_get_string_direct(out, &c, &clen) != 0 ||
		    bloblen[k] == 0)
			abort();
		for (i = 0; i < k; i++)
			if (bloblen[i] == bloblen[k] &&
			    memcmp(blob[i], blob[k], bloblen[k]) == 0)
				abort();
	}
	if (hwk_buf_len(out) != 0 || bloblen[0] != 5 ||
	    memcmp(blob[0], "key-A", 5) != 0 || bloblen[1] != 5 ||
	    memcmp(blob[1], "key-B", 5) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct hwk_buf *out;
	int r;

	if ((out = hwk_buf_new()) == NULL)
		return 0;
	r = hwk_upstream_merge(ours, sizeof(ours), data, len, out);
	if (r == HWK_OK)
		check(out);
	else if (r != HWK_ERR_FORMAT || hwk_buf_len(out) != 0)
		abort();
	hwk_buf_free(&out);
	return 0;
}
