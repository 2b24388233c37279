# hwkeygen: SSH keys born in a TPM, on a PKCS#11 token, or in software.
#
#   make                 build build/hwkeygen
#   make run ARGS='...'  install what is missing, build, run hwkeygen
#   make check           install what is missing, build, run every test
#   make bench           our times beside the reference tools'
#   make deps            install the Debian packages the build and tests need
#   make install         PREFIX=/usr/local DESTDIR= (see also uninstall)

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DESTDIR ?=
PKG_CONFIG ?= pkg-config
CFLAGS ?= -O2 -g

B := build

# Libraries, all through pkg-config.
PKGS := libcrypto p11-kit-1
TEST_PKGS := cmocka

# Debian packages for the build, the tests and the benchmarks.
DEBS := gcc make pkg-config libc6-dev libssl-dev openssl libcmocka-dev \
	libtss2-dev libp11-kit-dev p11-kit \
	openssh-client openssh-server \
	swtpm swtpm-tools tpm2-tools tpm2-openssl \
	softhsm2 opensc opensc-pkcs11 \
	python3 python3-pexpect python3-bcrypt \
	groff-base time procps

WARN := -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes -Wformat=2 \
	-Wstrict-prototypes -Wpointer-arith -Wvla
HARDEN := -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE
HARDEN_LD := -pie -Wl,-z,relro,-z,now,-z,noexecstack

PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
TEST_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(TEST_PKGS) 2>/dev/null)
TEST_LIBS = $(shell $(PKG_CONFIG) --libs $(TEST_PKGS) 2>/dev/null)

CPPFLAGS += -Iinclude -Isrc -I$(B)
CFLAGS += -std=c11 -D_GNU_SOURCE $(WARN) $(HARDEN) -MMD -MP $(PKG_CFLAGS)
LDFLAGS += $(HARDEN_LD)
LDLIBS += $(PKG_LIBS)

ifeq ($(V),1)
Q :=
else
Q := @
endif

LIB_SRC := $(filter-out src/main.c src/gen_blowfish_pi.c,$(wildcard src/*.c)) \
	$(wildcard backends/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(B)/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
UNIT_HELPERS := $(filter-out $(UNIT_SRC),$(wildcard tests/unit/*.c))
UNIT_HELPER_OBJ := $(UNIT_HELPERS:%.c=$(B)/%.o)
FAKES := $(wildcard tests/fakes/*.c)
FAKE_SO := $(FAKES:tests/fakes/%.c=$(B)/tests/%.so)

.PHONY: all run check unit integration bench deps install uninstall clean
.SECONDARY:
.DEFAULT_GOAL := all

all: $(B)/hwkeygen

$(B)/hwkeygen: $(B)/src/main.o $(B)/libhwkey.a
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/libhwkey.a: $(LIB_OBJ)
	@echo "  AR      $@"
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(B)/%.o: %.c | $(B)/blowfish_pi.h
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

# Blowfish's initial state is computed from pi at build time.
$(B)/gen_blowfish_pi: src/gen_blowfish_pi.c
	@mkdir -p $(B)
	@echo "  CC      $<"
	$(Q)$(CC) -O2 -Wall -Wextra -o $@ $<

$(B)/blowfish_pi.h: $(B)/gen_blowfish_pi
	@echo "  GEN     $@"
	$(Q)$(B)/gen_blowfish_pi > $@.tmp && mv $@.tmp $@

# Unit tests (cmocka).
$(B)/tests/%.o: tests/unit/%.c | $(B)/blowfish_pi.h
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(TEST_CFLAGS) -Wno-missing-prototypes \
		-c -o $@ $<

$(B)/tests/unit/%.o: tests/unit/%.c | $(B)/blowfish_pi.h
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(TEST_CFLAGS) -c -o $@ $<

$(B)/tests/test_%: $(B)/tests/test_%.o $(UNIT_HELPER_OBJ) $(B)/libhwkey.a
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(TEST_LIBS)

# Test-only shared objects (fault injection, fake PKCS#11 modules).
FAKE_CFLAGS = $(shell $(PKG_CONFIG) --cflags p11-kit-1 2>/dev/null)
$(B)/tests/%.so: tests/fakes/%.c $(wildcard tests/fakes/*.h)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(FAKE_CFLAGS) -std=c11 -D_GNU_SOURCE -O2 -g \
		-Wall -Wextra -Werror -fPIC -shared -o $@ $< -ldl

run: deps $(B)/hwkeygen
	$(B)/hwkeygen $(ARGS)

unit: $(UNIT_BIN) $(FAKE_SO)
	$(Q)tests/run-unit $(UNIT_BIN)

integration: $(B)/hwkeygen $(FAKE_SO)
	$(Q)tests/run-integration

check: deps all $(UNIT_BIN) $(FAKE_SO)
	$(Q)tests/run-all $(UNIT_BIN)

bench: deps $(B)/hwkeygen $(FAKE_SO)
	$(Q)tests/bench/run

deps:
	$(Q)tests/lib/deps $(DEBS)

install: $(B)/hwkeygen
	install -d $(DESTDIR)$(BINDIR)
	install -m 0755 $(B)/hwkeygen $(DESTDIR)$(BINDIR)/hwkeygen

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/hwkeygen

clean:
	rm -rf $(B)

-include $(shell find $(B) -name '*.d' 2>/dev/null)
