/* The version both commands print. */
#ifndef HWKEY_VERSION_H
#define HWKEY_VERSION_H

#define HWK_VERSION	"0.1.0"

#endif /* HWKEY_VERSION_H */
