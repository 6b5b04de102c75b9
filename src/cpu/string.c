/* SPDX-License-Identifier: MIT */
/* string instructions. */
#include "cpu.h"

const struct insn_entry string_insns[] = {
	{ 0, NULL },
};
