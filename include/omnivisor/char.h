/* SPDX-License-Identifier: MIT */
/*
 * Character devices and their host backends (conventions 4 and 5).
 *
 * A character frontend (the 16550A UART, later virtio-console) and a host backend (stdio, pty,
 * socket) meet through two small structs:
 *
 *   struct char_backend   what the frontend holds: ops to send guest output to the host and to
 *                         tell the backend that the frontend can take input again;
 *   struct char_frontend  what the backend holds: where host input goes, with flow control
 *                         (receive returns how many bytes were accepted).
 *
 * Flow control: a backend offers input with char_frontend.receive; the frontend accepts what
 * fits (possibly 0 bytes) and returns that count. The backend keeps the rest and offers it again
 * after the frontend calls char_backend_ops.accept_input (which the frontend does whenever room
 * appears, e.g. when the guest reads its receive buffer). Nothing is ever dropped by this
 * interface.
 *
 * Locking: a frontend may call ops->write and ops->accept_input with its own lock held, so a
 * backend must never call back into the frontend from inside those two functions (it calls
 * char_frontend.receive only from its own thread or from its own poll function).
 */
#ifndef OMNIVISOR_CHAR_H
#define OMNIVISOR_CHAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

struct char_backend_ops {
	/*
	 * write - guest output to the host: @len bytes at @buf. Returns the number of bytes
	 * consumed (a backend that cannot keep up may drop output and still return @len: the
	 * guest cannot be told, as a UART's wire never pushes back) or a negative errno. May be
	 * called from any vCPU thread, with the frontend's lock held; must not block for long.
	 * NULL: output is discarded.
	 */
	ssize_t (*write)(void *opaque, const void *buf, size_t len);
	/*
	 * accept_input - the frontend has room for input again. Called with the frontend's lock
	 * held: the backend must only note it (wake its thread), never call receive from here.
	 * NULL: the backend does not need to be told (it polls).
	 */
	void (*accept_input)(void *opaque);
};

/* The frontend's view of its backend. A zeroed struct (ops == NULL) is a valid "null" backend:
 * output is discarded and there is never input. */
struct char_backend {
	const struct char_backend_ops *ops;
	void *opaque;
};

/* The backend's view of its frontend. */
struct char_frontend {
	/*
	 * receive - host input for the guest. Returns the number of bytes accepted (0..@len); the
	 * backend keeps the rest until accept_input. Thread-safe (the frontend locks).
	 */
	size_t (*receive)(void *opaque, const uint8_t *buf, size_t len);
	void *opaque;
};

static inline ssize_t char_backend_write(const struct char_backend *be, const void *buf, size_t len)
{
	if (!be->ops || !be->ops->write)
		return (ssize_t)len;
	return be->ops->write(be->opaque, buf, len);
}

static inline void char_backend_accept_input(const struct char_backend *be)
{
	if (be->ops && be->ops->accept_input)
		be->ops->accept_input(be->opaque);
}

/* ---- the stdio backend (src/backend/char_stdio.c) ---- */

/*
 * Guest output goes to standard output (fd 1); standard input (fd 0) goes to the frontend.
 *
 * Input runs in a reader thread the backend owns (started by char_stdio_start): it blocks in
 * poll(2) on stdin and on an internal eventfd, so the machine needs no polling loop, and input
 * reaches the guest as soon as it is typed. When the frontend is full, the thread waits for
 * accept_input.
 *
 * When stdin is a terminal it is put in raw mode (no echo, no line editing, no signals from
 * ^C/^Z/^\, 8-bit clean; output post-processing is kept so host messages still begin at the
 * left margin), restored by char_stdio_destroy, at exit (atexit) and on the fatal signals
 * SIGINT, SIGTERM, SIGHUP, SIGQUIT and SIGABRT (the handler restores the terminal, then the
 * signal's previous disposition runs); SIGSEGV, SIGBUS, SIGILL and SIGFPE get the same handler
 * only if their disposition is SIG_DFL when the backend is created (the virtual CPU installs
 * its own SIGSEGV handler for guest faults: a machine that does so must call
 * char_stdio_restore_terminal, which is async-signal-safe, from its own fatal paths).
 * When stdin is not a terminal (a pipe, a file, /dev/null) nothing is changed and end of file
 * simply ends input; output keeps working.
 *
 * Escape sequences (as QEMU's -serial mon:stdio), recognised in the input stream when
 * escape_char is not 0 (conventionally 0x01, Ctrl-A):
 *   Ctrl-A x       call quit(quit_opaque) from the reader thread, which then ends (input
 *                  stops); quit must only signal the machine: calling char_stdio_destroy from
 *                  it would join the calling thread
 *   Ctrl-A Ctrl-A  send one Ctrl-A to the guest
 *   Ctrl-A h or ?  print the list of escapes on standard error
 *   Ctrl-A other   ignored (both bytes are dropped)
 */
struct char_stdio_config {
	uint8_t escape_char;		/* 0: no escapes (all input goes to the guest) */
	void (*quit)(void *opaque);	/* Ctrl-A x; NULL: the escape is ignored */
	void *quit_opaque;
	int in_fd, out_fd;		/* normally 0 and 1; tests pass pipes */
};

struct char_stdio;

/*
 * char_stdio_create - set up the backend (raw mode if @cfg->in_fd is a terminal). Returns the
 * backend or NULL with errno set (ENOMEM, or the error of eventfd/tcgetattr/tcsetattr).
 * Only one char_stdio may be in raw mode at a time (the saved terminal state is process-wide).
 */
struct char_stdio *char_stdio_create(const struct char_stdio_config *cfg);

/* char_stdio_backend - the struct char_backend a frontend is created with. Valid until destroy. */
struct char_backend char_stdio_backend(struct char_stdio *cs);

/*
 * char_stdio_start - start the reader thread, which delivers input to @fe. Call once, after the
 * frontend exists. Returns 0, -EBUSY (already started) or the negative errno of
 * pthread_create.
 */
int char_stdio_start(struct char_stdio *cs, const struct char_frontend *fe);

/*
 * char_stdio_destroy - stop the reader thread (if started), restore the terminal, free. The
 * frontend must no longer call write / accept_input. NULL is a no-op.
 */
void char_stdio_destroy(struct char_stdio *cs);

/* char_stdio_restore_terminal - put the terminal back as it was. Async-signal-safe, idempotent;
 * for a machine's own fatal-signal handler. */
void char_stdio_restore_terminal(void);

/* Counters: bytes written to out_fd, bytes read from in_fd, bytes given to the frontend. */
void char_stdio_print_stats(struct char_stdio *cs, FILE *f);

#endif
