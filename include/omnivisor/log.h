/* SPDX-License-Identifier: MIT */
/* Leveled logging and run-time trace switches (`--trace cpu,syscall,...`). Thread-safe. */
#ifndef OMNIVISOR_LOG_H
#define OMNIVISOR_LOG_H

#include <stdbool.h>

enum log_level { LOG_ERR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Trace subsystems, enabled with --trace NAME[,NAME...] */
enum trace_bit {
	TRACE_CPU = 1u << 0,     /* every block executed, disassembled */
	TRACE_SYSCALL = 1u << 1, /* every forwarded system call with arguments and result */
	TRACE_EXEC = 1u << 2,    /* program loading: segments, interpreter, entry */
	TRACE_SIGNAL = 1u << 3,  /* signal delivery and return */
	TRACE_EXC = 1u << 4,     /* system mode: every exception and interrupt delivered */
	TRACE_PIO = 1u << 5,     /* port I/O through the bus */
	TRACE_MMIO = 1u << 6,    /* MMIO through the bus */
};

extern unsigned trace_mask;
extern enum log_level log_level;

void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* trace_parse - parse "cpu,syscall" into trace_mask. Returns 0 or -EINVAL (unknown name). */
int trace_parse(const char *list);

#define pr_err(...) log_msg(LOG_ERR, __VA_ARGS__)
#define pr_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define pr_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define pr_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
/* Trace output: printed whenever its --trace switch is on, whatever the log level. */
#define pr_trace(...) log_msg(LOG_ERR, __VA_ARGS__)
#define trace_on(bit) (__builtin_expect(!!(trace_mask & (bit)), 0))

#endif
