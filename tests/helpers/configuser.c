/* configuser FILE: a program that links libconfig itself (as Debian's
 * daemons that use it do): reads "port" from FILE with libconfig, binds
 * 127.0.0.1 there and prints what it read and where it bound. Under
 * libreuse its own libconfig must work as without. */
#include <arpa/inet.h>
#include <libconfig.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>

int main(int argc, char **argv)
{
	config_t cf;
	int port = 0;
	config_init(&cf);
	if (argc != 2 || config_read_file(&cf, argv[1]) != CONFIG_TRUE ||
	    !config_lookup_int(&cf, "port", &port)) {
		printf("config error\n");
		return 1;
	}
	const char *name = "?";
	config_lookup_string(&cf, "name", &name);
	printf("name %s\n", name);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	printf("bind %s\n", bind(s, (struct sockaddr *)&a, sizeof(a)) == 0 ? "ok" : "failed");
	config_destroy(&cf);
	return 0;
}
