/* The supervisor's view of every ABI of its build, without a supervisor: the
 * filter program run by a small classic-BPF interpreter over made-up calls
 * (which it traps, for x86-64, x32 and i386 numbers and socketcall's
 * sub-calls; for aarch64's on arm64), and the decoding of trapped calls into
 * one shape, socketcall's argument block read from this process's own memory
 * as it would be from a program's. The numbers here are typed from the
 * kernel's tables on purpose: the build takes its own from the headers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "abi.h"
#include "filter.h"

#include <linux/audit.h>
#include <linux/net.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#define X32 0x40000000u

/* Runs a filter the way the kernel does, for the instructions ours uses. */
static uint32_t run(const struct sock_filter *p, size_t n, const struct seccomp_data *d)
{
	uint32_t a = 0;
	for (size_t pc = 0; pc < n; pc++) {
		const struct sock_filter *i = &p[pc];
		switch (i->code) {
		case BPF_LD | BPF_W | BPF_ABS:
			memcpy(&a, (const char *)d + i->k, sizeof(a));
			break;
		case BPF_JMP | BPF_JEQ | BPF_K:
			pc += a == i->k ? i->jt : i->jf;
			break;
		case BPF_JMP | BPF_JSET | BPF_K:
			pc += (a & i->k) ? i->jt : i->jf;
			break;
		case BPF_JMP | BPF_JA:
			pc += i->k;
			break;
		case BPF_RET | BPF_K:
			return i->k;
		default:
			fail_msg("instruction 0x%x the test does not know", i->code);
		}
	}
	fail_msg("the filter ran off its end");
	return 0;
}

static uint32_t verdict(const struct lr_traps *t, uint32_t arch, uint32_t nr, uint64_t a0, uint64_t a1,
			uint64_t a2)
{
	struct sock_filter p[128];
	size_t n = lr_filter_program(t, p, 128);
	assert_true(n > 0);
	struct seccomp_data d = { .nr = (int)nr, .arch = arch, .args = { a0, a1, a2 } };
	return run(p, n, &d);
}

#define NOTIFY SECCOMP_RET_USER_NOTIF
#define ALLOW SECCOMP_RET_ALLOW

static struct seccomp_notif notif(uint32_t arch, uint32_t nr, uint64_t a0, uint64_t a1, uint64_t a2)
{
	struct seccomp_notif r;
	memset(&r, 0, sizeof(r));
	r.pid = (uint32_t)getpid();
	r.data.arch = arch;
	r.data.nr = (int)nr;
	r.data.args[0] = a0;
	r.data.args[1] = a1;
	r.data.args[2] = a2;
	return r;
}

#if defined(__x86_64__)
static void every_abi_is_trapped(void **state)
{
	(void)state;
	struct lr_traps all = { .connect = true, .listen = true, .shutdown = true };
	struct lr_traps bind_only = { 0 };
	const uint32_t x64 = AUDIT_ARCH_X86_64, i386 = AUDIT_ARCH_I386;
	/* bind, by each ABI's number, and by socketcall */
	assert_int_equal(verdict(&bind_only, x64, 49, 3, 0, 0), NOTIFY);
	assert_int_equal(verdict(&bind_only, x64, X32 | 49, 3, 0, 0), NOTIFY);
	assert_int_equal(verdict(&bind_only, i386, 361, 3, 0, 0), NOTIFY);
	assert_int_equal(verdict(&bind_only, i386, 102, SYS_BIND, 0, 0), NOTIFY);
	/* connect only when a rule needs it */
	assert_int_equal(verdict(&bind_only, x64, 42, 3, 0, 0), ALLOW);
	assert_int_equal(verdict(&bind_only, i386, 102, SYS_CONNECT, 0, 0), ALLOW);
	assert_int_equal(verdict(&all, x64, 42, 3, 0, 0), NOTIFY);
	assert_int_equal(verdict(&all, i386, 362, 3, 0, 0), NOTIFY);
	assert_int_equal(verdict(&all, i386, 102, SYS_CONNECT, 0, 0), NOTIFY);
	assert_int_equal(verdict(&all, x64, X32 | 50, 3, 0, 0), NOTIFY); /* x32 listen */
	/* setsockopt: only the two options, where the filter can see them */
	assert_int_equal(verdict(&bind_only, x64, 54, 3, SOL_SOCKET, SO_REUSEADDR), NOTIFY);
	assert_int_equal(verdict(&bind_only, x64, 54, 3, IPPROTO_TCP, 1), ALLOW);
	assert_int_equal(verdict(&bind_only, x64, X32 | 541, 3, SOL_SOCKET, SO_REUSEPORT), NOTIFY);
	assert_int_equal(verdict(&bind_only, i386, 366, 3, SOL_SOCKET, SO_REUSEPORT), NOTIFY);
	assert_int_equal(verdict(&bind_only, i386, 366, 3, SOL_SOCKET, SO_KEEPALIVE), ALLOW);
	/* socketcall's setsockopt: its level is in memory, so all of them */
	assert_int_equal(verdict(&bind_only, i386, 102, SYS_SETSOCKOPT, 0, 0), NOTIFY);
	/* the rest of socketcall, and every other call, runs untrapped */
	assert_int_equal(verdict(&all, i386, 102, SYS_SEND, 0, 0), ALLOW);
	assert_int_equal(verdict(&all, x64, 39, 0, 0, 0), ALLOW);  /* getpid */
	assert_int_equal(verdict(&all, i386, 49, 0, 0, 0), ALLOW); /* 49 is not bind there */
	/* execve and io_uring_setup, by each ABI */
	assert_int_equal(verdict(&bind_only, x64, 59, 0, 0, 0), NOTIFY);
	assert_int_equal(verdict(&bind_only, i386, 11, 0, 0, 0), NOTIFY);
	assert_int_equal(verdict(&bind_only, x64, X32 | 520, 0, 0, 0), NOTIFY);
	assert_int_equal(verdict(&bind_only, x64, 425, 0, 0, 0), NOTIFY);
	assert_int_equal(verdict(&bind_only, i386, 425, 0, 0, 0), NOTIFY);
	/* sendto, sendmsg, sendmmsg: only under a rule with op = "send" */
	struct lr_traps send = { .send = true };
	assert_int_equal(verdict(&bind_only, x64, 44, 3, 0, 0), ALLOW);
	assert_int_equal(verdict(&bind_only, x64, 46, 3, 0, 0), ALLOW);
	assert_int_equal(verdict(&bind_only, i386, 102, SYS_SENDTO, 0, 0), ALLOW);
	assert_int_equal(verdict(&all, x64, 307, 3, 0, 0), ALLOW);
	assert_int_equal(verdict(&send, x64, 44, 3, 0, 0), NOTIFY);
	assert_int_equal(verdict(&send, x64, 46, 3, 0, 0), NOTIFY);
	assert_int_equal(verdict(&send, x64, 307, 3, 0, 0), NOTIFY);
	assert_int_equal(verdict(&send, x64, X32 | 518, 3, 0, 0), NOTIFY);
	assert_int_equal(verdict(&send, x64, X32 | 538, 3, 0, 0), NOTIFY);
	assert_int_equal(verdict(&send, i386, 369, 3, 0, 0), NOTIFY);
	assert_int_equal(verdict(&send, i386, 370, 3, 0, 0), NOTIFY);
	assert_int_equal(verdict(&send, i386, 345, 3, 0, 0), NOTIFY);
	assert_int_equal(verdict(&send, i386, 102, SYS_SENDTO, 0, 0), NOTIFY);
	assert_int_equal(verdict(&send, i386, 102, SYS_SENDMSG, 0, 0), NOTIFY);
	assert_int_equal(verdict(&send, i386, 102, SYS_SENDMMSG, 0, 0), NOTIFY);
	assert_int_equal(verdict(&send, i386, 102, SYS_SEND, 0, 0), ALLOW); /* send(2) names no address */
	/* an ABI the supervisor does not read is not let through */
	assert_int_equal(verdict(&bind_only, AUDIT_ARCH_AARCH64, 200, 0, 0, 0), NOTIFY);
}

static void calls_decode_to_one_shape(void **state)
{
	(void)state;
	struct lr_syscall sc;
	/* int $0x80 from a 64-bit program: only the low halves count */
	struct seccomp_notif r = notif(AUDIT_ARCH_I386, 361, 0xdead000000000003ull, 0x1000, 16);
	lr_abi_decode(&r, &sc);
	assert_int_equal(sc.op, LR_SC_BIND);
	assert_int_equal(sc.arg[0], 3);
	assert_int_equal(sc.arg[1], 0x1000);
	assert_int_equal(sc.arg[2], 16);
	/* socketcall: the block of 32-bit words, read out of the caller */
	uint32_t *low = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	assert_true(low != MAP_FAILED);
	uint32_t block[5] = { 7, 0x2000, 16, 0, 0 };
	memcpy(low, block, sizeof(block));
	r = notif(AUDIT_ARCH_I386, 102, SYS_CONNECT, (uint64_t)(uintptr_t)low, 0);
	lr_abi_decode(&r, &sc);
	assert_int_equal(sc.op, LR_SC_CONNECT);
	assert_int_equal(sc.arg[0], 7);
	assert_int_equal(sc.arg[1], 0x2000);
	assert_int_equal(sc.arg[2], 16);
	uint32_t opt[5] = { 5, SOL_SOCKET, SO_REUSEADDR, 0x3000, 4 };
	memcpy(low, opt, sizeof(opt));
	r = notif(AUDIT_ARCH_I386, 102, SYS_SETSOCKOPT, (uint64_t)(uintptr_t)low, 0);
	lr_abi_decode(&r, &sc);
	assert_int_equal(sc.op, LR_SC_SETSOCKOPT);
	assert_int_equal(sc.arg[1], SOL_SOCKET);
	assert_int_equal(sc.arg[2], SO_REUSEADDR);
	assert_int_equal(sc.arg[4], 4);
	/* socketcall's sendto: six words, a 32-bit ABI's (its msghdr too) */
	uint32_t st[6] = { 6, 0x5000, 10, 0, 0x6000, 16 };
	memcpy(low, st, sizeof(st));
	r = notif(AUDIT_ARCH_I386, 102, SYS_SENDTO, (uint64_t)(uintptr_t)low, 0);
	lr_abi_decode(&r, &sc);
	assert_int_equal(sc.op, LR_SC_SENDTO);
	assert_int_equal(sc.arg[4], 0x6000);
	assert_int_equal(sc.arg[5], 16);
	assert_true(sc.compat);
	munmap(low, 4096);
	/* x86-64's sendmsg: its own layout */
	r = notif(AUDIT_ARCH_X86_64, 46, 3, 0x7000, 0);
	lr_abi_decode(&r, &sc);
	assert_int_equal(sc.op, LR_SC_SENDMSG);
	assert_false(sc.compat);
	r = notif(AUDIT_ARCH_I386, 345, 3, 0x7000, 2);
	lr_abi_decode(&r, &sc);
	assert_int_equal(sc.op, LR_SC_SENDMMSG);
	assert_true(sc.compat);
	/* a block that cannot be read: not understood, and said what it was */
	r = notif(AUDIT_ARCH_I386, 102, SYS_BIND, 0x1000, 0);
	lr_abi_decode(&r, &sc);
	assert_int_equal(sc.op, LR_SC_UNDECODED);
	assert_non_null(strstr(sc.what, "socketcall(2) whose arguments at 0x1000 cannot be read"));
	/* x32: the same call as x86-64's where the kernel runs x32, left to
	 * the kernel (which refuses it) where it does not */
	lr_abi_assume_x32(true);
	r = notif(AUDIT_ARCH_X86_64, X32 | 541, 4, SOL_SOCKET, SO_REUSEPORT);
	lr_abi_decode(&r, &sc);
	assert_int_equal(sc.op, LR_SC_SETSOCKOPT);
	assert_int_equal(sc.arg[2], SO_REUSEPORT);
	lr_abi_assume_x32(false);
	lr_abi_decode(&r, &sc);
	assert_int_equal(sc.op, LR_SC_OTHER);
	/* x86-64, and an ABI unknown */
	r = notif(AUDIT_ARCH_X86_64, 42, 3, 0x4000, 28);
	lr_abi_decode(&r, &sc);
	assert_int_equal(sc.op, LR_SC_CONNECT);
	assert_int_equal(sc.arg[2], 28);
	r = notif(AUDIT_ARCH_AARCH64, 200, 0, 0, 0);
	lr_abi_decode(&r, &sc);
	assert_int_equal(sc.op, LR_SC_UNDECODED);
	assert_non_null(strstr(sc.what, "unknown ABI"));
}

#elif defined(__aarch64__)
static void every_abi_is_trapped(void **state)
{
	(void)state;
	struct lr_traps all = { .connect = true, .listen = true, .shutdown = true };
	struct lr_traps bind_only = { 0 };
	const uint32_t a64 = AUDIT_ARCH_AARCH64;
	assert_int_equal(verdict(&bind_only, a64, 200, 3, 0, 0), NOTIFY); /* bind */
	assert_int_equal(verdict(&bind_only, a64, 203, 3, 0, 0), ALLOW);  /* connect, not asked */
	assert_int_equal(verdict(&all, a64, 203, 3, 0, 0), NOTIFY);
	assert_int_equal(verdict(&all, a64, 201, 3, 0, 0), NOTIFY); /* listen */
	assert_int_equal(verdict(&all, a64, 210, 3, 0, 0), NOTIFY); /* shutdown */
	assert_int_equal(verdict(&bind_only, a64, 210, 3, 0, 0), ALLOW);
	assert_int_equal(verdict(&bind_only, a64, 208, 3, SOL_SOCKET, SO_REUSEPORT), NOTIFY);
	assert_int_equal(verdict(&bind_only, a64, 208, 3, SOL_SOCKET, SO_REUSEADDR), NOTIFY);
	assert_int_equal(verdict(&bind_only, a64, 208, 3, IPPROTO_TCP, 1), ALLOW);
	assert_int_equal(verdict(&bind_only, a64, 221, 0, 0, 0), NOTIFY); /* execve */
	assert_int_equal(verdict(&bind_only, a64, 281, 0, 0, 0), NOTIFY); /* execveat */
	assert_int_equal(verdict(&bind_only, a64, 425, 0, 0, 0), NOTIFY); /* io_uring_setup */
	assert_int_equal(verdict(&all, a64, 172, 0, 0, 0), ALLOW);	  /* getpid */
	assert_int_equal(verdict(&all, a64, 49, 0, 0, 0), ALLOW);	  /* x86-64's bind is fchdir here */
	/* sendto, sendmsg, sendmmsg: only under a rule with op = "send" */
	struct lr_traps send = { .send = true };
	assert_int_equal(verdict(&all, a64, 206, 3, 0, 0), ALLOW);
	assert_int_equal(verdict(&send, a64, 206, 3, 0, 0), NOTIFY);
	assert_int_equal(verdict(&send, a64, 211, 3, 0, 0), NOTIFY);
	assert_int_equal(verdict(&send, a64, 269, 3, 0, 0), NOTIFY);
	/* ABIs the supervisor does not read are not let through: 32-bit ARM
	 * (compat), and anything else */
	assert_int_equal(verdict(&bind_only, AUDIT_ARCH_ARM, 282, 0, 0, 0), NOTIFY);
	assert_int_equal(verdict(&bind_only, AUDIT_ARCH_X86_64, 49, 0, 0, 0), NOTIFY);
}

static void calls_decode_to_one_shape(void **state)
{
	(void)state;
	struct lr_syscall sc;
	struct seccomp_notif r = notif(AUDIT_ARCH_AARCH64, 203, 3, 0x4000, 28);
	lr_abi_decode(&r, &sc);
	assert_int_equal(sc.op, LR_SC_CONNECT);
	assert_int_equal(sc.arg[0], 3);
	assert_int_equal(sc.arg[1], 0x4000);
	assert_int_equal(sc.arg[2], 28);
	r = notif(AUDIT_ARCH_AARCH64, 208, 4, SOL_SOCKET, SO_REUSEPORT);
	lr_abi_decode(&r, &sc);
	assert_int_equal(sc.op, LR_SC_SETSOCKOPT);
	assert_int_equal(sc.arg[2], SO_REUSEPORT);
	/* no x32 here: the bit is part of no call */
	r = notif(AUDIT_ARCH_AARCH64, X32 | 200, 3, 0, 0);
	lr_abi_decode(&r, &sc);
	assert_int_equal(sc.op, LR_SC_OTHER);
	r = notif(AUDIT_ARCH_ARM, 282, 3, 0, 0);
	lr_abi_decode(&r, &sc);
	assert_int_equal(sc.op, LR_SC_UNDECODED);
	assert_non_null(strstr(sc.what, "unknown ABI"));
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_abi_is_trapped),
		cmocka_unit_test(calls_decode_to_one_shape),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
