/* libFuzzer harness: every buffer read, driven by the input itself. */
#include <stdint.h>
#include <stdlib.h>

#include "hwkey/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct hwk_buf *b = hwk_buf_from(data, len), *out = hwk_buf_new(), *s;
	const uint8_t *p;
	uint8_t op;
	uint32_t v32;
	uint64_t v64;
	size_t n;
	char *c;

	if (b == NULL || out == NULL)
		goto done;
	hwk_base64_decode((const char *)data, len, out);
	hwk_buf_reset(out);
	hwk_pem_decode((const char *)data, len, "X", out);
	/* The first byte of each step picks the next read. */
	while (hwk_buf_get_u8(b, &op) == 0) {
		switch (op % 7) {
		case 0: hwk_buf_get_u32(b, &v32); break;
		case 1: hwk_buf_get_u64(b, &v64); break;
		case 2: hwk_buf_get_string_direct(b, &p, &n); break;
		case 3:
			if (hwk_buf_get_cstring(b, &c, &n) == 0)
				free(c);
			break;
		case 4: hwk_buf_get_mpint_direct(b, &p, &n); break;
		case 5:
			if (hwk_buf_get_stringb(b, &s) == 0)
				hwk_buf_free(&s);
			break;
		case 6: hwk_buf_consume(b, op / 7); break;
		}
	}
 done:
	hwk_buf_free(&b);
	hwk_buf_free(&out);
	return 0;
}
