# frameshield: one hand-written Makefile.  `make` builds the three
# binaries; `make test` and `make run` first install whatever Debian
# packages are missing (the list below is the only place it lives).

PREFIX ?= /usr/local
DESTDIR ?=
CC ?= cc

# Debian packages for building, testing and running.
DEB_PKGS = build-essential pkg-config libuv1-dev libavformat-dev \
	libavcodec-dev libavutil-dev libswscale-dev libturbojpeg0-dev \
	libsqlite3-dev libseccomp-dev sqlite3 ffmpeg procps valgrind systemd \
	bubblewrap socat strace e2fsprogs xfsprogs btrfs-progs

PKG_DAEMON = libuv sqlite3
PKG_CTL = sqlite3
PKG_WORKER = libavformat libavcodec libavutil libswscale libturbojpeg \
	libseccomp

# Error texts are cut to their column sizes on purpose: no truncation noise.
WARN = -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wno-format-truncation
CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 $(WARN) -MMD -MP -Icommon -Ibuild
SAN = -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=all

COMMON_SRCS = \
	common/closefrom.c \
	common/fdpass.c \
	common/log.c \
	common/proto.c \
	common/writeall.c \
	common/zygote.c

DAEMON_SRCS = \
	daemon/checkpoint.c \
	daemon/confine.c \
	daemon/config.c \
	daemon/dispatch.c \
	daemon/errlog.c \
	daemon/main.c \
	daemon/notify.c \
	daemon/outcome.c \
	daemon/output.c \
	daemon/persist.c \
	daemon/pool.c \
	daemon/queue.c \
	daemon/spawner.c \
	daemon/syncgroup.c \
	daemon/watch.c

CTL_SRCS = \
	daemon/ctl.c \
	daemon/queue.c

WORKER_SRCS = \
	worker/decode.c \
	worker/encode.c \
	worker/main.c \
	worker/outbox.c \
	worker/plan.c \
	worker/range.c \
	worker/sandbox.c

UNIT_TESTS = test_outbox test_proto test_outcome test_plan test_range test_config \
	test_queue test_syncgroup

obj = $(patsubst %.c,build/%.o,$(1))

BINS = bin/frameshieldd bin/frameshield bin/frameshield-worker
TEST_BINS = $(addprefix build/tests/,$(UNIT_TESTS)) \
	$(addprefix build/asan/,$(UNIT_TESTS)) \
	build/tests/libfault.so build/tests/libsyncfail.so build/tests/fake_worker

all: $(BINS)

build/libcommon.a: $(call obj,$(COMMON_SRCS))
	@mkdir -p $(@D)
	rm -f $@.tmp && $(AR) rcs $@.tmp $^ && mv $@.tmp $@

# The schema is embedded as a C string so the daemon needs no data files.
build/schema.h: sql/schema.sql
	@mkdir -p $(@D)
	{ echo 'static const char schema_sql[] ='; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/    "/' -e 's/$$/\\n"/' $<; \
	  echo ';'; } > $@.tmp && mv $@.tmp $@

build/daemon/queue.o: build/schema.h

build/daemon/%.o: daemon/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(shell pkg-config --cflags $(PKG_DAEMON)) -c $< -o $@

build/worker/%.o: worker/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(shell pkg-config --cflags $(PKG_WORKER)) -c $< -o $@

build/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

bin/frameshieldd: $(call obj,$(DAEMON_SRCS)) build/libcommon.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs $(PKG_DAEMON))

bin/frameshield: $(call obj,$(CTL_SRCS)) build/libcommon.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs $(PKG_CTL))

bin/frameshield-worker: $(call obj,$(WORKER_SRCS)) build/libcommon.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs $(PKG_WORKER)) -lm

# Unit tests link only the module under test plus common/.
TEST_DEPS_test_proto = common/proto.c
TEST_DEPS_test_outcome = daemon/outcome.c common/log.c
TEST_DEPS_test_plan = worker/plan.c
TEST_DEPS_test_range = worker/range.c
TEST_DEPS_test_outbox = worker/outbox.c common/writeall.c
TEST_DEPS_test_config = daemon/config.c common/log.c
TEST_DEPS_test_queue = daemon/queue.c common/log.c build/schema.h
TEST_LIBS_test_queue = -lsqlite3
TEST_DEPS_test_syncgroup = daemon/syncgroup.c daemon/output.c common/log.c \
	common/writeall.c
TEST_LIBS_test_syncgroup = -luv

.SECONDEXPANSION:
build/tests/test_%: tests/unit/test_%.c $$(TEST_DEPS_test_$$*) tests/unit/check.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/unit -Idaemon -Iworker -o $@ \
		$(filter %.c,$^) -lm $(TEST_LIBS_test_$*)

build/asan/test_%: tests/unit/test_%.c $$(TEST_DEPS_test_$$*) tests/unit/check.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SAN) -Itests/unit -Idaemon -Iworker -o $@ \
		$(filter %.c,$^) -lm $(TEST_LIBS_test_$*)

# Test-only fault injector: built here, never installed.
build/tests/libfault.so: tests/faults/fault.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fPIC -shared -o $@ $< \
		$(shell pkg-config --cflags --libs libavformat libavutil) -ldl

# Test-only: makes the daemon's syncfs fail on demand (t_sync_errors).
build/tests/libsyncfail.so: tests/faults/syncfail.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fPIC -shared -o $@ $< -ldl

build/tests/fake_worker: tests/fakes/fake_worker.c build/libcommon.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $(filter %.c %.a,$^)

# Installs the Debian packages of $(1) that are missing: apt-get update
# first, then apt-get install -y, through sudo when not root.
define install_missing
	@missing=$$(for p in $(1); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
		grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing: $$missing"; \
		SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y $$missing; \
	fi
endef

deps:
	$(call install_missing,$(DEB_PKGS))

test: deps
	$(MAKE) all tests
	tests/run.sh

tests: $(BINS) $(TEST_BINS)

asan: deps
	$(MAKE) $(addprefix build/asan/,$(UNIT_TESTS))
	for t in $(UNIT_TESTS); do build/asan/$$t || exit 1; done

run: deps
	$(MAKE) all
	@mkdir -p var
	exec bin/frameshieldd --db var/frameshield.db

# The benchmark's baselines (bench/run.sh): Debian's OpenCV for the seed
# method of ../shared/SEED.txt, and ffmpegthumbnailer.
BENCH_PKGS = python3-opencv ffmpegthumbnailer

bench: deps
	$(call install_missing,$(BENCH_PKGS))
	$(MAKE) all tests
	BENCH_COMMAND="make bench" bench/run.sh

install: $(BINS)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/libexec/frameshield
	install -m 755 bin/frameshieldd bin/frameshield $(DESTDIR)$(PREFIX)/bin/
	install -m 755 bin/frameshield-worker \
		$(DESTDIR)$(PREFIX)/libexec/frameshield/
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/system
	sed 's|@PREFIX@|$(PREFIX)|g' systemd/frameshield.service > \
		$(DESTDIR)$(PREFIX)/lib/systemd/system/frameshield.service

clean:
	rm -rf build bin

.PHONY: all deps test tests asan run bench install clean

-include $(shell find build -name '*.d' 2>/dev/null)
