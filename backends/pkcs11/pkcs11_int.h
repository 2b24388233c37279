/*
 * The parts of the PKCS#11 backend that need no module: RFC 7512 stubs,
 * key ids in hex, token names for messages, token matching and the meaning
 * of CKR_ codes.  Private to backends/pkcs11*.c and their unit tests.
 */
#ifndef HWKEY_PKCS11_INT_H
#define HWKEY_PKCS11_INT_H

#include <stddef.h>
#include <stdint.h>

#include <p11-kit/pkcs11.h>
#include <p11-kit/uri.h>

#define HWK_P11_ID_MAX		64	/* bytes of a CKA_ID we accept */
#define HWK_P11_STUB_MAX	4096	/* a stub is one URI line */
#define HWK_P11_STUB_LABEL_MAX	256	/* bytes of CKA_LABEL a stub repeats */
#define HWK_P11_LABEL_MAX	4096	/* bytes of CKA_LABEL a new key may have */
#define HWK_P11_NAME_MAX	160	/* "'label' (serial S)" */

/* "01ab" or "01:ab" into bytes; HWK_ERR_USAGE if it is not even hex. */
int	hwk_p11_id_parse(const char *hex, uint8_t *id, size_t *lenp);
/* Lower-case hex, no separators; buf holds 2 * HWK_P11_ID_MAX + 1. */
void	hwk_p11_id_format(const uint8_t *id, size_t len, char *buf,
	    size_t buflen);

/* "'label' (serial S)" of a token, padding trimmed, for messages. */
void	hwk_p11_token_name(const CK_TOKEN_INFO *ti, char *buf, size_t len);
/* A field of a PKCS#11 struct (space padded, not terminated) as a C string. */
void	hwk_p11_field(const unsigned char *field, size_t flen, char *buf,
	    size_t len);

struct hwk_ctx;
/*
 * p11-kit's library, opened on first use (pkcs11_lib.c): 0 if it opens;
 * else HWK_ERR_NO_DEVICE with words that name it and its package.
 */
int	hwk_p11_lib_need(struct hwk_ctx *ctx);

/* A --token URI; HWK_ERR_USAGE with the reason in ctx when it is not one. */
int	hwk_p11_uri_parse(struct hwk_ctx *ctx, const char *what,
	    const char *s, P11KitUri **urip);
/* Nonzero if the token in slot of a module matches every part of uri. */
int	hwk_p11_uri_match(P11KitUri *uri, const CK_INFO *mi, CK_SLOT_ID slot,
	    const CK_SLOT_INFO *si, const CK_TOKEN_INFO *ti);
/* "pkcs11:token=...;serial=..." naming one token, for hints. */
int	hwk_p11_token_uri(const CK_TOKEN_INFO *ti, char **urip);

/* What a stub names: the token, the key's id and label, the module. */
struct hwk_p11_stub {
	CK_TOKEN_INFO	 token;		/* label and serial; the rest zero */
	uint8_t		 id[HWK_P11_ID_MAX];
	size_t		 idlen;
	char		*label;		/* NULL if the stub has none */
	char		*module;	/* NULL if the stub has none */
};

/* One line: the URI and a newline; never a PIN. */
int	hwk_p11_stub_format(const CK_TOKEN_INFO *ti, const uint8_t *id,
	    size_t idlen, const char *label, const char *module, char **stubp);
/* The other way; HWK_ERR_FORMAT unless it names a private key by id. */
int	hwk_p11_stub_parse(const uint8_t *stub, size_t len,
	    struct hwk_p11_stub *st, P11KitUri **urip);
void	hwk_p11_stub_clear(struct hwk_p11_stub *st);

/*
 * The module files a stub or a --token URI may name unless p11-kit has
 * them registered: ssh-agent's default for -P.
 */
#define HWK_P11_ALLOW_DEFAULT	"/usr/lib*/*,/usr/local/lib*/*"

/*
 * path against a comma-separated list of patterns ('*', '?', '!' to
 * refuse), as OpenSSH's match_pattern_list: 1 if a pattern takes it, -1 if
 * a negated one does, else 0.
 */
int	hwk_p11_allow_match(const char *path, const char *list);

/* The hwk_err for a CKR_ code. */
int	hwk_p11_rv_err(CK_RV rv);
/* "CKR_PIN_INCORRECT", or "CKR 0x..." for a code without a name. */
const char *hwk_p11_rv_name(CK_RV rv, char *buf, size_t len);
/* Formats a CKR_ failure of call into ctx and returns its hwk_err. */
int	hwk_p11_rv_error(struct hwk_ctx *ctx, CK_RV rv, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

#endif /* HWKEY_PKCS11_INT_H */
