/* A backend for unit tests: no device, every step's result chosen by the test. */
#ifndef HWKEY_MOCK_BACKEND_H
#define HWKEY_MOCK_BACKEND_H

#include "hwkey/backend.h"

struct mock_state {
	int	 probe_rc, check_rc, generate_rc, write_rc, destroy_rc;
	int	 sign_rc;
	int	 probe_calls, generate_calls, write_calls, destroy_calls;
	int	 sign_calls;
	int	 seen_alg;		/* alg of the last signature */
	size_t	 sign_len;		/* signature length; 0: the modulus' */
	const char *probe_detail;
	char	 seen_opt[64];		/* value of --mock-opt at generate */
	unsigned seen_bits;
	int	 seen_type;		/* gp->type at generate */
	int	 refuse_type;		/* check: "cannot make" this HWK_KEY_* */
	void	(*on_generate)(void);	/* runs inside generate */
};

extern struct mock_state mock;
extern const struct hwk_backend hwk_mock_backend;

void	mock_reset(void);

#endif /* HWKEY_MOCK_BACKEND_H */
