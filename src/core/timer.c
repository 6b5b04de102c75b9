/* SPDX-License-Identifier: MIT */
/*
 * Host timer service (include/omnivisor/timer.h): one thread, a binary min-heap of pending
 * timers ordered by deadline, a CLOCK_MONOTONIC condition variable to sleep until the earliest
 * deadline. Callbacks run on the service thread with the service lock dropped.
 *
 * Lock order: a device lock may be held while calling timer_mod/timer_del (the LAPIC arms its
 * timer with its own lock held); the service never calls out with its lock held, so no cycle.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <time.h>

#include "omnivisor/timer.h"

struct timer {
	struct timer_service *svc;
	timer_cb cb;
	void *opaque;
	uint64_t deadline_ns;
	size_t heap_idx;	   /* index in svc->heap, or NOT_PENDING */
	struct timer *prev, *next; /* all timers of the service, for destroy */
};

#define NOT_PENDING SIZE_MAX

struct timer_service {
	pthread_mutex_t lock;
	pthread_cond_t wake;	/* the service thread sleeps on it (CLOCK_MONOTONIC) */
	pthread_cond_t cb_done; /* broadcast when a callback returns */
	pthread_t thread;
	bool stop;
	struct timer **heap; /* min-heap on deadline_ns; capacity >= nr_timers: mod never allocs */
	size_t nr_pending, heap_cap;
	struct timer *all; /* doubly linked list of allocated timers */
	size_t nr_timers;
	struct timer *running; /* whose callback runs now (compared, never dereferenced) */
	uint64_t nr_fired, nr_mods, nr_wakeups;
};

uint64_t clock_monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- heap (svc->lock held) ---- */

static void heap_set(struct timer_service *svc, size_t i, struct timer *t)
{
	svc->heap[i] = t;
	t->heap_idx = i;
}

static void heap_up(struct timer_service *svc, size_t i)
{
	struct timer *t = svc->heap[i];
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (svc->heap[parent]->deadline_ns <= t->deadline_ns)
			break;
		heap_set(svc, i, svc->heap[parent]);
		i = parent;
	}
	heap_set(svc, i, t);
}

static void heap_down(struct timer_service *svc, size_t i)
{
	struct timer *t = svc->heap[i];
	size_t n = svc->nr_pending;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && svc->heap[c + 1]->deadline_ns < svc->heap[c]->deadline_ns)
			c++;
		if (t->deadline_ns <= svc->heap[c]->deadline_ns)
			break;
		heap_set(svc, i, svc->heap[c]);
		i = c;
	}
	heap_set(svc, i, t);
}

static void heap_remove(struct timer_service *svc, struct timer *t)
{
	size_t i = t->heap_idx;
	struct timer *last;

	if (i == NOT_PENDING)
		return;
	t->heap_idx = NOT_PENDING;
	last = svc->heap[--svc->nr_pending];
	if (last == t)
		return;
	heap_set(svc, i, last);
	heap_up(svc, i);
	heap_down(svc, last->heap_idx);
}

static void heap_insert(struct timer_service *svc, struct timer *t)
{
	size_t i = svc->nr_pending++;
	heap_set(svc, i, t);
	heap_up(svc, i);
}

/* ---- the service thread ---- */

static void *service_thread(void *arg)
{
	struct timer_service *svc = arg;

	/* default slack is 50 us; the LAPIC timer wants the deadline, not "around" it */
	prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);

	pthread_mutex_lock(&svc->lock);
	while (!svc->stop) {
		uint64_t now;
		struct timer *t;

		if (svc->nr_pending == 0) {
			pthread_cond_wait(&svc->wake, &svc->lock);
			svc->nr_wakeups++;
			continue;
		}
		t = svc->heap[0];
		now = clock_monotonic_ns();
		if (t->deadline_ns > now) {
			struct timespec ts = {
				.tv_sec = (time_t)(t->deadline_ns / 1000000000ull),
				.tv_nsec = (long)(t->deadline_ns % 1000000000ull),
			};
			pthread_cond_timedwait(&svc->wake, &svc->lock, &ts);
			svc->nr_wakeups++;
			continue;
		}
		heap_remove(svc, t);
		svc->running = t;
		svc->nr_fired++;
		{
			timer_cb cb = t->cb;
			void *opaque = t->opaque;
			pthread_mutex_unlock(&svc->lock);
			/* @t may be freed by the callback itself: only cb and opaque are used */
			cb(opaque, clock_monotonic_ns());
			pthread_mutex_lock(&svc->lock);
		}
		svc->running = NULL;
		pthread_cond_broadcast(&svc->cb_done);
	}
	pthread_mutex_unlock(&svc->lock);
	return NULL;
}

struct timer_service *timer_service_create(void)
{
	struct timer_service *svc = calloc(1, sizeof(*svc));
	pthread_condattr_t ca;
	int err;

	if (!svc) {
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_init(&svc->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&svc->wake, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&svc->cb_done, NULL);
	err = pthread_create(&svc->thread, NULL, service_thread, svc);
	if (err) {
		pthread_cond_destroy(&svc->wake);
		pthread_cond_destroy(&svc->cb_done);
		pthread_mutex_destroy(&svc->lock);
		free(svc);
		errno = err;
		return NULL;
	}
	pthread_setname_np(svc->thread, "ov-timer");
	return svc;
}

void timer_service_destroy(struct timer_service *svc)
{
	struct timer *t, *next;

	if (!svc)
		return;
	pthread_mutex_lock(&svc->lock);
	svc->stop = true;
	pthread_cond_signal(&svc->wake);
	pthread_mutex_unlock(&svc->lock);
	pthread_join(svc->thread, NULL);

	for (t = svc->all; t; t = next) {
		next = t->next;
		free(t);
	}
	free(svc->heap);
	pthread_cond_destroy(&svc->wake);
	pthread_cond_destroy(&svc->cb_done);
	pthread_mutex_destroy(&svc->lock);
	free(svc);
}

struct timer *timer_new(struct timer_service *svc, timer_cb cb, void *opaque)
{
	struct timer *t = calloc(1, sizeof(*t));

	if (!t) {
		errno = ENOMEM;
		return NULL;
	}
	t->svc = svc;
	t->cb = cb;
	t->opaque = opaque;
	t->heap_idx = NOT_PENDING;

	pthread_mutex_lock(&svc->lock);
	if (svc->nr_timers + 1 > svc->heap_cap) {
		size_t cap = svc->heap_cap ? 2 * svc->heap_cap : 16;
		struct timer **heap = realloc(svc->heap, cap * sizeof(*heap));
		if (!heap) {
			pthread_mutex_unlock(&svc->lock);
			free(t);
			errno = ENOMEM;
			return NULL;
		}
		svc->heap = heap;
		svc->heap_cap = cap;
	}
	t->next = svc->all;
	if (svc->all)
		svc->all->prev = t;
	svc->all = t;
	svc->nr_timers++;
	pthread_mutex_unlock(&svc->lock);
	return t;
}

void timer_free(struct timer *t)
{
	struct timer_service *svc;

	if (!t)
		return;
	svc = t->svc;
	pthread_mutex_lock(&svc->lock);
	heap_remove(svc, t);
	if (!pthread_equal(pthread_self(), svc->thread)) {
		while (svc->running == t)
			pthread_cond_wait(&svc->cb_done, &svc->lock);
	}
	if (t->prev)
		t->prev->next = t->next;
	else
		svc->all = t->next;
	if (t->next)
		t->next->prev = t->prev;
	svc->nr_timers--;
	pthread_mutex_unlock(&svc->lock);
	free(t);
}

void timer_mod(struct timer *t, uint64_t deadline_ns)
{
	struct timer_service *svc = t->svc;

	pthread_mutex_lock(&svc->lock);
	svc->nr_mods++;
	heap_remove(svc, t);
	t->deadline_ns = deadline_ns;
	heap_insert(svc, t);
	/* only a new earliest deadline changes how long the thread must sleep */
	if (svc->heap[0] == t)
		pthread_cond_signal(&svc->wake);
	pthread_mutex_unlock(&svc->lock);
}

void timer_del(struct timer *t)
{
	struct timer_service *svc = t->svc;

	pthread_mutex_lock(&svc->lock);
	heap_remove(svc, t);
	pthread_mutex_unlock(&svc->lock);
}

bool timer_pending(struct timer *t)
{
	struct timer_service *svc = t->svc;
	bool pending;

	pthread_mutex_lock(&svc->lock);
	pending = t->heap_idx != NOT_PENDING;
	pthread_mutex_unlock(&svc->lock);
	return pending;
}

void timer_arm_hook(void *opaque, uint64_t deadline_ns)
{
	struct timer *t = opaque;

	if (deadline_ns == UINT64_MAX)
		timer_del(t);
	else
		timer_mod(t, deadline_ns);
}

void timer_service_get_stats(struct timer_service *svc, struct timer_service_stats *st)
{
	pthread_mutex_lock(&svc->lock);
	st->nr_fired = svc->nr_fired;
	st->nr_mods = svc->nr_mods;
	st->nr_wakeups = svc->nr_wakeups;
	st->nr_timers = svc->nr_timers;
	pthread_mutex_unlock(&svc->lock);
}

void timer_service_print_stats(struct timer_service *svc, FILE *f)
{
	struct timer_service_stats st;

	timer_service_get_stats(svc, &st);
	fprintf(f, "timer: %zu timers, %" PRIu64 " callbacks, %" PRIu64 " mods, %" PRIu64
		   " wakeups\n",
		st.nr_timers, st.nr_fired, st.nr_mods, st.nr_wakeups);
}
