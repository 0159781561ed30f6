/* loadtime FILE ROUNDS: median wall time of reading, validating and
 * compiling a rule file (what `libreuse run` and `libreuse compile`, or the
 * library's helper, do before a program's first IP socket call), and the
 * compiled table's size. */
#include "compile.h"
#include "config.h"
#include "rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	int rounds = atoi(argv[2]);
	double *ms = calloc((size_t)rounds, sizeof(double));
	size_t bytes = 0;
	for (int i = 0; i < rounds; i++) {
		struct timespec a, b;
		struct lr_ruleset rs;
		char err[512];
		clock_gettime(CLOCK_MONOTONIC, &a);
		lr_ruleset_init(&rs);
		if (lr_config_load_file(argv[1], &rs, err, sizeof(err)) != LR_CONFIG_OK) {
			fprintf(stderr, "%s\n", err);
			return 1;
		}
		struct lr_table *t = lr_table_compile(&rs, "workload", "workload");
		lr_ruleset_free(&rs);
		clock_gettime(CLOCK_MONOTONIC, &b);
		bytes = t->image_len;
		lr_table_free(t);
		ms[i] = (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6;
	}
	qsort(ms, (size_t)rounds, sizeof(double), cmp);
	printf("%.2f %zu\n", ms[rounds / 2], bytes);
	return 0;
}
