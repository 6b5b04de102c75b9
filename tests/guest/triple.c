/* SPDX-License-Identifier: MIT */
/*
 * Triple fault (Intel SDM Vol. 3A 6.15 "Interrupt 8": a fault while delivering #DF makes the
 * processor enter shutdown; a PC chipset turns shutdown into a reset, which the VMM, like
 * QEMU -no-reboot, turns into its exit). With an IDT limit of 0, the #UD of UD2 cannot be
 * delivered (#GP: vector beyond the limit, 6.10/6.12.1), nor that #GP (-> #DF), nor the #DF.
 * Expected (triple.status): the VMM ends with a status other than 1 (the debug-exit "done"),
 * after exactly the output before the fault; "unreachable" never appears.
 */
#include "guest.h"

void test_main(void)
{
	struct __attribute__((packed)) {
		uint16_t limit;
		uint64_t base;
	} idtr = { 0, 0 };
	printf("before triple fault\n");
	__asm__ volatile("lidt %0\n\tud2" ::"m"(idtr));
	printf("unreachable\n");
}
