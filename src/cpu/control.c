/* SPDX-License-Identifier: MIT */
/* control instructions. */
#include "cpu.h"

const struct insn_entry control_insns[] = {
	{ 0, NULL },
};
