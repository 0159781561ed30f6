#include "abi.h"

#include "notify.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/net.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef __X32_SYSCALL_BIT
#define __X32_SYSCALL_BIT 0x40000000u
#endif

#if defined(__x86_64__)
/* From asm/unistd_64.h, unistd_x32.h and unistd_32.h, written out: the
 * headers of one build define only its own ABI's names. */
static const struct lr_abi_nr native[] = {
	{ LR_SC_BIND, 49 },	  { LR_SC_CONNECT, 42 },   { LR_SC_LISTEN, 50 },
	{ LR_SC_SHUTDOWN, 48 },	  { LR_SC_SETSOCKOPT, 54 }, { LR_SC_EXECVE, 59 },
	{ LR_SC_EXECVE, 322 },	  /* execveat */
	{ LR_SC_IO_URING_SETUP, 425 },
	{ LR_SC_SENDTO, 44 },	  { LR_SC_SENDMSG, 46 },    { LR_SC_SENDMMSG, 307 },
};
/* x32 has its own setsockopt (541) and execve (520, execveat 545); 54 and
 * 59 with the x32 bit are not calls at all (ENOSYS). */
static const struct lr_abi_nr x32[] = {
	{ LR_SC_BIND, __X32_SYSCALL_BIT + 49 },	      { LR_SC_CONNECT, __X32_SYSCALL_BIT + 42 },
	{ LR_SC_LISTEN, __X32_SYSCALL_BIT + 50 },      { LR_SC_SHUTDOWN, __X32_SYSCALL_BIT + 48 },
	{ LR_SC_SETSOCKOPT, __X32_SYSCALL_BIT + 541 }, { LR_SC_EXECVE, __X32_SYSCALL_BIT + 520 },
	{ LR_SC_EXECVE, __X32_SYSCALL_BIT + 545 },     { LR_SC_IO_URING_SETUP, __X32_SYSCALL_BIT + 425 },
	/* x32's sendmsg and sendmmsg take its own msghdr: 518, 538 */
	{ LR_SC_SENDTO, __X32_SYSCALL_BIT + 44 },      { LR_SC_SENDMSG, __X32_SYSCALL_BIT + 518 },
	{ LR_SC_SENDMMSG, __X32_SYSCALL_BIT + 538 },
};
static const struct lr_abi_nr i386[] = {
	{ LR_SC_BIND, 361 },	  { LR_SC_CONNECT, 362 },    { LR_SC_LISTEN, 363 },
	{ LR_SC_SHUTDOWN, 373 },  { LR_SC_SETSOCKOPT, 366 }, { LR_SC_EXECVE, 11 },
	{ LR_SC_EXECVE, 358 },	  /* execveat */
	{ LR_SC_IO_URING_SETUP, 425 },
	{ LR_SC_SENDTO, 369 },	  { LR_SC_SENDMSG, 370 },    { LR_SC_SENDMMSG, 345 },
};
const struct lr_abi_nr *const lr_abi_numbers[LR_ABIS] = { native, x32, i386 };
const size_t lr_abi_count[LR_ABIS] = { sizeof(native) / sizeof(native[0]), sizeof(x32) / sizeof(x32[0]),
				       sizeof(i386) / sizeof(i386[0]) };
const uint32_t lr_abi_audit_arch[LR_ABIS] = { AUDIT_ARCH_X86_64, AUDIT_ARCH_X86_64, AUDIT_ARCH_I386 };
#elif defined(__aarch64__)
/* asm-generic/unistd.h. Its 32-bit compat ABI is not decoded: those
 * calls, were a 32-bit ARM program supervised, would be refused. */
static const struct lr_abi_nr native[] = {
	{ LR_SC_BIND, 200 },	   { LR_SC_CONNECT, 203 },    { LR_SC_LISTEN, 201 },
	{ LR_SC_SHUTDOWN, 210 },   { LR_SC_SETSOCKOPT, 208 }, { LR_SC_EXECVE, 221 },
	{ LR_SC_EXECVE, 281 },	   { LR_SC_IO_URING_SETUP, 425 },
	{ LR_SC_SENDTO, 206 },	   { LR_SC_SENDMSG, 211 },    { LR_SC_SENDMMSG, 269 },
};
const struct lr_abi_nr *const lr_abi_numbers[LR_ABIS] = { native, NULL, NULL };
const size_t lr_abi_count[LR_ABIS] = { sizeof(native) / sizeof(native[0]), 0, 0 };
const uint32_t lr_abi_audit_arch[LR_ABIS] = { AUDIT_ARCH_AARCH64, 0, 0 };
#else
#error "the seccomp supervisor knows the x86 and aarch64 system call ABIs only"
#endif

/* Set once by lr_abi_init (or lr_abi_assume_x32), before the workers
 * start; read-only after. */
static bool x32_runs;

void lr_abi_init(void)
{
#if defined(__x86_64__)
	/* getpid by its x32 number. */
	x32_runs = syscall(__X32_SYSCALL_BIT + 39) >= 0 || errno != ENOSYS;
#endif
}

void lr_abi_assume_x32(bool runs)
{
	x32_runs = runs;
}

uint32_t lr_abi_socketcall_of(enum lr_sc op)
{
	switch (op) {
	case LR_SC_BIND: return SYS_BIND;
	case LR_SC_CONNECT: return SYS_CONNECT;
	case LR_SC_LISTEN: return SYS_LISTEN;
	case LR_SC_SHUTDOWN: return SYS_SHUTDOWN;
	case LR_SC_SETSOCKOPT: return SYS_SETSOCKOPT;
	case LR_SC_SENDTO: return SYS_SENDTO;
	case LR_SC_SENDMSG: return SYS_SENDMSG;
	case LR_SC_SENDMMSG: return SYS_SENDMMSG;
	default: return 0;
	}
}

/* The arguments each operation takes, as many words as socketcall's block
 * holds for it. */
static unsigned nargs(enum lr_sc op)
{
	switch (op) {
	case LR_SC_BIND:
	case LR_SC_CONNECT: return 3;
	case LR_SC_LISTEN:
	case LR_SC_SHUTDOWN: return 2;
	case LR_SC_SETSOCKOPT: return 5;
	case LR_SC_SENDTO: return 6;
	case LR_SC_SENDMSG: return 3;
	case LR_SC_SENDMMSG: return 4;
	default: return 0;
	}
}

static enum lr_sc lookup(enum lr_abi abi, uint32_t nr)
{
	for (size_t i = 0; i < lr_abi_count[abi]; i++)
		if (lr_abi_numbers[abi][i].nr == nr)
			return lr_abi_numbers[abi][i].op;
	return LR_SC_OTHER;
}

/* i386's socketcall(call, args): args points to `call`'s arguments as
 * 32-bit words in the program's memory. */
static void socketcall(const struct seccomp_notif *req, struct lr_syscall *out)
{
	uint32_t call = (uint32_t)req->data.args[0];
	enum lr_sc op = LR_SC_OTHER;
	for (enum lr_sc o = LR_SC_BIND; o <= LR_SC_LAST_SOCKETCALL; o++)
		if (lr_abi_socketcall_of(o) == call)
			op = o;
	if (op == LR_SC_OTHER)
		return; /* a sub-call the filter should not have trapped: let it run */
	uint32_t words[6];
	unsigned n = nargs(op);
	if (lr_notify_read((pid_t)req->pid, (uint32_t)req->data.args[1], words, n * sizeof(words[0])) != 0) {
		out->op = LR_SC_UNDECODED;
		snprintf(out->what, sizeof(out->what), "socketcall(%u) whose arguments at 0x%x cannot be read", call,
			 (unsigned)(uint32_t)req->data.args[1]);
		return;
	}
	out->op = op;
	out->compat = true;
	for (unsigned i = 0; i < n; i++)
		out->arg[i] = words[i];
}

void lr_abi_decode(const struct seccomp_notif *req, struct lr_syscall *out)
{
	memset(out, 0, sizeof(*out));
	uint32_t nr = (uint32_t)req->data.nr;
	if (req->data.arch == lr_abi_audit_arch[LR_ABI_NATIVE]) {
		bool x32 = lr_abi_count[LR_ABI_X32] && (nr & __X32_SYSCALL_BIT);
		if (x32 && !x32_runs)
			return; /* LR_SC_OTHER: the kernel says ENOSYS itself */
		out->op = lookup(x32 ? LR_ABI_X32 : LR_ABI_NATIVE, nr);
		out->compat = x32;
		memcpy(out->arg, req->data.args, sizeof(out->arg));
		return;
	}
	if (lr_abi_audit_arch[LR_ABI_I386] && req->data.arch == lr_abi_audit_arch[LR_ABI_I386]) {
		if (nr == LR_I386_SOCKETCALL) {
			socketcall(req, out);
			return;
		}
		out->op = lookup(LR_ABI_I386, nr);
		out->compat = true;
		/* Only the low halves are the program's: `int $0x80` from a
		 * 64-bit program leaves whatever was in the upper ones. */
		for (int i = 0; i < 6; i++)
			out->arg[i] = (uint32_t)req->data.args[i];
		return;
	}
	out->op = LR_SC_UNDECODED;
	snprintf(out->what, sizeof(out->what), "system call %u of an unknown ABI (audit arch 0x%x)", nr,
		 (unsigned)req->data.arch);
}
