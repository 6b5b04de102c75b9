/* SPDX-License-Identifier: MIT */
/* datamov instructions. */
#include "cpu.h"

const struct insn_entry datamov_insns[] = {
	{ 0, NULL },
};
