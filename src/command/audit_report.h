/* The audit's report: text for a person (80 columns, colour only on a
 * terminal) and one JSON document for programs (schema in libreuse(7)). */
#ifndef LIBREUSE_AUDIT_REPORT_H
#define LIBREUSE_AUDIT_REPORT_H

#include "audit_model.h"

#include <stdbool.h>
#include <stdio.h>

void au_report_text(FILE *out, const struct au_model *m, bool colour);
void au_report_json(FILE *out, const struct au_model *m);

/* The verdict in plain words: up to three sentences, each a line. */
size_t au_verdict_words(const struct au_prog *p, char out[3][256]);

/* "127.0.0.1:80", "[::1]:80" from the log's address and port. */
void au_hostport(char *buf, size_t n, const char *addr, int port);

#endif
