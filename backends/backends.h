/* The backends' ops tables, for the registry and for the backends themselves. */
#ifndef HWKEY_BACKENDS_H
#define HWKEY_BACKENDS_H

#include "hwkey/backend.h"

extern const struct hwk_backend hwk_backend_tpm2;
extern const struct hwk_backend hwk_backend_software;
extern const struct hwk_backend hwk_backend_pkcs11;

/* Ops only the registry and key objects call (ops.c). */
int	hwk_backend_claims(const struct hwk_backend *b, const uint8_t *stub,
	    size_t len);
void	hwk_key_free_impl(struct hwk_key *key);

#endif /* HWKEY_BACKENDS_H */
