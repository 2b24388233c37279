/*
 * libFuzzer harness: certificate files beside the agent's stubs (cert.c,
 * cert_sig.c), checked against the RSA fixture key that the fixture
 * certificates certify.  Input that looks like a line is one; anything
 * else is the blob of an RSA certificate line.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hwkey/buf.h"
#include "hwkey/sshkey.h"
#include "agent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

static struct hwk_pubkey *key;

static void
load_key(void)
{
	char line[8192];
	FILE *f;

	if ((f = fopen("tests/fixtures/rsa2048.key.pub", "r")) == NULL ||
	    fgets(line, sizeof(line), f) == NULL ||
	    hwk_pubkey_from_line(line, &key) != 0)
		abort();
	fclose(f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct hwk_pubkey *c = NULL;
	struct hwk_buf *line;
	const char *why;

	if (key == NULL)
		load_key();
	if ((line = hwk_buf_new()) == NULL)
		return 0;
	if ((len >= 4 && memcmp(data, "ssh-", 4) == 0) ||
	    (len >= 6 && memcmp(data, "ecdsa-", 6) == 0)) {
		if (hwk_buf_put(line, data, len) != 0)
			goto out;
	} else if (hwk_buf_putf(line, "ssh-rsa-cert-v01@openssh.com ") != 0 ||
	    hwk_buf_put_base64(line, data, len, 0) != 0)
		goto out;
	if (hwk_buf_put_u8(line, 0) != 0)
		goto out;
	if (hwk_cert_parse((const char *)hwk_buf_ptr(line), key, &c,
	    &why) == 0) {
		if (c->bloblen == 0 || why != NULL)
			abort();
		hwk_pubkey_free(&c);
	} else if (c != NULL || why == NULL)
		abort();
 out:
	hwk_buf_free(&line);
	return 0;
}
