/* SPDX-License-Identifier: MIT */
/* shift instructions. */
#include "cpu.h"

const struct insn_entry shift_insns[] = {
	{ 0, NULL },
};
