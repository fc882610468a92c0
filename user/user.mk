# User space: libnimbus, init and the test programs, built with Debian's musl
# (musl-gcc -static), and the initrd made from them (tools/mkinitrd.py).
#
# Include from the top Makefile after proto/proto.mk (this file uses
# PROTO_NAMES, PROTO_GEN and WARN, and adds prerequisites to two host test
# objects). Targets: `user` (libnimbus and programs), `user-host-tests`
# (user-space logic under ASan/UBSan on the host), $(INITRD).

USER_CC    := musl-gcc
USER_BUILD := $(BUILD)/user
USER_KINC  := $(USER_BUILD)/kinc
LIBNIMBUS  := $(USER_BUILD)/libnimbus.a

# Kernel library files libnimbus builds too. They may include only these
# kernel headers (copied to $(USER_KINC), so the build catches anything else).
USER_KLIB_C := kernel/lib/cpio.c kernel/lib/elf.c kernel/lib/status.c kernel/lib/ldisc.c kernel/lib/aml.c
USER_KTEST_C := kernel/lib/ktest.c kernel/lib/printf.c
USER_KLIB_H := lib/cpio.h lib/elf.h lib/compiler.h lib/ktest.h lib/fmt.h lib/ldisc.h lib/aml.h
USER_KINC_H := $(addprefix $(USER_KINC)/,$(USER_KLIB_H))

USER_INCS   := -Iuser/lib/include -Iinclude -I$(BUILD)/gen -I$(USER_KINC)
USER_CFLAGS := -std=gnu11 -O2 -g $(WARN) $(USER_INCS) -fno-omit-frame-pointer -MMD -MP
# nb_start (user/lib/start.S) saves the bootstrap handle, then runs musl's _start.
USER_LDFLAGS := -static -Wl,-u,nb_start -Wl,-e,nb_start -Wl,-z,noexecstack

# The bootstrap protocol lives in user/lib/proto/ until proto/ has it.
ifeq ($(wildcard proto/bootstrap.nidl),)
USER_PROTO_NAMES := $(PROTO_NAMES) bootstrap
$(PROTO_GEN)/bootstrap.h: user/lib/proto/bootstrap.nidl $(PROTO_GENERATOR)
	@mkdir -p $(dir $@)
	@echo "  IDLGEN  $<"
	$(Q)$(PY) proto/idlgen.py --abi include/nimbus --out $(PROTO_GEN) $<
	$(Q)touch $@
$(PROTO_GEN)/bootstrap.c: $(PROTO_GEN)/bootstrap.h ;
else
USER_PROTO_NAMES := $(PROTO_NAMES)
endif
USER_PROTO_H := $(patsubst %,$(PROTO_GEN)/%.h,$(USER_PROTO_NAMES))
USER_PROTO_C := $(patsubst %,$(PROTO_GEN)/%.c,$(USER_PROTO_NAMES))

LIBNIMBUS_SRC := $(sort $(wildcard user/lib/*.c)) $(USER_KLIB_C) $(USER_PROTO_C) user/lib/start.S
# libvirtio (docs/VIRTIO.md).
LIBNIMBUS_SRC += $(sort $(wildcard user/lib/virtio/*.c))
LIBNIMBUS_OBJ := $(patsubst %,$(USER_BUILD)/obj/%.o,$(LIBNIMBUS_SRC))
USER_KTEST_OBJ := $(patsubst %,$(USER_BUILD)/obj/%.o,$(USER_KTEST_C) user/tests/ktest_output.c)

# Programs: name, sources, and where the initrd has them.
USER_PROGS := init hello utest crash pthreads ubench nsh fdtest
init_SRC   := $(sort $(wildcard user/init/*.c))
hello_SRC  := user/tests/hello.c
utest_SRC  := user/tests/utest.c
crash_SRC  := user/tests/crash.c
pthreads_SRC := user/tests/pthreads.c
init_PATH  := init
hello_PATH := bin/hello
utest_PATH := test/utest
crash_PATH := test/crash
pthreads_PATH := test/pthreads
ubench_SRC := user/tests/ubench.c
ubench_PATH := test/ubench
nsh_SRC    := $(sort $(wildcard user/sh/*.c))
nsh_PATH   := bin/nsh
# Services (services/NAME/): the console service owns the serial port.
USER_PROGS += console
console_SRC  := services/console/main.c services/console/core.c services/console/conloop.c
console_PATH := bin/console
# The device manager (docs/DEVICES.md, "Device manager").
USER_PROGS += devmgr
devmgr_SRC  := services/devmgr/main.c services/devmgr/discover.c services/devmgr/acpi.c \
               services/devmgr/drivers.c
devmgr_PATH := bin/devmgr
# virtio drivers (docs/VIRTIO.md): services/virtio-NAME/ is /bin/virtio-NAME,
# each with the shared glue in services/virtio-common/.
VIRTIO_DRIVERS := $(patsubst services/virtio-%/main.c,virtio-%,$(sort $(wildcard services/virtio-*/main.c)))
USER_PROGS += $(VIRTIO_DRIVERS)
$(foreach d,$(VIRTIO_DRIVERS),$(eval $(d)_SRC := $(sort $(wildcard services/$(d)/*.c)) services/virtio-common/vdrv.c)$(eval $(d)_PATH := bin/$(d)))
# The virtio console runs the console service's logic and loop glue on its port.
virtio-console_SRC += services/console/core.c services/console/conloop.c
USER_PROGS += blktest
blktest_SRC := user/tests/blktest.c user/tests/drvtest.c
blktest_PATH := test/blktest
blktest_KTEST := 1
USER_PROGS += blkbench
blkbench_SRC := user/tests/blkbench.c
blkbench_PATH := test/blkbench
USER_PROGS += nettest
nettest_SRC := user/tests/nettest.c user/tests/drvtest.c
nettest_PATH := test/nettest
nettest_KTEST := 1
fdtest_SRC := user/tests/fdtest.c
fdtest_PATH := test/fdtest
USER_PROGS += sysinfo
sysinfo_SRC := user/tests/sysinfo_test.c
sysinfo_PATH := test/sysinfo
sysinfo_KTEST := 1
USER_PROGS += stress
stress_SRC := user/tests/stress.c
stress_PATH := test/stress
USER_PROGS += devtest
devtest_SRC := user/tests/devtest.c
devtest_PATH := test/devtest
devtest_KTEST := 1
# Commands: every user/cmd/NAME.c is /bin/NAME (one file each; shared code in
# libnimbus).
USER_CMDS := $(patsubst user/cmd/%.c,%,$(sort $(wildcard user/cmd/*.c)))
USER_PROGS += $(USER_CMDS)
$(foreach c,$(USER_CMDS),$(eval $(c)_SRC := user/cmd/$(c).c)$(eval $(c)_PATH := bin/$(c)))
# Test programs print KTAP with the kernel's KTEST runner.
hello_KTEST := 1
utest_KTEST := 1
pthreads_KTEST := 1
fdtest_KTEST := 1
stress_KTEST := 1

USER_BINS := $(patsubst %,$(USER_BUILD)/bin/%,$(USER_PROGS))

.PHONY: user user-host-tests
user: $(LIBNIMBUS) $(USER_BINS)

.SECONDARY: $(USER_KINC_H)
$(USER_KINC)/lib/%.h: kernel/include/lib/%.h
	@mkdir -p $(dir $@)
	$(Q)cp $< $@

$(USER_BUILD)/obj/%.c.o: %.c | $(USER_KINC_H) $(USER_PROTO_H)
	@mkdir -p $(dir $@)
	@echo "  USERCC  $<"
	$(Q)$(USER_CC) $(USER_CFLAGS) -c $< -o $@

$(USER_BUILD)/obj/%.S.o: %.S
	@mkdir -p $(dir $@)
	@echo "  USERAS  $<"
	$(Q)$(USER_CC) $(USER_INCS) -MMD -MP -c $< -o $@

$(LIBNIMBUS): $(LIBNIMBUS_OBJ)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

define user_prog
$(USER_BUILD)/bin/$(1): $(patsubst %,$(USER_BUILD)/obj/%.o,$($(1)_SRC)) $(if $($(1)_KTEST),$(USER_KTEST_OBJ)) $(LIBNIMBUS)
	@mkdir -p $$(dir $$@)
	@echo "  USERLD  $$@"
	$(Q)$(USER_CC) $(USER_LDFLAGS) -o $$@ $$(filter %.o,$$^) $(LIBNIMBUS)
endef
$(foreach p,$(USER_PROGS),$(eval $(call user_prog,$(p))))

# ---- The initrd: initrd/ (plain files such as etc/init.manifest) plus the
# programs, packed reproducibly (sorted, owner 0, mtime 0).
# Programs go in stripped (build/user/bin keeps the symbols for gdb).
INITRD_FILES := $(shell find initrd -type f 2>/dev/null)
USER_STRIPPED := $(patsubst %,$(USER_BUILD)/stripped/%,$(USER_PROGS))
$(USER_BUILD)/stripped/%: $(USER_BUILD)/bin/%
	@mkdir -p $(dir $@)
	$(Q)strip -o $@ $<

$(INITRD): $(USER_STRIPPED) $(INITRD_FILES) tools/mkinitrd.py
	@mkdir -p $(dir $@)
	@echo "  CPIO    $@"
	$(Q)$(PY) tools/mkinitrd.py -o $@ --root initrd \
		$(foreach p,$(USER_PROGS),--file $($(p)_PATH)=$(USER_BUILD)/stripped/$(p))

# ---- Samples for the kernel's host tests: an archive written by Debian's
# cpio (suite cpio) and a real musl program with readelf's view of it (elf).
USER_SAMPLE_DIR := $(USER_BUILD)/cpio-sample
$(BUILD)/gen/cpio_sample.h: user/tools/carray.py
	@mkdir -p $(dir $@) $(USER_SAMPLE_DIR)/etc $(USER_SAMPLE_DIR)/bin
	$(Q)printf 'hello /bin/hello\n' > $(USER_SAMPLE_DIR)/etc/init.manifest
	$(Q)printf '' > $(USER_SAMPLE_DIR)/bin/empty
	$(Q)printf 'odd size!' > $(USER_SAMPLE_DIR)/bin/odd
	$(Q)cd $(USER_SAMPLE_DIR) && find . | LC_ALL=C sort | \
		cpio --quiet -o -H newc --reproducible > ../cpio-sample.cpio
	$(Q)$(PY) user/tools/carray.py --cpio $(USER_BUILD)/cpio-sample.cpio \
		--root $(USER_SAMPLE_DIR) -o $@

$(BUILD)/gen/user_elf_sample.h: $(USER_BUILD)/bin/hello user/tools/carray.py
	@mkdir -p $(dir $@)
	$(Q)$(PY) user/tools/carray.py --elf $< -o $@

$(BUILD)/host/kernel/lib/cpio_test.c.o: $(BUILD)/gen/cpio_sample.h
$(BUILD)/host/kernel/lib/elf_test.c.o: $(BUILD)/gen/user_elf_sample.h

# ---- User-space logic on the host (gcc, ASan, UBSan): manifest parser,
# loop keys and bootstrap roles, with the kernel's KTEST runner.
USER_HOST_TEST := $(USER_BUILD)/host/user-host-tests
USER_HOST_SRC := user/init/manifest.c user/lib/keys.c user/lib/roles.c user/tests/ktest_output.c \
                 user/lib/sysinfo.c \
                 $(sort $(wildcard user/tests/host/*.c)) $(USER_KTEST_C) kernel/lib/status.c
# The console service's logic (suite console) with the line discipline and
# its protocol's generated code.
USER_HOST_SRC += services/console/core.c services/console/console_test.c kernel/lib/ldisc.c \
                 $(PROTO_GEN)/console.c $(PROTO_GEN)/devmgr.c
# The shell's pure parts (lexer, parser, expansion, variables, policy, line
# editor) and the initrd directory helpers.
NSH_HOST_SRC := user/sh/arena.c user/sh/parse.c user/sh/expand.c user/sh/vars.c \
                user/sh/policy.c user/sh/ledit.c
USER_HOST_SRC += $(NSH_HOST_SRC) user/lib/initrd_dir.c kernel/lib/cpio.c
# The text commands' line reader and pure parts (suite textin).
USER_HOST_SRC += user/lib/textin.c user/lib/textops.c
# The device manager's discovery and driver table (suites devmgr_*).
USER_HOST_SRC += services/devmgr/discover.c services/devmgr/acpi.c kernel/lib/aml.c services/devmgr/drivers.c \
                 services/devmgr/devmgr_test.c
# libvirtio against a fake device (suites virtio_*).
USER_HOST_SRC += $(sort $(wildcard user/lib/virtio/*.c))
# Ethernet + ARP frames for arping and nettest (suite arp).
USER_HOST_SRC += user/lib/arp.c
# virtio-blk's request slots (suite blkslots).
USER_HOST_SRC += services/virtio-blk/slots.c
USER_HOST_OBJ := $(patsubst %,$(USER_BUILD)/host/%.o,$(USER_HOST_SRC))
USER_HOST_CFLAGS := -std=gnu11 -O1 -g $(WARN) -Iuser/lib/include -Iuser/init -Iuser/sh -Iinclude \
                    -I$(BUILD)/gen -I$(USER_KINC) -DHOST_TEST -fno-omit-frame-pointer \
                    -fsanitize=address,undefined -fno-sanitize-recover=undefined -MMD -MP

$(USER_BUILD)/host/%.c.o: %.c | $(USER_KINC_H) $(USER_PROTO_H)
	@mkdir -p $(dir $@)
	@echo "  HOSTCC  $<"
	$(Q)$(CC) $(USER_HOST_CFLAGS) -c $< -o $@

$(USER_HOST_TEST): $(USER_HOST_OBJ)
	@echo "  HOSTLD  $@"
	$(Q)$(CC) $(USER_HOST_CFLAGS) -o $@ $^

user-host-tests: $(USER_HOST_TEST)
