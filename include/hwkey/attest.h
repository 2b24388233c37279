/*
 * The files of attestation (KEY.attest, a challenge, its secret, a
 * response): one flat JSON object of named strings, each a text or the
 * base64 of bytes, a name repeated for a list (docs/formats.md).
 */
#ifndef HWKEY_ATTEST_H
#define HWKEY_ATTEST_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

struct hwk_buf;

#define HWK_ATTEST_ITEMS_MAX	48
#define HWK_ATTEST_NAME_MAX	32
#define HWK_ATTEST_FILE_MAX	(256 * 1024)

/* The "format" member of each file. */
#define HWK_ATTEST_EVIDENCE	"hwkeygen-attest-v1"
#define HWK_ATTEST_CHALLENGE	"hwkeygen-attest-challenge-v1"
#define HWK_ATTEST_SECRET	"hwkeygen-attest-secret-v1"
#define HWK_ATTEST_RESPONSE	"hwkeygen-attest-response-v1"

struct hwk_attest_item {
	char		 name[HWK_ATTEST_NAME_MAX];
	char		*value;		/* NUL-terminated; base64 for bytes */
	int		 list;		/* written in a JSON array */
};

struct hwk_attest {
	size_t		 n;
	struct hwk_attest_item item[HWK_ATTEST_ITEMS_MAX];
};

/* Wipes and frees every value (a challenge's secret is one). */
void	hwk_attest_clear(struct hwk_attest *a);
/* Appends name = text; list: one of several of that name. */
int	hwk_attest_put_str(struct hwk_attest *a, const char *name, int list,
	    const char *text);
int	hwk_attest_put_bytes(struct hwk_attest *a, const char *name, int list,
	    const uint8_t *data, size_t len);
/* The nth value of that name, or NULL. */
const char *hwk_attest_str(const struct hwk_attest *a, const char *name,
	    size_t nth);
/* The nth value of that name decoded from base64 into *outp (new). */
int	hwk_attest_bytes(const struct hwk_attest *a, const char *name,
	    size_t nth, struct hwk_buf **outp);
/* The nth value of that name as a DER certificate, whole; NULL if not. */
X509	*hwk_attest_cert(const struct hwk_attest *a, const char *name,
	    size_t nth);
/* The JSON text, pretty and ending in a newline. */
int	hwk_attest_write(const struct hwk_attest *a, struct hwk_buf *out);
/* Parses the JSON text; a clears first.  HWK_ERR_FORMAT if it is not one. */
int	hwk_attest_read(const uint8_t *text, size_t len, struct hwk_attest *a);

#endif /* HWKEY_ATTEST_H */
