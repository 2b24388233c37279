/* The backends' ops tables, for the registry and for the backends themselves. */
#ifndef HWKEY_BACKENDS_H
#define HWKEY_BACKENDS_H

#include "hwkey/backend.h"

extern const struct hwk_backend hwk_backend_tpm2;
extern const struct hwk_backend hwk_backend_software;
extern const struct hwk_backend hwk_backend_pkcs11;

#endif /* HWKEY_BACKENDS_H */
