/* SPDX-License-Identifier: MIT */
/* muldiv instructions. */
#include "cpu.h"

const struct insn_entry muldiv_insns[] = {
	{ 0, NULL },
};
