/* SPDX-License-Identifier: MIT */
/* sse4 instructions. */
#include "cpu.h"

const struct insn_entry sse4_insns[] = {
	{ 0, NULL },
};
