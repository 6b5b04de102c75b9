/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the host timer service (src/core/timer.c): deadline ordering, a callback never
 * runs before its deadline, moving a deadline earlier wakes the thread, re-arming from inside a
 * callback, deleting before expiry, freeing a timer whose callback is running (timer_free must
 * wait; ASan would see the use after free), freeing from inside the callback, mod/del races
 * from several threads, destroy with pending timers, timer_arm_hook. These run on real time with
 * deadlines of a few milliseconds; they assert ordering and lower bounds, and only generous
 * upper bounds (the host may be busy).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "omnivisor/timer.h"

#define MS 1000000ull

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000ull),
			       .tv_nsec = (long)(ns % 1000000000ull) };
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Wait until @cond becomes true or @timeout_ns passes. */
#define WAIT_UNTIL(cond, timeout_ns)                                                       \
	do {                                                                               \
		uint64_t end_ = clock_monotonic_ns() + (timeout_ns);                       \
		while (!(cond) && clock_monotonic_ns() < end_)                             \
			sleep_ns(100000);                                                  \
	} while (0)

static int setup(void **state)
{
	*state = timer_service_create();
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	timer_service_destroy(*state);
	return 0;
}

/* ---- a recording callback ---- */

#define MAX_EVENTS 64

struct record {
	pthread_mutex_t lock;
	int nr;
	int order[MAX_EVENTS];
	uint64_t when[MAX_EVENTS];
};

struct rec_timer {
	struct record *rec;
	int id;
	uint64_t deadline;
	struct timer *t;
};

static void rec_cb(void *opaque, uint64_t now_ns)
{
	struct rec_timer *rt = opaque;
	struct record *r = rt->rec;

	pthread_mutex_lock(&r->lock);
	if (r->nr < MAX_EVENTS) {
		r->order[r->nr] = rt->id;
		r->when[r->nr] = now_ns;
	}
	r->nr++;
	pthread_mutex_unlock(&r->lock);
}

static int rec_count(struct record *r)
{
	pthread_mutex_lock(&r->lock);
	int n = r->nr;
	pthread_mutex_unlock(&r->lock);
	return n;
}

static void test_clock(void **state)
{
	(void)state;
	uint64_t a = clock_monotonic_ns();
	sleep_ns(2 * MS);
	uint64_t b = clock_monotonic_ns();
	assert_true(b - a >= 2 * MS);
	assert_true(b - a < 2000 * MS);
}

/* Timers armed in shuffled order fire in deadline order, never before their deadline. */
static void test_ordering(void **state)
{
	struct timer_service *svc = *state;
	struct record rec = { .lock = PTHREAD_MUTEX_INITIALIZER };
	static const int perm[8] = { 5, 2, 7, 0, 3, 6, 1, 4 };
	struct rec_timer rt[8];
	uint64_t base = clock_monotonic_ns() + 5 * MS;

	for (int i = 0; i < 8; i++) {
		int id = perm[i];
		rt[id] = (struct rec_timer){ .rec = &rec, .id = id, .deadline = base + id * MS };
		rt[id].t = timer_new(svc, rec_cb, &rt[id]);
		assert_non_null(rt[id].t);
	}
	for (int i = 0; i < 8; i++)
		timer_mod(rt[perm[i]].t, rt[perm[i]].deadline);
	for (int i = 0; i < 8; i++)
		assert_true(timer_pending(rt[i].t));

	WAIT_UNTIL(rec_count(&rec) == 8, 5000 * MS);
	assert_int_equal(rec_count(&rec), 8);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(rec.order[i], i);
		assert_true(rec.when[i] >= rt[i].deadline);
		assert_false(timer_pending(rt[i].t));
	}
	for (int i = 0; i < 8; i++)
		timer_free(rt[i].t);

	struct timer_service_stats st;
	timer_service_get_stats(svc, &st);
	assert_int_equal(st.nr_fired, 8);
	assert_int_equal(st.nr_mods, 8);
	assert_int_equal(st.nr_timers, 0);
}

/* A deadline in the past fires at once; a far deadline moved earlier fires at the new one. */
static void test_mod_earlier_wakes(void **state)
{
	struct timer_service *svc = *state;
	struct record rec = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct rec_timer rt = { .rec = &rec, .id = 1 };

	rt.t = timer_new(svc, rec_cb, &rt);
	timer_mod(rt.t, 0); /* long past */
	WAIT_UNTIL(rec_count(&rec) == 1, 5000 * MS);
	assert_int_equal(rec_count(&rec), 1);

	/* the thread now sleeps for an hour ... */
	timer_mod(rt.t, clock_monotonic_ns() + 3600000 * MS);
	sleep_ns(2 * MS);
	assert_int_equal(rec_count(&rec), 1);
	/* ... until the deadline moves to 3 ms from now */
	uint64_t d = clock_monotonic_ns() + 3 * MS;
	timer_mod(rt.t, d);
	WAIT_UNTIL(rec_count(&rec) == 2, 5000 * MS);
	assert_int_equal(rec_count(&rec), 2);
	assert_true(rec.when[1] >= d);
	assert_true(rec.when[1] - d < 1000 * MS);

	/* moving a deadline later: no early callback */
	d = clock_monotonic_ns() + 2 * MS;
	timer_mod(rt.t, d);
	timer_mod(rt.t, d + 30 * MS);
	sleep_ns(10 * MS);
	assert_int_equal(rec_count(&rec), 2);
	WAIT_UNTIL(rec_count(&rec) == 3, 5000 * MS);
	assert_true(rec.when[2] >= d + 30 * MS);
	timer_free(rt.t);
}

/* A deleted timer does not fire; deleting an idle timer is harmless. */
static void test_del(void **state)
{
	struct timer_service *svc = *state;
	struct record rec = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct rec_timer a = { .rec = &rec, .id = 1 }, b = { .rec = &rec, .id = 2 };

	a.t = timer_new(svc, rec_cb, &a);
	b.t = timer_new(svc, rec_cb, &b);
	timer_del(a.t); /* idle */
	uint64_t now = clock_monotonic_ns();
	timer_mod(a.t, now + 5 * MS);
	timer_mod(b.t, now + 10 * MS);
	timer_del(a.t);
	assert_false(timer_pending(a.t));
	assert_true(timer_pending(b.t));
	WAIT_UNTIL(rec_count(&rec) == 1, 5000 * MS);
	sleep_ns(5 * MS);
	assert_int_equal(rec_count(&rec), 1);
	assert_int_equal(rec.order[0], 2);
	timer_free(a.t);
	timer_free(b.t);
	timer_free(NULL);
}

/* A periodic device re-arms its own timer from the callback. */
struct periodic {
	struct timer *t;
	atomic_int count;
	int limit;
	uint64_t next, period;
	bool early;
};

static void periodic_cb(void *opaque, uint64_t now_ns)
{
	struct periodic *p = opaque;
	if (now_ns < p->next)
		p->early = true;
	if (atomic_fetch_add(&p->count, 1) + 1 < p->limit) {
		p->next += p->period;
		timer_mod(p->t, p->next);
	}
}

static void test_rearm_from_callback(void **state)
{
	struct timer_service *svc = *state;
	struct periodic p = { .limit = 20, .period = 1 * MS };

	p.t = timer_new(svc, periodic_cb, &p);
	p.next = clock_monotonic_ns() + 1 * MS;
	timer_mod(p.t, p.next);
	WAIT_UNTIL(atomic_load(&p.count) == 20, 10000 * MS);
	sleep_ns(5 * MS);
	assert_int_equal(atomic_load(&p.count), 20);
	assert_false(p.early);
	assert_false(timer_pending(p.t));
	timer_free(p.t);
}

/* A callback that arms another timer and deletes a third. */
struct chain {
	struct timer *next, *victim;
	atomic_int ran;
};

static void chain_cb(void *opaque, uint64_t now_ns)
{
	struct chain *c = opaque;
	atomic_fetch_add(&c->ran, 1);
	if (c->next)
		timer_mod(c->next, now_ns + 1 * MS);
	if (c->victim)
		timer_del(c->victim);
}

static void test_callback_mods_others(void **state)
{
	struct timer_service *svc = *state;
	struct chain c1 = { 0 }, c2 = { 0 }, c3 = { 0 };
	struct timer *t1 = timer_new(svc, chain_cb, &c1);
	struct timer *t2 = timer_new(svc, chain_cb, &c2);
	struct timer *t3 = timer_new(svc, chain_cb, &c3);

	c1.next = t2;	/* t1 arms t2 */
	c2.victim = t3; /* t2 deletes t3 before it is due */
	uint64_t now = clock_monotonic_ns();
	timer_mod(t3, now + 200 * MS);
	timer_mod(t1, now + 1 * MS);
	WAIT_UNTIL(atomic_load(&c2.ran) == 1, 5000 * MS);
	assert_int_equal(atomic_load(&c1.ran), 1);
	assert_int_equal(atomic_load(&c2.ran), 1);
	assert_false(timer_pending(t3));
	assert_int_equal(atomic_load(&c3.ran), 0);
	timer_free(t1);
	timer_free(t2);
	timer_free(t3);
}

/* timer_free while the callback runs waits for it; the callback's state may then be freed. */
struct slow {
	atomic_int started, finished;
};

static void slow_cb(void *opaque, uint64_t now_ns)
{
	struct slow *s = opaque;
	(void)now_ns;
	atomic_store(&s->started, 1);
	sleep_ns(20 * MS);
	atomic_store(&s->finished, 1);
}

static void test_free_waits_for_callback(void **state)
{
	struct timer_service *svc = *state;
	struct slow *s = calloc(1, sizeof(*s));
	struct timer *t = timer_new(svc, slow_cb, s);

	timer_mod(t, 0);
	WAIT_UNTIL(atomic_load(&s->started), 5000 * MS);
	assert_int_equal(atomic_load(&s->started), 1);
	timer_free(t);
	assert_int_equal(atomic_load(&s->finished), 1);
	free(s); /* ASan: the callback no longer touches it */
}

/* A callback may free its own timer (and the memory it was given). */
struct self_free {
	struct timer *t;
	atomic_int *ran;
};

static void self_free_cb(void *opaque, uint64_t now_ns)
{
	struct self_free *sf = opaque;
	(void)now_ns;
	timer_free(sf->t);
	atomic_fetch_add(sf->ran, 1);
	free(sf);
}

static void test_free_from_callback(void **state)
{
	struct timer_service *svc = *state;
	static atomic_int ran;
	atomic_store(&ran, 0);

	for (int i = 0; i < 10; i++) {
		struct self_free *sf = calloc(1, sizeof(*sf));
		sf->ran = &ran;
		sf->t = timer_new(svc, self_free_cb, sf);
		timer_mod(sf->t, clock_monotonic_ns() + (uint64_t)i * 100000);
	}
	WAIT_UNTIL(atomic_load(&ran) == 10, 5000 * MS);
	assert_int_equal(atomic_load(&ran), 10);
	struct timer_service_stats st;
	timer_service_get_stats(svc, &st);
	assert_int_equal(st.nr_timers, 0);
}

/* Several threads mod/del the same timers while they fire; then free them mid-flight. */
struct race {
	struct timer_service *svc;
	struct timer *t[4];
	atomic_int fired;
	atomic_bool stop;
	unsigned seed;
};

static void race_cb(void *opaque, uint64_t now_ns)
{
	struct race *r = opaque;
	(void)now_ns;
	atomic_fetch_add(&r->fired, 1);
}

static void *race_thread(void *arg)
{
	struct race *r = arg;
	unsigned seed = __atomic_add_fetch(&r->seed, 7919, __ATOMIC_RELAXED);
	while (!atomic_load(&r->stop)) {
		struct timer *t = r->t[rand_r(&seed) % 4];
		switch (rand_r(&seed) % 3) {
		case 0:
			timer_mod(t, clock_monotonic_ns() + rand_r(&seed) % 200000);
			break;
		case 1:
			timer_del(t);
			break;
		default:
			timer_mod(t, 0);
			break;
		}
	}
	return NULL;
}

static void test_races(void **state)
{
	struct timer_service *svc = *state;
	struct race r = { .svc = svc, .seed = 1 };
	pthread_t th[3];

	for (int i = 0; i < 4; i++)
		r.t[i] = timer_new(svc, race_cb, &r);
	for (int i = 0; i < 3; i++)
		assert_int_equal(pthread_create(&th[i], NULL, race_thread, &r), 0);
	sleep_ns(100 * MS);
	atomic_store(&r.stop, true);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 4; i++)
		timer_mod(r.t[i], 0);
	for (int i = 0; i < 4; i++)
		timer_free(r.t[i]); /* possibly while its callback runs */
	int fired = atomic_load(&r.fired);
	sleep_ns(5 * MS);
	assert_int_equal(atomic_load(&r.fired), fired); /* nothing runs after timer_free */
	assert_true(fired > 0);
}

/* timer_arm_hook: UINT64_MAX cancels, anything else arms. */
static void test_arm_hook(void **state)
{
	struct timer_service *svc = *state;
	struct record rec = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct rec_timer rt = { .rec = &rec, .id = 3 };

	rt.t = timer_new(svc, rec_cb, &rt);
	timer_arm_hook(rt.t, clock_monotonic_ns() + 3 * MS);
	assert_true(timer_pending(rt.t));
	timer_arm_hook(rt.t, UINT64_MAX);
	assert_false(timer_pending(rt.t));
	sleep_ns(6 * MS);
	assert_int_equal(rec_count(&rec), 0);
	timer_arm_hook(rt.t, clock_monotonic_ns() + 1 * MS);
	WAIT_UNTIL(rec_count(&rec) == 1, 5000 * MS);
	assert_int_equal(rec_count(&rec), 1);
	timer_free(rt.t);

	char buf[256] = { 0 };
	FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");
	timer_service_print_stats(svc, f);
	fclose(f);
	assert_non_null(strstr(buf, "timer: 0 timers, 1 callbacks"));
}

/* Destroying the service with timers pending (and never freed) frees them: LeakSanitizer. */
static void test_destroy_with_pending(void **state)
{
	(void)state;
	struct timer_service *svc = timer_service_create();
	struct record rec = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct rec_timer rt[3];
	for (int i = 0; i < 3; i++) {
		rt[i] = (struct rec_timer){ .rec = &rec, .id = i };
		rt[i].t = timer_new(svc, rec_cb, &rt[i]);
		timer_mod(rt[i].t, clock_monotonic_ns() + 3600000 * MS);
	}
	timer_service_destroy(svc);
	assert_int_equal(rec_count(&rec), 0);
	timer_service_destroy(NULL);
}

/* Many timers: the heap grows and stays ordered. */
static void test_many(void **state)
{
	struct timer_service *svc = *state;
	struct record rec = { .lock = PTHREAD_MUTEX_INITIALIZER };
	enum { N = 40 };
	struct rec_timer rt[N];
	uint64_t base = clock_monotonic_ns() + 5 * MS;

	for (int i = 0; i < N; i++) {
		int id = (i * 17) % N; /* a permutation of 0..N-1 */
		rt[i] = (struct rec_timer){ .rec = &rec, .id = id };
		rt[i].deadline = base + id * 200000ull;
		rt[i].t = timer_new(svc, rec_cb, &rt[i]);
	}
	for (int i = 0; i < N; i++)
		timer_mod(rt[i].t, rt[i].deadline);
	WAIT_UNTIL(rec_count(&rec) == N, 5000 * MS);
	assert_int_equal(rec_count(&rec), N);
	for (int i = 0; i < N; i++)
		assert_int_equal(rec.order[i], i);
	for (int i = 0; i < N; i++)
		timer_free(rt[i].t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clock),
		cmocka_unit_test_setup_teardown(test_ordering, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mod_earlier_wakes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_del, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rearm_from_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_callback_mods_others, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_waits_for_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_from_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_races, setup, teardown),
		cmocka_unit_test_setup_teardown(test_arm_hook, setup, teardown),
		cmocka_unit_test(test_destroy_with_pending),
		cmocka_unit_test_setup_teardown(test_many, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
