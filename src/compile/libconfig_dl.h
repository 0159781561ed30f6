/* libconfig, opened with dlopen at the first rule parse rather than linked:
 * a program that never opens an IP socket (most of a system-wide install)
 * then never pays for mapping and relocating it, and a machine without
 * libconfig runs its programs untouched instead of failing to start them. */
#ifndef LIBREUSE_LIBCONFIG_DL_H
#define LIBREUSE_LIBCONFIG_DL_H

#include <libconfig.h>
#include <stddef.h>

struct lr_libconfig {
	__typeof__(config_init) *init;
	__typeof__(config_destroy) *destroy;
	__typeof__(config_read_string) *read_string;
	__typeof__(config_set_include_dir) *set_include_dir;
	__typeof__(config_setting_length) *length;
	__typeof__(config_setting_get_elem) *get_elem;
	__typeof__(config_setting_get_bool) *get_bool;
	__typeof__(config_setting_get_int64) *get_int64;
	__typeof__(config_setting_get_string) *get_string;
};

/* The functions, loaded at the first call that succeeds; NULL (why in
 * `why`) when the library or one of its functions cannot be had. Callers
 * must not run it concurrently. */
const struct lr_libconfig *lr_libconfig(char *why, size_t whylen);

#endif
