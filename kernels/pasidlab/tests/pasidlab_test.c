// SPDX-License-Identifier: GPL-2.0
/*
 * pasidlab_test: workloads and checks against pasidlab.ko, run in a guest by
 * tests/python/test_kmod.py (a static binary in a test initramfs).
 *
 *   pasidlab_test clone-bind-exit ROUNDS SUBMITS
 *   pasidlab_test thread-pool WORKERS SUBMITS stays|unbinds|exits
 *   pasidlab_test long-lived-binders PROCESSES THREADS SUBMITS
 *   pasidlab_test stale-holder      a thread sleeps through its mm's last unbind
 *   pasidlab_test fork-child        a fork child submits in its own mm
 *   pasidlab_test exec-rebind       a thread that used the queue execs one that binds
 *   pasidlab_test bad-input [UID]   every ioctl argument checked
 *   pasidlab_test unload-while-bound
 *   pasidlab_test fuzz CALLS SEED [UID]
 *
 * The workload shapes are the model's canonical ones (suites/workload/
 * canonical.cc), each with its reuse probe: a second process that binds
 * once the workload closed its queue, so that a PASID freed too early goes
 * to another mm. Every line meant for the test starts with "PLTEST ":
 * RESULT lines tally the outcome of every submission (from its completion
 * record, or ENQCMD's result) and COUNTERS lines the module's global
 * counters moved during the workload.
 */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../uapi/pasidlab.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const char *const outcome_names[] = PASIDLAB_OUTCOME_NAMES;
static const char *const violation_names[] = PASIDLAB_VIOLATION_NAMES;
static const char *const counter_names[] = PASIDLAB_COUNTER_NAMES;

static_assert(ARRAY_SIZE(outcome_names) == PASIDLAB_NR_OUTCOMES, "outcome names");
static_assert(ARRAY_SIZE(violation_names) == PASIDLAB_NR_VIOLATIONS, "violation names");
static_assert(ARRAY_SIZE(counter_names) == PASIDLAB_NR_COUNTERS, "counter names");

/* Outcomes of this process's submissions; shared with forked children. */
struct tally {
	atomic_long outcome[PASIDLAB_NR_OUTCOMES];
	atomic_long timeouts;
	atomic_long segv;	/* SIGSEGVs delivered */
};

static struct tally *tally;
static char policy[PASIDLAB_POLICY_NAME_MAX + 32] = "?";
static __thread atomic_int segv_seen;	/* set by the handler */

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("PLTEST ERROR ");
	vprintf(fmt, ap);
	printf(" (errno %d %s)\n", errno, strerror(errno));
	va_end(ap);
	fflush(stdout);
	exit(2);
}

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	if (si->si_code == SI_KERNEL)	/* force_sig(), as a #GP delivers it */
		atomic_store(&segv_seen, 1);
	atomic_fetch_add(&tally->segv, 1);
}

static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static void spin_us(int us)
{
	__u64 end = now_ns() + (__u64)us * 1000;

	while (now_ns() < end)
		;
}

static int ctl_fd(void)
{
	int fd = open(PASIDLAB_CTL_PATH, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		die("open %s", PASIDLAB_CTL_PATH);
	return fd;
}

/* --- a binding: open the work queue and map its portal ---------------- */

struct binding {
	int fd;
	void *portal;
};

static struct binding bind_wq(void)
{
	struct binding b;

	b.fd = open(PASIDLAB_WQ_PATH, O_RDWR);
	if (b.fd < 0)
		die("open %s", PASIDLAB_WQ_PATH);
	b.portal = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, b.fd, 0);
	if (b.portal == MAP_FAILED)
		die("mmap portal");
	return b;
}

static void unbind_wq(struct binding *b)
{
	if (b->portal && munmap(b->portal, 4096))
		die("munmap portal");
	if (b->fd >= 0 && close(b->fd))
		die("close wq");
	b->portal = NULL;
	b->fd = -1;
}

/* The process's control fd; ENQCMD goes through it (see the uapi header). */
static int ctl = -1;

/*
 * One ENQCMD by the calling thread, waiting for the completion record.
 * Returns the outcome.
 */
static int submit(void)
{
	static __thread alignas(32) struct pasidlab_completion cr;
	struct pasidlab_enqcmd req = {
		.completion_addr = (uintptr_t)&cr,
		.cookie = now_ns(),
	};
	__u64 deadline;
	int outcome;

	memset(&cr, 0, sizeof(cr));
	atomic_store(&segv_seen, 0);
	do {
		if (ioctl(ctl, PASIDLAB_IOC_ENQCMD, &req))
			die("ENQCMD");
	} while (req.result == PASIDLAB_ENQ_RETRY);
	switch (req.result) {
	case PASIDLAB_ENQ_NO_PORTAL:
		outcome = PASIDLAB_OUT_FAULT_UNBOUND;
		break;
	case PASIDLAB_ENQ_GP:
		if (!atomic_load(&segv_seen))
			die("#GP without SIGSEGV (si_code SI_KERNEL) delivered to the thread");
		outcome = PASIDLAB_OUT_GP_SIGSEGV;
		break;
	case PASIDLAB_ENQ_QUEUED:
		deadline = now_ns() + 5000000000ull;
		while (!__atomic_load_n(&cr.status, __ATOMIC_ACQUIRE)) {
			if (now_ns() > deadline) {
				atomic_fetch_add(&tally->timeouts, 1);
				return -1;
			}
			sched_yield();
		}
		outcome = cr.status - 1;
		if (outcome < 0 || outcome >= PASIDLAB_NR_OUTCOMES || cr.cookie != req.cookie ||
		    cr.pasid != (req.msr & PASIDLAB_PASID_MASK))
			die("bad completion record: status %u pasid %u", cr.status, cr.pasid);
		break;
	default:
		die("ENQCMD result %u", req.result);
	}
	atomic_fetch_add(&tally->outcome[outcome], 1);
	return outcome;
}

/* --- counters ---------------------------------------------------------- */

static void read_counters(struct pasidlab_counters *c)
{
	int fd = ctl_fd();

	memset(c, 0, sizeof(*c));
	c->size = sizeof(*c);
	if (ioctl(fd, PASIDLAB_IOC_COUNTERS, c))
		die("PASIDLAB_IOC_COUNTERS");
	close(fd);
}

static struct pasidlab_counters before;

static void begin(void)
{
	struct pasidlab_info info;
	int fd = ctl_fd();

	if (ioctl(fd, PASIDLAB_IOC_INFO, &info))
		die("PASIDLAB_IOC_INFO");
	close(fd);
	/* The policy, and a non-default device delay as the guest's /init labels it. */
	if (info.device_delay_us)
		snprintf(policy, sizeof(policy), "%.*s@device_delay_us=%u",
			 (int)sizeof(info.policy), info.policy, info.device_delay_us);
	else
		snprintf(policy, sizeof(policy), "%.*s", (int)sizeof(info.policy), info.policy);
	read_counters(&before);
}

/* Gauges are printed as they are now, counts as what this workload added. */
static int is_gauge(int i)
{
	return i == PASIDLAB_CTR_PASID_LIVE || i == PASIDLAB_CTR_PASID_PEAK_LIVE;
}

static void report(const char *workload)
{
	struct pasidlab_counters after;
	int i;

	/* The device may still be writing another process's record. */
	read_counters(&after);
	printf("PLTEST RESULT workload=%s policy=%s", workload, policy);
	for (i = 0; i < PASIDLAB_NR_OUTCOMES; i++)
		printf(" %s=%ld", outcome_names[i], atomic_load(&tally->outcome[i]));
	printf(" timeouts=%ld sigsegv=%ld\n", atomic_load(&tally->timeouts),
	       atomic_load(&tally->segv));
	printf("PLTEST COUNTERS workload=%s policy=%s", workload, policy);
	for (i = 0; i < PASIDLAB_NR_COUNTERS; i++)
		printf(" %s=%llu", counter_names[i],
		       (unsigned long long)(is_gauge(i) ? after.counters[i]
						       : after.counters[i] - before.counters[i]));
	for (i = 0; i < PASIDLAB_NR_OUTCOMES; i++)
		printf(" outcomes.%s=%llu", outcome_names[i],
		       (unsigned long long)(after.outcomes[i] - before.outcomes[i]));
	for (i = 0; i < PASIDLAB_NR_VIOLATIONS; i++)
		printf(" violations.%s=%llu", violation_names[i],
		       (unsigned long long)(after.violations[i] - before.violations[i]));
	printf("\n");
	fflush(stdout);
}

/* --- latches between threads and processes: pipes --------------------- */

struct latch {
	int fd[2];
};

static void latch_init(struct latch *l)
{
	if (pipe(l->fd))
		die("pipe");
}

static void latch_signal(struct latch *l, int n)
{
	while (n-- > 0)
		if (write(l->fd[1], "x", 1) != 1)
			die("latch write");
}

static void latch_await(struct latch *l)
{
	char c;

	while (read(l->fd[0], &c, 1) != 1)
		if (errno != EINTR)
			die("latch read");
}

static void wait_child(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		die("waitpid");
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		die("child %d ended with status %#x", pid, status);
}

/*
 * The reuse probe: a second process that binds once `after` was signalled,
 * signals `probed`, submits once and holds its binding a while.
 */
static pid_t reuse_probe(struct latch *after, struct latch *probed, int hold_ms)
{
	pid_t pid = fork();
	struct binding b;

	if (pid < 0)
		die("fork");
	if (pid)
		return pid;
	if (after)
		latch_await(after);
	b = bind_wq();
	if (probed)
		latch_signal(probed, 1);
	submit();
	sleep_ms(hold_ms);
	unbind_wq(&b);
	_exit(0);
}

/* --- clone-bind-exit ----------------------------------------------------- */

static int cbe_submits;
static struct latch cbe_closed;

static void *cbe_worker(void *arg)
{
	struct binding b = bind_wq();
	int i;

	(void)arg;
	for (i = 0; i < cbe_submits; i++)
		submit();
	unbind_wq(&b);
	latch_signal(&cbe_closed, 1);
	return NULL;
}

static void clone_bind_exit(int rounds, int submits)
{
	pthread_t t;
	pid_t probe;
	int i;

	cbe_submits = submits;
	latch_init(&cbe_closed);
	probe = reuse_probe(&cbe_closed, NULL, 20);
	for (i = 0; i < rounds; i++) {
		if (pthread_create(&t, NULL, cbe_worker, NULL))
			die("pthread_create");
		pthread_join(t, NULL);
	}
	wait_child(probe);
	report("clone-bind-exit");
}

/* --- thread-pool ---------------------------------------------------------- */

static struct {
	int workers, submits;
	const char *binder;
	atomic_int bound, rebound;
	struct latch closed, probed;
	pthread_t *t;
} tp;

static void *tp_worker(void *arg)
{
	int i;

	(void)arg;
	spin_us(2000);
	while (!atomic_load(&tp.bound))
		sched_yield();
	for (i = 0; i < tp.submits; i++)
		submit();
	for (i = 0; i < 4; i++) {
		spin_us(1000);
		submit();
	}
	if (!strcmp(tp.binder, "unbinds"))
		while (!atomic_load(&tp.rebound))
			sched_yield();
	for (i = 0; i < tp.submits; i++)
		submit();
	spin_us(2000);
	return NULL;
}

/* The pool exists before the queue is opened, as in a server that opens late. */
static void *tp_binder(void *arg)
{
	struct binding b;
	int i;

	(void)arg;
	for (i = 0; i < tp.workers; i++)
		if (pthread_create(&tp.t[i], NULL, tp_worker, NULL))
			die("pthread_create");
	b = bind_wq();
	atomic_store(&tp.bound, 1);
	submit();
	spin_us(1000);
	if (!strcmp(tp.binder, "stays")) {
		for (i = 0; i < tp.workers; i++)
			pthread_join(tp.t[i], NULL);
		unbind_wq(&b);
	} else if (!strcmp(tp.binder, "unbinds")) {
		/* Closes the queue while the workers go on, and opens it again. */
		unbind_wq(&b);
		latch_signal(&tp.closed, 1);
		latch_await(&tp.probed);
		b = bind_wq();
		atomic_store(&tp.rebound, 1);
		submit();
		for (i = 0; i < tp.workers; i++)
			pthread_join(tp.t[i], NULL);
		unbind_wq(&b);
	} else {
		/* Closes the queue and exits; the pool lives on. */
		unbind_wq(&b);
		latch_signal(&tp.closed, 1);
	}
	return NULL;
}

static void thread_pool(int workers, int submits, const char *binder)
{
	char name[64];
	pthread_t t;
	pid_t probe;
	int i;

	if (strcmp(binder, "stays") && strcmp(binder, "unbinds") && strcmp(binder, "exits"))
		die("binder must be stays, unbinds or exits, not %s", binder);
	tp.workers = workers;
	tp.submits = submits;
	tp.binder = binder;
	tp.t = calloc(workers, sizeof(*tp.t));
	latch_init(&tp.closed);
	latch_init(&tp.probed);
	probe = reuse_probe(strcmp(binder, "stays") ? &tp.closed : NULL, &tp.probed, 20);
	if (pthread_create(&t, NULL, tp_binder, NULL))
		die("pthread_create");
	pthread_join(t, NULL);
	if (!strcmp(binder, "exits"))
		for (i = 0; i < workers; i++)
			pthread_join(tp.t[i], NULL);
	wait_child(probe);
	free(tp.t);
	snprintf(name, sizeof(name), "thread-pool[binder=%s]", binder);
	report(name);
}

/* --- long-lived-binders: processes exit with the queue open ---------------- */

static int llb_submits;

static void *llb_thread(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < llb_submits; i++)
		submit();
	return NULL;
}

/*
 * P processes of T threads bind once and submit; each exits with its queue
 * open and mapped, so exit_mmap() takes the portal down (the mmu notifier's
 * release, __mmput) and exit_files() releases the binding afterwards, in a
 * thread past exit_mm(). A bystander process computes and sleeps meanwhile.
 */
static void long_lived_binders(int processes, int threads, int submits)
{
	pid_t *pids = calloc(processes + 1, sizeof(*pids));
	int p, i;

	llb_submits = submits;
	for (p = 0; p <= processes; p++) {
		pids[p] = fork();
		if (pids[p] < 0)
			die("fork");
		if (pids[p])
			continue;
		if (p == processes) {	/* the bystander */
			for (i = 0; i < submits + 1; i++) {
				spin_us(200);
				sleep_ms(1);
			}
			_exit(0);
		}
		pthread_t *t = calloc(threads, sizeof(*t));

		bind_wq();
		submit();
		for (i = 1; i < threads; i++)
			if (pthread_create(&t[i], NULL, llb_thread, NULL))
				die("pthread_create");
		llb_thread(NULL);
		for (i = 1; i < threads; i++)
			pthread_join(t[i], NULL);
		_exit(0);	/* with the queue open and mapped */
	}
	for (p = 0; p <= processes; p++)
		wait_child(pids[p]);
	free(pids);
	report("long-lived-binders");
}

/* --- stale-holder: a thread sleeps through its mm's last unbind ------------ */

static struct {
	struct binding b;
	struct latch ready, go, done;
	int outcome;
} sh;

static void *sh_thread(void *arg)
{
	(void)arg;
	sh.b = bind_wq();
	submit();	/* its IA32_PASID is loaded, whatever the policy */
	latch_signal(&sh.ready, 1);
	latch_await(&sh.go);	/* asleep while the mm unbinds, rebinds */
	sh.outcome = submit();
	latch_signal(&sh.done, 1);
	return NULL;
}

static void stale_holder(void)
{
	struct latch b_bound, b_exit;
	struct binding again;
	pthread_t t;
	pid_t pid;

	latch_init(&sh.ready);
	latch_init(&sh.go);
	latch_init(&sh.done);
	latch_init(&b_bound);
	latch_init(&b_exit);
	if (pthread_create(&t, NULL, sh_thread, NULL))
		die("pthread_create");
	latch_await(&sh.ready);
	sleep_ms(50);	/* the thread is asleep in read() */
	/* The last unbind of the mm, by another thread: IPIs find no one. */
	unbind_wq(&sh.b);
	/* A second process binds: the lowest free PASID. */
	pid = fork();
	if (pid < 0)
		die("fork");
	if (!pid) {
		struct binding b = bind_wq();

		submit();
		latch_signal(&b_bound, 1);
		latch_await(&b_exit);
		unbind_wq(&b);
		_exit(0);
	}
	latch_await(&b_bound);
	/* The mm binds again; then the sleeper wakes and submits. */
	again = bind_wq();
	latch_signal(&sh.go, 1);
	latch_await(&sh.done);
	pthread_join(t, NULL);
	latch_signal(&b_exit, 1);
	wait_child(pid);
	unbind_wq(&again);
	printf("PLTEST SLEEPER policy=%s outcome=%s\n", policy,
	       sh.outcome >= 0 ? outcome_names[sh.outcome] : "timeout");
	report("stale-holder");
}

/* --- fork-child: a fork child submits in its own mm ---------------------- */

static struct binding fc_opener_binding;

static void *fc_opener(void *arg)
{
	(void)arg;
	fc_opener_binding = bind_wq();
	return NULL;
}

static void fork_child(void)
{
	struct binding b = bind_wq();
	pid_t pid;

	submit();	/* the parent's thread holds its mm's PASID */
	pid = fork();
	if (pid < 0)
		die("fork");
	if (!pid) {
		pthread_t t;
		int outcome;

		/* A helper thread opens the child's queue; the child submits. */
		if (pthread_create(&t, NULL, fc_opener, NULL))
			die("pthread_create");
		pthread_join(t, NULL);
		outcome = submit();
		printf("PLTEST FORKCHILD policy=%s outcome=%s\n", policy,
		       outcome >= 0 ? outcome_names[outcome] : "timeout");
		unbind_wq(&fc_opener_binding);
		_exit(0);
	}
	wait_child(pid);
	unbind_wq(&b);
	report("fork-child");
}

/* --- exec-rebind: a thread that used the queue execs a program that binds ---- */

/*
 * Before exec the thread binds and submits (the #GP fixup sets its
 * pasid_activated under mm-lifetime-lazy-gp and task-refcount). exec keeps
 * the queue's fd (no O_CLOEXEC) and drops the portal with the old mm; the new
 * program closes that fd -- releasing the old mm's binding from another mm --
 * then binds and submits.
 */
static void exec_rebind(const char *self, int inherited_fd)
{
	char fd_arg[16];
	struct binding b;
	int outcome;

	if (inherited_fd < 0) {
		b = bind_wq();
		submit();
		snprintf(fd_arg, sizeof(fd_arg), "%d", b.fd);
		execl(self, self, "exec-rebind", fd_arg, (char *)NULL);
		die("execl %s", self);
	}
	if (close(inherited_fd))
		die("close the fd from before exec");
	b = bind_wq();
	outcome = submit();
	unbind_wq(&b);
	printf("PLTEST EXECCHILD policy=%s outcome=%s\n", policy,
	       outcome >= 0 ? outcome_names[outcome] : "timeout");
	report("exec-rebind");
}

/* --- bad input ------------------------------------------------------------- */

static int checks_failed;

static void expect_errno(const char *what, long ret, int want)
{
	int got = ret < 0 ? errno : 0;

	if (got != want) {
		printf("PLTEST CHECK FAIL %s: errno %d (%s), want %d (%s)\n", what, got,
		       strerror(got), want, strerror(want));
		checks_failed++;
	} else {
		printf("PLTEST CHECK ok %s\n", what);
	}
}

static void bad_input(int uid)
{
	struct pasidlab_enqcmd req = { 0 };
	struct pasidlab_counters c = { 0 };
	struct pasidlab_completion *cr;
	int wq;
	void *p;

	if (uid >= 0 && (setgid(uid) || setuid(uid)))
		die("setuid %d", uid);
	expect_errno("MM_COUNTERS of an mm that never bound", ioctl(ctl, PASIDLAB_IOC_MM_COUNTERS,
								    &(struct pasidlab_counters){
									    .size = sizeof(c) }),
		     ENOENT);
	wq = open(PASIDLAB_WQ_PATH, O_RDWR);
	if (wq < 0)
		die("open wq");
	expect_errno("ENQCMD NULL", ioctl(wq, PASIDLAB_IOC_ENQCMD, NULL), EFAULT);
	expect_errno("ENQCMD kernel pointer",
		     ioctl(wq, PASIDLAB_IOC_ENQCMD, (void *)0xffff888000000000ull), EFAULT);
	req.flags = 0x80;
	expect_errno("ENQCMD unknown flag", ioctl(wq, PASIDLAB_IOC_ENQCMD, &req), EINVAL);
	req.flags = 0;
	req.completion_addr = 0x1008;
	expect_errno("ENQCMD misaligned record", ioctl(wq, PASIDLAB_IOC_ENQCMD, &req), EINVAL);
	req.completion_addr = 0xffff888000000000ull;
	expect_errno("ENQCMD kernel record", ioctl(wq, PASIDLAB_IOC_ENQCMD, &req), EFAULT);
	req.completion_addr = 0;
	req.flags = PASIDLAB_ENQ_NO_SIGNAL;
	expect_errno("ENQCMD with no portal", ioctl(wq, PASIDLAB_IOC_ENQCMD, &req), 0);
	if (req.result != PASIDLAB_ENQ_NO_PORTAL) {
		printf("PLTEST CHECK FAIL ENQCMD with no portal: result %u\n", req.result);
		checks_failed++;
	}
	expect_errno("ENQCMD on the control fd", ioctl(ctl, PASIDLAB_IOC_ENQCMD, &req), 0);
	c.size = 4;
	expect_errno("COUNTERS size 4", ioctl(ctl, PASIDLAB_IOC_COUNTERS, &c), EINVAL);
	c.size = 1u << 30;
	expect_errno("COUNTERS size 1 GiB (clamped)", ioctl(ctl, PASIDLAB_IOC_COUNTERS, &c), 0);
	if (c.size != sizeof(c) || c.nr_counters != PASIDLAB_NR_COUNTERS) {
		printf("PLTEST CHECK FAIL COUNTERS clamp: size %u nr %u\n", c.size, c.nr_counters);
		checks_failed++;
	}
	expect_errno("COUNTERS NULL", ioctl(ctl, PASIDLAB_IOC_COUNTERS, NULL), EFAULT);
	expect_errno("INFO NULL", ioctl(ctl, PASIDLAB_IOC_INFO, NULL), EFAULT);
	expect_errno("THREAD NULL", ioctl(ctl, PASIDLAB_IOC_THREAD, NULL), EFAULT);
	expect_errno("unknown command", ioctl(ctl, _IO(PASIDLAB_IOC_MAGIC, 99), 0), ENOTTY);
	if (geteuid())
		expect_errno("RESET unprivileged", ioctl(ctl, PASIDLAB_IOC_RESET, 0), EPERM);
	p = mmap(NULL, 8192, PROT_READ, MAP_SHARED, wq, 0);
	expect_errno("mmap two pages", p == MAP_FAILED ? -1 : 0, EINVAL);
	p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, wq, 4096);
	expect_errno("mmap at an offset", p == MAP_FAILED ? -1 : 0, EINVAL);
	expect_errno("mmap of the control fd",
		     mmap(NULL, 4096, PROT_READ, MAP_SHARED, ctl, 0) == MAP_FAILED ? -1 : 0,
		     ENODEV);
	/* A completion record the device cannot write: counted, no oops. */
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, wq, 0);
	if (p == MAP_FAILED)
		die("mmap portal");
	cr = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	req.completion_addr = (uintptr_t)cr;
	expect_errno("ENQCMD read-only record", ioctl(wq, PASIDLAB_IOC_ENQCMD, &req), 0);
	munmap(p, 4096);
	close(wq);	/* the release drains the descriptor first */
	munmap(cr, 4096);
	printf("PLTEST BADINPUT policy=%s uid=%d failed=%d\n", policy, (int)getuid(),
	       checks_failed);
}

/* --- unload while bound ---------------------------------------------------- */

static long delete_module(const char *name)
{
	return syscall(SYS_delete_module, name, O_NONBLOCK);
}

static void unload_while_bound(void)
{
	struct binding b = bind_wq();
	int fd = b.fd;

	submit();
	if (!delete_module("pasidlab") || (errno != EWOULDBLOCK && errno != EBUSY))
		die("rmmod with the queue open and mapped was not refused");
	close(fd);	/* the mapping still holds the file */
	if (!delete_module("pasidlab") || (errno != EWOULDBLOCK && errno != EBUSY))
		die("rmmod with the portal mapped was not refused");
	munmap(b.portal, 4096);
	printf("PLTEST UNLOAD refused while bound (fd and mapping), policy=%s\n", policy);
}

/* --- fuzz ----------------------------------------------------------------- */

static __u64 rng_state;

static __u64 rnd(void)
{
	/* splitmix64 */
	__u64 z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static const unsigned int known_cmds[] = {
	PASIDLAB_IOC_ENQCMD, PASIDLAB_IOC_INFO, PASIDLAB_IOC_THREAD,
	PASIDLAB_IOC_COUNTERS, PASIDLAB_IOC_MM_COUNTERS, PASIDLAB_IOC_RESET,
};

struct fuzz_ctx {
	int calls;
	__u64 seed;
	long ok, err[140];
};

static char *fuzz_buf;	/* two pages, the second PROT_NONE */
static struct pasidlab_completion *fuzz_cr;

static void *fuzz_arg(unsigned int cmd)
{
	char *page_end = fuzz_buf + 4096;
	struct pasidlab_enqcmd *req;
	unsigned int i;

	switch (rnd() % 8) {
	case 0:
		return NULL;
	case 1:
		return (void *)(uintptr_t)(rnd() % 4096);
	case 2:
		return (void *)(uintptr_t)(0xffff800000000000ull | rnd());
	case 3:
		return (void *)(uintptr_t)rnd();
	case 4:	/* straddles into the PROT_NONE page */
		return page_end - 1 - rnd() % 64;
	default:
		for (i = 0; i < 256; i++)
			fuzz_buf[i] = (char)rnd();
		if (cmd == PASIDLAB_IOC_ENQCMD) {
			/* Only records it may write, or ones the kernel must refuse. */
			req = (struct pasidlab_enqcmd *)fuzz_buf;
			switch (rnd() % 5) {
			case 0:
				req->completion_addr = 0;
				break;
			case 1:
				req->completion_addr = (uintptr_t)fuzz_cr;
				break;
			case 2:
				req->completion_addr = (uintptr_t)fuzz_cr + 1 + rnd() % 31;
				break;
			case 3:
				req->completion_addr = 0xffff888000000000ull + (rnd() % 4096) * 32;
				break;
			default:
				req->completion_addr = (uintptr_t)page_end;	/* PROT_NONE */
				break;
			}
		}
		if (rnd() % 4 == 0)
			*(uint32_t *)fuzz_buf = rnd() % 256;	/* a counters size */
		return fuzz_buf;
	}
}

static void fuzz_calls(struct fuzz_ctx *fc, int wq, int cfd)
{
	unsigned int cmd;
	int i, fd;
	void *arg;
	long ret;

	for (i = 0; i < fc->calls; i++) {
		switch (rnd() % 4) {
		case 0:
		case 1:
			cmd = known_cmds[rnd() % ARRAY_SIZE(known_cmds)];
			break;
		case 2:	/* our magic, any number, direction and size */
			cmd = _IOC(rnd() % 4, PASIDLAB_IOC_MAGIC, rnd() % 16, rnd() % 512);
			break;
		default:
			cmd = (unsigned int)rnd();
			break;
		}
		fd = rnd() % 3 ? wq : cfd;
		arg = fuzz_arg(cmd);
		ret = ioctl(fd, cmd, arg);
		if (ret >= 0)
			fc->ok++;
		else
			fc->err[errno < 140 ? errno : 0]++;
	}
}

static void *fuzz_thread(void *arg)
{
	struct fuzz_ctx *fc = arg;
	int c = ctl_fd(), wq = open(PASIDLAB_WQ_PATH, O_RDWR);

	if (wq < 0)
		die("open wq");
	fuzz_calls(fc, wq, c);
	close(wq);
	close(c);
	return NULL;
}

static void fuzz(int calls, __u64 seed, int uid)
{
	struct fuzz_ctx a = { .calls = calls / 2 }, b = { .calls = calls - calls / 2 };
	struct binding bd;
	pthread_t t;
	void *p;
	int i, e;

	rng_state = seed;
	if (uid >= 0 && (setgid(uid) || setuid(uid)))
		die("setuid %d", uid);
	printf("PLTEST FUZZ uid=%d euid=%d calls=%d seed=%llu\n", (int)getuid(), (int)geteuid(),
	       calls, (unsigned long long)seed);
	fuzz_buf = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fuzz_cr = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (fuzz_buf == MAP_FAILED || fuzz_cr == MAP_FAILED || mprotect(fuzz_buf + 4096, 4096, 0))
		die("mmap of the buffers");
	/* A bound thread and an unbound one, concurrently, plus mmap churn. */
	bd = bind_wq();
	if (pthread_create(&t, NULL, fuzz_thread, &a))
		die("pthread_create");
	fuzz_calls(&b, bd.fd, ctl);
	for (i = 0; i < 64; i++) {
		p = mmap(NULL, (rnd() % 3) * 4096, (int)(rnd() % 8), MAP_SHARED, bd.fd,
			 (rnd() % 2) * 4096);
		if (p != MAP_FAILED)
			munmap(p, 4096);
	}
	pthread_join(t, NULL);
	unbind_wq(&bd);
	printf("PLTEST FUZZ done calls=%d ok=%ld", calls, a.ok + b.ok);
	for (e = 0; e < 140; e++)
		if (a.err[e] + b.err[e])
			printf(" %s=%ld", e ? strerrorname_np(e) : "other", a.err[e] + b.err[e]);
	printf(" sigsegv=%ld\n", atomic_load(&tally->segv));
}

static int usage(void)
{
	fputs("pasidlab_test COMMAND ARGS: see the top of pasidlab_test.c\n", stderr);
	return 2;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_sigaction = on_segv, .sa_flags = SA_SIGINFO };
	const char *cmd = argc > 1 ? argv[1] : "";

	setvbuf(stdout, NULL, _IOLBF, 0);
	tally = mmap(NULL, sizeof(*tally), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		     -1, 0);
	if (tally == MAP_FAILED)
		die("mmap tally");
	sigaction(SIGSEGV, &sa, NULL);
	ctl = ctl_fd();
	begin();
	if (!strcmp(cmd, "clone-bind-exit") && argc == 4)
		clone_bind_exit(atoi(argv[2]), atoi(argv[3]));
	else if (!strcmp(cmd, "thread-pool") && argc == 5)
		thread_pool(atoi(argv[2]), atoi(argv[3]), argv[4]);
	else if (!strcmp(cmd, "long-lived-binders") && argc == 5)
		long_lived_binders(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
	else if (!strcmp(cmd, "stale-holder") && argc == 2)
		stale_holder();
	else if (!strcmp(cmd, "exec-rebind") && (argc == 2 || argc == 3))
		exec_rebind("/proc/self/exe", argc == 3 ? atoi(argv[2]) : -1);
	else if (!strcmp(cmd, "fork-child") && argc == 2)
		fork_child();
	else if (!strcmp(cmd, "bad-input") && (argc == 2 || argc == 3))
		bad_input(argc == 3 ? atoi(argv[2]) : -1);
	else if (!strcmp(cmd, "unload-while-bound") && argc == 2)
		unload_while_bound();
	else if (!strcmp(cmd, "fuzz") && (argc == 4 || argc == 5))
		fuzz(atoi(argv[2]), strtoull(argv[3], NULL, 0), argc == 5 ? atoi(argv[4]) : -1);
	else
		return usage();
	return checks_failed ? 1 : 0;
}
