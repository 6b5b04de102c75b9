/* SPDX-License-Identifier: MIT */
/* Placeholder: being written (see sys.h). */
#include "sys.h"

const struct insn_entry msr_insns[] = {
	{ 0, NULL },
};
