#include "filter.h"

#include "kernel.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define LR_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define LR_AUDIT_ARCH AUDIT_ARCH_AARCH64
#else
#error "the seccomp supervisor knows x86-64 and aarch64 system call numbers only"
#endif

#define LR_ARG_LO(i) (offsetof(struct seccomp_data, args) + (i) * sizeof(__u64))
#define LR_JUMP_TO(k, target) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (k), (target), 0)

int lr_filter_install(const struct lr_traps *t, char *why, size_t n)
{
	/* The program: instruction numbers below are fixed by this layout. */
	enum { NOTIFY = 14, ALLOW = 15 };
	struct sock_filter prog[] = {
		/* 0 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		/* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, LR_AUDIT_ARCH, 0, ALLOW - 2),
		/* 2 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		/* 3 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_bind, NOTIFY - 4, 0),
		/* 4 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, t->connect ? __NR_connect : ~0u, NOTIFY - 5, 0),
		/* 5 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, t->listen ? __NR_listen : ~0u, NOTIFY - 6, 0),
		/* 6 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, t->shutdown ? __NR_shutdown : ~0u, NOTIFY - 7, 0),
		/* 7 execve: the supervisor learns the program's new name */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_execve, NOTIFY - 8, 0),
		/* 8 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_setsockopt, 0, ALLOW - 9),
		/* 9 setsockopt: only SOL_SOCKET, SO_REUSEADDR or SO_REUSEPORT */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, LR_ARG_LO(1)),
		/* 10 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SOL_SOCKET, 0, ALLOW - 11),
		/* 11 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, LR_ARG_LO(2)),
		/* 12 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SO_REUSEADDR, NOTIFY - 13, 0),
		/* 13 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SO_REUSEPORT, NOTIFY - 14, ALLOW - 14),
		/* 14 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
		/* 15 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog fprog = { .len = sizeof(prog) / sizeof(prog[0]), .filter = prog };
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
