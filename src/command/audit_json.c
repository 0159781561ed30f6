#include "audit_json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define AJ_DEPTH_MAX 16

struct parser {
	const char *p, *end;
};

static void skip_blanks(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static int hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static size_t put_utf8(char *out, unsigned cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	out[0] = (char)(0xe0 | cp >> 12);
	out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
	out[2] = (char)(0x80 | (cp & 0x3f));
	return 3;
}

/* At the opening quote; the unescaped string (never longer than the
 * escaped one), or NULL. */
static char *parse_string(struct parser *ps)
{
	if (ps->p >= ps->end || *ps->p != '"')
		return NULL;
	ps->p++;
	const char *start = ps->p;
	char *out = malloc((size_t)(ps->end - start) + 1), *o = out;
	if (!out)
		return NULL;
	while (ps->p < ps->end) {
		unsigned char c = (unsigned char)*ps->p++;
		if (c == '"') {
			*o = '\0';
			return out;
		}
		if (c < 0x20)
			break;
		if (c != '\\') {
			*o++ = (char)c;
			continue;
		}
		if (ps->p >= ps->end)
			break;
		char e = *ps->p++;
		switch (e) {
		case '"': case '\\': case '/': *o++ = e; continue;
		case 'b': *o++ = '\b'; continue;
		case 'f': *o++ = '\f'; continue;
		case 'n': *o++ = '\n'; continue;
		case 'r': *o++ = '\r'; continue;
		case 't': *o++ = '\t'; continue;
		case 'u': {
			if (ps->end - ps->p < 4)
				goto bad;
			unsigned cp = 0;
			for (int i = 0; i < 4; i++) {
				int h = hex(ps->p[i]);
				if (h < 0)
					goto bad;
				cp = cp << 4 | (unsigned)h;
			}
			ps->p += 4;
			/* Surrogates and NUL are not what a log line holds: a
			 * stand-in keeps the string's length bound (\uXXXX is 6
			 * bytes, the output at most 3). */
			if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff))
				cp = '?';
			o += put_utf8(o, cp);
			continue;
		}
		default:
			goto bad;
		}
	}
bad:
	free(out);
	return NULL;
}

static struct aj *parse_value(struct parser *ps, int depth);

static struct aj *new_node(enum aj_type t)
{
	struct aj *v = calloc(1, sizeof(*v));
	if (v)
		v->type = t;
	return v;
}

static bool literal(struct parser *ps, const char *word)
{
	size_t n = strlen(word);
	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
		return false;
	ps->p += n;
	return true;
}

static struct aj *parse_number(struct parser *ps)
{
	char tmp[64];
	size_t n = 0;
	while (ps->p + n < ps->end && n < sizeof(tmp) - 1 && strchr("+-0123456789.eE", ps->p[n]) &&
	       ps->p[n])
		n++;
	if (!n || n == sizeof(tmp) - 1)
		return NULL;
	memcpy(tmp, ps->p, n);
	tmp[n] = '\0';
	char *endp;
	double d = strtod(tmp, &endp);
	if (endp != tmp + n || !isfinite(d))
		return NULL;
	ps->p += n;
	struct aj *v = new_node(AJ_NUM);
	if (v)
		v->num = d;
	return v;
}

/* Elements of an array or members of an object, up to the closing char. */
static struct aj *parse_list(struct parser *ps, int depth, bool object)
{
	struct aj *v = new_node(object ? AJ_OBJ : AJ_ARR), **tail;
	if (!v)
		return NULL;
	tail = &v->child;
	ps->p++;
	skip_blanks(ps);
	char close = object ? '}' : ']';
	if (ps->p < ps->end && *ps->p == close) {
		ps->p++;
		return v;
	}
	for (;;) {
		char *key = NULL;
		skip_blanks(ps);
		if (object) {
			if (!(key = parse_string(ps)))
				goto bad;
			skip_blanks(ps);
			if (ps->p >= ps->end || *ps->p != ':') {
				free(key);
				goto bad;
			}
			ps->p++;
		}
		struct aj *e = parse_value(ps, depth + 1);
		if (!e) {
			free(key);
			goto bad;
		}
		e->key = key;
		*tail = e;
		tail = &e->next;
		skip_blanks(ps);
		if (ps->p >= ps->end)
			goto bad;
		if (*ps->p == ',') {
			ps->p++;
			continue;
		}
		if (*ps->p == close) {
			ps->p++;
			return v;
		}
		goto bad;
	}
bad:
	aj_free(v);
	return NULL;
}

static struct aj *parse_value(struct parser *ps, int depth)
{
	if (depth > AJ_DEPTH_MAX)
		return NULL;
	skip_blanks(ps);
	if (ps->p >= ps->end)
		return NULL;
	switch (*ps->p) {
	case '{': return parse_list(ps, depth, true);
	case '[': return parse_list(ps, depth, false);
	case '"': {
		char *s = parse_string(ps);
		struct aj *v = s ? new_node(AJ_STR) : NULL;
		if (!v) {
			free(s);
			return NULL;
		}
		v->str = s;
		return v;
	}
	case 'n': return literal(ps, "null") ? new_node(AJ_NULL) : NULL;
	case 't':
	case 'f': {
		bool b = *ps->p == 't';
		if (!literal(ps, b ? "true" : "false"))
			return NULL;
		struct aj *v = new_node(AJ_BOOL);
		if (v)
			v->b = b;
		return v;
	}
	default: return parse_number(ps);
	}
}

struct aj *aj_parse(const char *text, size_t len)
{
	struct parser ps = { text, text + len };
	struct aj *v = parse_value(&ps, 0);
	skip_blanks(&ps);
	if (v && ps.p != ps.end) {
		aj_free(v);
		return NULL;
	}
	return v;
}

void aj_free(struct aj *v)
{
	/* Siblings iteratively, children recursively: depth is bounded. */
	while (v) {
		struct aj *next = v->next;
		aj_free(v->child);
		free(v->str);
		free(v->key);
		free(v);
		v = next;
	}
}

const struct aj *aj_get(const struct aj *obj, const char *key)
{
	if (!obj || obj->type != AJ_OBJ)
		return NULL;
	for (const struct aj *m = obj->child; m; m = m->next)
		if (m->key && strcmp(m->key, key) == 0)
			return m;
	return NULL;
}

const char *aj_str(const struct aj *obj, const char *key)
{
	const struct aj *m = aj_get(obj, key);
	return m && m->type == AJ_STR ? m->str : NULL;
}

long aj_int(const struct aj *obj, const char *key, long def)
{
	const struct aj *m = aj_get(obj, key);
	if (!m || m->type != AJ_NUM || m->num < -2147483648.0 || m->num > 2147483647.0)
		return def;
	return (long)m->num;
}
