/* SPDX-License-Identifier: MIT */
/* system instructions. */
#include "cpu.h"

const struct insn_entry system_insns[] = {
	{ 0, NULL },
};
