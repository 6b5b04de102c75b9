/* SPDX-License-Identifier: MIT */
/* omnivisor: command-line entry point. */
#include <stdio.h>
#include <string.h>

#include "omnivisor/machine.h"
#include "omnivisor/user.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: omnivisor COMMAND [ARGS...]\n"
		"\n"
		"commands:\n"
		"  exec [options] [--] PROGRAM [ARGS...]\n"
		"        run one Linux x86-64 program on the virtual CPU (partial virtualization);\n"
		"        `omnivisor exec --help` lists its options\n"
		"  run --kernel FILE [options]\n"
		"        boot a virtual PC (full virtualization); `omnivisor run --help`\n"
		"  help  show this text\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "exec"))
		return user_exec_main(argc - 2, argv + 2);
	if (!strcmp(argv[1], "run"))
		return machine_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "omnivisor: unknown command '%s' (try `omnivisor help`)\n", argv[1]);
	return 2;
}
