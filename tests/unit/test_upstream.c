/*
 * Unit tests of hwkey-agent's upstream agent: the merged key list (order,
 * no key twice, limits, every truncation of the upstream's list), and the
 * exchange over a socket pair standing for the upstream: answers passed on
 * as they came, answers that do not fit, oversized, cut short or missing;
 * LOCK and UNLOCK for both agents, and nothing passed on while locked;
 * the same requests on a connection the poll loop finishes, in steps as
 * the answer comes.
 */
#include <sys/socket.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "hwkey/buf.h"
#include "hwkey/ctx.h"
#include "hwkey/error.h"
#include "agent.h"
#include "conn.h"
#include "upstream.h"

/* An IDENTITIES_ANSWER of the keys named (blob "key-X", comment "X"). */
static struct hwk_buf *
id_list(const char *names)
{
	struct hwk_buf *b = hwk_buf_new();
	char blob[16];
	size_t i;

	assert_non_null(b);
	assert_int_equal(hwk_buf_put_u8(b, AGENT_IDENTITIES_ANSWER), 0);
	assert_int_equal(hwk_buf_put_u32(b, (uint32_t)strlen(names)), 0);
	for (i = 0; names[i] != '\0'; i++) {
		snprintf(blob, sizeof(blob), "key-%c", names[i]);
		assert_int_equal(hwk_buf_put_cstring(b, blob), 0);
		assert_int_equal(hwk_buf_put_string(b, &names[i], 1), 0);
	}
	return b;
}

static int
merge(const struct hwk_buf *ours, const struct hwk_buf *theirs,
    size_t theirslen, struct hwk_buf *out)
{
	return hwk_upstream_merge(hwk_buf_ptr(ours), hwk_buf_len(ours),
	    hwk_buf_ptr(theirs), theirslen, out);
}

static void
test_merge_order(void **state)
{
	struct hwk_buf *ours = id_list("AB"), *theirs = id_list("CACDB");
	struct hwk_buf *want = id_list("ABCD"), *out = hwk_buf_new();

	(void)state;
	assert_int_equal(merge(ours, theirs, hwk_buf_len(theirs), out), 0);
	assert_int_equal(hwk_buf_len(out), hwk_buf_len(want));
	assert_memory_equal(hwk_buf_ptr(out), hwk_buf_ptr(want),
	    hwk_buf_len(want));
	/* No keys of our own, none upstream. */
	hwk_buf_free(&ours);
	hwk_buf_free(&want);
	hwk_buf_reset(out);
	ours = id_list("");
	assert_int_equal(merge(ours, ours, hwk_buf_len(ours), out), 0);
	assert_int_equal(hwk_buf_len(out), hwk_buf_len(ours));
	hwk_buf_free(&ours);
	hwk_buf_free(&theirs);
	hwk_buf_free(&out);
}

static void
test_merge_malformed(void **state)
{
	struct hwk_buf *ours = id_list("A"), *theirs = id_list("BCD");
	struct hwk_buf *out = hwk_buf_new(), *b;
	uint8_t *p;
	size_t n;

	(void)state;
	for (n = 0; n < hwk_buf_len(theirs); n++) {
		assert_int_equal(merge(ours, theirs, n, out), HWK_ERR_FORMAT);
		assert_int_equal(hwk_buf_len(out), 0);
	}
	/* A byte after the last key. */
	assert_int_equal(hwk_buf_put_u8(theirs, 0), 0);
	assert_int_equal(merge(ours, theirs, hwk_buf_len(theirs), out),
	    HWK_ERR_FORMAT);
	/* Not a list; an empty blob; more keys than OpenSSH takes. */
	assert_int_equal(merge(ours, ours, hwk_buf_len(ours), out), 0);
	hwk_buf_reset(out);
	p = (uint8_t *)hwk_buf_ptr(theirs);
	p[0] = AGENT_SIGN_RESPONSE;
	assert_int_equal(merge(ours, theirs, hwk_buf_len(theirs) - 1, out),
	    HWK_ERR_FORMAT);
	assert_non_null(b = hwk_buf_new());
	assert_int_equal(hwk_buf_put_u8(b, AGENT_IDENTITIES_ANSWER), 0);
	assert_int_equal(hwk_buf_put_u32(b, 1), 0);
	assert_int_equal(hwk_buf_put_string(b, "", 0), 0);
	assert_int_equal(hwk_buf_put_cstring(b, "empty"), 0);
	assert_int_equal(merge(ours, b, hwk_buf_len(b), out), HWK_ERR_FORMAT);
	hwk_buf_reset(b);
	assert_int_equal(hwk_buf_put_u8(b, AGENT_IDENTITIES_ANSWER), 0);
	assert_int_equal(hwk_buf_put_u32(b, UPSTREAM_MAX_IDS + 1), 0);
	assert_int_equal(merge(ours, b, hwk_buf_len(b), out), HWK_ERR_FORMAT);
	assert_int_equal(hwk_buf_len(out), 0);
	hwk_buf_free(&b);
	hwk_buf_free(&ours);
	hwk_buf_free(&theirs);
	hwk_buf_free(&out);
}

/* Ours and all of theirs past OpenSSH's limit: the first 2048 only. */
static void
test_merge_limit(void **state)
{
	struct hwk_buf *ours = id_list("A"), *theirs = hwk_buf_new();
	struct hwk_buf *out = hwk_buf_new();
	uint32_t i, n;
	char blob[16];

	(void)state;
	assert_int_equal(hwk_buf_put_u8(theirs, AGENT_IDENTITIES_ANSWER), 0);
	assert_int_equal(hwk_buf_put_u32(theirs, UPSTREAM_MAX_IDS), 0);
	for (i = 0; i < UPSTREAM_MAX_IDS; i++) {
		snprintf(blob, sizeof(blob), "blob-%u", i);
		assert_int_equal(hwk_buf_put_cstring(theirs, blob), 0);
		assert_int_equal(hwk_buf_put_cstring(theirs, ""), 0);
	}
	assert_int_equal(merge(ours, theirs, hwk_buf_len(theirs), out), 0);
	assert_int_equal(hwk_buf_consume(out, 1), 0);
	assert_int_equal(hwk_buf_get_u32(out, &n), 0);
	assert_int_equal(n, UPSTREAM_MAX_IDS);
	hwk_buf_free(&ours);
	hwk_buf_free(&theirs);
	hwk_buf_free(&out);
}

/* An agent whose upstream connection is one end of a socket pair. */
struct rig {
	struct hwk_agent a;
	int		 conn;		/* ours */
	int		 peer;		/* the upstream's */
};

static void
rig_start(struct rig *g)
{
	int sv[2];

	memset(g, 0, sizeof(*g));
	assert_non_null(g->a.ctx = hwk_ctx_new());
	assert_int_equal(hwk_upstream_new(g->a.ctx, "/nonexistent/socket",
	    &g->a.upstream), 0);
	g->a.upstream->timeout_ms = 100;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    sv), 0);
	g->conn = sv[0];
	g->peer = sv[1];
	hwk_upstream_use(g->a.upstream, &g->conn);
}

static void
rig_stop(struct rig *g)
{
	hwk_upstream_close(&g->conn);
	if (g->peer >= 0)
		close(g->peer);
	hwk_upstream_free(&g->a.upstream);
	hwk_ctx_free(&g->a.ctx);
}

/* What the upstream will have answered: written before the request. */
static void
answer(struct rig *g, const void *v, size_t len)
{
	assert_int_equal(write(g->peer, v, len), (ssize_t)len);
}

/* Forwards msg; returns the reply's type, the reply itself in *replyp. */
static uint8_t
forward(struct rig *g, const uint8_t *msg, size_t len,
    struct hwk_buf **replyp)
{
	struct hwk_buf *reply = hwk_buf_new();
	uint8_t t;

	assert_non_null(reply);
	assert_int_equal(hwk_upstream_forward(&g->a, msg, len, reply), 0);
	assert_true(hwk_buf_len(reply) >= 1);
	t = hwk_buf_ptr(reply)[0];
	if (replyp != NULL)
		*replyp = reply;
	else
		hwk_buf_free(&reply);
	return t;
}

static const uint8_t sign_req[] = { AGENTC_SIGN_REQUEST, 0, 0, 0, 1, 'k',
	0, 0, 0, 1, 'd', 0, 0, 0, 0 };

static void
test_forward_as_is(void **state)
{
	static const uint8_t sig[] = { 0, 0, 0, 4, AGENT_SIGN_RESPONSE, 'S',
		'I', 'G' };
	static const uint8_t ext[] = { 0, 0, 0, 2, 99, 'x' };
	static const uint8_t ext_req[] = { AGENTC_EXTENSION, 0, 0, 0, 1, 'q' };
	struct hwk_buf *reply;
	uint8_t got[64];
	struct rig g;

	(void)state;
	rig_start(&g);
	answer(&g, sig, sizeof(sig));
	assert_int_equal(forward(&g, sign_req, sizeof(sign_req), &reply),
	    AGENT_SIGN_RESPONSE);
	assert_int_equal(hwk_buf_len(reply), sizeof(sig) - 4);
	assert_memory_equal(hwk_buf_ptr(reply), sig + 4, sizeof(sig) - 4);
	hwk_buf_free(&reply);
	/* The upstream got the request whole, framed. */
	assert_int_equal(read(g.peer, got, sizeof(got)), 4 + sizeof(sign_req));
	assert_memory_equal(got, "\0\0\0\x0f", 4);
	assert_memory_equal(got + 4, sign_req, sizeof(sign_req));
	/* An extension answers as it defines; the same connection again. */
	answer(&g, ext, sizeof(ext));
	assert_int_equal(forward(&g, ext_req, sizeof(ext_req), NULL), 99);
	assert_true(g.conn >= 0);
	rig_stop(&g);
}

static void
test_forward_faults(void **state)
{
	static const uint8_t wrong[] = { 0, 0, 0, 1, AGENT_SUCCESS };
	static const uint8_t big[] = { 0, 4, 0, 1, AGENT_SIGN_RESPONSE };
	static const uint8_t empty[] = { 0, 0, 0, 0 };
	static const uint8_t cut[] = { 0, 0, 0, 9, AGENT_SIGN_RESPONSE, 1 };
	static const struct {
		const uint8_t	*v;
		size_t		 len;
		int		 close;
	} cases[] = {
		{ wrong, sizeof(wrong), 0 },	/* SUCCESS to a signature */
		{ big, sizeof(big), 0 },	/* over 256 KiB */
		{ empty, sizeof(empty), 0 },
		{ cut, sizeof(cut), 1 },	/* gone before the request */
		{ cut, sizeof(cut), 0 },	/* hangs in the middle */
		{ NULL, 0, 0 },			/* never answers */
	};
	struct timespec t0, t1;
	struct rig g;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rig_start(&g);
		if (cases[i].v != NULL)
			answer(&g, cases[i].v, cases[i].len);
		if (cases[i].close) {
			close(g.peer);
			g.peer = -1;
		}
		clock_gettime(CLOCK_MONOTONIC, &t0);
		assert_int_equal(forward(&g, sign_req, sizeof(sign_req), NULL),
		    AGENT_FAILURE);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		/* Within the timeout (100 ms), with room for a slow machine. */
		assert_true(t1.tv_sec - t0.tv_sec < 2);
		/* Closed, to start afresh next time; the failure remembered. */
		assert_int_equal(g.conn, -1);
		assert_int_equal(g.a.upstream->down, 1);
		rig_stop(&g);
	}
}

/* The request the upstream got, framed, must be msg; or none at all. */
static void
upstream_got(struct rig *g, const uint8_t *msg, size_t len)
{
	uint8_t got[256];
	ssize_t n = read(g->peer, got, sizeof(got));

	if (msg == NULL) {
		assert_int_equal(n, -1);
		return;
	}
	assert_int_equal(n, (ssize_t)(4 + len));
	assert_int_equal(got[3], len);
	assert_memory_equal(got + 4, msg, len);
}

static uint8_t
dispatch(struct rig *g, const uint8_t *msg, size_t len)
{
	struct hwk_buf *reply = hwk_buf_new();
	uint8_t t;

	assert_non_null(reply);
	assert_int_equal(hwk_agent_dispatch(&g->a, msg, len, reply), 0);
	assert_int_equal(hwk_buf_len(reply) >= 1, 1);
	t = hwk_buf_ptr(reply)[0];
	hwk_buf_free(&reply);
	return t;
}

/*
 * LOCK and UNLOCK go upstream once ours took them; while locked, nothing
 * else does; an UNLOCK while ours is not locked is the upstream's.
 */
static void
test_lock_both(void **state)
{
	static const uint8_t ok[] = { 0, 0, 0, 1, AGENT_SUCCESS };
	static const uint8_t no[] = { 0, 0, 0, 1, AGENT_FAILURE };
	static const uint8_t lock[] = { AGENTC_LOCK, 0, 0, 0, 2, 'p', 'w' };
	static const uint8_t unlock[] = { AGENTC_UNLOCK, 0, 0, 0, 2, 'p',
		'w' };
	static const uint8_t add[] = { AGENTC_ADD_IDENTITY, 0, 0, 0, 0 };
	static const uint8_t list[] = { AGENTC_REQUEST_IDENTITIES };
	static const uint8_t ext[] = { AGENTC_EXTENSION, 0, 0, 0, 5, 'q', 'u',
		'e', 'r', 'y' };
	static const uint8_t ext_ans[] = { 0, 0, 0, 1, 28 };
	struct rig g;

	(void)state;
	rig_start(&g);
	answer(&g, ok, sizeof(ok));
	assert_int_equal(dispatch(&g, lock, sizeof(lock)), AGENT_SUCCESS);
	upstream_got(&g, lock, sizeof(lock));
	assert_int_equal(dispatch(&g, add, sizeof(add)), AGENT_FAILURE);
	assert_int_equal(dispatch(&g, sign_req, sizeof(sign_req)),
	    AGENT_FAILURE);
	assert_int_equal(dispatch(&g, list, sizeof(list)),
	    AGENT_IDENTITIES_ANSWER);
	upstream_got(&g, NULL, 0);
	/* A second LOCK is refused here, and not passed on. */
	assert_int_equal(dispatch(&g, lock, sizeof(lock)), AGENT_FAILURE);
	upstream_got(&g, NULL, 0);
	answer(&g, ok, sizeof(ok));
	assert_int_equal(dispatch(&g, unlock, sizeof(unlock)), AGENT_SUCCESS);
	upstream_got(&g, unlock, sizeof(unlock));
	/* Not locked here: the upstream answers for itself. */
	answer(&g, no, sizeof(no));
	assert_int_equal(dispatch(&g, unlock, sizeof(unlock)), AGENT_FAILURE);
	upstream_got(&g, unlock, sizeof(unlock));
	answer(&g, ok, sizeof(ok));
	assert_int_equal(dispatch(&g, unlock, sizeof(unlock)), AGENT_SUCCESS);
	upstream_got(&g, unlock, sizeof(unlock));
	/* Unlocked, an ADD goes up, and an extension we do not know. */
	answer(&g, ok, sizeof(ok));
	assert_int_equal(dispatch(&g, add, sizeof(add)), AGENT_SUCCESS);
	upstream_got(&g, add, sizeof(add));
	answer(&g, ext_ans, sizeof(ext_ans));
	assert_int_equal(dispatch(&g, ext, sizeof(ext)), 28);
	upstream_got(&g, ext, sizeof(ext));
	rig_stop(&g);
}

/*
 * Dispatches msg on a connection whose answers may wait: passed on, it
 * waits; steps until done; the answer's type, the answer in *replyp.
 */
static int
waited(struct rig *g, struct hwk_conn *c, const uint8_t *msg, size_t len,
    const uint8_t *ans, size_t anslen, struct hwk_buf **replyp)
{
	struct hwk_buf *reply = hwk_buf_new();
	int r, steps = 0;

	assert_non_null(reply);
	assert_int_equal(hwk_agent_dispatch_conn(&g->a, c, msg, len, reply),
	    HWK_AGENT_WAIT);
	assert_int_equal(hwk_buf_len(reply), 0);
	assert_non_null(c->wait);
	/* Sent at the first step, whose answer is never there at once. */
	assert_int_equal(hwk_upstream_wait_step(&g->a, c, reply), 0);
	upstream_got(g, msg, len);
	/* The answer in two pieces: a step each, done at the second. */
	if (ans != NULL) {
		answer(g, ans, 3);
		assert_int_equal(hwk_upstream_wait_step(&g->a, c, reply), 0);
		answer(g, ans + 3, anslen - 3);
	}
	while ((r = hwk_upstream_wait_step(&g->a, c, reply)) == 0) {
		struct timespec ms = { 0, 1000000L };

		assert_true(++steps < 2000);	/* the timeout is 100 ms */
		nanosleep(&ms, NULL);
	}
	assert_int_equal(r, 1);
	hwk_wait_free(&c->wait);
	r = hwk_buf_ptr(reply)[0];
	if (replyp != NULL)
		*replyp = reply;
	else
		hwk_buf_free(&reply);
	return r;
}

/*
 * On a connection of the poll loop's: a signature passed on, the merged
 * list, LOCK (ours stands, whatever the upstream says), each finished in
 * steps as the answer comes in pieces; an upstream that says nothing fails
 * that request at the timeout, and its connection is closed.
 */
static void
test_deferred(void **state)
{
	static const uint8_t sig[] = { 0, 0, 0, 4, AGENT_SIGN_RESPONSE, 'S',
		'I', 'G' };
	static const uint8_t no[] = { 0, 0, 0, 1, AGENT_FAILURE };
	static const uint8_t lock[] = { AGENTC_LOCK, 0, 0, 0, 2, 'p', 'w' };
	static const uint8_t list[] = { AGENTC_REQUEST_IDENTITIES };
	struct hwk_buf *reply, *theirs;
	struct hwk_conn *c;
	uint8_t ans[64];
	struct rig g;

	(void)state;
	rig_start(&g);
	assert_non_null(c = hwk_conn_new(0));
	c->can_wait = 1;
	c->up_fd = g.conn;	/* the client's own upstream connection */
	g.conn = -1;
	assert_int_equal(waited(&g, c, sign_req, sizeof(sign_req), sig,
	    sizeof(sig), &reply), AGENT_SIGN_RESPONSE);
	assert_int_equal(hwk_buf_len(reply), sizeof(sig) - 4);
	assert_memory_equal(hwk_buf_ptr(reply), sig + 4, sizeof(sig) - 4);
	hwk_buf_free(&reply);
	/* The list: ours (none) and theirs. */
	theirs = id_list("AB");
	ans[0] = ans[1] = ans[2] = 0;
	ans[3] = (uint8_t)hwk_buf_len(theirs);
	memcpy(ans + 4, hwk_buf_ptr(theirs), hwk_buf_len(theirs));
	assert_int_equal(waited(&g, c, list, sizeof(list), ans,
	    4 + hwk_buf_len(theirs), &reply), AGENT_IDENTITIES_ANSWER);
	assert_int_equal(hwk_buf_len(reply), hwk_buf_len(theirs));
	assert_memory_equal(hwk_buf_ptr(reply), hwk_buf_ptr(theirs),
	    hwk_buf_len(theirs));
	hwk_buf_free(&reply);
	hwk_buf_free(&theirs);
	/* LOCK: locked here, said so, though the upstream refused. */
	assert_int_equal(waited(&g, c, lock, sizeof(lock), no, sizeof(no),
	    NULL), AGENT_SUCCESS);
	assert_int_equal(g.a.locked, 1);
	g.a.locked = 0;
	/* No answer: FAILURE at the timeout, the connection let go. */
	assert_int_equal(waited(&g, c, sign_req, sizeof(sign_req), NULL, 0,
	    NULL), AGENT_FAILURE);
	assert_int_equal(c->up_fd, -1);
	assert_int_equal(g.a.upstream->down, 1);
	hwk_conn_free(&c);
	rig_stop(&g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_merge_order),
		cmocka_unit_test(test_merge_malformed),
		cmocka_unit_test(test_merge_limit),
		cmocka_unit_test(test_forward_as_is),
		cmocka_unit_test(test_forward_faults),
		cmocka_unit_test(test_lock_both),
		cmocka_unit_test(test_deferred),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
