/* SPDX-License-Identifier: MIT */
/* x87 instructions. */
#include "cpu.h"

const struct insn_entry x87_insns[] = {
	{ 0, NULL },
};
