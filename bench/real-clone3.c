/*
 * Times the real kernel creating processes with clone3 set_tid, as raw as it
 * gets: no channels, no controller, each call made by the process that
 * needs it. Needs root.
 *
 *   real-clone3 N          inside a new pid namespace (its init made with
 *                          set_tid {1}), N children, each named by set_tid
 *                          and exiting at once. Prints "N SECONDS" for the
 *                          N clones.
 *   real-clone3 N LEVELS   the tree of a restored LEVELS-deep container:
 *                          an init per level (each the next level's parent,
 *                          set_tid naming pid 1 down to its level), and the
 *                          innermost init's children, N processes in all,
 *                          each named at every level and left running (as
 *                          a restore leaves them). Prints "N SECONDS" from
 *                          the first clone until the last child exists.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_clone3
#define SYS_clone3 435
#endif

/* struct clone_args up to set_tid_size (CLONE_ARGS_SIZE_VER1, 80 bytes) */
struct clone_args_v1 {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size;
};

static pid_t clone3_tid(uint64_t flags, pid_t *set_tid, size_t n)
{
	struct clone_args_v1 a;
	memset(&a, 0, sizeof(a));
	a.flags = flags;
	a.exit_signal = SIGCHLD;
	a.set_tid = (uint64_t)(uintptr_t)set_tid;
	a.set_tid_size = n;
	return (pid_t)syscall(SYS_clone3, &a, sizeof(a));
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* flat: N children of one namespace's init, each exiting at once */
static int flat(int n)
{
	pid_t one = 1;
	pid_t init = clone3_tid(CLONE_NEWPID, &one, 1);
	if (init < 0) {
		fprintf(stderr, "clone3(CLONE_NEWPID, set_tid={1}): %s\n", strerror(errno));
		return 2;
	}
	if (init == 0) {
		double t0 = now();
		for (int i = 0; i < n; i++) {
			pid_t want = 1000 + i;
			pid_t c = clone3_tid(0, &want, 1);
			if (c < 0) {
				fprintf(stderr, "clone3(set_tid={%d}): %s\n", want, strerror(errno));
				_exit(3);
			}
			if (c == 0)
				_exit(0);
			if (c != want)
				_exit(4);
		}
		double t1 = now();
		while (wait(NULL) > 0)
			;
		printf("%d %.9f\n", n, t1 - t0);
		fflush(stdout);
		_exit(0);
	}
	int status;
	if (waitpid(init, &status, 0) < 0)
		return 1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

/*
 * nested: level k's init (k = 1..levels) is made by level k-1's with
 * set_tid naming pid 1 in its own namespace and a pid of its own at each
 * container level above (the outermost level's pid left to the kernel); the innermost init makes the rest, each child named 1000+i at
 * every container level. Every process stays until the outermost init dies
 * (PR_SET_PDEATHSIG on it; its namespace's end takes the rest).
 */
static int nested(int n, int levels)
{
	int done[2];
	if (pipe(done) < 0)
		return 1;
	double t0 = now();
	pid_t tids[64];
	int depth = 0;
	pid_t init = 0;
	for (int k = 1; k <= levels; k++) {
		/* innermost first: pid 1 in the new namespace, then k+1-j at container level j above it (as a model container numbers its inits) */
		tids[0] = 1;
		for (int j = 1; j < k; j++)
			tids[j] = j + 1;
		init = clone3_tid(CLONE_NEWPID, tids, (size_t)k);
		if (init < 0) {
			fprintf(stderr, "clone3(CLONE_NEWPID, %d levels): %s\n", k, strerror(errno));
			if (depth == 0)
				return 2;
			_exit(2);
		}
		if (init > 0)
			break;
		depth = k;
		if (k == 1)
			prctl(PR_SET_PDEATHSIG, SIGKILL);
	}
	if (depth == levels) {
		/* the innermost init: its children, named at every container level */
		for (int i = 0; i < n - levels; i++) {
			for (int j = 0; j < levels; j++)
				tids[j] = 1000 + i;
			pid_t c = clone3_tid(0, tids, (size_t)levels);
			if (c < 0) {
				fprintf(stderr, "clone3(set_tid={%d...}): %s\n", 1000 + i, strerror(errno));
				_exit(3);
			}
			if (c == 0) {
				for (;;)
					pause();
			}
		}
		if (write(done[1], "x", 1) != 1)
			_exit(4);
		for (;;)
			pause();
	}
	if (depth > 0) {
		/* an init between levels: stays while the next level's init does (so a failure below ends everything) */
		waitpid(init, NULL, 0);
		_exit(6);
	}
	/* the outermost caller: wait for the innermost init to say it is done */
	close(done[1]);
	char c;
	if (read(done[0], &c, 1) != 1)
		return 5;
	double t1 = now();
	kill(init, SIGKILL);
	waitpid(init, NULL, 0);
	printf("%d %.9f\n", n, t1 - t0);
	return 0;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1000;
	int levels = argc > 2 ? atoi(argv[2]) : 0;
	if (levels < 0 || levels > 32 || (levels > 0 && n <= levels)) {
		fprintf(stderr, "usage: real-clone3 N [LEVELS]  (LEVELS 1..32, N > LEVELS)\n");
		return 2;
	}
	return levels ? nested(n, levels) : flat(n);
}
