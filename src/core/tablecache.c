#include "tablecache.h"

#include "fmt.h"
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* Built with lr_buf, not snprintf: the first socket call formats nothing
 * it does not write (snprintf's code and stack are pages a fresh program
 * would fault in for it). 0, or -1 when it does not fit (a path one byte
 * short of n is taken as not fitting: lr_buf cannot tell it from one cut). */
static int fits(const struct lr_buf *b)
{
	return b->len + 1 < b->cap ? 0 : -1;
}

int lr_cache_dir(const struct lr_sources *src, char *out, size_t n)
{
	const char *env = src->secure || !src->env ? NULL : src->env("LIBREUSE_CACHE_DIR");
	const char *xdg = src->secure || !src->env ? NULL : src->env("XDG_RUNTIME_DIR");
	struct lr_buf b = { .p = out, .len = 0, .cap = n };
	if (!n)
		return -1;
	out[0] = '\0';
	if (src->cache_dir) {
		lr_buf_str(&b, src->cache_dir);
	} else if (env && env[0] == '/') {
		lr_buf_str(&b, env);
	} else if (xdg && xdg[0] == '/') {
		lr_buf_str(&b, xdg);
		lr_buf_str(&b, "/libreuse");
	} else {
		uid_t euid = geteuid();
		lr_buf_str(&b, euid == 0 ? "/run/libreuse" : "/tmp/libreuse-");
		if (euid != 0)
			lr_buf_u64(&b, euid);
	}
	return b.len > 0 ? fits(&b) : -1;
}

int lr_cache_path(const struct lr_sources *src, const char *dir, char *out, size_t n)
{
	char v[16];
	struct lr_buf vb = LR_BUF(v);
	lr_buf_char(&vb, 'v');
	lr_buf_u64(&vb, LR_TABLE_VERSION);
	uint64_t h = lr_text_hash(src->config_path, src->inline_hash ^ lr_text_hash(v, 0));
	struct lr_buf b = { .p = out, .len = 0, .cap = n };
	if (!n)
		return -1;
	out[0] = '\0';
	lr_buf_str(&b, dir);
	lr_buf_char(&b, '/');
	lr_buf_hex(&b, h, 16);
	lr_buf_str(&b, ".table");
	return fits(&b);
}

const char *lr_cache_distrust_as(const struct stat *st, uid_t *euid)
{
	/* root's own (a system service's cache) asks no euid. */
	if (st->st_uid != 0 && *euid == (uid_t)-1)
		*euid = geteuid();
	if (st->st_uid != 0 && st->st_uid != *euid)
		return "owned by another user";
	if (st->st_mode & (S_IWGRP | S_IWOTH))
		return "writable by others";
	return NULL;
}

const char *lr_cache_distrust(const struct stat *st)
{
	uid_t euid = (uid_t)-1;
	return lr_cache_distrust_as(st, &euid);
}

void lr_image_release(void *image, size_t len)
{
	if (image)
		munmap(image, len ? len : 1);
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int lr_image_read(int fd, size_t size, size_t max, int deadline_ms, void **image, size_t *len,
		  const char **why)
{
	long long end = deadline_ms >= 0 ? now_ms() + deadline_ms : 0;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	/* A known size is had in one mapping whose pages are made at once,
	 * not one fault at a time as the read reaches them; a byte more, so
	 * that the read that finds the end needs no second one. */
	bool known = size && size < max;
	size_t cap = known ? (size + page) / page * page : 64 << 10, n = 0;
	char *buf = mmap(NULL, cap, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | (known ? MAP_POPULATE : 0), -1, 0);
	if (buf == MAP_FAILED) {
		*why = "out of memory";
		return -1;
	}
	for (;;) {
		if (n == cap) {
			if (cap > max) {
				munmap(buf, cap);
				*why = "too large";
				return -1;
			}
			char *bigger = mremap(buf, cap, cap * 2, MREMAP_MAYMOVE);
			if (bigger == MAP_FAILED) {
				munmap(buf, cap);
				*why = "out of memory";
				return -1;
			}
			buf = bigger;
			cap *= 2;
		}
		if (deadline_ms >= 0) {
			long long left = end - now_ms();
			struct pollfd p = { .fd = fd, .events = POLLIN };
			int r = left > 0 ? poll(&p, 1, (int)left) : 0;
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				munmap(buf, cap);
				*why = r == 0 ? "timed out" : "cannot read";
				return -1;
			}
		}
		ssize_t got = read(fd, buf + n, cap - n);
		if (got < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (got < 0) {
			munmap(buf, cap);
			*why = "cannot read";
			return -1;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	if (n > max) {
		munmap(buf, cap);
		*why = "too large";
		return -1;
	}
	/* What the program holds of it is read-only from here on. */
	mprotect(buf, cap, PROT_READ);
	/* The mapping is cap bytes; lr_image_release is given len, and munmap
	 * of a shorter length would leave the tail mapped: keep them equal by
	 * trimming the tail now. */
	size_t keep = n ? (n + page - 1) / page * page : page;
	if (keep < cap)
		munmap(buf + keep, cap - keep);
	*image = buf;
	*len = n;
	return 0;
}

static bool source_is(const struct lr_tf_source *s, const struct lr_file_id *id)
{
	if (!id->exists)
		return s->dev == 0 && s->ino == 0; /* recorded as absent, and still is */
	return s->dev == (uint64_t)id->dev && s->ino == (uint64_t)id->ino &&
	       s->size == (uint64_t)id->size && s->mtime_sec == (uint64_t)id->mtime.tv_sec &&
	       s->mtime_nsec == (uint32_t)id->mtime.tv_nsec;
}

bool lr_table_fresh(const struct lr_table *t, const struct lr_sources *src,
		    const struct lr_file_id *config)
{
	if (lr_table_inline_hash(t) != src->inline_hash)
		return false;
	size_t n;
	const struct lr_tf_source *s = lr_table_sources(t, &n);
	bool has_config = false;
	for (size_t i = 0; i < n; i++) {
		const char *path = lr_table_str(t, s[i].path);
		if (!path)
			return false;
		/* The rule file was looked at once by the caller: not again. */
		bool is_config = strcmp(path, src->config_path) == 0;
		struct lr_file_id id = is_config && config ? *config : lr_file_id_of(path);
		if (!source_is(&s[i], &id))
			return false;
		has_config = has_config || is_config;
	}
	/* Compiled from another file of the same name hash: not ours. */
	return has_config;
}

bool lr_table_source_id(const struct lr_table *t, const char *path, struct lr_file_id *out)
{
	size_t n;
	const struct lr_tf_source *s = lr_table_sources(t, &n);
	for (size_t i = 0; i < n; i++) {
		const char *p = lr_table_str(t, s[i].path);
		if (!p || strcmp(p, path) != 0)
			continue;
		memset(out, 0, sizeof(*out));
		out->exists = s[i].dev || s[i].ino;
		if (out->exists) {
			out->dev = (dev_t)s[i].dev;
			out->ino = (ino_t)s[i].ino;
			out->size = (off_t)s[i].size;
			out->mtime.tv_sec = (time_t)s[i].mtime_sec;
			out->mtime.tv_nsec = (long)s[i].mtime_nsec;
		}
		return true;
	}
	return false;
}
