/* SPDX-License-Identifier: MIT */
/*
 * CPUID of the system-mode virtual CPU (full virtualization), src/cpu/cpuid.c. The user-mode
 * profile is cpu_cpuid() in cpu.h. The profile is described in docs/system-registers.md.
 */
#ifndef OMNIVISOR_CPU_CPUID_H
#define OMNIVISOR_CPU_CPUID_H

#include <stdint.h>

struct vcpu;

/*
 * cpu_cpuid_sys - CPUID leaf @leaf, subleaf @subleaf as the system-mode vCPU @cpu reports it
 * (EAX, EBX, ECX, EDX in out[0..3]). Depends on the vCPU: its index (initial APIC ID), whether
 * an interrupt controller is attached (APIC, TSC-deadline, ARAT), IA32_MISC_ENABLE.
 */
void cpu_cpuid_sys(struct vcpu *cpu, uint32_t leaf, uint32_t subleaf, uint32_t out[4]);

#endif
