# postern - top-level build.  See README.md.
#
#   make            build every program into build/
#   make asan       the same tree with AddressSanitizer + UBSan into build-asan/
#   make fuzz       libFuzzer targets (clang) into build-fuzz/
#   make check      install missing dependencies, build all three, run the suite
#   make demo       run the sandbox demo in ./sandbox (no root, nothing installed)
#   make bench      the benchmarks: postern next to Postfix, with ratios (root)

CC       ?= cc
BUILD    ?= build
WERROR   ?= -Werror
OPT      ?= -O2 -g
HARDEN   ?= -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
CPPFLAGS += -D_GNU_SOURCE -Ilib
CFLAGS   += -std=c11 -Wall -Wextra $(WERROR) $(OPT) $(HARDEN)
LDHARDEN ?= -pie -Wl,-z,relro,-z,now
LDFLAGS  += $(LDHARDEN)
LIBS_OWFAT = -l:libowfat.a   # static: no relocation cost per exec, no runtime package
LIBS_SSL   = $(shell pkg-config --libs openssl 2>/dev/null)
LIBS_SD    = $(shell pkg-config --libs libsystemd 2>/dev/null)
CFLAGS   += $(shell pkg-config --cflags openssl libsystemd 2>/dev/null)

# Programs as NAME:DIRECTORY:MAIN-FILE.  A file holding main() is named
# main.c or main_<something>.c; every other .c file of the directory goes
# into build/obj/DIR/dir.a, linked into each program of that directory and
# into its unit tests.  A program is built once its main file exists.
PROGS = spool-inject:spool-inject:main.c \
        smtp-listen:smtp-receive:main_listen.c \
        sendmail:spool-inject/sendmail:main.c \
        postern-maps:maps:main.c \
        smtp-receive:smtp-receive:main.c \
        queue-run:queue-run:main.c \
        local-spawn:queue-run:main_local_spawn.c \
        remote-spawn:queue-run:main_remote_spawn.c \
        remote-send:remote-send:main.c \
        local-deliver:local-deliver:main.c
# Libraries beyond libowfat, per program: OpenSSL only where TLS is spoken.
# smtp-receive loads it from postern-tls.so only when a session starts TLS
# (smtp-receive/tlsload.c).
LIBS_remote-send  = $(LIBS_SSL)
LIBS_queue-run    = $(LIBS_SD)
# Another directory's code, per program: local-spawn runs local-deliver's
# in its forked child instead of executing it (doc/architecture.md).
DIRS_local-spawn  = $(BUILD)/obj/local-deliver/dir.a
# Linked statically (static-pie): the program run once per message, which
# needs nothing of libc that loads modules (no NSS, no dlopen); saves the
# dynamic loader's work on every exec.  Not in the sanitizer build.
STATIC ?= -static-pie
LDFLAGS_spool-inject = $(STATIC)

field = $(word $(2),$(subst :, ,$(1)))
PROGS_PRESENT = $(foreach p,$(PROGS),$(if $(wildcard $(call field,$(p),2)/$(call field,$(p),3)),$(p)))
PROGRAMS = $(foreach p,$(PROGS_PRESENT),$(call field,$(p),1))
DIRS = spool-inject spool-inject/sendmail maps smtp-receive queue-run remote-send local-deliver

LIB_SRC  = $(sort $(wildcard lib/*.c))
LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
LIBA     = $(BUILD)/libpostern.a

UNIT_SRC = $(sort $(wildcard lib/tests/test_*.c $(addsuffix /tests/test_*.c,$(DIRS))))
UNIT_BIN = $(foreach s,$(UNIT_SRC),$(BUILD)/unit/$(subst /,_,$(basename $(s))))
FUZZ_SRC = $(sort $(wildcard lib/fuzz/fuzz_*.c $(addsuffix /fuzz/fuzz_*.c,$(DIRS))))

all: deps-build $(addprefix $(BUILD)/,$(PROGRAMS)) $(BUILD)/postern-tls.so $(UNIT_BIN)

deps-build:
	@tools/deps build
deps-demo:
	@tools/deps demo
deps-test:
	@tools/deps test

$(BUILD)/obj/%.o: %.c $(wildcard lib/*.h $(addsuffix /*.h,$(DIRS)))
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(LIBA): $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

# dir.a: the non-main objects of a program directory
dirsrc = $(filter-out $(1)/main.c $(1)/main_%.c,$(wildcard $(1)/*.c))
define dirlib
$(BUILD)/obj/$(1)/dir.a: $(patsubst %.c,$(BUILD)/obj/%.o,$(call dirsrc,$(1)))
	@mkdir -p $$(dir $$@)
	rm -f $$@
	ar rcs $$@ $$^
endef
$(foreach d,$(DIRS),$(eval $(call dirlib,$(d))))

define program
$(BUILD)/$(call field,$(1),1): $(BUILD)/obj/$(call field,$(1),2)/$(basename $(call field,$(1),3)).o $(BUILD)/obj/$(call field,$(1),2)/dir.a $(DIRS_$(call field,$(1),1)) $(LIBA)
	$$(CC) $$(CFLAGS) $$(LDFLAGS) $$(LDFLAGS_$(call field,$(1),1)) -o $$@ $$^ $(LIBS_OWFAT) $$(LIBS_$(call field,$(1),1))
endef
$(foreach p,$(PROGS_PRESENT),$(eval $(call program,$(p))))

# lib/tls.c as a shared object, which smtp-receive dlopens for STARTTLS
$(BUILD)/postern-tls.so: lib/tls.c lib/num.c lib/tls.h lib/num.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -fPIC -shared -Wl,-z,relro,-z,now -Wl,-Bsymbolic -o $@ lib/tls.c lib/num.c $(LIBS_SSL)

# A unit test dir/tests/test_x.c links dir.a of its directory and lib/.
unitdir = $(patsubst %/tests/,%,$(dir $(1)))
define unit
$(BUILD)/unit/$(subst /,_,$(basename $(1))): $(BUILD)/obj/$(basename $(1)).o $(if $(filter lib,$(call unitdir,$(1))),,$(BUILD)/obj/$(call unitdir,$(1))/dir.a) $(LIBA)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CFLAGS) $$(LDFLAGS) -o $$@ $$^ $(LIBS_OWFAT) $$(LIBS_SSL) $$(LIBS_SD)
endef
$(foreach s,$(UNIT_SRC),$(eval $(call unit,$(s))))

asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all" \
	  HARDEN="-fPIE" LDHARDEN="-pie -fsanitize=address,undefined" STATIC=

# Each fuzz target is compiled with all of lib/ and the non-main files of
# its own directory.
fuzz: deps-build
	@mkdir -p build-fuzz
	@for f in $(FUZZ_SRC); do \
	  n=$$(basename $$f .c); d=$$(dirname $$(dirname $$f)); \
	  extra=""; [ "$$d" = lib ] || extra=$$(ls $$d/*.c | grep -v -e '/main\.c$$' -e '/main_[^/]*\.c$$'); \
	  echo "clang $$f -> build-fuzz/$$n"; \
	  clang -std=c11 -D_GNU_SOURCE -Ilib -I$$d -g -O1 -fsanitize=fuzzer,address,undefined \
	    -o build-fuzz/$$n $$f $(LIB_SRC) $$extra -lowfat $(LIBS_SSL) || exit 1; \
	done

# check and demo install what is missing first, then build in a second make
# so that pkg-config answers for packages installed a moment ago.
check: deps-test
	$(MAKE) all
	$(MAKE) asan
	$(MAKE) fuzz
	tests/run

# Benchmarks: postern next to Postfix, figures and ratios (bench/run);
# BENCH=NAME... runs only those (deployed strace-count smtp-receive ...).
bench: deps-test
	$(MAKE) all
	bench/run $(BENCH)

demo: deps-demo
	$(MAKE) all
	tools/demo

clean:
	rm -rf build build-asan build-fuzz sandbox

.PHONY: all asan fuzz check demo bench clean deps-build deps-demo deps-test

# Installing (tools/install; README "Installing").  DESTDIR: an image or
# chroot to install into; PREFIX: where programs go (default /usr).
DESTDIR ?=
PREFIX  ?= /usr
install: all
	DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" BUILD="$(BUILD)" tools/install install
install-hub: install
	DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" BUILD="$(BUILD)" tools/install hub
install-nullclient: install
	DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" BUILD="$(BUILD)" tools/install nullclient
uninstall:
	DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" BUILD="$(BUILD)" tools/install uninstall
.PHONY: install install-hub install-nullclient uninstall
