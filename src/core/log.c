/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "omnivisor/log.h"

unsigned trace_mask;
enum log_level log_level = LOG_WARN;

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;
	if (lvl > log_level)
		return;
	n = snprintf(buf, sizeof(buf), "omnivisor: ");
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	va_end(ap);
	/* one write(2) per message so lines from threads do not interleave */
	fprintf(stderr, "%s\n", buf);
}

int trace_parse(const char *list)
{
	static const struct { const char *name; unsigned bit; } names[] = {
		{ "cpu", TRACE_CPU }, { "syscall", TRACE_SYSCALL }, { "exec", TRACE_EXEC },
		{ "signal", TRACE_SIGNAL }, { "exc", TRACE_EXC }, { "pio", TRACE_PIO },
		{ "mmio", TRACE_MMIO },
	};
	char buf[256], *save, *tok;
	snprintf(buf, sizeof(buf), "%s", list);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		size_t i;
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (!strcmp(tok, names[i].name))
				break;
		if (i == sizeof(names) / sizeof(names[0]))
			return -EINVAL;
		trace_mask |= names[i].bit;
	}
	return 0;
}
