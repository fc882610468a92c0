# Nimbus build. `make run` boots it in QEMU, `make test` runs every test.
# Kernel sources are found by globbing kernel/; a C file whose first line is
# `// nimbus:host` is portable kernel logic that also builds into the host test
# program (with ASan and UBSan).

BUILD   ?= build
CC      := gcc
LD      := ld
PY      := /usr/bin/python3
Q       := @

KERNEL_ELF := $(BUILD)/nimbus.elf
INITRD     := $(BUILD)/initrd.cpio
HOST_TEST  := $(BUILD)/host/ktest-host

WARN := -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow -Wpointer-arith \
        -Wstrict-prototypes -Wmissing-prototypes -Wvla
INCS := -Ikernel/include -Iinclude

KCFLAGS := -std=gnu11 -O2 -g $(WARN) $(INCS) -ffreestanding -fno-builtin-printf \
           -fno-stack-protector -fno-pic -fno-pie -mcmodel=kernel -mno-red-zone \
           -mgeneral-regs-only -mno-sse -mno-sse2 -mno-mmx -mno-avx -march=x86-64 \
           -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer \
           -fno-asynchronous-unwind-tables -fcf-protection=none \
           -fno-strict-aliasing -fno-common -MMD -MP
KASFLAGS := $(INCS) -D__ASSEMBLY__ -MMD -MP -g
KLDFLAGS := -nostdlib -static -no-pie -z max-page-size=0x1000 -z noexecstack \
            --no-warn-rwx-segments -T kernel/arch/x86_64/kernel.ld

HCFLAGS := -std=gnu11 -O1 -g $(WARN) $(INCS) -DHOST_TEST -fno-omit-frame-pointer \
           -fsanitize=address,undefined -fno-sanitize-recover=undefined -pthread -MMD -MP

KERNEL_C := $(shell find kernel -name '*.c' | sort)
KERNEL_S := $(shell find kernel -name '*.S' | sort)
KOBJS    := $(patsubst %,$(BUILD)/%.o,$(KERNEL_C) $(KERNEL_S))
HOST_SRC := $(shell grep -rl --include='*.c' '^// nimbus:host' kernel | sort) \
            $(sort $(wildcard tests/host/*.c))
HOBJS    := $(patsubst %,$(BUILD)/host/%.o,$(HOST_SRC))

# Typed-channel protocols: generated C joins the kernel and the host tests.
include proto/proto.mk
# User space (libnimbus, init, test programs) and the initrd built from it.
include user/user.mk

.PHONY: all kernel initrd host-tests run test bench check check-format check-cppcheck format clean deps
all: $(KERNEL_ELF) $(INITRD) $(HOST_TEST) $(USER_HOST_TEST)
kernel: $(KERNEL_ELF)
initrd: $(INITRD)
host-tests: $(HOST_TEST)

$(BUILD)/kernel/%.c.o: kernel/%.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(KCFLAGS) -c $< -o $@

$(BUILD)/kernel/%.S.o: kernel/%.S
	@mkdir -p $(dir $@)
	@echo "  AS      $<"
	$(Q)$(CC) $(KASFLAGS) -c $< -o $@

# The symbol table is linked in a second pass; it sits in its own segment
# after .bss so adding it moves nothing. The build checks that.
$(BUILD)/ksyms0.S: tools/gen-ksyms.py
	@mkdir -p $(dir $@)
	$(Q)$(PY) tools/gen-ksyms.py --empty > $@
$(BUILD)/%.S.o: $(BUILD)/%.S
	$(Q)$(CC) $(KASFLAGS) -c $< -o $@

$(BUILD)/nimbus.pass1.elf: $(KOBJS) $(BUILD)/ksyms0.S.o kernel/arch/x86_64/kernel.ld
	@echo "  LD      $@"
	$(Q)$(LD) $(KLDFLAGS) -o $@ $(KOBJS) $(BUILD)/ksyms0.S.o

$(BUILD)/ksyms.S: $(BUILD)/nimbus.pass1.elf tools/gen-ksyms.py
	$(Q)nm -n -S $< | $(PY) tools/gen-ksyms.py > $@

$(KERNEL_ELF): $(BUILD)/nimbus.pass1.elf $(BUILD)/ksyms.S.o
	@echo "  LD      $@"
	$(Q)$(LD) $(KLDFLAGS) -o $@ $(KOBJS) $(BUILD)/ksyms.S.o
	$(Q)nm -n -S $@ | $(PY) tools/gen-ksyms.py | cmp -s - $(BUILD)/ksyms.S || \
		{ echo "ksyms: symbol addresses moved between link passes" >&2; rm -f $@; exit 1; }

$(BUILD)/host/%.c.o: %.c
	@mkdir -p $(dir $@)
	@echo "  HOSTCC  $<"
	$(Q)$(CC) $(HCFLAGS) -c $< -o $@

$(HOST_TEST): $(HOBJS)
	@echo "  HOSTLD  $@"
	$(Q)$(CC) $(HCFLAGS) -o $@ $(HOBJS)

deps: $(BUILD)/.deps-ok
$(BUILD)/.deps-ok: tools/deps.sh
	$(Q)sh tools/deps.sh
	@mkdir -p $(BUILD) && touch $@

run: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(PY) tools/nimbus-vm $(VMARGS)

test: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(PY) tools/testsuite.py

bench: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(PY) tools/bench.py

# Style and static analysis: clang-format must be clean, cppcheck quiet.
# `make test` runs both as its "lint" stage.
check: check-format check-cppcheck
USER_C_H := $(shell find user services -name '*.c' -o -name '*.h')
check-format:
	$(Q)clang-format --dry-run -Werror $(KERNEL_C) $(wildcard tests/host/*.c) $(USER_C_H) $(shell find kernel include -name '*.h')
check-cppcheck: $(PROTO_H)
	$(Q)cppcheck --quiet --error-exitcode=1 --enable=warning,portability --inline-suppr \
		--suppress=missingIncludeSystem $(INCS) -I$(BUILD)/gen -D__x86_64__ $(KERNEL_C)

format:
	$(Q)clang-format -i $(KERNEL_C) $(wildcard tests/host/*.c) $(USER_C_H) $(shell find kernel include -name '*.h')

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# `make bench` beside a Linux guest (tools/bench_linux.py, docs/PERFORMANCE.md):
# static musl probes in an initramfs for Debian's kernel, and the PVH floor
# kernel. Only `make bench` builds them; tools/linuxbench/deps.sh installs
# Debian's linux-image-amd64 when /boot has no kernel.
LINUXBENCH := $(BUILD)/linuxbench
LINUXBENCH_CFLAGS := -std=gnu11 -O2 -s -static $(WARN)

$(LINUXBENCH)/init: tools/linuxbench/init.c | $(BUILD)/.deps-ok
	@mkdir -p $(dir $@)
	@echo "  MUSLCC  $@"
	$(Q)musl-gcc $(LINUXBENCH_CFLAGS) -o $@ $<

$(LINUXBENCH)/lbench: tools/linuxbench/probes.c | $(BUILD)/.deps-ok
	@mkdir -p $(dir $@)
	@echo "  MUSLCC  $@"
	$(Q)musl-gcc $(LINUXBENCH_CFLAGS) -pthread -o $@ $<

# The block benchmark's Linux side (tools/bench_linux.py packs it with the
# kernel's virtio modules into initramfs-blk.cpio at run time).
$(LINUXBENCH)/lblk: tools/linuxbench/blkbench.c | $(BUILD)/.deps-ok
	@mkdir -p $(dir $@)
	@echo "  MUSLCC  $@"
	$(Q)musl-gcc $(LINUXBENCH_CFLAGS) -o $@ $<

$(LINUXBENCH)/initramfs.cpio: $(LINUXBENCH)/init $(LINUXBENCH)/lbench tools/linuxbench/mkinitramfs.py tools/mkinitrd.py
	@echo "  CPIO    $@"
	$(Q)$(PY) tools/linuxbench/mkinitramfs.py -o $@ --file init=$(LINUXBENCH)/init --file lbench=$(LINUXBENCH)/lbench

$(BUILD)/floor.elf: tools/floor/floor.S tools/floor/floor.ld
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) -c tools/floor/floor.S -o $(BUILD)/floor.o
	$(Q)$(LD) -nostdlib -static -z max-page-size=0x1000 -z noexecstack -T tools/floor/floor.ld -o $@ $(BUILD)/floor.o

.PHONY: linuxbench linuxbench-deps
linuxbench: $(LINUXBENCH)/initramfs.cpio $(LINUXBENCH)/lblk $(BUILD)/floor.elf
linuxbench-deps: deps
	$(Q)sh tools/linuxbench/deps.sh
bench: linuxbench linuxbench-deps
