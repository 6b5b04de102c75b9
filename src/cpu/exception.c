/* SPDX-License-Identifier: MIT */
/* Placeholder: being written (see sys.h). */
#include "sys.h"

const struct insn_entry exception_insns[] = {
	{ 0, NULL },
};

void sys_deliver(struct vcpu *cpu, unsigned vector, enum event_kind kind, bool has_error,
		 uint32_t error)
{
	(void)vector; (void)kind; (void)has_error; (void)error;
	cpu_raise(cpu, EXC_DF, 0, 0);
}

int sys_exception_unwound(struct vcpu *cpu)
{
	(void)cpu;
	return VCPU_EXIT_SHUTDOWN;
}
