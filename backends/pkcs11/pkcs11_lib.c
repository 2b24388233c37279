/*
 * p11-kit's library, opened on the backend's first use rather than linked,
 * so that a program making a software key never maps it (nor libffi, which
 * it brings).  Each function the backend calls is defined here with
 * p11-kit's own prototype (its headers are included, so the compiler
 * checks every one) and calls p11-kit's through a pointer set when the
 * library opens.  hwk_p11_lib_need() says the library is missing before
 * the backend calls any; a call without it fails as p11-kit fails.
 */
#include <p11-kit/p11-kit.h>
#include <p11-kit/pkcs11.h>
#include <p11-kit/uri.h>

#include "hwkey/error.h"
#include "backends.h"
#include "pkcs11_int.h"

#define SYM(f)		{ #f, &p11.f }

static struct {
	__typeof__(p11_kit_be_quiet)		*p11_kit_be_quiet;
	__typeof__(p11_kit_config_option)	*p11_kit_config_option;
	__typeof__(p11_kit_message)		*p11_kit_message;
	__typeof__(p11_kit_module_finalize)	*p11_kit_module_finalize;
	__typeof__(p11_kit_module_get_filename)	*p11_kit_module_get_filename;
	__typeof__(p11_kit_module_get_flags)	*p11_kit_module_get_flags;
	__typeof__(p11_kit_module_get_name)	*p11_kit_module_get_name;
	__typeof__(p11_kit_module_initialize)	*p11_kit_module_initialize;
	__typeof__(p11_kit_module_load)		*p11_kit_module_load;
	__typeof__(p11_kit_module_release)	*p11_kit_module_release;
	__typeof__(p11_kit_modules_load)	*p11_kit_modules_load;
	__typeof__(p11_kit_modules_release)	*p11_kit_modules_release;
	__typeof__(p11_kit_uri_any_unrecognized) *p11_kit_uri_any_unrecognized;
	__typeof__(p11_kit_uri_format)		*p11_kit_uri_format;
	__typeof__(p11_kit_uri_free)		*p11_kit_uri_free;
	__typeof__(p11_kit_uri_get_attribute)	*p11_kit_uri_get_attribute;
	__typeof__(p11_kit_uri_get_module_name)	*p11_kit_uri_get_module_name;
	__typeof__(p11_kit_uri_get_module_path)	*p11_kit_uri_get_module_path;
	__typeof__(p11_kit_uri_get_pin_source)	*p11_kit_uri_get_pin_source;
	__typeof__(p11_kit_uri_get_pin_value)	*p11_kit_uri_get_pin_value;
	__typeof__(p11_kit_uri_get_slot_id)	*p11_kit_uri_get_slot_id;
	__typeof__(p11_kit_uri_get_token_info)	*p11_kit_uri_get_token_info;
	__typeof__(p11_kit_uri_match_module_info) *p11_kit_uri_match_module_info;
	__typeof__(p11_kit_uri_match_slot_info)	*p11_kit_uri_match_slot_info;
	__typeof__(p11_kit_uri_match_token_info) *p11_kit_uri_match_token_info;
	__typeof__(p11_kit_uri_message)		*p11_kit_uri_message;
	__typeof__(p11_kit_uri_new)		*p11_kit_uri_new;
	__typeof__(p11_kit_uri_parse)		*p11_kit_uri_parse;
	__typeof__(p11_kit_uri_set_attribute)	*p11_kit_uri_set_attribute;
	__typeof__(p11_kit_uri_set_module_path)	*p11_kit_uri_set_module_path;
} p11;

static const struct hwk_lazysym p11_syms[] = {
	SYM(p11_kit_be_quiet),
	SYM(p11_kit_config_option),
	SYM(p11_kit_message),
	SYM(p11_kit_module_finalize),
	SYM(p11_kit_module_get_filename),
	SYM(p11_kit_module_get_flags),
	SYM(p11_kit_module_get_name),
	SYM(p11_kit_module_initialize),
	SYM(p11_kit_module_load),
	SYM(p11_kit_module_release),
	SYM(p11_kit_modules_load),
	SYM(p11_kit_modules_release),
	SYM(p11_kit_uri_any_unrecognized),
	SYM(p11_kit_uri_format),
	SYM(p11_kit_uri_free),
	SYM(p11_kit_uri_get_attribute),
	SYM(p11_kit_uri_get_module_name),
	SYM(p11_kit_uri_get_module_path),
	SYM(p11_kit_uri_get_pin_source),
	SYM(p11_kit_uri_get_pin_value),
	SYM(p11_kit_uri_get_slot_id),
	SYM(p11_kit_uri_get_token_info),
	SYM(p11_kit_uri_match_module_info),
	SYM(p11_kit_uri_match_slot_info),
	SYM(p11_kit_uri_match_token_info),
	SYM(p11_kit_uri_message),
	SYM(p11_kit_uri_new),
	SYM(p11_kit_uri_parse),
	SYM(p11_kit_uri_set_attribute),
	SYM(p11_kit_uri_set_module_path),
	{ NULL, NULL },
};

static struct hwk_lazylib p11_lib = {
	.soname = "libp11-kit.so.0",
	.package = "libp11-kit0",
	.syms = p11_syms,
};

int
hwk_p11_lib_need(struct hwk_ctx *ctx)
{
	return hwk_lazylib_need(ctx, &p11_lib);
}

static int
p11_ok(void)
{
	return hwk_lazylib_open(&p11_lib) == 0;
}

void
p11_kit_be_quiet(void)
{
	if (p11_ok())
		p11.p11_kit_be_quiet();
}

char *
p11_kit_config_option(CK_FUNCTION_LIST *module, const char *option)
{
	return p11_ok() ? p11.p11_kit_config_option(module, option) : NULL;
}

const char *
p11_kit_message(void)
{
	return p11_ok() ? p11.p11_kit_message() : "libp11-kit is missing";
}

CK_RV
p11_kit_module_finalize(CK_FUNCTION_LIST *module)
{
	return p11_ok() ? p11.p11_kit_module_finalize(module) :
	    CKR_LIBRARY_LOAD_FAILED;
}

char *
p11_kit_module_get_filename(CK_FUNCTION_LIST *module)
{
	return p11_ok() ? p11.p11_kit_module_get_filename(module) : NULL;
}

int
p11_kit_module_get_flags(CK_FUNCTION_LIST *module)
{
	return p11_ok() ? p11.p11_kit_module_get_flags(module) : 0;
}

char *
p11_kit_module_get_name(CK_FUNCTION_LIST *module)
{
	return p11_ok() ? p11.p11_kit_module_get_name(module) : NULL;
}

CK_RV
p11_kit_module_initialize(CK_FUNCTION_LIST *module)
{
	return p11_ok() ? p11.p11_kit_module_initialize(module) :
	    CKR_LIBRARY_LOAD_FAILED;
}

CK_FUNCTION_LIST *
p11_kit_module_load(const char *path, int flags)
{
	return p11_ok() ? p11.p11_kit_module_load(path, flags) : NULL;
}

void
p11_kit_module_release(CK_FUNCTION_LIST *module)
{
	if (p11_ok())
		p11.p11_kit_module_release(module);
}

CK_FUNCTION_LIST **
p11_kit_modules_load(const char *reserved, int flags)
{
	return p11_ok() ? p11.p11_kit_modules_load(reserved, flags) : NULL;
}

void
p11_kit_modules_release(CK_FUNCTION_LIST **modules)
{
	if (p11_ok())
		p11.p11_kit_modules_release(modules);
}

int
p11_kit_uri_any_unrecognized(P11KitUri *uri)
{
	return p11_ok() ? p11.p11_kit_uri_any_unrecognized(uri) : 1;
}

int
p11_kit_uri_format(P11KitUri *uri, P11KitUriType type, char **string)
{
	return p11_ok() ? p11.p11_kit_uri_format(uri, type, string) :
	    P11_KIT_URI_UNEXPECTED;
}

/* Nothing to free opens nothing: the options free a --token never given. */
void
p11_kit_uri_free(P11KitUri *uri)
{
	if (uri != NULL && p11_ok())
		p11.p11_kit_uri_free(uri);
}

CK_ATTRIBUTE_PTR
p11_kit_uri_get_attribute(P11KitUri *uri, CK_ATTRIBUTE_TYPE type)
{
	return p11_ok() ? p11.p11_kit_uri_get_attribute(uri, type) : NULL;
}

const char *
p11_kit_uri_get_module_name(const P11KitUri *uri)
{
	return p11_ok() ? p11.p11_kit_uri_get_module_name(uri) : NULL;
}

const char *
p11_kit_uri_get_module_path(const P11KitUri *uri)
{
	return p11_ok() ? p11.p11_kit_uri_get_module_path(uri) : NULL;
}

const char *
p11_kit_uri_get_pin_source(const P11KitUri *uri)
{
	return p11_ok() ? p11.p11_kit_uri_get_pin_source(uri) : NULL;
}

const char *
p11_kit_uri_get_pin_value(const P11KitUri *uri)
{
	return p11_ok() ? p11.p11_kit_uri_get_pin_value(uri) : NULL;
}

CK_SLOT_ID
p11_kit_uri_get_slot_id(P11KitUri *uri)
{
	return p11_ok() ? p11.p11_kit_uri_get_slot_id(uri) : (CK_SLOT_ID)-1;
}

CK_TOKEN_INFO_PTR
p11_kit_uri_get_token_info(P11KitUri *uri)
{
	return p11_ok() ? p11.p11_kit_uri_get_token_info(uri) : NULL;
}

int
p11_kit_uri_match_module_info(const P11KitUri *uri, const CK_INFO *info)
{
	return p11_ok() ? p11.p11_kit_uri_match_module_info(uri, info) : 0;
}

int
p11_kit_uri_match_slot_info(const P11KitUri *uri, const CK_SLOT_INFO *info)
{
	return p11_ok() ? p11.p11_kit_uri_match_slot_info(uri, info) : 0;
}

int
p11_kit_uri_match_token_info(const P11KitUri *uri, const CK_TOKEN_INFO *info)
{
	return p11_ok() ? p11.p11_kit_uri_match_token_info(uri, info) : 0;
}

const char *
p11_kit_uri_message(int code)
{
	return p11_ok() ? p11.p11_kit_uri_message(code) :
	    "libp11-kit is missing";
}

P11KitUri *
p11_kit_uri_new(void)
{
	return p11_ok() ? p11.p11_kit_uri_new() : NULL;
}

int
p11_kit_uri_parse(const char *string, P11KitUriType type, P11KitUri *uri)
{
	return p11_ok() ? p11.p11_kit_uri_parse(string, type, uri) :
	    P11_KIT_URI_UNEXPECTED;
}

int
p11_kit_uri_set_attribute(P11KitUri *uri, CK_ATTRIBUTE_PTR attr)
{
	return p11_ok() ? p11.p11_kit_uri_set_attribute(uri, attr) :
	    P11_KIT_URI_UNEXPECTED;
}

void
p11_kit_uri_set_module_path(P11KitUri *uri, const char *path)
{
	if (p11_ok())
		p11.p11_kit_uri_set_module_path(uri, path);
}
