#include "filter.h"

#include "abi.h"
#include "kernel.h"
#include "rules.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef __X32_SYSCALL_BIT
#define __X32_SYSCALL_BIT 0x40000000u
#endif

#define LR_ARG_LO(i) (offsetof(struct seccomp_data, args) + (i) * sizeof(__u64))

/* A small assembler for the filter: jumps name labels, resolved once the
 * whole program is laid out (classic BPF jumps only forward, by at most
 * 255 instructions; this program is a few dozen long). */
enum label { NEXT = -1, L_NATIVE, L_X32, L_I386, L_SOCKETCALL, L_SOCKOPT, L_NOTIFY, L_ALLOW, LABELS };

struct prog {
	struct sock_filter insn[128];
	int8_t jt[128], jf[128]; /* labels, before resolve() */
	int at[LABELS];
	size_t n;
	bool overflow;
};

static void emit(struct prog *p, uint16_t code, uint32_t k, int jt, int jf)
{
	if (p->n == sizeof(p->insn) / sizeof(p->insn[0])) {
		p->overflow = true;
		return;
	}
	p->insn[p->n] = (struct sock_filter){ .code = code, .k = k };
	p->jt[p->n] = (int8_t)jt;
	p->jf[p->n] = (int8_t)jf;
	p->n++;
}

static void place(struct prog *p, enum label l)
{
	p->at[l] = (int)p->n;
}

static void load(struct prog *p, uint32_t offset)
{
	emit(p, BPF_LD | BPF_W | BPF_ABS, offset, NEXT, NEXT);
}

static void jump_if(struct prog *p, uint32_t k, int target)
{
	emit(p, BPF_JMP | BPF_JEQ | BPF_K, k, target, NEXT);
}

static bool resolve(struct prog *p)
{
	for (size_t i = 0; i < p->n; i++) {
		if (BPF_CLASS(p->insn[i].code) != BPF_JMP)
			continue;
		if (BPF_OP(p->insn[i].code) == BPF_JA) {
			p->insn[i].k = (uint32_t)(p->at[p->jt[i]] - (int)i - 1);
			continue;
		}
		for (int side = 0; side < 2; side++) {
			int l = side ? p->jf[i] : p->jt[i];
			int off = l == NEXT ? 0 : p->at[l] - (int)i - 1;
			if (off < 0 || off > 255)
				return false;
			*(side ? &p->insn[i].jf : &p->insn[i].jt) = (uint8_t)off;
		}
	}
	return !p->overflow;
}

static bool trapped(const struct lr_traps *t, enum lr_sc op)
{
	switch (op) {
	case LR_SC_CONNECT: return t->connect;
	case LR_SC_LISTEN: return t->listen;
	case LR_SC_SHUTDOWN: return t->shutdown;
	case LR_SC_SENDTO:
	case LR_SC_SENDMSG:
	case LR_SC_SENDMMSG: return t->send;
	case LR_SC_OTHER:
	case LR_SC_UNDECODED: return false;
	default: return true;
	}
}

/* One ABI's numbers: each trapped call to the notification, setsockopt to
 * the check of its level and option, the rest allowed. */
static void abi_section(struct prog *p, const struct lr_traps *t, enum lr_abi abi)
{
	for (size_t i = 0; i < lr_abi_count[abi]; i++) {
		const struct lr_abi_nr *x = &lr_abi_numbers[abi][i];
		if (trapped(t, x->op))
			jump_if(p, x->nr, x->op == LR_SC_SETSOCKOPT ? L_SOCKOPT : L_NOTIFY);
	}
	if (abi == LR_ABI_I386)
		jump_if(p, LR_I386_SOCKETCALL, L_SOCKETCALL);
	emit(p, BPF_RET | BPF_K, SECCOMP_RET_ALLOW, NEXT, NEXT);
}

static bool build(struct prog *p, const struct lr_traps *t)
{
	memset(p, 0, sizeof(*p));
	load(p, offsetof(struct seccomp_data, arch));
	jump_if(p, lr_abi_audit_arch[LR_ABI_NATIVE], L_NATIVE);
	if (lr_abi_count[LR_ABI_I386])
		jump_if(p, lr_abi_audit_arch[LR_ABI_I386], L_I386);
	/* No other ABI reaches an x86 kernel; were one to, the supervisor
	 * refuses what it cannot read, and says so. */
	emit(p, BPF_JMP | BPF_JA, 0, L_NOTIFY, NEXT);

	place(p, L_NATIVE);
	load(p, offsetof(struct seccomp_data, nr));
	if (lr_abi_count[LR_ABI_X32])
		emit(p, BPF_JMP | BPF_JSET | BPF_K, __X32_SYSCALL_BIT, L_X32, NEXT);
	abi_section(p, t, LR_ABI_NATIVE);
	place(p, L_X32);
	if (lr_abi_count[LR_ABI_X32])
		abi_section(p, t, LR_ABI_X32);
	place(p, L_I386);
	if (lr_abi_count[LR_ABI_I386]) {
		load(p, offsetof(struct seccomp_data, nr));
		abi_section(p, t, LR_ABI_I386);
	}

	/* socketcall(call, args): the sub-calls trapped, by call; the block
	 * of arguments itself is in the program's memory, read later. */
	place(p, L_SOCKETCALL);
	load(p, LR_ARG_LO(0));
	for (enum lr_sc op = LR_SC_BIND; op <= LR_SC_LAST_SOCKETCALL; op++)
		if (trapped(t, op))
			jump_if(p, lr_abi_socketcall_of(op), L_NOTIFY);
	emit(p, BPF_RET | BPF_K, SECCOMP_RET_ALLOW, NEXT, NEXT);

	/* setsockopt: only SOL_SOCKET, SO_REUSEADDR or SO_REUSEPORT. */
	place(p, L_SOCKOPT);
	load(p, LR_ARG_LO(1));
	emit(p, BPF_JMP | BPF_JEQ | BPF_K, SOL_SOCKET, NEXT, L_ALLOW);
	load(p, LR_ARG_LO(2));
	jump_if(p, SO_REUSEADDR, L_NOTIFY);
	jump_if(p, SO_REUSEPORT, L_NOTIFY);
	emit(p, BPF_RET | BPF_K, SECCOMP_RET_ALLOW, NEXT, NEXT);

	place(p, L_NOTIFY);
	emit(p, BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF, NEXT, NEXT);
	place(p, L_ALLOW);
	emit(p, BPF_RET | BPF_K, SECCOMP_RET_ALLOW, NEXT, NEXT);
	return resolve(p);
}

void lr_traps_of(const struct lr_table *t, struct lr_traps *out)
{
	bool keep = t->keep_all;
	for (size_t i = 0; i < t->nactions; i++)
		keep = keep || t->actions[i].keep;
	bool everything = t->max_level >= LR_LOG_ALL;
	out->connect = everything || t->index[1].nintervals > 0 || t->index[1].linear;
	out->listen = everything || keep;
	out->shutdown = keep;
	/* Not at level "all" alone: every datagram would be trapped. A send
	 * rule (one that only logs will do) asks for them. */
	out->send = (t->ops & LR_OP_SEND) != 0;
}

size_t lr_filter_program(const struct lr_traps *t, struct sock_filter *out, size_t max)
{
	struct prog p;
	if (!build(&p, t) || p.n > max)
		return 0;
	memcpy(out, p.insn, p.n * sizeof(p.insn[0]));
	return p.n;
}

int lr_filter_install(const struct lr_traps *t, char *why, size_t n)
{
	struct prog p;
	if (!build(&p, t)) {
		snprintf(why, n, "the seccomp filter does not fit its own layout (a bug)");
		return -1;
	}
	struct sock_filter *prog = p.insn;
	struct sock_fprog fprog = { .len = (unsigned short)p.n, .filter = prog };
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		snprintf(why, n, "cannot set no_new_privs: %s", strerror(errno));
		return -1;
	}
	/* Once the supervisor has a call, the program's thread waits for the
	 * answer through any non-fatal signal (Linux 5.19): a Go program's
	 * preemption signals then abandon no call half done. */
	long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
			  SECCOMP_FILTER_FLAG_NEW_LISTENER |
				  (lr_kernel_has(LR_K_KILLABLE_RECV) ? SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV : 0),
			  &fprog);
	if (fd < 0) {
		int e = errno;
		snprintf(why, n, "%s",
			 e == EINVAL ? "this kernel has no seccomp user notification (Linux 5.0 or later is needed)" :
			 e == EBUSY  ? "a seccomp listener is already installed for this process (a sandbox or container runtime holds one)" :
			 e == ENOSYS ? "this kernel has no seccomp" :
			 e == EACCES || e == EPERM ? "seccomp was refused here (a sandbox's own filter denies it)" :
						     strerror(e));
		return -1;
	}
	return (int)fd;
}
