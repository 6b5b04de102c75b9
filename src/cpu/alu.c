/* SPDX-License-Identifier: MIT */
/* alu instructions. */
#include "cpu.h"

const struct insn_entry alu_insns[] = {
	{ 0, NULL },
};
