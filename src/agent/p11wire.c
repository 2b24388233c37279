/*
 * Messages between hwkey-agent and its PKCS#11 helper (p11helper.h): a u32
 * length and the message, read and written whole, within a deadline on
 * the agent's side so that a hung helper cannot hold the agent.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "hwkey/buf.h"
#include "hwkey/error.h"
#include "p11helper.h"

uint64_t
p11h_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Waits until fd is ready for ev, or the deadline passes. */
static int
wait_fd(int fd, short ev, uint64_t deadline_ms)
{
	struct pollfd p = { .fd = fd, .events = ev };
	uint64_t now;
	int n, ms;

	for (;;) {
		ms = -1;
		if (deadline_ms != 0) {
			if ((now = p11h_now_ms()) >= deadline_ms)
				return HWK_ERR_DEVICE;
			ms = deadline_ms - now > INT32_MAX ? INT32_MAX :
			    (int)(deadline_ms - now);
		}
		if ((n = poll(&p, 1, ms)) > 0)
			return HWK_OK;
		if (n < 0 && errno != EINTR)
			return HWK_ERR_SYSTEM;
	}
}

/* Reads or writes all of len bytes at p. */
static int
io_all(int fd, int out, uint8_t *p, size_t len, uint64_t deadline_ms)
{
	ssize_t n;
	int r;

	while (len > 0) {
		n = out ? write(fd, p, len) : read(fd, p, len);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n == 0 || (n < 0 && (errno == EPIPE ||
		    errno == ECONNRESET)))
			return HWK_ERR_NO_DEVICE;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return HWK_ERR_SYSTEM;
		if ((r = wait_fd(fd, out ? POLLOUT : POLLIN, deadline_ms)) != 0)
			return r;
	}
	return HWK_OK;
}

int
p11h_send(int fd, const struct hwk_buf *msg, uint64_t deadline_ms)
{
	struct hwk_buf *m;
	int r;

	if (hwk_buf_len(msg) == 0 || hwk_buf_len(msg) > P11H_MAX_MSG)
		return HWK_ERR_TOO_LARGE;
	if ((m = hwk_buf_new()) == NULL)
		return HWK_ERR_NOMEM;
	/* One write, so that the peer never sees a length alone. */
	if ((r = hwk_buf_put_u32(m, (uint32_t)hwk_buf_len(msg))) != 0 ||
	    (r = hwk_buf_putb(m, msg)) != 0)
		goto out;
	/* Cast away const: io_all only reads when writing. */
	r = io_all(fd, 1, (uint8_t *)(uintptr_t)hwk_buf_ptr(m), hwk_buf_len(m),
	    deadline_ms);
 out:
	hwk_buf_free(&m);	/* wipes: a message may carry a PIN */
	return r;
}

int
p11h_recv(int fd, struct hwk_buf *msg, uint64_t deadline_ms)
{
	uint8_t hdr[4], *p;
	uint32_t len;
	int r;

	hwk_buf_reset(msg);
	if ((r = io_all(fd, 0, hdr, sizeof(hdr), deadline_ms)) != 0)
		return r;
	len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
	    (uint32_t)hdr[2] << 8 | hdr[3];
	if (len == 0 || len > P11H_MAX_MSG)
		return HWK_ERR_FORMAT;
	if ((r = hwk_buf_reserve(msg, len, &p)) != 0)
		return r;
	return io_all(fd, 0, p, len, deadline_ms);
}
