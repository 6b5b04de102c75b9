/* SPDX-License-Identifier: MIT */
/*
 * Partial virtualization: run one Linux x86-64 program on the virtual CPU (`omnivisor exec`).
 */
#ifndef OMNIVISOR_USER_H
#define OMNIVISOR_USER_H

/*
 * user_exec_main - entry point of `omnivisor exec [options] [--] PROGRAM [ARGS...]`.
 * @argc/@argv: the arguments after "exec". Returns the process exit status to use
 * (the guest's exit status, 128+signal style handled by re-raising the signal), or
 * prints one clear message and returns nonzero on bad input.
 */
int user_exec_main(int argc, char **argv);

#endif
