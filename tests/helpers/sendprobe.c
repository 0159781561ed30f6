/* An unconnected UDP sender, as SNMP, syslog and metrics clients are: a
 * socket it never binds, and datagrams sent to an address with sendto,
 * sendmsg or sendmmsg. Prints "from PORT" (the source port the socket got)
 * once the datagrams went, or "error ERRNO-NAME" and exits 1.
 *   sendprobe [-6] [-m sendto|sendmsg|sendmmsg] [-n COUNT] HOST PORT
 * Built dynamic (for the library) and static (for the supervisor). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int family = AF_INET, count = 1, opt;
	const char *how = "sendto";
	while ((opt = getopt(argc, argv, "6m:n:")) != -1) {
		switch (opt) {
		case '6': family = AF_INET6; break;
		case 'm': how = optarg; break;
		case 'n': count = atoi(optarg); break;
		default: return 2;
		}
	}
	if (argc - optind != 2 || count < 1 || count > 64)
		return 2;
	struct sockaddr_storage to;
	socklen_t tolen;
	memset(&to, 0, sizeof(to));
	if (family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)&to;
		s->sin_family = AF_INET;
		s->sin_port = htons((uint16_t)atoi(argv[optind + 1]));
		if (inet_pton(AF_INET, argv[optind], &s->sin_addr) != 1)
			return 2;
		tolen = sizeof(*s);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&to;
		s->sin6_family = AF_INET6;
		s->sin6_port = htons((uint16_t)atoi(argv[optind + 1]));
		if (inet_pton(AF_INET6, argv[optind], &s->sin6_addr) != 1)
			return 2;
		tolen = sizeof(*s);
	}
	int fd = socket(family, SOCK_DGRAM, 0);
	if (fd < 0)
		return 1;
	char text[64][32];
	struct iovec iov[64];
	struct mmsghdr vec[64];
	memset(vec, 0, sizeof(vec));
	for (int i = 0; i < count; i++) {
		snprintf(text[i], sizeof(text[i]), "%s %d", how, i + 1);
		iov[i] = (struct iovec){ .iov_base = text[i], .iov_len = strlen(text[i]) };
		vec[i].msg_hdr = (struct msghdr){ .msg_name = &to, .msg_namelen = tolen,
						  .msg_iov = &iov[i], .msg_iovlen = 1 };
	}
	int sent = 0;
	if (strcmp(how, "sendmmsg") == 0) {
		int r = sendmmsg(fd, vec, (unsigned)count, 0);
		sent = r < 0 ? -1 : r;
	} else {
		for (int i = 0; i < count; i++) {
			ssize_t r = strcmp(how, "sendmsg") == 0
					    ? sendmsg(fd, &vec[i].msg_hdr, 0)
					    : sendto(fd, text[i], strlen(text[i]), 0, (struct sockaddr *)&to, tolen);
			if (r < 0) {
				sent = -1;
				break;
			}
			sent++;
		}
	}
	if (sent < count) {
		printf("error %s\n", sent < 0 ? strerrorname_np(errno) : "short");
		return 1;
	}
	struct sockaddr_storage me;
	socklen_t mel = sizeof(me);
	getsockname(fd, (struct sockaddr *)&me, &mel);
	printf("from %u\n", ntohs(family == AF_INET ? ((struct sockaddr_in *)&me)->sin_port
						  : ((struct sockaddr_in6 *)&me)->sin6_port));
	close(fd);
	return 0;
}
