/* SPDX-License-Identifier: MIT */
/* Placeholder until the user-mode runner lands. */
#include <stdio.h>
#include "omnivisor/user.h"

int user_exec_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	fprintf(stderr, "omnivisor exec: not implemented yet\n");
	return 1;
}
