/* SPDX-License-Identifier: MIT */
/* Placeholder: being written (see sys.h). */
#include "sys.h"

const struct insn_entry seg_insns[] = {
	{ 0, NULL },
};

void sys_load_seg(struct vcpu *cpu, enum seg_reg sr, uint16_t sel)
{
	(void)sr; (void)sel;
	cpu_ud(cpu);
}

int sys_read_descriptor(struct vcpu *cpu, uint16_t sel, uint64_t *desc, uint64_t *desc_hi)
{
	(void)cpu; (void)sel; (void)desc; (void)desc_hi;
	return -1;
}

void sys_seg_from_desc(struct seg_cache *s, uint16_t sel, uint64_t desc)
{
	s->sel = sel;
	s->base = ((desc >> 16) & 0xffffff) | ((desc >> 32) & 0xff000000);
	s->limit = (uint32_t)((desc & 0xffff) | ((desc >> 32) & 0xf0000));
	s->attr = (uint16_t)(((desc >> 40) & 0xff) | ((desc >> 44) & 0xf00));
	if (s->attr & SEG_ATTR_G)
		s->limit = (s->limit << 12) | 0xfff;
}
