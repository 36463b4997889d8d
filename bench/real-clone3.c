/*
 * Times the real kernel creating N processes with clone3 set_tid inside a
 * new pid namespace: the namespace's init is created with set_tid = {1},
 * then names each child's pid. Prints "N seconds". Needs root.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1000;
	pid_t one = 1;
	pid_t init = clone3_tid(CLONE_NEWPID, &one, 1);
	if (init < 0) {
		fprintf(stderr, "clone3(CLONE_NEWPID, set_tid={1}): %s\n", strerror(errno));
		return 2;
	}
	if (init == 0) {
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
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
		clock_gettime(CLOCK_MONOTONIC, &t1);
		while (wait(NULL) > 0)
			;
		printf("%d %.9f\n", n, (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
		fflush(stdout);
		_exit(0);
	}
	int status;
	if (waitpid(init, &status, 0) < 0)
		return 1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
