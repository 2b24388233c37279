/*
 * A test-only PKCS#11 module that never starts: loading it leaves a mark,
 * so a test sees whether hwkeygen ran it at all, and its C_Initialize
 * prints noise and fails, as a module without its device does.
 *
 *   HWK_FAKE_MARKER=path: each load appends a line "loaded <pid>" there.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

__attribute__((constructor)) static void
dud_loaded(void)
{
	const char *path = getenv("HWK_FAKE_MARKER");
	FILE *f;

	if (path == NULL || (f = fopen(path, "a")) == NULL)
		return;
	fprintf(f, "loaded %d\n", (int)getpid());
	fclose(f);
}

static CK_RV
dud_Initialize(CK_VOID_PTR args)
{
	(void)args;
	fputs("DUD-NOISE: cannot reach its device, and says so at length\n",
	    stderr);
	return CKR_GENERAL_ERROR;
}

static CK_RV
dud_Finalize(CK_VOID_PTR reserved)
{
	(void)reserved;
	return CKR_CRYPTOKI_NOT_INITIALIZED;
}

static CK_RV
dud_GetInfo(CK_INFO_PTR info)
{
	(void)info;
	return CKR_CRYPTOKI_NOT_INITIALIZED;
}

static CK_FUNCTION_LIST dud = {
	.version = { 2, 40 },
	.C_Initialize = dud_Initialize,
	.C_Finalize = dud_Finalize,
	.C_GetInfo = dud_GetInfo,
};

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list);

CK_RV
C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list)
{
	if (list == NULL)
		return CKR_ARGUMENTS_BAD;
	dud.C_GetFunctionList = C_GetFunctionList;
	*list = &dud;
	return CKR_OK;
}
