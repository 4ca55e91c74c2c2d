# nodebak: top-level GNU makefile. See README.md.
PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
PKGS    := openssl zlib libarchive sqlite3 libpq jansson
SSHPKGS := libssh

VERSION := 0.1.0
WARN    := -Wall -Wextra -Wshadow -Wvla -Wwrite-strings -Wstrict-prototypes \
           -Wno-missing-field-initializers
ifeq ($(CI),true)
WARN    += -Werror
endif
HARDEN  := -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE
CFLAGS  ?= -O2 -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -DNODEBAK_VERSION='"$(VERSION)"' \
           $(WARN) $(HARDEN) $(CFLAGS) -Icommon -MMD -MP \
           $(shell pkg-config --cflags $(PKGS))
ALL_LDFLAGS = -pie -Wl,-z,relro,-z,now $(LDFLAGS)
LIBS    = $(shell pkg-config --libs $(PKGS)) -lpthread -lcrypt

COMMON_OBJS := $(patsubst %.c,%.o,$(wildcard common/*.c))
SNAPSHOTD_OBJS := $(patsubst %.c,%.o,$(filter-out snapshotd/main.c,$(wildcard snapshotd/*.c)))
CLIENT_OBJS := $(patsubst %.c,%.o,$(filter-out client/main.c,$(wildcard client/*.c)))
FTPD_OBJS := $(patsubst %.c,%.o,$(filter-out ftpd/main.c,$(wildcard ftpd/*.c)))
PULL_OBJS := $(patsubst %.c,%.o,$(filter-out client/pull/main.c,$(wildcard client/pull/*.c)))

PROGRAMS := bin/nodebak bin/nodebak-snapshotd
ifneq ($(wildcard ftpd/main.c),)
PROGRAMS += bin/nodebak-ftpd
endif
ifneq ($(wildcard client/pull/main.c),)
PROGRAMS += bin/nodebak-pull
endif
TEST_PROGRAMS := tests/bin/nodebak-snapshotd-fault tests/bin/unit

all: $(PROGRAMS)

bin/nodebak: client/main.o $(CLIENT_OBJS) common/libnodebak.a | bin
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

bin/nodebak-snapshotd: snapshotd/main.o $(SNAPSHOTD_OBJS) common/libnodebak.a | bin
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

bin/nodebak-ftpd: ftpd/main.o $(FTPD_OBJS) common/libnodebak.a | bin
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) $(shell pkg-config --libs $(SSHPKGS))

# The archive host's puller (docs/pull.md): libssh's client side.
bin/nodebak-pull: client/pull/main.o $(PULL_OBJS) common/libnodebak.a | bin
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) $(shell pkg-config --libs $(SSHPKGS))

common/libnodebak.a: $(COMMON_OBJS)
	rm -f $@
	ar rcs $@ $^

# The test daemon differs from the real one in one object: fault points
# that can kill the process at the Nth durable step (tests/scenario/crash).
tests/bin/nodebak-snapshotd-fault: snapshotd/main.o $(SNAPSHOTD_OBJS) \
		common/fault-test.o common/libnodebak.a | tests/bin
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

common/fault-test.o: common/fault.c
	$(CC) $(ALL_CFLAGS) -DNODEBAK_FAULT_INJECTION -c -o $@ $<

UNIT_SRCS := $(wildcard tests/unit/t_*.c)
UNIT_FTPD_OBJS := ftpd/ftp_parse.o ftpd/rootfs.o ftpd/lockout.o ftpd/rconsole.o
UNIT_CLIENT_OBJS := client/console.o client/user.o client/hostkey.o
UNIT_PULL_OBJS := client/pull/pullconf.o
tests/bin/unit: tests/unit/main.c $(UNIT_SRCS) $(SNAPSHOTD_OBJS) $(UNIT_FTPD_OBJS) \
		$(UNIT_CLIENT_OBJS) $(UNIT_PULL_OBJS) common/libnodebak.a | tests/bin
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -Itests/unit -Isnapshotd -Iftpd \
		-Iclient -Iclient/pull -o $@ \
		tests/unit/main.c $(UNIT_SRCS) $(SNAPSHOTD_OBJS) $(UNIT_FTPD_OBJS) \
		$(UNIT_CLIENT_OBJS) $(UNIT_PULL_OBJS) common/libnodebak.a $(LIBS)

# Sanitised fuzz targets (clang, libFuzzer): see tests/fuzz/README.md.
# The sources they share are compiled once into tests/bin/fuzz-obj/ (an
# archive: each target links only what it uses); tests/fuzz.t builds and
# runs them all for a few seconds each.
FUZZ_SAN := -fsanitize=address,undefined
FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE -DNODEBAK_VERSION='"$(VERSION)"' -g -O1 \
	$(FUZZ_SAN) -fsanitize=fuzzer-no-link -Icommon -Iftpd -Iclient -MMD -MP \
	$(shell pkg-config --cflags libpq) \
	-DFUZZ_TEST_KEY='"$(CURDIR)/tests/fuzz/TEST-ONLY-signing.key"'
FUZZ_OBJDIR := tests/bin/fuzz-obj
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,tests/bin/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_LIB_OBJS := $(patsubst %.c,$(FUZZ_OBJDIR)/%.o,$(wildcard common/*.c) \
	ftpd/sftp.c ftpd/rootfs.c ftpd/ftp_parse.c ftpd/rconsole.c \
	client/console.c client/user.c client/hostkey.c)
fuzz: $(FUZZ_TARGETS)
$(FUZZ_OBJDIR)/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -c -o $@ $<
$(FUZZ_OBJDIR)/libfuzz.a: $(FUZZ_LIB_OBJS)
	rm -f $@
	ar rcs $@ $^
tests/bin/fuzz_%: $(FUZZ_OBJDIR)/tests/fuzz/fuzz_%.o $(FUZZ_OBJDIR)/libfuzz.a | tests/bin
	clang $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(LIBS)

# Everything built with AddressSanitizer and UBSan, then the tests. Leak
# checking is off: the daemons keep their configurations (one per reload)
# until they exit, on purpose (docs/ftpd.md, snapshotd/snapshotd.c).
asan:
	$(MAKE) clean
	ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 \
	$(MAKE) CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer" \
		LDFLAGS="-fsanitize=address,undefined" test

%.o: %.c
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

bin tests/bin:
	mkdir -p $@

# Set-up: install the Debian packages the build and the tests need.
deps:
	@sh scripts/deps.sh

run: deps
	@$(MAKE) --no-print-directory all
	@sh scripts/demo.sh

# The logs of every node the tests start are kept in tests/.logs for the
# last test, tests/zz-secrets.t, which searches them for secrets.
test: deps
	@$(MAKE) --no-print-directory all $(TEST_PROGRAMS)
	rm -rf tests/.logs && mkdir -m 0700 tests/.logs
	NODEBAK_TEST_LOGS=$(CURDIR)/tests/.logs prove -v -j1 tests/*.t

check: test

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man5 \
		$(DESTDIR)$(PREFIX)/share/man/man8 $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0755 $(PROGRAMS) $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 docs/man/*.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	install -m 0644 docs/man/*.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 0644 docs/man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/system \
		$(DESTDIR)$(PREFIX)/share/doc/nodebak/examples
	for u in conf/systemd/*; do \
		sed 's|/usr/local/bin/|$(PREFIX)/bin/|' $$u > \
		    $(DESTDIR)$(PREFIX)/lib/systemd/system/$${u##*/} && \
		chmod 0644 $(DESTDIR)$(PREFIX)/lib/systemd/system/$${u##*/} || exit 1; \
	done
	install -d $(DESTDIR)$(PREFIX)/lib/sysusers.d
	install -m 0644 conf/sysusers/nodebak-pull.conf \
		$(DESTDIR)$(PREFIX)/lib/sysusers.d/
	install -m 0644 conf/nodebak.conf conf/pull.conf \
		$(DESTDIR)$(PREFIX)/share/doc/nodebak/examples/

clean:
	rm -rf bin tests/bin tests/.logs common/*.a
	find . -name '*.o' -delete -o -name '*.d' -delete

.PHONY: all deps run test check install clean fuzz asan
-include $(shell find . -name '*.d' 2>/dev/null)
