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
UNIT_FTPD_OBJS := ftpd/ftp_parse.o ftpd/rootfs.o ftpd/lockout.o
UNIT_PULL_OBJS := client/pull/pullconf.o
tests/bin/unit: tests/unit/main.c $(UNIT_SRCS) $(SNAPSHOTD_OBJS) $(UNIT_FTPD_OBJS) \
		$(UNIT_PULL_OBJS) common/libnodebak.a | tests/bin
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -Itests/unit -Isnapshotd -Iftpd \
		-Iclient/pull -o $@ \
		tests/unit/main.c $(UNIT_SRCS) $(SNAPSHOTD_OBJS) $(UNIT_FTPD_OBJS) \
		$(UNIT_PULL_OBJS) common/libnodebak.a $(LIBS)

# Sanitised fuzz targets (clang, libFuzzer): see tests/fuzz/README.md.
FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE -DNODEBAK_VERSION='"$(VERSION)"' -g -O1 \
	-fsanitize=fuzzer,address,undefined -Icommon $(shell pkg-config --cflags libpq)
FUZZ_LIB_SRCS := $(filter-out common/fault.c,$(wildcard common/*.c)) common/fault.c
fuzz: tests/bin/fuzz_manifest tests/bin/fuzz_sidecar tests/bin/fuzz_ctl tests/bin/fuzz_bak tests/bin/fuzz_sftp \
	tests/bin/fuzz_ftp
tests/bin/fuzz_sftp: tests/fuzz/fuzz_sftp.c ftpd/sftp.c ftpd/rootfs.c $(FUZZ_LIB_SRCS) | tests/bin
	clang $(FUZZ_CFLAGS) -Iftpd -o $@ $^ $(LIBS)
tests/bin/fuzz_ftp: tests/fuzz/fuzz_ftp.c ftpd/ftp_parse.c ftpd/rootfs.c $(FUZZ_LIB_SRCS) | tests/bin
	clang $(FUZZ_CFLAGS) -Iftpd -o $@ $^ $(LIBS)
tests/bin/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB_SRCS) | tests/bin
	clang $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_LIB_SRCS) $(LIBS)

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

test: deps
	@$(MAKE) --no-print-directory all $(TEST_PROGRAMS)
	prove -v -j1 tests/*.t

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
	rm -rf bin tests/bin common/*.a
	find . -name '*.o' -delete -o -name '*.d' -delete

.PHONY: all deps run test check install clean fuzz asan
-include $(shell find . -name '*.d' 2>/dev/null)
