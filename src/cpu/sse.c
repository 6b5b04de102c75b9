/* SPDX-License-Identifier: MIT */
/* sse instructions. */
#include "cpu.h"

const struct insn_entry sse_insns[] = {
	{ 0, NULL },
};
