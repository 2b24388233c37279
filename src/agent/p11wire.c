/*
 * Messages between hwkey-agent and its PKCS#11 helper (p11helper.h): a u32
 * length and the message, read and written whole, within a deadline on
 * the agent's side so that a hung helper cannot hold the agent.
 */
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
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
		/* No SIGPIPE for a peer gone, whatever the program's signals. */
		n = out ? send(fd, p, len, MSG_NOSIGNAL) : read(fd, p, len);
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

/* A u32 length, big-endian, from 4 bytes. */
static uint32_t
get_len(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/*
 * One sendmsg of length and message, which is all of it unless the message
 * is long: a signature costs the agent a system call less each way.
 */
int
p11h_send(int fd, const struct hwk_buf *msg, uint64_t deadline_ms)
{
	size_t len = hwk_buf_len(msg);
	uint8_t hdr[4];
	struct iovec iov[2];
	struct msghdr mh;
	ssize_t n;
	int r;

	if (len == 0 || len > P11H_MAX_MSG)
		return HWK_ERR_TOO_LARGE;
	hdr[0] = (uint8_t)(len >> 24);
	hdr[1] = (uint8_t)(len >> 16);
	hdr[2] = (uint8_t)(len >> 8);
	hdr[3] = (uint8_t)len;
	iov[0].iov_base = hdr;
	iov[0].iov_len = sizeof(hdr);
	/* Cast away const: writev only reads it. */
	iov[1].iov_base = (void *)(uintptr_t)hwk_buf_ptr(msg);
	iov[1].iov_len = len;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = iov;
	mh.msg_iovlen = 2;
	while ((n = sendmsg(fd, &mh, MSG_NOSIGNAL)) < 0 && errno == EINTR)
		;
	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
		return errno == EPIPE || errno == ECONNRESET ?
		    HWK_ERR_NO_DEVICE : HWK_ERR_SYSTEM;
	if (n < 0)
		n = 0;
	if ((size_t)n < sizeof(hdr)) {
		if ((r = io_all(fd, 1, hdr + n, sizeof(hdr) - (size_t)n,
		    deadline_ms)) != 0)
			return r;
		n = sizeof(hdr);
	}
	n -= (ssize_t)sizeof(hdr);
	return io_all(fd, 1, (uint8_t *)iov[1].iov_base + n, len - (size_t)n,
	    deadline_ms);
}

/*
 * A short message comes in one read (after one poll on the agent's side);
 * a long one in the rest.  Nothing may follow it: each side waits for the
 * other's answer before it says more.
 */
int
p11h_recv(int fd, struct hwk_buf *msg, uint64_t deadline_ms)
{
	uint8_t chunk[4096], *p;
	size_t got = 0, have;
	uint32_t len;
	ssize_t n;
	int r;

	hwk_buf_reset(msg);
	for (;;) {
		if (deadline_ms != 0 &&
		    (r = wait_fd(fd, POLLIN, deadline_ms)) != 0)
			return r;
		if ((n = read(fd, chunk, sizeof(chunk))) > 0)
			break;
		if (n == 0 || errno == ECONNRESET)
			return HWK_ERR_NO_DEVICE;
		if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
			return HWK_ERR_SYSTEM;
	}
	got = (size_t)n;
	if (got < 4 && (r = io_all(fd, 0, chunk + got, 4 - got,
	    deadline_ms)) != 0)
		goto out;
	if (got < 4)
		got = 4;
	len = get_len(chunk);
	have = got - 4;
	if (len == 0 || len > P11H_MAX_MSG || have > len) {
		r = HWK_ERR_FORMAT;
		goto out;
	}
	if ((r = hwk_buf_reserve(msg, len, &p)) != 0)
		goto out;
	memcpy(p, chunk + 4, have);
	r = io_all(fd, 0, p + have, len - have, deadline_ms);
 out:
	explicit_bzero(chunk, got);	/* it may have held a PIN */
	return r;
}
