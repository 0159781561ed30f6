/* Fuzz target: a table image as the library takes it from a cache file or
 * the helper's pipe. lr_table_open must refuse whatever it cannot follow;
 * what it opens, every reader inside the program must walk without reading
 * outside it: the lookup and the policy over many calls, the gate's runs,
 * the sources and strings. A run that leaves a port out, or covers one
 * twice, is a failure too. */
#include "policy.h"
#include "addrparse.h"
#include "table.h"
#include "verdicts.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What strings were read into: kept, so that no read is optimised away. */
static volatile size_t sink;

/* Runs must follow each other from 0 to 65536. */
static void follow(void *ctx, uint32_t from, uint32_t to, uint8_t v)
{
	uint32_t *next = ctx;
	(void)v;
	if (from != *next || to <= from || to > 65536)
		abort();
	*next = to;
}

/* Every port's code, read from the compiled gate as a hook reads it: in
 * place, by the top's block (the sanitizer sees a read outside). */
static void read_gate(const struct lr_table *t)
{
	if (!t->bind_gate)
		return;
	for (uint32_t n = 0; n < 65536; n += 1 + (n & 7)) {
		uint16_t block;
		memcpy(&block, t->bind_gate + 2 * (n >> 8), sizeof(block));
		sink += t->bind_gate[LR_GATE_TOP_BYTES + ((size_t)block << 8) + (n & 255)];
	}
}

static void walk_runs(const struct lr_table *t)
{
	read_gate(t);
	uint32_t next = 0;
	lr_bind_verdict_runs(t, follow, &next);
	if (next != 65536)
		abort();
	for (int op = 0; op < 2; op++) {
		next = 0;
		lr_table_port_runs(t, op, follow, &next);
		if (next != 65536)
			abort();
	}
}

/* Calls on port, by every operation, protocol and a few addresses. */
static void decide_on(const struct lr_table *t, uint16_t port)
{
	static const char *const addrs[] = { "127.0.0.1", "10.1.2.3", "::1", "::ffff:127.0.0.1", "fe80::1" };
	static const struct lr_sockinfo socks[] = { { .family = AF_INET }, { .family = AF_INET6 } };
	for (unsigned k = 0; k < 4; k++)
		for (size_t a = 0; a < sizeof(addrs) / sizeof(addrs[0]); a++) {
			struct lr_call c = { .op = (uint8_t)(k & 1 ? LR_OP_CONNECT : LR_OP_BIND),
					     .proto = (uint8_t)(k & 2 ? LR_PROTO_UDP : LR_PROTO_TCP), .port = port };
			lr_parse_addr(addrs[a], &c.addr);
			struct lr_decision d;
			lr_decide(t, &c, &socks[c.addr.family == AF_INET6], &d);
			if (d.keep_name)
				sink += strlen(d.keep_name);
		}
}

/* Ports spread over the space, and the edges of every rule's range. */
static void decide_some(const struct lr_table *t)
{
	for (unsigned port = 0; port < 65536; port += 4099)
		decide_on(t, (uint16_t)port);
	for (size_t i = 0; i < t->nrules && i < 64; i++) {
		decide_on(t, t->rules[i].port_lo);
		decide_on(t, t->rules[i].port_hi);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* As the library holds an image: its own memory, 8-aligned. */
	void *image = malloc(size ? size : 1);
	if (!image)
		return 0;
	memcpy(image, data, size);
	struct lr_table t;
	const char *why = NULL;
	if (lr_table_open(&t, image, size, "prog", "prog", NULL, &why) != 0) {
		if (!why || !*why)
			abort(); /* a refusal says why */
	} else {
		walk_runs(&t);
		decide_some(&t);
		size_t n;
		const struct lr_tf_source *s = lr_table_sources(&t, &n);
		for (size_t i = 0; i < n; i++)
			sink += strlen(lr_table_str(&t, s[i].path));
		if (t.log.path)
			sink += strlen(t.log.path);
		if (t.notes)
			sink += strlen(t.notes);
		lr_table_close(&t);
	}
	free(image);
	return 0;
}
