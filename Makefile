# hwkeygen: SSH keys born in a TPM, on a PKCS#11 token, or in software.
#
#   make                 build build/hwkeygen
#   make run ARGS='...'  install what is missing, build, run hwkeygen
#   make check           install what is missing, build, run every test
#   make check-clang     the same built with clang, in build-clang/
#   make check-asan      unit and integration tests under ASan and UBSan,
#                        built in build-asan/
#   make fuzz            each libFuzzer harness for FUZZ_TIME seconds (10)
#   make bench           our times beside the reference tools'
#   make deps            install the Debian packages building and running need
#   make deps-test       ... and those the tests need
#   make install         PREFIX=/usr/local DESTDIR= (see also uninstall)
#   make deb             the Debian package, in build/deb/
#   make deb-check       build it, lint it, install it here, try it, purge it

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
# The folders the distribution's pkg-config names, under PREFIX where its
# .pc file says them relative to its prefix (systemd's user units: PREFIX
# /usr/local gives /usr/local/lib/systemd/user, which systemd reads), as
# it says them where it does not (udev reads only its own rules.d).
PKG_CONFIG ?= pkg-config
# Each is asked once (a ?= variable would run its pkg-config at every use:
# thirty times in a make install), unless given.
PC_PREFIX = $(PKG_CONFIG) --define-variable=prefix=$(PREFIX)
ifeq ($(origin UDEV_RULES_DIR),undefined)
UDEV_RULES_DIR := $(shell d=$$($(PC_PREFIX) --variable=udevdir udev \
	2>/dev/null) && [ -n "$$d" ] && echo $$d/rules.d || \
	echo /usr/lib/udev/rules.d)
endif
ifeq ($(origin BASH_COMPLETION_DIR),undefined)
BASH_COMPLETION_DIR := $(shell $(PC_PREFIX) --variable=completionsdir \
	bash-completion 2>/dev/null || \
	echo $(PREFIX)/share/bash-completion/completions)
endif
ifeq ($(origin SYSTEMD_USER_DIR),undefined)
SYSTEMD_USER_DIR := $(shell $(PC_PREFIX) --variable=systemduserunitdir \
	systemd 2>/dev/null || echo $(PREFIX)/lib/systemd/user)
endif
DESTDIR ?=
CFLAGS ?= -O2 -g

# Where objects and binaries go; the tests find them through HWK_BUILD too.
HWK_BUILD ?= build
B := $(HWK_BUILD)
export HWK_BUILD

# Libraries, all through pkg-config.  Only libcrypto is linked: the TSS
# and p11-kit are opened when their backend is first used
# (backends/lazylib.c), so only their headers are taken from here.
LINK_PKGS := libcrypto
LAZY_PKGS := tss2-esys tss2-sys tss2-tctildr tss2-mu tss2-rc p11-kit-1
TEST_PKGS := cmocka

# What building and running hwkeygen need (make deps, make run) ...
DEBS := gcc make pkg-config libc6-dev libssl-dev \
	libtss2-dev libp11-kit-dev p11-kit
# ... and what only the tests need besides (make deps-test, make check):
# the judges, the devices they start (an sshd among them, which starts on
# install), clang for the fuzzing harnesses.
DEBS_TEST := openssl libcmocka-dev \
	openssh-client openssh-server \
	swtpm swtpm-tools tpm2-tools tpm2-openssl \
	softhsm2 opensc opensc-pkcs11 \
	python3 python3-pexpect python3-bcrypt clang putty-tools \
	groff-base procps udev

WARN := -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes -Wformat=2 \
	-Wstrict-prototypes -Wpointer-arith -Wvla
HARDEN := -fstack-protector-strong -fPIE
# _FORTIFY_SOURCE does nothing without optimisation (some glibc versions
# warn, an error here), and its checked copies hide accesses from the
# sanitizers.
ifneq ($(filter -O1 -O2 -O3 -Os -Og -Oz -Ofast,$(CFLAGS)),)
ifeq ($(SANITIZE),)
HARDEN += -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=2
endif
endif
HARDEN_LD := -pie -Wl,-z,relro,-z,now,-z,noexecstack

PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(LINK_PKGS) $(LAZY_PKGS) \
	2>/dev/null)
PKG_LIBS = $(shell $(PKG_CONFIG) --libs $(LINK_PKGS) 2>/dev/null)
TEST_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(TEST_PKGS) 2>/dev/null)
TEST_LIBS = $(shell $(PKG_CONFIG) --libs $(TEST_PKGS) 2>/dev/null)

# The layers (see docs/architecture.md) see only what they may use: core
# sees include/hwkey/; backends see that and backends/backends.h; the cli
# and the agent see include/hwkey/ only, so neither can include the other.
# A file's own folder is always searched for its "local.h" includes, and
# tests/lib/layers refuses includes that climb out of it.
CPPFLAGS += -Iinclude
CPPFLAGS_CORE := -I$(B)
CPPFLAGS_BACKENDS := -Ibackends
CPPFLAGS_TESTS := -Isrc/core -Isrc/cli -Isrc/agent -Ibackends \
	-Ibackends/pkcs11 -Ibackends/tpm2 -I$(B)
CFLAGS += -std=c11 -D_GNU_SOURCE -pthread $(WARN) $(HARDEN) $(SANITIZE) \
	-MMD -MP $(PKG_CFLAGS)
LDFLAGS += $(HARDEN_LD)
# dlopen() is in libc since glibc 2.34; -ldl for older ones.
LDLIBS += $(PKG_LIBS) -ldl

ifeq ($(V),1)
Q :=
else
Q := @
endif

CORE_SRC := $(filter-out src/core/gen_blowfish_pi.c,$(wildcard src/core/*.c))
BACKENDS_SRC := $(wildcard backends/*.c backends/*/*.c)
CLI_SRC := $(filter-out src/cli/main.c,$(wildcard src/cli/*.c))
AGENT_SRC := $(filter-out src/agent/main.c,$(wildcard src/agent/*.c))
LIB_SRC := $(CORE_SRC) $(BACKENDS_SRC) $(CLI_SRC) $(AGENT_SRC)
# One archive a layer, linked in the order the layers may call.
LAYER_A := $(B)/libhwkey-cli.a $(B)/libhwkey-agent.a \
	$(B)/libhwkey-backends.a $(B)/libhwkey-core.a
LIB_OBJ := $(LIB_SRC:%.c=$(B)/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
UNIT_HELPERS := $(filter-out $(UNIT_SRC),$(wildcard tests/unit/*.c))
UNIT_HELPER_OBJ := $(UNIT_HELPERS:%.c=$(B)/%.o)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(B)/fuzz/%)
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(B)/fuzz/%.o)
FUZZ_CC ?= clang
FUZZ_FLAGS := -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=all
FAKES := $(wildcard tests/fakes/*.c)
FAKE_SO := $(FAKES:tests/fakes/%.c=$(B)/tests/%.so)
TOOLS := $(wildcard tests/tools/*.c)
TOOL_BIN := $(TOOLS:tests/tools/%.c=$(B)/tests/tools/%)

.PHONY: all run check unit integration bench deps deps-test install \
	uninstall clean fuzz fuzz-smoke check-clang check-asan deb deb-check
.SECONDARY:
.DEFAULT_GOAL := all

all: $(B)/hwkeygen $(B)/hwkey-agent

# The keygen command has no agent in it, and the agent no keygen command.
$(B)/hwkeygen: $(B)/src/cli/main.o $(B)/libhwkey-cli.a \
    $(B)/libhwkey-backends.a $(B)/libhwkey-core.a
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/hwkey-agent: $(B)/src/agent/main.o $(B)/libhwkey-agent.a \
    $(B)/libhwkey-backends.a $(B)/libhwkey-core.a
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/libhwkey-core.a: $(CORE_SRC:%.c=$(B)/%.o)
$(B)/libhwkey-backends.a: $(BACKENDS_SRC:%.c=$(B)/%.o)
$(B)/libhwkey-cli.a: $(CLI_SRC:%.c=$(B)/%.o)
$(B)/libhwkey-agent.a: $(AGENT_SRC:%.c=$(B)/%.o)
$(B)/libhwkey-%.a: $(B)/layers.ok
	@echo "  AR      $@"
	$(Q)rm -f $@ && $(AR) rcs $@ $(filter %.o,$^)

# Includes across layers, and names an archive would keep only once.
$(B)/layers.ok: tests/lib/layers $(LIB_SRC) $(wildcard src/*/*.h \
    backends/*.h backends/*/*.h)
	@mkdir -p $(B)
	$(Q)tests/lib/layers && touch $@

$(B)/src/core/%.o: src/core/%.c | $(B)/blowfish_pi.h
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(CPPFLAGS_CORE) $(CFLAGS) -c -o $@ $<

$(B)/backends/%.o: backends/%.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(CPPFLAGS_BACKENDS) $(CFLAGS) -c -o $@ $<

$(B)/src/%.o: src/%.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(B)/tests/tools/%.o: tests/tools/%.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(CPPFLAGS_TESTS) $(CFLAGS) -c -o $@ $<

# Blowfish's initial state is computed from pi at build time.
$(B)/gen_blowfish_pi: src/core/gen_blowfish_pi.c
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
	$(Q)$(CC) $(CPPFLAGS) $(CPPFLAGS_TESTS) $(CFLAGS) $(TEST_CFLAGS) \
		-Wno-missing-prototypes \
		-c -o $@ $<

$(B)/tests/unit/%.o: tests/unit/%.c | $(B)/blowfish_pi.h
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(CPPFLAGS_TESTS) $(CFLAGS) $(TEST_CFLAGS) \
		-c -o $@ $<

$(B)/tests/test_%: $(B)/tests/test_%.o $(UNIT_HELPER_OBJ) $(LAYER_A)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(TEST_LIBS)

# Test-only shared objects (fault injection, fake PKCS#11 modules).
FAKE_CFLAGS = $(shell $(PKG_CONFIG) --cflags p11-kit-1 2>/dev/null)
$(B)/tests/%.so: tests/fakes/%.c $(wildcard tests/fakes/*.h)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(CPPFLAGS_TESTS) $(FAKE_CFLAGS) -std=c11 -D_GNU_SOURCE -O2 -g \
		-Wall -Wextra -Werror -fPIC -shared -o $@ $< -ldl

# libFuzzer harnesses, built with clang and sanitizers on their own objects.
$(B)/fuzz/%.o: %.c | $(B)/blowfish_pi.h
	@mkdir -p $(dir $@)
	@echo "  FUZZCC  $<"
	$(Q)$(FUZZ_CC) $(CPPFLAGS) $(CPPFLAGS_TESTS) -std=c11 -D_GNU_SOURCE \
		$(PKG_CFLAGS) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -MMD -MP \
		-c -o $@ $<

# An archive, so that a harness may compile a library file in itself to
# reach its static functions.
$(B)/fuzz/libhwkey.a: $(FUZZ_LIB_OBJ)
	@echo "  AR      $@"
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(B)/fuzz/fuzz_%: $(B)/fuzz/tests/fuzz/fuzz_%.o $(B)/fuzz/libhwkey.a
	@echo "  FUZZLD  $@"
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ \
		$(filter-out %.a,$^) \
		$(B)/fuzz/libhwkey.a $(LDLIBS) $(FUZZ_LIBS)

# The agent's request path runs over the unit tests' mock backend.
FUZZ_MOCK_OBJ := $(B)/fuzz/tests/unit/mock_backend.o \
	$(B)/fuzz/tests/unit/fixture.o
$(B)/fuzz/fuzz_agent_stream: $(FUZZ_MOCK_OBJ)
$(B)/fuzz/fuzz_agent_stream: CPPFLAGS += -Itests/unit
$(B)/fuzz/fuzz_agent_stream: FUZZ_LIBS = $(TEST_LIBS)

# A few seconds of each harness, from the fixtures; FUZZ_TIME=600 for more.
fuzz: $(FUZZ_BIN)
	$(Q)tests/run-fuzz $(FUZZ_BIN)

fuzz-smoke: $(FUZZ_BIN)
	$(Q)FUZZ_RUNS=20000 tests/run-fuzz $(FUZZ_BIN)

# Test-only programs on the library.
$(B)/tests/tools/%: $(B)/tests/tools/%.o $(LAYER_A)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Both programs: the key it makes is for hwkey-agent too.
run: deps $(B)/hwkeygen $(B)/hwkey-agent
	$(B)/hwkeygen $(ARGS)

unit: $(UNIT_BIN) $(FAKE_SO)
	$(Q)tests/run-unit $(UNIT_BIN)

integration: all $(FAKE_SO) $(TOOL_BIN)
	$(Q)tests/run-integration

# CHECK_FUZZ= leaves out the short fuzzing run (the harnesses are built
# the same way whichever CC builds the rest).  TESTS="name ..." runs those
# integration scripts alone; HWK_JOBS=N runs N scripts at a time.
CHECK_FUZZ ?= $(if $(TESTS),,$(FUZZ_BIN))
check: deps-test all $(if $(TESTS),,$(UNIT_BIN)) $(FAKE_SO) $(TOOL_BIN) \
    $(CHECK_FUZZ)
	$(Q)FUZZ="$(CHECK_FUZZ)" tests/run-all $(UNIT_BIN)

# The whole suite built with clang, in its own directory.
check-clang: deps-test
	$(Q)$(MAKE) --no-print-directory HWK_BUILD=build-clang CC=clang \
		CHECK_FUZZ= check

# The unit and integration suites on binaries built with ASan and UBSan,
# in their own directory.  clang links the sanitizer runtime into each
# binary, so the LD_PRELOAD fault shims still load after it.  Any report,
# leaks included, is kept in build-asan/sanitizer/ and fails the run.
# Allocations are traced through libraries built without frame pointers
# (libcrypto), so that a leak inside a test's PKCS#11 module is told from
# ours and suppressed by tests/lib/lsan.supp.
ASAN_CC ?= clang
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
SAN_LOGS := $(CURDIR)/build-asan/sanitizer
check-asan: deps-test
	$(Q)rm -rf $(SAN_LOGS) && mkdir -p $(SAN_LOGS)
	$(Q)CFLAGS="-O1 -g" HWK_SANITIZER_LOGS=$(SAN_LOGS) \
	ASAN_OPTIONS=detect_leaks=1:fast_unwind_on_malloc=0:log_path=$(SAN_LOGS)/report \
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lib/lsan.supp:print_suppressions=0 \
	UBSAN_OPTIONS=print_stacktrace=1:log_path=$(SAN_LOGS)/report \
		$(MAKE) --no-print-directory HWK_BUILD=build-asan \
		CC=$(ASAN_CC) SANITIZE="$(SAN_FLAGS)" CHECK_FUZZ= check

bench: deps-test $(B)/hwkeygen $(FAKE_SO)
	$(Q)tests/bench/run

deps:
	$(Q)tests/lib/deps $(DEBS)

deps-test:
	$(Q)tests/lib/deps $(DEBS) $(DEBS_TEST)

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 0755 $(B)/hwkeygen $(DESTDIR)$(BINDIR)/hwkeygen
	install -m 0755 $(B)/hwkey-agent $(DESTDIR)$(BINDIR)/hwkey-agent
	install -m 0644 docs/hwkeygen.1 docs/hwkey-agent.1 \
		$(DESTDIR)$(MANDIR)/man1/
	install -d $(DESTDIR)$(SYSTEMD_USER_DIR)
	sed 's|@BINDIR@|$(BINDIR)|g' src/agent/hwkey-agent.service.in \
		>$(DESTDIR)$(SYSTEMD_USER_DIR)/hwkey-agent.service
	chmod 0644 $(DESTDIR)$(SYSTEMD_USER_DIR)/hwkey-agent.service
	install -m 0644 src/agent/hwkey-agent.socket \
		$(DESTDIR)$(SYSTEMD_USER_DIR)/
	install -d $(DESTDIR)$(UDEV_RULES_DIR) $(DESTDIR)$(BASH_COMPLETION_DIR)
	install -m 0644 udev/70-hwkeygen.rules $(DESTDIR)$(UDEV_RULES_DIR)/
	install -m 0644 src/completion/hwkeygen src/completion/hwkey-agent \
		$(DESTDIR)$(BASH_COMPLETION_DIR)/
	@echo "installed in $(DESTDIR):"
	@echo "  programs            $(BINDIR)"
	@echo "  man pages           $(MANDIR)/man1"
	@echo "  systemd user units  $(SYSTEMD_USER_DIR)"
	@echo "  udev rules          $(UDEV_RULES_DIR)"
	@echo "  bash completion     $(BASH_COMPLETION_DIR)"

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/hwkeygen $(DESTDIR)$(BINDIR)/hwkey-agent \
		$(DESTDIR)$(MANDIR)/man1/hwkeygen.1 \
		$(DESTDIR)$(MANDIR)/man1/hwkey-agent.1 \
		$(DESTDIR)$(SYSTEMD_USER_DIR)/hwkey-agent.service \
		$(DESTDIR)$(SYSTEMD_USER_DIR)/hwkey-agent.socket \
		$(DESTDIR)$(UDEV_RULES_DIR)/70-hwkeygen.rules \
		$(DESTDIR)$(BASH_COMPLETION_DIR)/hwkeygen \
		$(DESTDIR)$(BASH_COMPLETION_DIR)/hwkey-agent

# The Debian package (debian/), built by dpkg-buildpackage in a copy of the
# tree (what git tracks, and new files it does not ignore), so that the
# packages land in $(DEB_OUT)/ and not beside the tree, and with none of
# this make's variables or flags.  The build dependencies are
# debian/control's, installed as make deps installs.
DEB_OUT := $(B)/deb
DEB_BUILD_DEPS = $(shell awk '/^[^ \t\#]/ { f = /^Build-Depends:/ } f' \
	debian/control | sed 's/^Build-Depends://' | tr ',' '\n' | \
	sed 's/^[[:space:]]*//; s/[[:space:]].*//; s/^debhelper-compat$$/debhelper/')
deb:
	$(Q)tests/lib/deps build-essential $(DEB_BUILD_DEPS)
	$(Q)rm -rf $(DEB_OUT) && mkdir -p $(DEB_OUT)/src
	$(Q)if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
		git ls-files -z -c -o --exclude-standard | tar -c --null \
		    --ignore-failed-read -T - -f -; else \
		tar -c --exclude=./build --exclude=./build-clang \
		    --exclude=./build-asan -f - .; fi | \
		tar -x -C $(DEB_OUT)/src -f -
	$(Q)cd $(DEB_OUT)/src && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
		dpkg-buildpackage -us -uc -b --jobs-try=auto >../build.log \
		2>&1 || { tail -n 40 ../build.log; \
		echo "make deb: failed, see $(DEB_OUT)/build.log" >&2; exit 1; }
	@for f in $(DEB_OUT)/*.deb; do echo "  DEB     $$f"; done

# Installs the package on this machine and purges it again: as root, on a
# machine where it is not installed otherwise.
deb-check: deb
	$(Q)tests/lib/deps lintian man-db openssh-client
	$(Q)tests/deb-check $(DEB_OUT)

clean:
	rm -rf $(B) build-clang build-asan

# Not the package build's tree in $(DEB_OUT), which has its own (and
# folders named rules.d).
-include $(shell find $(B) -path $(DEB_OUT) -prune -o -type f -name '*.d' \
	-print 2>/dev/null)
