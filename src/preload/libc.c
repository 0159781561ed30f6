#include "libc.h"

#include "fmt.h"
#include "log.h"

#include <elf.h>
#include <errno.h>
#include <link.h>
#include <string.h>

extern char *program_invocation_short_name;

/* Present in glibc alone: a weak reference is NULL anywhere else (musl's
 * loader resolves a missing weak symbol to 0), and the only question asked
 * of it is whether it is there. */
extern const char *gnu_get_libc_version(void) __attribute__((weak));

bool lr_libc_foreign;

bool lr_libc_check(void)
{
#ifdef __GLIBC__
	return !gnu_get_libc_version;
#else
	return gnu_get_libc_version != NULL;
#endif
}

/* The program's interpreter (PT_INTERP), as its first loaded object says. */
static int interp_of_program(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++)
		if (info->dlpi_phdr[i].p_type == PT_INTERP) {
			*(const char **)data = (const char *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
			break;
		}
	return 1; /* the first object is the program */
}

/* Before the program's main and before most constructors: a foreign libc
 * is said once, and every hook passes through from here on. */
__attribute__((constructor(101))) static void lr_libc_constructor(void)
{
	if (!lr_libc_check())
		return;
	lr_libc_foreign = true;
	int saved = errno;
	const char *interp = NULL;
	dl_iterate_phdr(interp_of_program, &interp);
	const char *what = interp && strstr(interp, "musl") ? ": a musl program; this libreuse.so is built for "
			   : gnu_get_libc_version ? ": a glibc program; this libreuse.so is built for "
						  : ": a program of another libc; this libreuse.so is built for ";
	lr_log_capture_stderr();
	struct lr_sink s;
	lr_sink_stderr(&s);
	char line[512];
	struct lr_buf b = LR_BUF(line);
	lr_buf_str(&b, program_invocation_short_name ? program_invocation_short_name : "?");
	lr_buf_str(&b, what);
	lr_buf_str(&b, LR_LIBC_BUILT);
	lr_buf_str(&b, ": its calls are not ruled (libreuse run chooses the library of the program's libc");
	if (interp) {
		lr_buf_str(&b, ", by its interpreter ");
		lr_buf_str(&b, interp);
	}
	lr_buf_str(&b, ")");
	lr_log_message(&s, line);
	errno = saved;
}

#ifdef __GLIBC__
/* glibc links pthread_atfork statically (libc_nonshared.a) as a call to
 * __register_atfork, a symbol of glibc's alone: this one takes its place,
 * weakly bound, so the library still loads where that symbol is missing
 * (where it steps aside and registers nothing). */
extern int __register_atfork(void (*)(void), void (*)(void), void (*)(void), void *)
	__attribute__((weak));
extern void *__dso_handle;
int pthread_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void))
{
	return __register_atfork ? __register_atfork(prepare, parent, child, __dso_handle) : ENOSYS;
}
#endif
