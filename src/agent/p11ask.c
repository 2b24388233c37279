/*
 * The PKCS#11 helper's PIN questions, answered by the agent: with a PIN
 * kept for the key (hwkey-agent add's), through the agent's way of asking,
 * or, while the poll loop waits for the helper, through an askpass whose
 * answer is taken when it ends, so that a PIN typed slowly holds up that
 * request only.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hwkey/buf.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "hwkey/secret.h"
#include "agent.h"
#include "conn.h"
#include "p11helper.h"

/* pin: p11c_give_pin's, for the next ASK; the askpass asking, its output. */
static struct {
	const char	*pin;
	pid_t		 pid;
	int		 fd;
} ask = { .fd = -1 };

void
p11c_give_pin(const char *pin)
{
	ask.pin = pin;
}

/* SECRET: the answer to the helper's PIN question (rc, pin) on fd. */
static int
send_secret(struct hwk_ctx *ctx, int fd, uint64_t deadline, int rc,
    const char *pin)
{
	struct hwk_buf *out;
	int r;

	if ((out = hwk_buf_new()) == NULL)
		return HWK_ERR_NOMEM;
	if ((r = hwk_buf_put_u8(out, P11H_SECRET)) == 0 &&
	    (r = hwk_buf_put_u32(out, (uint32_t)(rc < 0 ? -rc : 0))) == 0 &&
	    (r = hwk_buf_put_cstring(out, rc == 0 ? pin : "")) == 0 &&
	    (r = hwk_buf_put_cstring(out, hwk_ctx_detail(ctx))) == 0)
		r = p11h_send(fd, out, deadline);
	hwk_buf_free(&out);	/* wipes the PIN */
	return r;
}

int
p11a_question(struct hwk_ctx *ctx, struct hwk_buf *msg, int fd,
    uint64_t deadline, int async)
{
	char *prompt = NULL, *pin = NULL;
	int rc, r;

	if (hwk_buf_get_cstring(msg, &prompt, NULL) != 0)
		return HWK_ERR_FORMAT;
	hwk_ctx_clear_error(ctx);
	/*
	 * A PIN kept for this login is given once: a wrong one is not tried
	 * twice.  No context: a key being let go, which needs no PIN.
	 */
	if (ask.pin != NULL) {
		r = send_secret(ctx, fd, deadline, HWK_OK, ask.pin);
		goto out;
	}
	if (async && hwk_askpass_is_ui(ctx)) {
		if ((rc = hwk_askpass_secret_start(ctx, prompt, &ask.pid,
		    &ask.fd)) == 0)
			r = 1;
		else
			r = send_secret(ctx, fd, deadline, rc, "");
		goto out;
	}
	if ((pin = calloc(1, HWK_SECRET_MAX)) == NULL) {
		r = HWK_ERR_NOMEM;
		goto out;
	}
	rc = ctx == NULL ? HWK_ERR_CANCELLED :
	    hwk_ctx_read_secret(ctx, prompt, pin, HWK_SECRET_MAX);
	r = send_secret(ctx, fd, deadline, rc, pin);
	hwk_freezero(pin, HWK_SECRET_MAX);
 out:
	ask.pin = NULL;
	free(prompt);
	return r;
}

int
p11a_asking(void)
{
	return ask.fd;
}

int
p11a_finish(struct hwk_ctx *ctx, int fd, uint64_t deadline)
{
	char *pin;
	int rc, r;

	if ((pin = calloc(1, HWK_SECRET_MAX)) == NULL)
		return HWK_ERR_NOMEM;
	hwk_ctx_clear_error(ctx);
	rc = hwk_askpass_finish(ctx, ask.pid, ask.fd, pin, HWK_SECRET_MAX);
	ask.pid = -1;
	ask.fd = -1;
	r = send_secret(ctx, fd, deadline, rc, pin);
	hwk_freezero(pin, HWK_SECRET_MAX);
	return r;
}

void
p11a_cancel(void)
{
	if (ask.fd < 0)
		return;
	/* Its request has gone: the question goes from the screen. */
	hwk_askpass_cancel(ask.pid, ask.fd);
	ask.pid = -1;
	ask.fd = -1;
}

void
p11a_forget(void)
{
	if (ask.fd >= 0)
		close(ask.fd);
	ask.fd = -1;
	ask.pid = -1;
}
