/* The system call ABIs a supervised program may use — on x86-64: x86-64,
 * x32, and i386 (a 32-bit program, or `int $0x80` from a 64-bit one),
 * including i386's socketcall(2); on arm64: aarch64 — turned into one call
 * shape, so that the handlers never see which ABI a call came by. The filter (filter.c) traps the calls
 * this layer names, by the numbers it gives for each ABI. */
#ifndef LIBREUSE_ABI_H
#define LIBREUSE_ABI_H

#include <linux/seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum lr_sc {
	LR_SC_OTHER, /* not one the supervisor acts on: it runs as asked */
	LR_SC_BIND,
	LR_SC_CONNECT,
	LR_SC_LISTEN,
	LR_SC_SHUTDOWN,
	LR_SC_SETSOCKOPT,
	/* Trapped only under a rule with op = "send": a socket's first
	 * datagram is where the kernel binds it. */
	LR_SC_SENDTO,
	LR_SC_SENDMSG,
	LR_SC_SENDMMSG,
	LR_SC_EXECVE,
	LR_SC_IO_URING_SETUP,
	LR_SC_UNDECODED, /* trapped but not understood: refused with ENOSYS, and said */
};

/* A trapped call in one shape: the arguments the socket call itself takes
 * (bind(fd, addr, len), setsockopt(fd, level, name, val, len)...), each as
 * wide as the ABI made it (a 32-bit program's pointers are zero-extended).
 * `what` says, for LR_SC_UNDECODED, what it was. */
struct lr_syscall {
	enum lr_sc op;
	uint64_t arg[6];
	/* A 32-bit ABI's call (x32, i386): the structures it points to (a
	 * msghdr) have 32-bit pointers. */
	bool compat;
	char what[96];
};

/* Once, before the first decode: whether this kernel runs x32 calls at all
 * (CONFIG_X86_X32_ABI, and Debian's syscall.x32= boot switch). Where it
 * does not, an x32 call is left to the kernel, which refuses it (ENOSYS):
 * acting on it would make a call work that without libreuse cannot. */
void lr_abi_init(void);
/* The same, told rather than probed (the tests: x32 runs on few kernels). */
void lr_abi_assume_x32(bool runs);

/* Decodes one notification. A socketcall's argument block is copied out
 * of the program (never written); the caller checks the call is still
 * waiting (SECCOMP_IOCTL_NOTIF_ID_VALID) before acting on what was read,
 * as for any other memory of the program's. */
void lr_abi_decode(const struct seccomp_notif *req, struct lr_syscall *out);

/* The numbers the filter traps, per ABI: the call each is, and its number
 * (x32's carry __X32_SYSCALL_BIT). For i386, socketcall is one entry whose
 * sub-calls (SYS_BIND...) the filter tells apart by its first argument. */
struct lr_abi_nr {
	enum lr_sc op;
	uint32_t nr;
};
/* NATIVE is x86-64 (or aarch64, whose build has no other ABI: the other
 * two are then empty). */
enum lr_abi { LR_ABI_NATIVE, LR_ABI_X32, LR_ABI_I386, LR_ABIS };
extern const struct lr_abi_nr *const lr_abi_numbers[LR_ABIS];
extern const size_t lr_abi_count[LR_ABIS];
extern const uint32_t lr_abi_audit_arch[LR_ABIS]; /* 0: no such ABI in this build */

/* i386's socketcall number, and its sub-call for each operation (0: none);
 * the operations socketcall carries run from LR_SC_BIND to this one. */
#define LR_SC_LAST_SOCKETCALL LR_SC_SENDMMSG
#define LR_I386_SOCKETCALL 102u /* asm/unistd_32.h's: abi.c checks it at build time */
uint32_t lr_abi_socketcall_of(enum lr_sc op);

#endif
