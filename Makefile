# libreuse — see README.md. `make demo` and `make check` install what they
# need (make deps, through apt) on a fresh Debian 12.

PREFIX     ?= /usr/local
prefix     ?= $(PREFIX)
exec_prefix ?= $(prefix)
bindir     ?= $(exec_prefix)/bin
libdir     ?= $(exec_prefix)/lib
# The 32-bit library's directory (i386 programs).
libdir32   ?= $(exec_prefix)/lib32
# The musl library's directory (programs whose interpreter is musl's
# /lib/ld-musl-*.so.1): beside the glibc one, by libc as the i386 one is by
# class.
libdirmusl ?= $(libdir)/musl
sysconfdir ?= $(prefix)/etc
datarootdir ?= $(prefix)/share
mandir     ?= $(datarootdir)/man
DESTDIR    ?=

VERSION    := 0.1.0
CC         ?= cc
CFLAGS     ?= -O2 -g
INSTALL    ?= install

# Appended to whatever the caller gave: these are not optional.
override CFLAGS += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -fPIC \
	-fvisibility=hidden -fno-strict-aliasing \
	-fstack-protector-strong -Wformat -Werror=format-security \
	-DLR_SYSCONFDIR='"$(sysconfdir)"' -DLR_LIBDIR='"$(libdir)"' -DLR_LIBDIR32='"$(libdir32)"' -DLR_LIBDIRMUSL='"$(libdirmusl)"' -DLR_BINDIR='"$(bindir)"' -DLR_VERSION='"$(VERSION)"'
# relro as in Debian's default hardening; not -z now (bindnow): resolving every
# symbol of a preloaded library eagerly costs each program's start-up.
override LDFLAGS += -Wl,-z,relro

# make check SANITIZE=address,undefined (or thread): the whole suite, with
# the sanitizer runtime preloaded before libreuse for integration tests.
SANITIZE ?=
comma := ,
ifneq ($(SANITIZE),)
override CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -O1
override LDFLAGS += -fsanitize=$(SANITIZE)
# Its own tree: objects built with and without a sanitizer never mix.
B := build/sanitize-$(subst $(comma),-,$(SANITIZE))
# Programs the sanitized shim is preloaded into need the runtime loaded
# first: the sanitized `libreuse run` puts it there.
SAN_RT := $(if $(findstring address,$(SANITIZE)),libasan.so,$(if $(findstring thread,$(SANITIZE)),libtsan.so,libubsan.so))
override CFLAGS += -DLR_SANITIZER_RUNTIME='"$(shell $(CC) -print-file-name=$(SAN_RT))"'
else
override CFLAGS += -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=2
B := build
endif

# arm64 (issue 29): `make ARCH=arm64 all` cross-builds the library and the
# command into build/arm64 with Debian's cross toolchain (make arm64-deps).
# clang as the compiler, over gcc's arm64 cross libc and libgcc: Debian 12's
# gcc-aarch64-linux-gnu conflicts with gcc-multilib, which make deps
# installs (and, installed by any check, takes the cross gcc away).
# The command opens libconfig with dlopen: no arm64 libconfig at build time.
# i386 is not built there (no -m32 for that target).
ARCH ?=
ARM64_CC ?= clang --target=aarch64-linux-gnu
ifeq ($(ARCH),arm64)
CC := $(ARM64_CC)
B := build/arm64
# clang's, of rule files written as adjacent literals on purpose (the unit
# tests'); gcc ignores an unknown -Wno-.
override CFLAGS += -Wno-string-concatenation
# DWARF 4, as gcc 12 writes it: clang 14's default DWARF 5 is more than
# Debian 12's dwz reads (make deb).
override CFLAGS += -gdwarf-4
export GOARCH := arm64
else ifneq ($(ARCH),)
$(error ARCH=$(ARCH): only arm64 is known (empty: this machine's))
endif
LIB := $(B)/libreuse.so
# The same library for i386 programs, from the same sources with -m32,
# wherever the compiler can link one (gcc-multilib, from make deps). Not in
# sanitizer builds: their 32-bit runtimes are another package.
LIB32 := $(B)/i386/libreuse.so
CAN_M32 := $(if $(SANITIZE),,$(shell printf 'int main(void){return 0;}\n' | \
	$(CC) -m32 -x c - -o /dev/null 2>/dev/null && echo yes))
# The same library for musl programs (Alpine's libc), from the same sources
# with musl-gcc (musl-tools, from make deps), wherever it is installed. Not in
# sanitizer builds either, nor in a cross build (ARCH=arm64: musl-gcc
# builds for this machine).
MUSL_CC ?= musl-gcc
LIBMUSL := $(B)/musl/libreuse.so
CAN_MUSL := $(if $(SANITIZE)$(ARCH),,$(shell command -v $(MUSL_CC) >/dev/null 2>&1 && echo yes))

# The tree shows the layers, bottom up; a folder's code may include the
# headers of the folders its INC_ line names, and no others (the compile
# rules below pass exactly those -I):
#   src/base     what knows nothing of rules: addresses, formatting, errno
#                names, raw syscalls, file identity, children, ELF facts
#   src/rules    the decision: rules, their compiled table and its lookup,
#                the pure policy
#   src/log      what is said: events, sinks, who holds a port, why Linux
#                refused
#   src/keep     what program and keeper say to each other; the one client
#   src/core     what every front end calls: the rules in force for a
#                program, and carrying out a decision on a socket
#   src/compile  rule file -> table (libconfig): the command only
#   src/launch   starting programs, probing the kernel: the command only
# and the front ends on them: src/preload (the hooks inside the program),
# src/supervisor (the same rules from outside, by seccomp user
# notification), src/keeper (holds kept sockets across restarts) and
# src/command (the `libreuse` command).
INC_base       := base
INC_rules      := base rules
INC_log        := base rules log
INC_keep       := base rules keep
INC_core       := base rules log keep core
INC_compile    := base rules log keep core compile
INC_launch     := base launch
# launch: the header run writes the exec hooks' environment by (runenv.h).
INC_preload    := base rules log keep core launch preload
INC_keeper     := base rules log keep core launch keeper
INC_supervisor := base rules log keep core compile launch supervisor
INC_command    := base rules log keep core compile launch keeper supervisor command
# The -I of the folder of source $(1).
incs = $(addprefix -Isrc/,$(INC_$(word 2,$(subst /, ,$(1)))))

# libreuse.so holds what runs in the host, and nothing else: the library
# folders, and the hooks. The command holds the library folders but the
# hooks, the compiler, the launch path and its three front ends.
LIB_DIRS := base rules log keep core
TOOL_DIRS := compile launch
CORE_SRC := $(foreach d,$(LIB_DIRS),$(sort $(wildcard src/$(d)/*.c)))
PARSE_SRC := $(foreach d,$(TOOL_DIRS),$(sort $(wildcard src/$(d)/*.c)))
PRELOAD_SRC := $(sort $(wildcard src/preload/*.c))
CLI_SRC := $(sort $(wildcard src/command/*.c))
KEEPER_SRC := $(sort $(wildcard src/keeper/*.c))
SUPERVISOR_SRC := $(sort $(wildcard src/supervisor/*.c))
CORE_OBJ := $(CORE_SRC:src/%.c=$(B)/obj/%.o)
PARSE_OBJ := $(PARSE_SRC:src/%.c=$(B)/obj/%.o)
PRELOAD_OBJ := $(PRELOAD_SRC:src/%.c=$(B)/obj/%.o)
# The library's objects are built apart from the command's: without
# _FORTIFY_SOURCE, whose __*_chk functions only glibc has, so that the
# library loads under any libc's loader (a musl child of a ruled glibc
# parent inherits LD_PRELOAD) and can step aside there (libc.c).
SHIM_OBJ := $(CORE_OBJ:$(B)/obj/%=$(B)/objso/%) $(PRELOAD_OBJ:$(B)/obj/%=$(B)/objso/%)
# The library folders serve the command too (who, matrix, the supervisor):
# what of them the hooks never reach is dropped from libreuse.so at link
# (t_layout.sh checks no compiler symbol is left).
SHIM_CFLAGS := -U_FORTIFY_SOURCE -ffunction-sections -fdata-sections
SHIM_LDFLAGS := -Wl,--gc-sections
SHIM32_OBJ := $(SHIM_OBJ:$(B)/objso/%=$(B)/obj32/%)
SHIMMUSL_OBJ := $(SHIM_OBJ:$(B)/objso/%=$(B)/objmusl/%)
CLI_OBJ := $(CLI_SRC:src/%.c=$(B)/obj/%.o) $(KEEPER_SRC:src/%.c=$(B)/obj/%.o) \
	   $(SUPERVISOR_SRC:src/%.c=$(B)/obj/%.o)
CLI := $(B)/libreuse
# Every header: a change to one rebuilds what might include it.
CORE_H := $(wildcard src/*/*.h)
# What a unit test, a fuzzer or a bench program sees: every library and
# tool folder.
TEST_INC := $(addprefix -Isrc/,$(LIB_DIRS) $(TOOL_DIRS))

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
HELPER_LIBS := tests/helpers/libearly.c tests/helpers/libcount.c tests/helpers/libfailmalloc.c \
	tests/helpers/libfailfork.c tests/helpers/libexecnote.c
HELPER_SRC := $(filter-out $(HELPER_LIBS),$(wildcard tests/helpers/*.c))
HELPER_BIN := $(HELPER_SRC:tests/helpers/%.c=$(B)/helpers/%) $(HELPER_LIBS:tests/helpers/%.c=$(B)/helpers/%.so)

# libconfig is opened with dlopen at the first rule parse (src/compile/libconfig_dl.c),
# by this soname: the one the installed libconfig-dev links against.
LIBCONFIG_SONAME := $(shell objdump -p "$$($(CC) -print-file-name=libconfig.so)" 2>/dev/null | awk '/SONAME/ { print $$2 }')
override CFLAGS += $(if $(LIBCONFIG_SONAME),-DLR_LIBCONFIG_SONAME='"$(LIBCONFIG_SONAME)"')

# Everything the build and the tests use, from Debian.
DEPS_PKGS := gcc make libconfig-dev libcmocka-dev pkg-config socat python3 nginx-light h2o \
	gcc-multilib musl-tools liburing-dev iproute2 util-linux groff-base binutils valgrind systemd bash-completion man-db \
	debhelper dpkg-dev fakeroot lintian golang-go busybox-static lighttpd openssh-server curl \
	redis-server redis-tools memcached ruby nodejs openjdk-17-jdk-headless tcl netcat-openbsd wget \
	haproxy dnsmasq-base bind9-dnsutils openssl rsync sslh \
	unbound nsd knot bind9 pdns-recursor exim4-daemon-light dovecot-imapd postgresql mariadb-server mosquitto beanstalkd nats-server \
	freeradius freeradius-utils openvpn chrony coturn snmpd snmp apache2 h2o caddy varnish squid tinyproxy privoxy \
	stunnel4 ncat iperf3 tor icecast2 prosody ngircd dropbear-bin vsftpd git
# Tools that follow a program's children, run over the library's start
# (t_escapes_start.sh).
DEPS_PKGS += strace gdb

.PHONY: all deps bench-deps kernel-deps check-kernel systemd-deps check-systemd check unit integration demo bench bench-doc install uninstall clean print-sysconfdir deb \
	matrix-doc fuzz fuzz-deps

all: $(LIB) $(CLI) $(if $(CAN_M32),$(LIB32)) $(if $(CAN_MUSL),$(LIBMUSL))

# A real 32-bit program from Debian, where the registry serves i386; where
# it does not, i386 is taken away again (its missing indexes would fail
# every later apt-get update) and t_abi.sh says it used what builds here.
DEPS_I386_PKGS := netcat-traditional:i386

# The sweep's servers are packages whose postinst would start the machine's
# own services (apache2 on :80, bind9, postgresql...): for the length of the
# install, a policy-rc.d that says no, unless the machine has one already.
deps:
	@missing=$$(for p in $(DEPS_PKGS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "make deps: installing" $$missing; \
		guard=; if [ ! -e /usr/sbin/policy-rc.d ]; then guard=yes; \
			printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d; fi; \
		apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
		rc=$$?; [ -z "$$guard" ] || rm -f /usr/sbin/policy-rc.d; exit $$rc; \
	fi
	@missing=$$(for p in $(DEPS_I386_PKGS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ] && [ "$$(dpkg --print-architecture)" = amd64 ]; then \
		echo "make deps: adding i386 for" $$missing; \
		had=$$(dpkg --print-foreign-architectures | grep -qx i386 && echo yes); \
		{ dpkg --add-architecture i386 && apt-get update -qq && \
		  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; } || \
		{ echo "make deps: the registry did not serve i386 ($$missing): skipped"; \
		  [ -n "$$had" ] || dpkg --remove-architecture i386 || true; }; \
	fi

$(B)/obj/%.o: src/%.c $(CORE_H)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(call incs,$<) -c $< -o $@

$(B)/objso/%.o: src/%.c $(CORE_H)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SHIM_CFLAGS) $(call incs,$<) -c $< -o $@

$(LIB): $(SHIM_OBJ) src/preload/libreuse.map
	$(CC) $(CFLAGS) -shared -Wl,--version-script=src/preload/libreuse.map $(SHIM_LDFLAGS) -Wl,-z,defs $(LDFLAGS) \
		-o $@ $(SHIM_OBJ)

$(B)/obj32/%.o: src/%.c $(CORE_H)
	@mkdir -p $(@D)
	$(CC) -m32 $(CFLAGS) $(SHIM_CFLAGS) $(call incs,$<) -c $< -o $@

$(LIB32): $(SHIM32_OBJ) src/preload/libreuse.map
	@mkdir -p $(@D)
	$(CC) -m32 $(CFLAGS) -shared -Wl,--version-script=src/preload/libreuse.map $(SHIM_LDFLAGS) -Wl,-z,defs $(LDFLAGS) \
		-o $@ $(SHIM32_OBJ)

# musl's headers come without the kernel's: the library reads a few
# (sock_diag, close_range) from Debian's, through links to them alone.
MUSL_KINC := $(B)/musl/kernel-include
$(MUSL_KINC):
	@mkdir -p $@
	ln -sfn /usr/include/linux $@/linux
	ln -sfn /usr/include/asm-generic $@/asm-generic
	ln -sfn /usr/include/$(shell $(CC) -print-multiarch)/asm $@/asm

MUSL_CFLAGS = $(filter-out -DLR_SANITIZER_RUNTIME=%,$(CFLAGS)) $(SHIM_CFLAGS) -isystem $(MUSL_KINC)
# The hooks see musl's few gaps filled (libc.h).
$(B)/objmusl/%.o: src/%.c $(CORE_H) | $(MUSL_KINC)
	@mkdir -p $(@D)
	$(MUSL_CC) $(MUSL_CFLAGS) $(call incs,$<) $(if $(findstring src/preload/,$<),-include src/preload/libc.h) -c $< -o $@

# Linked with no DT_NEEDED on musl's libc.so: its symbols come from the
# program's libc whichever it is, so that a glibc child of a ruled musl
# parent, which inherits LD_PRELOAD, still starts (glibc's loader would
# refuse musl's libc.so) and the library steps aside there (libc.c).
# -z defs is checked by a first link against musl's libc.
$(LIBMUSL): $(SHIMMUSL_OBJ) src/preload/libreuse.map
	@mkdir -p $(@D)
	$(MUSL_CC) $(MUSL_CFLAGS) -shared -Wl,--version-script=src/preload/libreuse.map $(SHIM_LDFLAGS) -Wl,-z,defs $(LDFLAGS) \
		-o $@.defs $(SHIMMUSL_OBJ)
	$(MUSL_CC) $(MUSL_CFLAGS) -shared -nostdlib -Wl,--version-script=src/preload/libreuse.map $(SHIM_LDFLAGS) $(LDFLAGS) \
		-o $@ $(SHIMMUSL_OBJ) -lgcc
	rm -f $@.defs

$(CLI): $(CLI_OBJ) $(CORE_OBJ) $(PARSE_OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(CLI_OBJ) $(CORE_OBJ) $(PARSE_OBJ) -lm -lpthread

# The keeper's tables, tested without a keeper.
KEEPER_UNIT_OBJ := $(addprefix $(B)/obj/keeper/,conns.o outsiders.o peer.o)
$(B)/tests/test_keeper: tests/unit/test_keeper.c $(CORE_OBJ) $(PARSE_OBJ) $(KEEPER_UNIT_OBJ) | $(B)/tests
	$(CC) $(CFLAGS) $(TEST_INC) -Isrc/keeper $< $(KEEPER_UNIT_OBJ) $(CORE_OBJ) $(PARSE_OBJ) $(LDFLAGS) -o $@ -lcmocka

# The supervisor's ABI layer and filter, run without a supervisor.
ABI_UNIT_OBJ := $(addprefix $(B)/obj/supervisor/,abi.o filter.o notify.o)
$(B)/tests/test_abi: tests/unit/test_abi.c $(CORE_OBJ) $(PARSE_OBJ) $(ABI_UNIT_OBJ) | $(B)/tests
	$(CC) $(CFLAGS) $(TEST_INC) -Isrc/supervisor $< $(ABI_UNIT_OBJ) $(CORE_OBJ) $(PARSE_OBJ) $(LDFLAGS) -o $@ -lcmocka -lpthread

$(B)/tests/%: tests/unit/%.c $(CORE_OBJ) $(PARSE_OBJ) $(wildcard tests/unit/*.h) | $(B)/tests
	$(CC) $(CFLAGS) $(TEST_INC) $< $(CORE_OBJ) $(PARSE_OBJ) $(LDFLAGS) -o $@ -lcmocka
# The hooks' gate is tested whole: its source is included by the test.
$(B)/tests/test_gate: src/preload/gate.c src/preload/gate.h
$(B)/tests/test_environ: src/preload/environ.c src/preload/environ.h

# A helper may speak our wire formats (their headers, no code).
$(B)/helpers/%: tests/helpers/%.c | $(B)/helpers
	$(CC) $(CFLAGS) $(TEST_INC) $< $(LDFLAGS) -o $@ -ldl

# Every function name libconfig.so.9 exports, each defined to abort: the
# host t_foreign.sh runs under rules, exported as lighttpd exports its own.
$(B)/helpers/confighost_names.c: | $(B)/helpers
	nm -D --defined-only "$$($(CC) -print-file-name=libconfig.so)" | \
		awk '$$2 == "T" && $$3 !~ /^_/ { print "void " $$3 "(void) { abort(); }" }' | \
		{ echo '#include <stdlib.h>'; cat; } >$@
	test "$$(grep -c abort $@)" -ge 50

$(B)/helpers/confighost: tests/helpers/confighost.c $(B)/helpers/confighost_names.c
	$(CC) $(CFLAGS) -Wno-missing-prototypes -rdynamic $^ $(LDFLAGS) -o $@

$(B)/helpers/configuser: tests/helpers/configuser.c | $(B)/helpers
	$(CC) $(CFLAGS) $< $(LDFLAGS) -o $@ -lconfig

$(B)/helpers/lib%.so: tests/helpers/lib%.c | $(B)/helpers
	$(CC) $(CFLAGS) -fvisibility=default -shared $< $(LDFLAGS) -o $@

# A host that exports __register_atfork, to count who registers fork handlers.
$(B)/helpers/atforkprobe: tests/helpers/atforkprobe.c | $(B)/helpers
	$(CC) $(CFLAGS) -rdynamic $< $(LDFLAGS) -o $@ -ldl

# A program that uses an io_uring, as liburing users do.
$(B)/helpers/uringprobe: tests/helpers/uringprobe.c | $(B)/helpers
	$(CC) $(CFLAGS) $< $(LDFLAGS) -o $@ -luring

# i386 builds of a few helpers, dynamic and static: the 32-bit library's
# tests and the supervisor's.
HELPERS32 := bindprobe connprobe tinyserver sendprobe
HELPER32_BIN := $(if $(CAN_M32),$(HELPERS32:%=$(B)/helpers/i386/%) $(HELPERS32:%=$(B)/helpers/i386/%-static))
$(B)/helpers/i386/%-static: tests/helpers/%.c
	@mkdir -p $(@D)
	$(CC) -m32 -static $(CFLAGS) $< $(LDFLAGS) -o $@
$(B)/helpers/i386/%: tests/helpers/%.c
	@mkdir -p $(@D)
	$(CC) -m32 $(CFLAGS) $< $(LDFLAGS) -o $@

# musl builds of two helpers (dynamic, as Alpine's) for the musl library's
# tests, and a static x86-64 one for the exec hooks' (t_exec.sh).
HELPERS_MUSL := bindprobe tinyserver execprobe
HELPER_MUSL_BIN := $(if $(CAN_MUSL),$(HELPERS_MUSL:%=$(B)/helpers/musl/%)) $(B)/helpers/static/bindprobe
$(B)/helpers/musl/%: tests/helpers/%.c
	@mkdir -p $(@D)
	$(MUSL_CC) $(filter-out -DLR_SANITIZER_RUNTIME=% -fsanitize=%,$(CFLAGS)) $< -o $@
$(B)/helpers/static/%: tests/helpers/%.c
	@mkdir -p $(@D)
	$(CC) -static $(filter-out -fsanitize=%,$(CFLAGS)) $< -o $@

# An unconnected UDP sender no LD_PRELOAD reaches: op = "send" under the
# supervisor.
$(B)/helpers/sendprobe-static: tests/helpers/sendprobe.c | $(B)/helpers
	$(CC) -static $(filter-out -fsanitize=%,$(CFLAGS)) $< $(filter-out -fsanitize=%,$(LDFLAGS)) -o $@

# Go programs for the seccomp supervisor's tests, static as Go builds them;
# goserver386 is GOARCH=386, whose runtime makes its socket calls through
# socketcall(2).
GO_HELPERS := $(B)/helpers/goserver $(B)/helpers/goclient $(B)/helpers/goserver386
$(B)/helpers/goserver386: tests/helpers/go/server.go | $(B)/helpers
	CGO_ENABLED=0 GOARCH=386 GOCACHE=$(CURDIR)/build/gocache GOPATH=$(CURDIR)/build/gopath go build -o $@ $<
$(B)/helpers/goserver: tests/helpers/go/server.go | $(B)/helpers
	CGO_ENABLED=0 GOCACHE=$(CURDIR)/build/gocache GOPATH=$(CURDIR)/build/gopath go build -o $@ $<
$(B)/helpers/goclient: tests/helpers/go/client.go | $(B)/helpers
	CGO_ENABLED=0 GOCACHE=$(CURDIR)/build/gocache GOPATH=$(CURDIR)/build/gopath go build -o $@ $<

$(B)/helpers/early: tests/helpers/early.c $(B)/helpers/libearly.so
	$(CC) $(CFLAGS) $< $(LDFLAGS) -L$(B)/helpers -learly -Wl,-rpath,'$$ORIGIN' -o $@

$(B)/tests $(B)/helpers $(B)/fuzz:
	mkdir -p $@

unit: $(UNIT_BIN)
# The fuzz targets as plain programs that replay files: make check runs the
# seeds and every input a fuzzer found (tests/fuzz/regressions).
REPLAY_BIN := $(B)/fuzz/replay_config $(B)/fuzz/replay_addr $(B)/fuzz/replay_table
$(B)/fuzz/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c $(CORE_OBJ) $(PARSE_OBJ) | $(B)/fuzz
	$(CC) $(CFLAGS) $(TEST_INC) tests/fuzz/fuzz_$*.c tests/fuzz/replay.c $(CORE_OBJ) $(PARSE_OBJ) $(LDFLAGS) -o $@

integration: $(LIB) $(CLI) $(HELPER_BIN) $(HELPER32_BIN) $(HELPER_MUSL_BIN) $(REPLAY_BIN) $(GO_HELPERS) $(B)/helpers/sendprobe-static

check: deps
	$(MAKE) SANITIZE='$(SANITIZE)' all unit integration
	SANITIZE='$(SANITIZE)' LIBREUSE_BUILD='$(CURDIR)/$(B)' tests/run.sh $(UNIT_BIN)

# $(call apt_optional,TARGET,PACKAGES): installs what of PACKAGES is missing;
# a failure is said and not fatal (the target's script then says "skipped").
apt_optional = @missing=$$(for p in $(2); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "make $(1): installing" $$missing; \
		apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing || \
		echo "make $(1): could not install $$missing"; \
	fi

# Debian 12's own kernel under qemu (tests/kernel/boot.sh): qemu and what
# builds the initramfs; the kernel package itself is downloaded, not
# installed. Not part of make check: CI runs it on its own, bounded.
KERNEL_PKGS := qemu-system-x86 cpio xz-utils

kernel-deps: deps
	$(call apt_optional,kernel-deps,$(KERNEL_PKGS))

check-kernel: kernel-deps
	$(MAKE) all integration
	LIBREUSE_BUILD='$(CURDIR)/$(B)' timeout 660 tests/kernel/boot.sh

# The supervisor's system call numbers, per ABI, from the target's kernel
# headers (issues 26, 29): each header's __NR_<name> as LR_NR_<ABI>_<name>,
# so that x86-64, x32 and i386 can be in one build. A header that gave no
# bind is an error, not an empty table.
SYSNR_HDRS := $(if $(filter arm64,$(ARCH)),NATIVE:asm/unistd.h,NATIVE:asm/unistd_64.h X32:asm/unistd_x32.h I386:asm/unistd_32.h)
$(B)/gen/sysnr.h: Makefile
	@mkdir -p $(@D)
	for h in $(SYSNR_HDRS); do \
		printf '#include <%s>\n' "$${h#*:}" | $(CC) -E -dM -x c - | \
		sed -n "s/^#define __NR_\([a-z0-9_]*\) /#define LR_NR_$${h%%:*}_\1 /p"; \
	done >$@.tmp
	test "$$(grep -c '^#define LR_NR_[A-Z0-9]*_bind ' $@.tmp)" = $(words $(SYSNR_HDRS))
	mv $@.tmp $@
$(B)/obj/supervisor/abi.o: $(B)/gen/sysnr.h
$(B)/obj/supervisor/abi.o: override CFLAGS += -I$(B)/gen

# arm64 (issue 29): the cross toolchain (see ARM64_CC) and the emulators,
# installed by their own target, not by make deps.
ARM64_PKGS := clang binutils-aarch64-linux-gnu libc6-dev-arm64-cross libgcc-12-dev-arm64-cross \
	qemu-user-static qemu-system-arm cpio xz-utils

.PHONY: arm64-deps arm64-programs check-arm64 bench-arm64
# make deb ARCH=arm64: the package cross-built (debian/rules passes ARCH on);
# the build dependencies are not checked (-d): they are amd64's here.
DEB_CROSS := $(if $(filter arm64,$(ARCH)),-a arm64 -d)
# Also the arm64 userland and kernel the checks run on (build/arm64-root,
# build/arm64-kernel; debootstrap, about 10 minutes the first time).
arm64-deps: deps
	$(call apt_optional,arm64-deps,$(ARM64_PKGS) debootstrap)
	tests/arm64/root.sh

# What check-arm64 runs, cross-built: the library, the command, the unit
# tests (cmocka from the arm64 root) and the helpers that are not x86's own
# (abicalls) nor need an arm64 library we do not have (libconfig-dev,
# liburing-dev).
ARM64_SYSLIB := build/arm64/syslib
ARM64_HELPERS := $(filter-out $(addprefix $(B)/helpers/,abicalls confighost configuser uringprobe),$(HELPER_BIN)) \
	$(B)/helpers/goserver $(B)/helpers/goclient
arm64-programs:
	@[ "$(ARCH)" = arm64 ] || { echo "make arm64-programs: with ARCH=arm64"; exit 2; }
	mkdir -p $(ARM64_SYSLIB)
	ln -sf $(CURDIR)/build/arm64-root/usr/lib/aarch64-linux-gnu/libcmocka.so.0 $(ARM64_SYSLIB)/libcmocka.so
	$(MAKE) ARCH=arm64 LDFLAGS=-L$(ARM64_SYSLIB) all unit $(ARM64_HELPERS)

# arm64, bounded to 10 minutes: the library's tests under qemu-user in a
# chroot of the arm64 root (tests/arm64/user.sh), then the supervisor's,
# the keeper's and the probes' in Debian's arm64 kernel under
# qemu-system-aarch64 (tests/arm64/vm.sh). Each says "skipped" in one line
# where it cannot run.
check-arm64: arm64-deps
	$(MAKE) ARCH=arm64 arm64-programs
	timeout 660 tests/arm64/check.sh

# arm64's figures (issue 29), emulated: the arm64 build under qemu-user
# beside this machine's own, run the same way (tests/arm64/bench.sh; needs
# make arm64-deps, which it does not run). Not a test: it writes its section
# of docs/performance.md. Bounded to 3 minutes.
bench-arm64:
	$(MAKE) ARCH=arm64 all build/arm64/bench/workload build/arm64/bench/passthru.so
	$(MAKE) ARCH= all build/bench/workload build/bench/passthru.so
	timeout --kill-after=5 180 tests/arm64/bench.sh --write

# systemd as PID 1 of a container over this machine's /usr
# (tests/systemd/boot.sh), with the package built here installed for the
# run. Not part of make check: CI runs it on its own, bounded.
SYSTEMD_PKGS := systemd-container

systemd-deps: deps
	$(call apt_optional,systemd-deps,$(SYSTEMD_PKGS))

check-systemd: systemd-deps
	$(MAKE) all integration
	LIBREUSE_BUILD='$(CURDIR)/$(B)' timeout 600 tests/systemd/boot.sh
	timeout 600 tests/systemd/audit.sh

# The benchmark's own tools, on top of the build's.
BENCH_PKGS := valgrind strace wrk

bench-deps: deps
	@missing=$$(for p in $(BENCH_PKGS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "make bench-deps: installing" $$missing; \
		apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(B)/bench/workload: tests/bench/workload.c | $(B)/bench
	$(CC) $(CFLAGS) $< $(LDFLAGS) -o $@

$(B)/bench/workload32: tests/bench/workload.c | $(B)/bench
	$(CC) -m32 -static $(CFLAGS) $< $(LDFLAGS) -o $@

# The seccomp supervisor's floors: a supervisor that answers CONTINUE, and
# one that makes the least a rewrite needs (issue 27).
$(B)/bench/supfloor: tests/bench/supfloor.c | $(B)/bench
	$(CC) $(CFLAGS) $< $(LDFLAGS) -o $@

$(B)/bench/passthru.so: tests/bench/passthru.c | $(B)/bench
	$(CC) $(CFLAGS) -shared $< $(LDFLAGS) -o $@

$(B)/bench/loadtime: tests/bench/loadtime.c $(CORE_OBJ) $(PARSE_OBJ) | $(B)/bench
	$(CC) $(CFLAGS) $(TEST_INC) $< $(CORE_OBJ) $(PARSE_OBJ) $(LDFLAGS) -o $@

$(B)/bench:
	mkdir -p $@

# Not a test: every figure beside its floor, printed and written to
# $(B)/bench/results.json; docs/performance.md's generated block and
# docs/performance-floors.svg rewritten from that file (bench-doc alone
# rewrites them from the last results, measuring nothing).
bench: bench-deps
	$(MAKE) all $(B)/bench/workload $(if $(CAN_M32),$(B)/bench/workload32) $(B)/bench/passthru.so \
		$(B)/bench/loadtime $(B)/bench/supfloor $(B)/helpers/keepflood $(B)/helpers/firstcost
	python3 tests/bench/bench.py $(B)/bench/results.json
	python3 tests/bench/perfdoc.py $(B)/bench/results.json docs/performance.md

bench-doc:
	python3 tests/bench/perfdoc.py $(B)/bench/results.json docs/performance.md

demo: deps
	$(MAKE) all
	demo/run-all.sh

# libFuzzer (clang): each target for FUZZ_SECONDS, seeded from config/ and
# tests/fuzz/; a crash leaves its input in build/fuzz/ and fails. Copy it to
# tests/fuzz/regressions/<target>/ once fixed: make check replays it.
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS := -g -O1 -std=c11 -D_GNU_SOURCE $(TEST_INC) -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -DLR_SYSCONFDIR='"$(sysconfdir)"' -DLR_VERSION='"$(VERSION)"'

fuzz-deps: deps
	@dpkg -s clang >/dev/null 2>&1 || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends clang; }

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(CORE_SRC) $(PARSE_SRC) $(CORE_H)
	@mkdir -p build/fuzz
	clang $(FUZZ_CFLAGS) $< $(CORE_SRC) $(PARSE_SRC) -o $@

# Table images to start from: the example rule files, compiled by the
# command as the library's helper would give them (current format).
build/fuzz/seeds-table: $(CLI) $(wildcard config/*.conf)
	rm -rf $@ && mkdir -p $@
	for f in config/*.conf; do $(CLI) compile --helper --stdin -c $$f <$$f >$@/$$(basename $$f .conf) || exit 1; done

fuzz: fuzz-deps
	$(MAKE) build/fuzz/fuzz_config build/fuzz/fuzz_addr build/fuzz/fuzz_table build/fuzz/seeds-table
	mkdir -p build/fuzz/corpus-config build/fuzz/corpus-addr build/fuzz/corpus-table
	ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=tests/fuzz/lsan.supp build/fuzz/fuzz_config -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
		-timeout=10 -artifact_prefix=build/fuzz/config- build/fuzz/corpus-config config \
		tests/fuzz/regressions/config
	ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=tests/fuzz/lsan.supp build/fuzz/fuzz_addr -max_total_time=$(FUZZ_SECONDS) -max_len=256 \
		-timeout=10 -artifact_prefix=build/fuzz/addr- build/fuzz/corpus-addr tests/fuzz/seeds-addr \
		tests/fuzz/regressions/addr
	ASAN_OPTIONS=detect_leaks=1 build/fuzz/fuzz_table -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
		-timeout=10 -artifact_prefix=build/fuzz/table- build/fuzz/corpus-table build/fuzz/seeds-table \
		tests/fuzz/regressions/table

# docs/matrix.md: what the running kernel lets two sockets share, dated.
matrix-doc: $(CLI)
	{ echo '# What Linux lets two sockets share: a measured run'; echo; \
	  echo 'Written by `make matrix-doc` from `libreuse matrix` (run as root, on loopback).'; \
	  echo 'Re-run it on your kernel: the cells are measured, not recalled.'; echo; \
	  echo '```'; $(CLI) matrix; echo '```'; } > docs/matrix.md

install: $(LIB) $(CLI) $(if $(CAN_M32),$(LIB32)) $(if $(CAN_MUSL),$(LIBMUSL))
	$(INSTALL) -d $(DESTDIR)$(libdir) $(DESTDIR)$(bindir) $(DESTDIR)$(sysconfdir) \
		$(DESTDIR)$(mandir)/man1 $(DESTDIR)$(mandir)/man5 $(DESTDIR)$(mandir)/man7
	$(INSTALL) -m 0644 $(LIB) $(DESTDIR)$(libdir)/libreuse.so
	$(if $(CAN_M32),$(INSTALL) -D -m 0644 $(LIB32) $(DESTDIR)$(libdir32)/libreuse.so)
	$(if $(CAN_MUSL),$(INSTALL) -D -m 0644 $(LIBMUSL) $(DESTDIR)$(libdirmusl)/libreuse.so)
	$(INSTALL) -m 0755 $(CLI) $(DESTDIR)$(bindir)/libreuse
	$(INSTALL) -m 0644 docs/libreuse.1 $(DESTDIR)$(mandir)/man1/libreuse.1
	$(INSTALL) -m 0644 docs/libreuse.conf.5 $(DESTDIR)$(mandir)/man5/libreuse.conf.5
	$(INSTALL) -m 0644 docs/libreuse.7 $(DESTDIR)$(mandir)/man7/libreuse.7
	$(INSTALL) -D -m 0644 completion/libreuse $(DESTDIR)$(datarootdir)/bash-completion/completions/libreuse

uninstall:
	rm -f $(DESTDIR)$(libdir)/libreuse.so $(DESTDIR)$(libdir32)/libreuse.so \
		$(DESTDIR)$(libdirmusl)/libreuse.so $(DESTDIR)$(bindir)/libreuse \
		$(DESTDIR)$(mandir)/man1/libreuse.1 $(DESTDIR)$(mandir)/man5/libreuse.conf.5 \
		$(DESTDIR)$(mandir)/man7/libreuse.7 \
		$(DESTDIR)$(datarootdir)/bash-completion/completions/libreuse

# The Debian package, built from a copy of the tree in build/deb (so the
# tree stays clean and the .deb lands in build/), and checked by lintian.
deb: deps
	rm -rf build/deb
	mkdir -p build/deb/libreuse-$(VERSION)
	tar --exclude=./build --exclude=./.git -cf - . | tar -xf - -C build/deb/libreuse-$(VERSION)
	cd build/deb/libreuse-$(VERSION) && dpkg-buildpackage -b -us -uc $(DEB_CROSS)
	cp build/deb/libreuse_$(VERSION)_*.deb build/
	lintian --fail-on error build/libreuse_$(VERSION)_*.deb

clean:
	rm -rf build

# Where the built library looks for the system rule file (tests use it).
print-sysconfdir:
	@echo $(sysconfdir)
