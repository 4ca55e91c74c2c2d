# nodebak: top-level GNU makefile. See README.md.
PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
PKGS    := openssl zlib libarchive sqlite3 libpq jansson libseccomp
SSHPKGS := libssh
# Only nodebak-pull's object-storage client (client/pull/s3.c) speaks S3.
S3PKGS  := libcurl libxml-2.0
# Only the console edits lines (client/lineedit.c); the daemons never link it.
EDITPKGS := libedit

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
# Beneath both nodebak-pull and nodebak cluster renew: the SSH client
# (the only libssh client user), the verified fetch of an archive and the
# archive folder (docs/architecture.md, "client/remote").
REMOTE_OBJS := $(patsubst %.c,%.o,$(wildcard client/remote/*.c))
RENEW_OBJS := $(patsubst %.c,%.o,$(wildcard client/renew/*.c))

PROGRAMS := bin/nodebak bin/nodebak-snapshotd
ifneq ($(wildcard ftpd/main.c),)
PROGRAMS += bin/nodebak-ftpd
endif
ifneq ($(wildcard client/pull/main.c),)
PROGRAMS += bin/nodebak-pull
endif
TEST_PROGRAMS := tests/bin/nodebak-snapshotd-fault tests/bin/unit

all: $(PROGRAMS)

bin/nodebak: client/main.o $(CLIENT_OBJS) $(RENEW_OBJS) $(REMOTE_OBJS) common/libnodebak.a | bin
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) $(shell pkg-config --libs $(EDITPKGS) $(SSHPKGS))

client/main.o client/pull/%.o client/renew/%.o client/remote/%.o: ALL_CFLAGS += -Iclient/remote -Iclient/renew

client/lineedit.o: ALL_CFLAGS += $(shell pkg-config --cflags $(EDITPKGS))

bin/nodebak-snapshotd: snapshotd/main.o $(SNAPSHOTD_OBJS) common/libnodebak.a | bin
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

bin/nodebak-ftpd: ftpd/main.o $(FTPD_OBJS) common/libnodebak.a | bin
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) $(shell pkg-config --libs $(SSHPKGS))

# The archive host's puller (docs/pull.md): libssh's client side.
bin/nodebak-pull: client/pull/main.o $(PULL_OBJS) $(REMOTE_OBJS) common/libnodebak.a | bin
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) $(shell pkg-config --libs $(SSHPKGS) $(S3PKGS))

client/pull/s3.o: ALL_CFLAGS += $(shell pkg-config --cflags $(S3PKGS))

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
UNIT_CLIENT_OBJS := client/console.o client/user.o client/hostkey.o client/cmdtab.o \
	client/progress.o
UNIT_PULL_OBJS := client/pull/pullconf.o client/renew/rjournal.o client/renew/certcheck.o
tests/bin/unit: tests/unit/main.c $(UNIT_SRCS) $(SNAPSHOTD_OBJS) $(UNIT_FTPD_OBJS) \
		$(UNIT_CLIENT_OBJS) $(UNIT_PULL_OBJS) common/libnodebak.a | tests/bin
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -Itests/unit -Isnapshotd -Iftpd \
		-Iclient -Iclient/pull -Iclient/renew -o $@ \
		tests/unit/main.c $(UNIT_SRCS) $(SNAPSHOTD_OBJS) $(UNIT_FTPD_OBJS) \
		$(UNIT_CLIENT_OBJS) $(UNIT_PULL_OBJS) common/libnodebak.a $(LIBS)

# Sanitised fuzz targets (clang, libFuzzer): see tests/fuzz/README.md.
# The sources they share are compiled once into tests/bin/fuzz-obj/ (an
# archive: each target links only what it uses); tests/fuzz.t builds and
# runs them all for a few seconds each.
FUZZ_SAN := -fsanitize=address,undefined
FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE -DNODEBAK_VERSION='"$(VERSION)"' -g -O1 \
	$(FUZZ_SAN) -fsanitize=fuzzer-no-link -Icommon -Iftpd -Iclient -MMD -MP \
	$(shell pkg-config --cflags libpq $(S3PKGS)) -Iclient/pull \
	-DFUZZ_TEST_KEY='"$(CURDIR)/tests/fuzz/TEST-ONLY-signing.key"'
FUZZ_OBJDIR := tests/bin/fuzz-obj
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,tests/bin/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_LIB_OBJS := $(patsubst %.c,$(FUZZ_OBJDIR)/%.o,$(wildcard common/*.c) \
	ftpd/sftp.c ftpd/scp.c ftpd/rootfs.c ftpd/ftp_parse.c ftpd/rconsole.c \
	client/console.c client/progress.c client/user.c client/hostkey.c \
	client/pull/s3.c)
fuzz: $(FUZZ_TARGETS)
$(FUZZ_OBJDIR)/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -c -o $@ $<
$(FUZZ_OBJDIR)/libfuzz.a: $(FUZZ_LIB_OBJS)
	rm -f $@
	ar rcs $@ $^
tests/bin/fuzz_%: $(FUZZ_OBJDIR)/tests/fuzz/fuzz_%.o $(FUZZ_OBJDIR)/libfuzz.a | tests/bin
	clang $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(LIBS) \
		$(shell pkg-config --libs $(S3PKGS))

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

# make run: the demo node (scripts/demo.sh); make run CLUSTER=3: the
# rehearsal of the certificate renewal on three nodes (scripts/rehearsal.sh,
# README.md "Rehearsing the renewal").
run: deps
	@$(MAKE) --no-print-directory all
ifeq ($(CLUSTER),)
	@sh scripts/demo.sh
else
	@sh scripts/rehearsal.sh $(CLUSTER)
endif

# The logs of every node the tests start are kept in tests/.logs for the
# last test, tests/zz-secrets.t, which searches them for secrets.
test: deps
	@$(MAKE) --no-print-directory all $(TEST_PROGRAMS)
	rm -rf tests/.logs && mkdir -m 0700 tests/.logs
	NODEBAK_TEST_LOGS=$(CURDIR)/tests/.logs prove -v -j1 tests/*.t

check: test

# Where `make install` puts things (docs/install.md). /usr and /usr/local
# use the system's /etc; any other PREFIX (a scratch folder, /opt/nodebak)
# keeps its configuration beneath it. The units name the installed
# programs and configuration.
BINDIR     ?= $(PREFIX)/bin
MANDIR     ?= $(PREFIX)/share/man
DOCDIR     ?= $(PREFIX)/share/doc/nodebak
SYSCONFDIR ?= $(if $(filter /usr /usr/local,$(PREFIX)),/etc,$(PREFIX)/etc)
UNITDIR    ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
UNITS      := $(wildcard conf/systemd/*)
MANPAGES   := $(wildcard docs/man/*.[158])
DOCS       := README.md $(wildcard docs/*.md)
CONF_DEST  := $(DESTDIR)$(SYSCONFDIR)/nodebak/nodebak.conf

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR) \
		$(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(SYSCONFDIR)/nodebak
	install -m 0755 $(PROGRAMS) $(DESTDIR)$(BINDIR)/
	for m in $(MANPAGES); do \
		install -d $(DESTDIR)$(MANDIR)/man$${m##*.} && \
		install -m 0644 $$m $(DESTDIR)$(MANDIR)/man$${m##*.}/ || exit 1; \
	done
	for u in $(UNITS); do \
		sed -e 's|/usr/local/bin/|$(BINDIR)/|' \
		    -e 's|/etc/nodebak/|$(SYSCONFDIR)/nodebak/|' \
		    -e 's|/etc/nodebak$$|$(SYSCONFDIR)/nodebak|' $$u > \
		    $(DESTDIR)$(UNITDIR)/$${u##*/} && \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$${u##*/} || exit 1; \
	done
	install -m 0644 conf/sysusers/*.conf $(DESTDIR)$(SYSUSERSDIR)/
	install -m 0644 conf/tmpfiles/nodebak.conf $(DESTDIR)$(TMPFILESDIR)/
	install -m 0644 $(DOCS) $(DESTDIR)$(DOCDIR)/
	install -m 0644 conf/nodebak.conf conf/pull.conf \
		$(DESTDIR)$(DOCDIR)/examples/
	@# The operator's configuration is never overwritten.
	if [ -e $(CONF_DEST) ]; then \
		echo "install: keeping $(CONF_DEST)"; \
	else \
		install -m 0644 conf/nodebak.conf $(CONF_DEST); \
	fi

# Removes what install put in place, except a configuration that differs
# from the example, and never the state, the files root or the logs.
uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(notdir $(PROGRAMS))) \
		$(addprefix $(DESTDIR)$(UNITDIR)/,$(notdir $(UNITS))) \
		$(addprefix $(DESTDIR)$(SYSUSERSDIR)/,$(notdir $(wildcard conf/sysusers/*.conf))) \
		$(DESTDIR)$(TMPFILESDIR)/nodebak.conf
	for m in $(MANPAGES); do \
		rm -f $(DESTDIR)$(MANDIR)/man$${m##*.}/$${m##*/}; done
	rm -rf $(DESTDIR)$(DOCDIR)
	if cmp -s conf/nodebak.conf $(CONF_DEST); then rm -f $(CONF_DEST); \
	elif [ -e $(CONF_DEST) ]; then echo "uninstall: keeping $(CONF_DEST)"; fi
	-rmdir $(DESTDIR)$(SYSCONFDIR)/nodebak 2>/dev/null

# The Debian package (docs/install.md), built from a copy of the tree's
# files in build/deb/ so that nothing lands beside the checkout; lintian
# checks it. Needs debhelper, dpkg-dev and lintian (make deps).
DEB_DIR := build/deb
deb: deps
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/nodebak-$(VERSION)
	git ls-files -z -co --exclude-standard | \
		xargs -0 tar cf - --no-recursion | tar xf - -C $(DEB_DIR)/nodebak-$(VERSION)
	cd $(DEB_DIR)/nodebak-$(VERSION) && dpkg-buildpackage -b -us -uc
	lintian --fail-on error $(DEB_DIR)/*.changes
	@ls $(DEB_DIR)/*.deb

clean:
	rm -rf bin tests/bin tests/.logs common/*.a build
	find . -type f \( -name '*.o' -o -name '*.d' \) -delete

.PHONY: all deps run test check install uninstall deb clean fuzz asan
-include $(shell find . -path ./build -prune -o -type f -name '*.d' -print 2>/dev/null)
