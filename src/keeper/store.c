#include "store.h"

#include "rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

void lr_store_describe(char *buf, size_t n, const struct lr_keep_sock *k)
{
	char a[64];
	lr_format_addr(a, sizeof(a), &k->addr, k->port);
	snprintf(buf, n, "%s %s%s", k->proto == LR_PROTO_TCP ? "tcp" : "udp", a,
		 k->family == AF_INET6 ? (k->v6only ? " (IPv6 only)" : " (dual-stack)") : "");
}

int lr_store_offer(struct lr_store *s, int fd, unsigned gen, char *why, size_t n)
{
	struct lr_keep_sock id;
	struct stat st;
	int listening = 0;
	socklen_t len = sizeof(listening);
	if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode) || lr_keep_identify(fd, &id) != 0) {
		snprintf(why, n, "not a bound TCP or UDP socket");
		close(fd);
		return -1;
	}
	if (id.proto == LR_PROTO_TCP &&
	    (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening)) {
		snprintf(why, n, "a TCP socket is kept once it listens");
		close(fd);
		return -1;
	}
	for (size_t i = 0; i < s->n; i++) {
		if (s->v[i].ino == st.st_ino) {
			/* An old instance offering again does not take it back. */
			if (gen > s->v[i].taken_gen)
				s->v[i].taken_gen = gen;
			close(fd);
			return 0;
		}
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		struct lr_kept *v = realloc(s->v, cap * sizeof(*v));
		if (!v) {
			snprintf(why, n, "out of memory");
			close(fd);
			return -1;
		}
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = (struct lr_kept){ .fd = fd, .id = id, .ino = st.st_ino, .taken_gen = gen };
	return 0;
}

int lr_store_adopt(struct lr_store *s, const struct lr_keep_sock *want, unsigned gen, char *why,
		   size_t n)
{
	bool all_mine = false;
	const struct lr_kept *near = NULL, *newer = NULL;
	why[0] = '\0';
	for (size_t i = 0; i < s->n; i++) {
		struct lr_kept *k = &s->v[i];
		if (lr_keep_same(&k->id, want)) {
			if (k->taken_gen < gen) {
				k->taken_gen = gen;
				return k->fd;
			}
			if (k->taken_gen == gen)
				all_mine = true;
			else
				newer = k;
		} else if (k->id.proto == want->proto && k->id.port == want->port) {
			near = k;
		}
	}
	/* An older instance binding again while a newer one serves: the same
	 * socket, shared. */
	if (newer)
		return newer->fd;
	char have[96], asked[96];
	if (all_mine) {
		/* It binds the port once more (SO_REUSEPORT): a new socket, kept in
		 * its turn. */
		return -1;
	}
	if (near) {
		lr_store_describe(have, sizeof(have), &near->id);
		lr_store_describe(asked, sizeof(asked), want);
		snprintf(why, n, "the kept socket %s is not the one asked for (%s): not taken", have, asked);
	}
	return -1;
}

bool lr_store_all_taken(const struct lr_store *s, unsigned gen)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].taken_gen != gen)
			return false;
	return true;
}

void lr_store_free(struct lr_store *s)
{
	for (size_t i = 0; i < s->n; i++)
		close(s->v[i].fd);
	free(s->v);
	memset(s, 0, sizeof(*s));
}
