/* SPDX-License-Identifier: MIT */
/* mmx instructions. */
#include "cpu.h"

const struct insn_entry mmx_insns[] = {
	{ 0, NULL },
};
