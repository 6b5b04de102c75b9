/* SPDX-License-Identifier: MIT */
/* bitops instructions. */
#include "cpu.h"

const struct insn_entry bitops_insns[] = {
	{ 0, NULL },
};
