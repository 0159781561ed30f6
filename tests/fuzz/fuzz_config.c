/* Fuzz target: the rule-file loader and validator, then the compiler and a
 * few lookups on whatever loaded. Any input must give OK or an error with a
 * message — never a crash, a leak, or an exit. */
#include "compile.h"
#include "addrparse.h"
#include "config.h"
#include "rules.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	char err[1024];
	struct lr_ruleset rs;
	lr_ruleset_init(&rs);
	enum lr_config_result r = lr_config_load_text(text, "fuzz", NULL, &rs, err, sizeof(err));
	if (r == LR_CONFIG_ERROR && (err[0] == '\0' || !memchr(err, '\0', sizeof(err))))
		abort(); /* every error must say something */
	if (r == LR_CONFIG_OK) {
		struct lr_table *t = lr_table_compile(&rs, "prog", "prog");
		if (t) {
			struct lr_call c = { .op = LR_OP_BIND, .proto = LR_PROTO_TCP };
			lr_parse_addr("127.0.0.1", &c.addr);
			for (unsigned port = 0; port < 65536; port += 4093) {
				c.port = (uint16_t)port;
				lr_table_match(t, &c);
				c.op = LR_OP_CONNECT;
				lr_table_match(t, &c);
				c.op = LR_OP_BIND;
			}
			lr_table_free(t);
		}
	}
	lr_ruleset_free(&rs);
	free(text);
	return 0;
}
