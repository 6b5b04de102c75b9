/* SPDX-License-Identifier: MIT */
/*
 * The stdio character backend: guest output to a file descriptor (stdout), host input from
 * another (stdin) through a reader thread, raw terminal mode with restoration at exit and on
 * fatal signals, and QEMU-style Ctrl-A escapes. Interface: include/omnivisor/char.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <termios.h>
#include <unistd.h>

#include "omnivisor/char.h"

#define INBUF 256

struct char_stdio {
	struct char_stdio_config cfg;
	int wake_fd; /* eventfd: accept_input and stop */
	pthread_t thread;
	bool started;
	atomic_bool stop;
	struct char_frontend fe;
	pthread_mutex_t out_lock;

	/* reader thread only */
	uint8_t pending[INBUF];
	size_t pending_off, pending_len;
	bool escape_seen;

	_Atomic uint64_t nr_out, nr_in, nr_delivered;
};

/* ---- the terminal: process-wide, as the terminal itself is ---- */

static struct termios saved_termios;
static volatile sig_atomic_t raw_active;
static int raw_fd = -1;
static bool atexit_done;

static const int fatal_always[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGABRT };
static const int fatal_if_default[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE };
#define NR_FATAL (sizeof(fatal_always) / sizeof(int) + sizeof(fatal_if_default) / sizeof(int))
static struct {
	int sig;
	struct sigaction old;
	bool installed;
} fatal[NR_FATAL];

void char_stdio_restore_terminal(void)
{
	if (raw_active) {
		/* tcsetattr is async-signal-safe (POSIX.1-2008 2.4.3) */
		tcsetattr(raw_fd, TCSAFLUSH, &saved_termios);
		raw_active = 0;
	}
}

static void atexit_restore(void)
{
	char_stdio_restore_terminal();
}

/* Restore the terminal, reinstate the signal's previous disposition and let it act: the signal
 * is blocked in here, so the raise is delivered with the old disposition when we return (a
 * fault re-executes and faults again the same way). */
static void fatal_handler(int sig)
{
	int saved_errno = errno;
	char_stdio_restore_terminal();
	for (size_t i = 0; i < NR_FATAL; i++) {
		if (fatal[i].installed && fatal[i].sig == sig) {
			sigaction(sig, &fatal[i].old, NULL);
			fatal[i].installed = false;
			break;
		}
	}
	raise(sig);
	errno = saved_errno;
}

static void install_one(size_t slot, int sig, bool only_if_default)
{
	struct sigaction sa, old;
	if (sigaction(sig, NULL, &old))
		return;
	if (only_if_default && (old.sa_flags & SA_SIGINFO || old.sa_handler != SIG_DFL))
		return;
	if (!(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_IGN)
		return; /* ignored signals cannot kill us */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fatal_handler;
	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, NULL))
		return;
	fatal[slot].sig = sig;
	fatal[slot].old = old;
	fatal[slot].installed = true;
}

static void install_fatal_handlers(void)
{
	size_t slot = 0;
	for (size_t i = 0; i < sizeof(fatal_always) / sizeof(int); i++)
		install_one(slot++, fatal_always[i], false);
	for (size_t i = 0; i < sizeof(fatal_if_default) / sizeof(int); i++)
		install_one(slot++, fatal_if_default[i], true);
}

static void remove_fatal_handlers(void)
{
	for (size_t i = 0; i < NR_FATAL; i++) {
		if (!fatal[i].installed)
			continue;
		struct sigaction cur;
		/* only if it is still ours: someone may have installed a handler since */
		if (!sigaction(fatal[i].sig, NULL, &cur) && !(cur.sa_flags & SA_SIGINFO) &&
		    cur.sa_handler == fatal_handler)
			sigaction(fatal[i].sig, &fatal[i].old, NULL);
		fatal[i].installed = false;
	}
}

static int enter_raw_mode(int fd)
{
	struct termios t;
	if (tcgetattr(fd, &t))
		return -errno;
	saved_termios = t;
	raw_fd = fd;
	/* input and local modes as cfmakeraw; output post-processing (OPOST/ONLCR) kept, as
	 * QEMU's stdio does, so our own messages still start at the left margin */
	t.c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
	t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
	t.c_cflag &= ~(tcflag_t)(CSIZE | PARENB);
	t.c_cflag |= CS8;
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	if (!atexit_done) {
		atexit(atexit_restore);
		atexit_done = true;
	}
	install_fatal_handlers();
	raw_active = 1;
	if (tcsetattr(fd, TCSAFLUSH, &t)) {
		int err = errno;
		raw_active = 0;
		remove_fatal_handlers();
		return -err;
	}
	return 0;
}

/* ---- output ---- */

static ssize_t stdio_write(void *opaque, const void *buf, size_t len)
{
	struct char_stdio *cs = opaque;
	const uint8_t *p = buf;
	size_t done = 0;

	pthread_mutex_lock(&cs->out_lock);
	while (done < len) {
		ssize_t n = write(cs->cfg.out_fd, p + done, len - done);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			/* a non-blocking output that is full: wait a little, then drop */
			struct pollfd pfd = { .fd = cs->cfg.out_fd, .events = POLLOUT };
			if (poll(&pfd, 1, 100) > 0)
				continue;
		}
		break; /* EOF/error on the output: the rest is lost, as on a cut wire */
	}
	pthread_mutex_unlock(&cs->out_lock);
	atomic_fetch_add_explicit(&cs->nr_out, done, memory_order_relaxed);
	return (ssize_t)len;
}

static void stdio_accept_input(void *opaque)
{
	struct char_stdio *cs = opaque;
	uint64_t one = 1;
	/* an eventfd write only fails if the counter would overflow: it is then nonzero anyway */
	ssize_t r = write(cs->wake_fd, &one, sizeof(one));
	(void)r;
}

static const struct char_backend_ops char_stdio_ops = {
	.write = stdio_write,
	.accept_input = stdio_accept_input,
};

/* ---- input ---- */

static void help(struct char_stdio *cs)
{
	static const char text[] = "\r\n"
				   "C-a h    print this help\r\n"
				   "C-a x    exit\r\n"
				   "C-a C-a  send C-a\r\n";
	ssize_t r = write(STDERR_FILENO, text, sizeof(text) - 1);
	(void)r;
	(void)cs;
}

/* Run the escape state machine over @buf; bytes for the guest go to pending. Returns false if
 * input must stop (quit). */
static bool process_input(struct char_stdio *cs, const uint8_t *buf, size_t len)
{
	uint8_t esc = cs->cfg.escape_char;
	for (size_t i = 0; i < len; i++) {
		uint8_t c = buf[i];
		if (esc && cs->escape_seen) {
			cs->escape_seen = false;
			if (c == esc) {
				cs->pending[cs->pending_len++] = c;
			} else if (c == 'x' || c == 'X') {
				if (cs->cfg.quit) {
					cs->cfg.quit(cs->cfg.quit_opaque);
					return false;
				}
			} else if (c == 'h' || c == '?') {
				help(cs);
			}
			continue; /* other escapes: both bytes dropped */
		}
		if (esc && c == esc) {
			cs->escape_seen = true;
			continue;
		}
		cs->pending[cs->pending_len++] = c;
	}
	return true;
}

static void drain_wake(struct char_stdio *cs)
{
	uint64_t v;
	ssize_t r = read(cs->wake_fd, &v, sizeof(v));
	(void)r;
}

static void *reader(void *arg)
{
	struct char_stdio *cs = arg;
	uint8_t buf[INBUF];

	while (!atomic_load(&cs->stop)) {
		if (cs->pending_off < cs->pending_len) {
			size_t n = cs->fe.receive(cs->fe.opaque, cs->pending + cs->pending_off,
						  cs->pending_len - cs->pending_off);
			cs->pending_off += n;
			atomic_fetch_add_explicit(&cs->nr_delivered, n, memory_order_relaxed);
			if (cs->pending_off < cs->pending_len) {
				/* the frontend is full: wait for accept_input (or stop) */
				struct pollfd pfd = { .fd = cs->wake_fd, .events = POLLIN };
				if (poll(&pfd, 1, -1) > 0)
					drain_wake(cs);
			}
			continue;
		}
		cs->pending_off = cs->pending_len = 0;

		struct pollfd pfd[2] = {
			{ .fd = cs->cfg.in_fd, .events = POLLIN },
			{ .fd = cs->wake_fd, .events = POLLIN },
		};
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents & POLLIN)
			drain_wake(cs);
		if (!(pfd[0].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)))
			continue;
		ssize_t r = read(cs->cfg.in_fd, buf, sizeof(buf));
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0)
			break; /* end of input (or an error): input just stops */
		atomic_fetch_add_explicit(&cs->nr_in, (uint64_t)r, memory_order_relaxed);
		if (!process_input(cs, buf, (size_t)r)) {
			cs->pending_len = 0;
			break;
		}
	}
	return NULL;
}

/* ---- public interface ---- */

struct char_stdio *char_stdio_create(const struct char_stdio_config *cfg)
{
	struct char_stdio *cs = calloc(1, sizeof(*cs));
	if (!cs)
		return NULL;
	cs->cfg = *cfg;
	cs->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (cs->wake_fd < 0) {
		int err = errno;
		free(cs);
		errno = err;
		return NULL;
	}
	pthread_mutex_init(&cs->out_lock, NULL);
	atomic_init(&cs->stop, false);
	if (isatty(cfg->in_fd)) {
		int ret = enter_raw_mode(cfg->in_fd);
		if (ret) {
			close(cs->wake_fd);
			pthread_mutex_destroy(&cs->out_lock);
			free(cs);
			errno = -ret;
			return NULL;
		}
	}
	return cs;
}

struct char_backend char_stdio_backend(struct char_stdio *cs)
{
	return (struct char_backend){ .ops = &char_stdio_ops, .opaque = cs };
}

int char_stdio_start(struct char_stdio *cs, const struct char_frontend *fe)
{
	if (cs->started)
		return -EBUSY;
	cs->fe = *fe;
	int ret = pthread_create(&cs->thread, NULL, reader, cs);
	if (ret)
		return -ret;
	cs->started = true;
	return 0;
}

void char_stdio_destroy(struct char_stdio *cs)
{
	if (!cs)
		return;
	if (cs->started) {
		atomic_store(&cs->stop, true);
		stdio_accept_input(cs); /* wake the reader */
		pthread_join(cs->thread, NULL);
	}
	if (raw_active && raw_fd == cs->cfg.in_fd) {
		char_stdio_restore_terminal();
		remove_fatal_handlers();
	}
	close(cs->wake_fd);
	pthread_mutex_destroy(&cs->out_lock);
	free(cs);
}

void char_stdio_print_stats(struct char_stdio *cs, FILE *f)
{
	fprintf(f,
		"char_stdio: %" PRIu64 " bytes out, %" PRIu64 " bytes in, %" PRIu64
		" bytes to the guest\n",
		atomic_load(&cs->nr_out), atomic_load(&cs->nr_in), atomic_load(&cs->nr_delivered));
}
