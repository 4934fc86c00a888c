# postern - top-level build.  See README.md.
#
#   make            build every program into build/
#   make asan       the same tree with AddressSanitizer + UBSan into build-asan/
#   make fuzz       libFuzzer targets (clang) into build-fuzz/
#   make check      install missing dependencies, build all three, run the suite
#   make demo       run the sandbox demo in ./sandbox (no root, nothing installed)

CC       ?= cc
BUILD    ?= build
WERROR   ?= -Werror
OPT      ?= -O2 -g
HARDEN   ?= -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
CPPFLAGS += -D_GNU_SOURCE -Ilib
CFLAGS   += -std=c11 -Wall -Wextra $(WERROR) $(OPT) $(HARDEN)
LDHARDEN ?= -pie -Wl,-z,relro,-z,now
LDFLAGS  += $(LDHARDEN)
LIBS_OWFAT = -lowfat
LIBS_SSL   = $(shell pkg-config --libs openssl 2>/dev/null)
LIBS_SD    = $(shell pkg-config --libs libsystemd 2>/dev/null)
CFLAGS   += $(shell pkg-config --cflags openssl libsystemd 2>/dev/null)

# Programs: each directory's main.c plus its other .c files (tests excluded).
PROGRAMS = spool-inject $(if $(wildcard maps/main.c),postern-maps)

LIB_SRC  = $(sort $(wildcard lib/*.c))
LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
LIBA     = $(BUILD)/libpostern.a

spool-inject_SRC = $(wildcard spool-inject/*.c)
postern-maps_SRC = $(wildcard maps/*.c)

# Unit tests: dir/tests/test_*.c, each linked with its directory's
# non-main objects and lib/.
UNIT_SRC = $(sort $(wildcard lib/tests/test_*.c spool-inject/tests/test_*.c maps/tests/test_*.c))
UNIT_BIN = $(foreach s,$(UNIT_SRC),$(BUILD)/unit/$(subst /,_,$(basename $(s))))

FUZZ_SRC = $(sort $(wildcard lib/fuzz/fuzz_*.c))

all: deps-build $(addprefix $(BUILD)/,$(PROGRAMS)) $(UNIT_BIN)

deps-build:
	@tools/deps build
deps-test:
	@tools/deps test

$(BUILD)/obj/%.o: %.c $(wildcard lib/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(LIBA): $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

define program
$(BUILD)/$(1): $$(patsubst %.c,$(BUILD)/obj/%.o,$$($(1)_SRC)) $(LIBA)
	$$(CC) $$(CFLAGS) $$(LDFLAGS) -o $$@ $$^ $(2)
endef
$(eval $(call program,spool-inject,$(LIBS_OWFAT)))
$(if $(wildcard maps/main.c),$(eval $(call program,postern-maps,$(LIBS_OWFAT))))

# A unit test links every object of its directory except main.o.
unitdir = $(patsubst %/tests,%,$(patsubst %/,%,$(dir $(1))))
define unit
$(BUILD)/unit/$(subst /,_,$(basename $(1))): $(BUILD)/obj/$(basename $(1)).o $$(filter-out %/main.o,$$(patsubst %.c,$(BUILD)/obj/%.o,$$(filter-out lib/%,$$(wildcard $(call unitdir,$(1))/*.c)))) $(LIBA)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CFLAGS) $$(LDFLAGS) -o $$@ $$^ $(LIBS_OWFAT)
endef
$(foreach s,$(UNIT_SRC),$(eval $(call unit,$(s))))

asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all" \
	  HARDEN="-fPIE" LDHARDEN="-pie -fsanitize=address,undefined"

fuzz: deps-build
	@mkdir -p build-fuzz
	@for f in $(FUZZ_SRC); do \
	  n=$$(basename $$f .c); \
	  echo "clang $$f -> build-fuzz/$$n"; \
	  clang -std=c11 -D_GNU_SOURCE -Ilib -g -O1 -fsanitize=fuzzer,address,undefined \
	    -o build-fuzz/$$n $$f $(LIB_SRC) -lowfat || exit 1; \
	done

# check and demo install what is missing first, then build in a second make
# so that pkg-config answers for packages installed a moment ago.
check: deps-test
	$(MAKE) all
	$(MAKE) asan
	$(MAKE) fuzz
	tests/run

demo: deps-build
	$(MAKE) all
	tools/demo

clean:
	rm -rf build build-asan build-fuzz

.PHONY: all asan fuzz check demo clean deps-build deps-test
