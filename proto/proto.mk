# Typed channel protocols: proto/*.nidl -> $(BUILD)/gen/proto/<name>.{h,c} and
# <name>_desc.c by proto/idlgen.py. The generated .c files build into the
# kernel and into the host test program like kernel/**/*.c.
#
# Include this from the top Makefile right after HOBJS is defined (it appends
# to KOBJS, HOBJS, KCFLAGS and HCFLAGS, which the rules below that line use).

PROTO_NIDL  := $(sort $(wildcard proto/*.nidl))
PROTO_NAMES := $(basename $(notdir $(PROTO_NIDL)))
PROTO_GEN   := $(BUILD)/gen/proto
PROTO_H     := $(patsubst %,$(PROTO_GEN)/%.h,$(PROTO_NAMES))
PROTO_C     := $(patsubst %,$(PROTO_GEN)/%.c,$(PROTO_NAMES)) \
               $(patsubst %,$(PROTO_GEN)/%_desc.c,$(PROTO_NAMES))
PROTO_KOBJS := $(patsubst $(BUILD)/gen/%.c,$(BUILD)/kernel/gen/%.c.o,$(PROTO_C))
PROTO_HOBJS := $(patsubst $(BUILD)/gen/%.c,$(BUILD)/host/gen/%.c.o,$(PROTO_C))
PROTO_GENERATOR := proto/idlgen.py include/nimbus/object.h include/nimbus/rights.h

KCFLAGS += -I$(BUILD)/gen
HCFLAGS += -I$(BUILD)/gen
KOBJS   += $(PROTO_KOBJS)
HOBJS   += $(PROTO_HOBJS)

.PHONY: proto
proto: $(PROTO_H) $(PROTO_C)

# One generator run writes all three files of a protocol; the .h stands for
# them (the .c files depend on it). Files are rewritten only when they change.
$(PROTO_GEN)/%.h: proto/%.nidl $(PROTO_GENERATOR)
	@mkdir -p $(dir $@)
	@echo "  IDLGEN  $<"
	$(Q)$(PY) proto/idlgen.py --abi include/nimbus --out $(PROTO_GEN) $<
	$(Q)touch $@
$(PROTO_GEN)/%_desc.c: $(PROTO_GEN)/%.h ;
$(PROTO_GEN)/%.c: $(PROTO_GEN)/%.h ;

$(BUILD)/kernel/gen/%.c.o: $(BUILD)/gen/%.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(KCFLAGS) -c $< -o $@

$(BUILD)/host/gen/%.c.o: $(BUILD)/gen/%.c
	@mkdir -p $(dir $@)
	@echo "  HOSTCC  $<"
	$(Q)$(CC) $(HCFLAGS) -c $< -o $@

# Sources that include generated headers (found by the compiler's .d files
# from the second build on) need them to exist before the first compile.
$(KOBJS) $(HOBJS): | $(PROTO_H)
