/*
 * ckpt-helper: the one place where ckpt makes real processes, namespaces and
 * the system calls that change them. Node never forks, clones or changes
 * namespaces itself (V8 is multi-threaded: a forked copy inherits one thread
 * and whatever locks the others held), so this small single-threaded program
 * does it, driven over lines of text.
 *
 * AGENTS. Every process (or thread) the helper makes is an *agent*: it loops
 * "read one request from my channel, do one system call, reply with the
 * return value and the errno name". A clone request makes a new agent (a new
 * process, or with CLONE_VM a thread of control on a stack of its own) with a
 * channel of its own. A channel is a pair of FIFOs in a directory:
 *     DIR/ID.req   requests to agent ID, one line each
 *     DIR/ID.rep   its replies, one line each
 * so agents outlive the command that made them and any later controller can
 * reach them by directory and id (the real backend keeps a container's
 * processes this way between short CLI commands).
 *
 * Agents make every call through raw system calls (no libc wrapper, no
 * errno, no malloc): agents made with CLONE_VM share memory and the thread
 * pointer with their creator, so nothing may touch libc's per-thread state.
 *
 * CHANNELS. An agent made by the controller or by an agent on a socket gets
 * a socket pair as its channel instead (nothing made in DIR, whose mknod a
 * busy file system makes slow): the creator hands the controller's end over
 * with its reply (SCM_RIGHTS). A socket ends with the controller, so
 * `detach` first moves each such agent to its FIFOs (request "persist ID").
 * An agent on a socket makes a child process with CLONE_PIDFD and hands the
 * pidfd over too, which with the request and clone3's answer gives the
 * controller the child's pids at once (levels_known; else the pidfd's fdinfo),
 * so the controller follows the child without waiting for it to run, and the
 * creator's reading of the clock around the clone its start time (see
 * boot_tick); the child's hello ("hello pgrp=P sid=S": the process group and
 * session it started in) is read ahead of its first reply, or by `ids`.
 * An agent given a run of requests answers its clones and own-memory requests
 * together, up to HELD_FDS descriptors in one message.
 *
 * MEMORY. Every clone copies its creator's page tables, and every page either
 * side writes afterwards is copied: so the helper's own child (a holder) lets
 * go of the helper's heap and stack, running on a stack of its own, an init of
 * its holder's and leader's frames, agents allocate nothing and build replies
 * without zero-filling buffers, and an agent's children start on a stack
 * region it never writes, its own stack kept from them (MADV_DONTFORK; see
 * children_stack): between two clones the agent writes pages that are its
 * alone. The helper is linked statically where it can be (bin/build-helper.js):
 * fewer mappings to copy.
 *
 * DIR is made mode 01733 (as /tmp, but not listable): an agent that dropped
 * to another uid still makes its children's channels there; FIFOs are 0600
 * and made exclusively, so no one else can talk to an agent.
 *
 * CONTROLLER. `ckpt-helper serve DIR` reads commands on stdin and answers
 * each with exactly one line on stdout:
 *   init ID FLAGS SET_TID PERSIST   clone3(CLONE_NEWPID|FLAGS) by a new HOLDER (see below):
 *                                   agent ID is the init of a fresh pid namespace (SET_TID 0:
 *                                   kernel's choice, else set_tid {SET_TID}, or A,B,...:
 *                                   set_tid innermost first, naming the helper's levels too);
 *                                   PERSIST 0 makes it die with the helper (PR_SET_PDEATHSIG,
 *                                   through its holder), taking its namespace
 *   op ID REQUEST...                send REQUEST to agent ID and wait until it replies, dies
 *                                   or is stuck exiting; then wait until what it may have
 *                                   changed is settled (idle, dead, or stuck exiting): the
 *                                   agent itself after its exit or a signal to itself; every
 *                                   agent after a signal to others, an init's exit,
 *                                   exit_group, or an exit once stops may exist; the agents
 *                                   stuck in their exit after a reap; nothing otherwise
 *   batch N                         the next N lines are init/op/state/ids/confirm commands, carried out
 *                                   in order until one fails (an error, a call that fails, a
 *                                   death other than an exit's or a signal's); N reply lines,
 *                                   "skipped" after the failure. Requests to one agent that
 *                                   need no settling go to it as lines (REQ;REQ;..., two with it
 *                                   at a time, each after the first marked '+': skipped, as
 *                                   the rest of its own line, after a failure), and
 *                                   those changing only their agent's memory (ids, peek, map, ...)
 *                                   to many agents at once, each agent's in one line
 *   ids ID                          r 0 - pgrp=P sid=S: agent ID's process group and session as its own
 *                                   pid namespace numbers them (/proc's NSpgid, NSsid), without waking it:
 *                                   from its hello while no request can have changed them
 *   confirm [ID|LO-HI...]           read the hello each named agent still owes (see CHANNELS): ok, or
 *                                   err naming the first that did not start
 *   state ID                        what /proc says of agent ID
 *   reset [ID|LO-HI...]             SIGKILL every agent (or those named), reap the inits among
 *                                   them, remove their FIFOs
 *   attach ID                       follow agent ID, made by an earlier helper (PERSIST 1)
 *   detach                          exit, leaving every agent waiting on its channel (agents
 *                                   on sockets move to their FIFOs first: see CHANNELS)
 *   quit                            reset, then exit (also on end of input)
 * Replies:
 *   r RET ERRNO [key=value...]      a call's result; ERRNO is "-" on success
 *   dead | stuck | timeout          the agent died in the call (exit) / is stuck in its exit
 *                                   (an init waiting for its namespace to empty) / no answer
 *   stopped                         the agent stopped before it could answer (a kill that stopped
 *                                   its caller); its answer, once it is continued, is skipped.
 *                                   Nothing is sent to an agent that is stopped: "err the agent
 *                                   is stopped: ..."
 *   gone                            the agent had already died: the request was not sent
 *   s STATE ppid=ID|out|- nspid=A,B,...  STATE: alive, zombie, exiting, gone
 *   ok | err MESSAGE
 * A clone that succeeds adds child=ID nspid=A,B,... start=T (the child's pid at every level, as
 * the helper's /proc shows them, and its start time, field 22 of /proc/PID/stat); so do attach's.
 * An init adds holder=PID (its holder's pid).
 *
 * THE HOLDER. A namespace's init is not the helper's child, nor in its session or process
 * group (a kill(0, sig) from the init's group would reach whoever ran the helper). The
 * helper forks a *holder*, which makes a session of its own; at once the holder forks a
 * short-lived *leader*, which makes another session (the init's), makes the init with
 * CLONE_PARENT (so that the init is the holder's child) and exits. So the init starts in a
 * session and process group whose leader is gone and whose only members are the
 * container's processes, and its parent is in another session: as a host's init stands for
 * a container (kernel/exit.c will_become_orphaned_pgrp skips a child of the global init; a
 * parent in another session does not count either), the init's group is orphaned from the
 * start, and nothing in the container can name or reach the holder (it is in no group of
 * theirs, and outside their pid namespaces). The holder's first reply, unasked, is its
 * init's (with the init's socket and a pidfd of it), and it answers no request.
 * While its helper follows it, its init stays a zombie once it has exited, as any child of
 * a helper (`reset` lets it go); once its channel ends (the helper's exit), it waits for
 * its init to end, reaps it and exits. kill -9 of a holder leaves its init running, a child
 * of the machine's init (or the nearest subreaper) from then on. Nothing can move an init stuck in its exit
 * (zap_pid_ns_processes) because it sits in another group of its namespace: only its
 * parent could, from the init's session.
 *
 * AGENT REQUESTS (after "op ID"):
 *   clone3 NEWID FLAGS EXIT_SIGNAL N TID...   clone3 with set_tid[N] (innermost first)
 *   exit CODE | exit_group CODE               no reply
 *   wait4 PID OPTIONS                         r RET ERRNO status=S
 *   setsid | setpgid PID PGID | setuid UID | unshare FLAGS | kill PID SIG
 *   setns PID NSTYPE                          pidfd_open(PID) then setns; stage=pidfd|setns
 *   pidfd_open PID FLAGS                      the descriptor is closed again
 *   ids                                       pid= ppid= pgrp= sid= tid= uid= (own namespaces)
 *   hello                                     nspid= again (for a later helper's attach)
 *   read PATH | write PATH VALUE              a /proc or sysctl file; read gives value=
 *   mmap LEN PROT FLAGS | poke ADDR HEX | peek ADDR LEN   memory of the agent
 *   map ADDR LEN PROT FLAGS                   anonymous mapping at ADDR exactly (FLAGS: MAP_PRIVATE or
 *                                             MAP_SHARED), never over another (MAP_FIXED_NOREPLACE): EEXIST
 *   mapfile ADDR LEN PROT PATH                MAP_SHARED of PATH at ADDR exactly: another process's shared
 *                                             mapping through /proc/PID/map_files/START-END
 *   munmap ADDR LEN                           unmap the agent's own memory (a workload's munmap made real)
 * The first line an agent writes is "hello nspid=A,B,...", or "hello pgrp=P sid=S" when its
 * creator handed the controller a pidfd of it. Replies to a line's requests that change only the
 * agent's own memory (see own_only) are written together at the end of the line. A clone's reply
 * from the agent also says born=T, the child's start time, when the clock told it for sure; the
 * controller takes it (and chan=) out of the reply it gives.
 *
 * `ckpt-helper probe` prints "ok" if this machine lets it make a user and a pid namespace
 * (root, or a user where unprivileged user namespaces are allowed), else one line saying what
 * is missing, and exits 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef __x86_64__
#error "ckpt-helper: raw system calls are written for x86_64 only"
#endif

#define NR_CLONE3 435
#define NR_PIDFD_OPEN 434
#define NR_CLOSE_RANGE 436
#define NR_PIDFD_SEND_SIGNAL 424
#define PIDFD_THREAD O_EXCL
#define DIRFD 3
#define MAX_AGENTS 4096
#define LINE 4096
#define STACK_SIZE (256 * 1024)

/* ---------- raw system calls: return -errno, never touch errno ---------- */

static long sys6(long n, long a, long b, long c, long d, long e, long f) {
  long ret;
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9) : "rcx", "r11", "memory");
  return ret;
}
#define SYS0(n) sys6(n, 0, 0, 0, 0, 0, 0)
#define SYS1(n, a) sys6(n, (long)(a), 0, 0, 0, 0, 0)
#define SYS2(n, a, b) sys6(n, (long)(a), (long)(b), 0, 0, 0, 0)
#define SYS3(n, a, b, c) sys6(n, (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define SYS4(n, a, b, c, d) sys6(n, (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define SYS6(n, a, b, c, d, e, f) sys6(n, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))

struct clone_args_v2 {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};

/*
 * clone3 whose child calls fn(arg, arg2) and then exit(fn's value). The child
 * may run on a stack of its own (args->stack), where the caller's frame is not
 * (nor, with MADV_DONTFORK, the caller's stack at all), so it must not return
 * into it: the call is made from registers that survive the syscall, on a
 * stack aligned as a call needs it (the caller's may not be, there).
 */
static long clone3_run(struct clone_args_v2 *args, int (*fn)(void *, unsigned long), void *arg, unsigned long arg2) {
  long ret;
  register long r12 __asm__("r12") = (long)fn;
  register long r13 __asm__("r13") = (long)arg;
  register long r14 __asm__("r14") = (long)arg2;
  __asm__ volatile(
      "syscall\n\t"
      "test %%rax, %%rax\n\t"
      "jnz 1f\n\t"
      "xor %%ebp, %%ebp\n\t"
      "and $-16, %%rsp\n\t"
      "mov %%r13, %%rdi\n\t"
      "mov %%r14, %%rsi\n\t"
      "call *%%r12\n\t"
      "mov %%eax, %%edi\n\t"
      "mov $60, %%eax\n\t"
      "syscall\n\t"
      "hlt\n"
      "1:\n\t"
      : "=a"(ret)
      : "a"((long)NR_CLONE3), "D"(args), "S"(sizeof *args), "r"(r12), "r"(r13), "r"(r14)
      : "rcx", "r11", "memory");
  return ret;
}

/* ---------- small text helpers (no locale, no errno) ---------- */

static const struct { int no; const char *name; } ERRNOS[] = {
    {1, "EPERM"}, {2, "ENOENT"}, {3, "ESRCH"}, {4, "EINTR"}, {5, "EIO"}, {7, "E2BIG"}, {9, "EBADF"},
    {10, "ECHILD"}, {11, "EAGAIN"}, {12, "ENOMEM"}, {13, "EACCES"}, {14, "EFAULT"}, {16, "EBUSY"},
    {17, "EEXIST"}, {22, "EINVAL"}, {24, "EMFILE"}, {28, "ENOSPC"}, {34, "ERANGE"}, {36, "ENAMETOOLONG"},
    {38, "ENOSYS"}, {87, "EUSERS"}, {95, "EOPNOTSUPP"},
};

static const char *errname(long e) {
  for (size_t i = 0; i < sizeof ERRNOS / sizeof ERRNOS[0]; i++)
    if (ERRNOS[i].no == e) return ERRNOS[i].name;
  return "EUNKNOWN";
}

/*
 * a reply being built; `fd` and then `fd2`, when positive (an out starts with 0: none), go with it
 * (SCM_RIGHTS) and are closed. The counts come first, on the page the text starts on: a reply
 * touches one page, not two (see OUT_EMPTY).
 */
struct out { int len; int fd; int fd2; char buf[LINE]; };

/*
 * OUT_EMPTY starts a reply without zero-filling its 4 KB buffer: every page an agent writes
 * after a clone is copied (copy on write), on both sides, so an agent writes only what it needs.
 */
#define OUT_EMPTY(o) ((o).len = 0, (o).fd = 0, (o).fd2 = 0)

static void put_str(struct out *o, const char *s) {
  while (*s && o->len < LINE - 2) o->buf[o->len++] = *s++;
}

static void put_num(struct out *o, long long v) {
  char tmp[24];
  int n = 0;
  unsigned long long u = v < 0 ? -(unsigned long long)v : (unsigned long long)v;
  do tmp[n++] = (char)('0' + u % 10); while ((u /= 10) && n < 23);
  if (v < 0 && o->len < LINE - 2) o->buf[o->len++] = '-';
  while (n && o->len < LINE - 2) o->buf[o->len++] = tmp[--n];
}

/* put_result writes "r RET ERRNO" for a raw return value. */
static void put_result(struct out *o, long ret) {
  put_str(o, "r ");
  if (ret < 0 && ret > -4096) {
    put_str(o, "-1 ");
    put_str(o, errname(-ret));
  } else {
    put_num(o, ret);
    put_str(o, " -");
  }
}

static int write_all(int fd, const char *p, long n) {
  while (n > 0) {
    long w = SYS3(SYS_write, fd, p, n);
    if (w == -EINTR) continue;
    if (w < 0) return -1;
    p += w;
    n -= w;
  }
  return 0;
}

/* HELD_FDS: the most descriptors one message of an agent carries (two for each child it made) */
#define HELD_FDS 16

/*
 * send_all writes `n` bytes to an agent's channel: a socket without SIGPIPE when its peer is gone
 * (MSG_NOSIGNAL: agents keep the default disposition, as a container's processes must), else a
 * FIFO, of which the agent holds a read end too.
 */
static int send_all(int fd, const char *p, long n) {
  while (n > 0) {
    long w = SYS6(SYS_sendto, fd, p, n, MSG_NOSIGNAL, 0, 0);
    if (w == -ENOTSOCK) return write_all(fd, p, n);
    if (w == -EINTR) continue;
    if (w < 0) return -1;
    p += w;
    n -= w;
  }
  return 0;
}

/* send_with_fds writes `n` bytes and, with them in one message, `nfds` descriptors (SCM_RIGHTS), which it then closes */
static int send_with_fds(int fd, const char *p, long n, const int *fds, int nfds) {
  if (nfds == 0) return send_all(fd, p, n);
  /* the lines and the descriptors in one message: the controller's read of the first line brings them */
  struct iovec iov = {.iov_base = (void *)p, .iov_len = (size_t)n};
  union { char buf[CMSG_SPACE(HELD_FDS * sizeof(int))]; struct cmsghdr align; } c;
  memset(&c, 0, CMSG_SPACE(sizeof(int) * (size_t)nfds));
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.buf, .msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds)};
  struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
  memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)nfds);
  long w;
  do w = SYS3(SYS_sendmsg, fd, &mh, MSG_NOSIGNAL); while (w == -EINTR);
  for (int i = 0; i < nfds; i++) SYS1(SYS_close, fds[i]);
  if (w < 0) return -1;
  return w < n ? send_all(fd, p + w, n - w) : 0;
}

static int send_out(int fd, struct out *o) {
  o->buf[o->len++] = '\n';
  int fds[2] = {o->fd, o->fd2}, nfds = o->fd <= 0 ? 0 : o->fd2 > 0 ? 2 : 1;
  o->fd = o->fd2 = 0;
  return send_with_fds(fd, o->buf, o->len, fds, nfds);
}

static int parse_ll(const char *s, long long *v) {
  int neg = 0;
  unsigned long long u = 0;
  if (*s == '-') neg = 1, s++;
  if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    s += 2;
    if (!*s) return -1;
    for (; *s; s++) {
      int d = *s >= '0' && *s <= '9' ? *s - '0' : *s >= 'a' && *s <= 'f' ? *s - 'a' + 10 : *s >= 'A' && *s <= 'F' ? *s - 'A' + 10 : -1;
      if (d < 0) return -1;
      u = u * 16 + (unsigned)d;
    }
  } else {
    if (!*s) return -1;
    for (; *s; s++) {
      if (*s < '0' || *s > '9') return -1;
      u = u * 10 + (unsigned)(*s - '0');
    }
  }
  *v = neg ? -(long long)u : (long long)u;
  return 0;
}

#define MAX_TOKENS 48
/* split cuts a line into space-separated tokens, in place. */
static int split(char *line, char **tok) {
  int n = 0;
  char *p = line;
  while (*p && n < MAX_TOKENS) {
    while (*p == ' ') p++;
    if (!*p) break;
    tok[n++] = p;
    while (*p && *p != ' ') p++;
    if (*p) *p++ = 0;
  }
  return n;
}

/* linebuf: what has been read of a channel, not yet taken as a line; the controller also queues the descriptors that came with it */
struct linebuf { long have; int nfds; int fds[2 * HELD_FDS + 8]; int skipping, too_long; char data[LINE]; };

/*
 * line_from moves one line already read into `lb` to buf: 1, or 0 when there is none yet. A line
 * is '\n'-terminated, or the whole buffer when it is full without one (longer than any line a
 * side writes: cut there, so that the lines after it stay in step).
 */
static int line_from(struct linebuf *lb, char *buf, long cap) {
  for (;;) {
    char *nl = memchr(lb->data, '\n', (size_t)lb->have);
    if (!nl && lb->have < LINE) return 0;
    if (!nl) {
      /* a line longer than the buffer: never run in pieces; thrown away up to its newline, then said to be too long */
      lb->skipping = 1;
      lb->have = 0;
      return 0;
    }
    long len = nl - lb->data, n = len < cap - 1 ? len : cap - 1;
    lb->too_long = lb->skipping;
    lb->skipping = 0;
    memcpy(buf, lb->data, (size_t)(lb->too_long ? 0 : n));
    buf[lb->too_long ? 0 : n] = 0;
    lb->have -= len + 1;
    memmove(lb->data, nl + 1, (size_t)lb->have);
    return 1;
  }
}
static long read_line(int fd, struct linebuf *lb, char *buf, long cap) {
  while (!line_from(lb, buf, cap)) {
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    if (SYS3(SYS_poll, &pf, 1, -1) == -EINTR) continue;
    long r = SYS3(SYS_read, fd, lb->data + lb->have, LINE - lb->have);
    if (r == -EINTR) continue;
    if (r <= 0) return r < 0 ? r : -1;
    lb->have += r;
  }
  return 0;
}

/* ---------- /proc ---------- */

static long read_file_raw(const char *path, char *buf, long cap) {
  long fd = SYS4(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) return fd;
  long n = 0;
  for (;;) {
    long r = SYS3(SYS_read, fd, buf + n, cap - 1 - n);
    if (r == -EINTR) continue;
    if (r <= 0) break;
    n += r;
    if (n >= cap - 1) break;
  }
  SYS1(SYS_close, fd);
  buf[n] = 0;
  return n;
}

/* put_nspid appends the NSpid line of a /proc status text as A,B,C. */
static void put_nspid(struct out *o, const char *status) {
  const char *p = strstr(status, "\nNSpid:");
  if (!p) return;
  p += 7;
  int first = 1;
  while (*p && *p != '\n') {
    while (*p == ' ' || *p == '\t') p++;
    if (*p == '\n' || !*p) break;
    if (!first) put_str(o, ",");
    first = 0;
    while (*p >= '0' && *p <= '9' && o->len < LINE - 2) o->buf[o->len++] = *p++;
  }
}

/* ---------- agents ---------- */

struct start {
  int req, rep;    /* the new agent's channel: two FIFOs, or one socket (req == rep) */
  int own_files;   /* 1: not CLONE_FILES, so close every other descriptor */
  int stdio;       /* 1: made by the helper, whose stdio it must not keep; an agent's child has its creator's /dev/null */
  int pdeath;      /* die with the helper */
  int holder;      /* a holder: a session of its own, and its children its own to reap (see THE HOLDER) */
  int quiet_hello; /* 1: its creator hands the controller a pidfd, which says its pids: the hello line says no more */
  /* the helper's heap and stack as the helper's own child inherits them, which it lets go of (agent_start) */
  unsigned long drop[2][2];
  /* the top of the stack the new agent starts on; in a copy of its creator's (not CLONE_VM), the frames above its first are its creator's, dead in it */
  unsigned long stack_top;
  int drop_frames;
  /* a holder's init, made as soon as the holder starts (see THE HOLDER) */
  const struct hold *hold;
};

/* hold: what a holder's init is made with */
struct hold { uint64_t flags; int tids[40]; int ntid; int pdeath; };

static void agent_loop(int req, int rep, int on_socket, unsigned long stack_top);

/*
 * An agent's children start on a stack region of their own (children_stack), which the agent
 * never writes, and its own stack is not theirs (MADV_DONTFORK): what the agent writes between
 * two clones is copied for neither side (copy on write), and a clone copies no page table of its
 * stack. What such a child needs to start is handed over in registers (START_*), not in memory.
 */
#define START_FD_BITS 20
#define START_OWN_FILES (1UL << 40)
#define START_QUIET_HELLO (1UL << 41)

/* a holder's init: its pidfd (-1 in every other agent) and pid (see THE HOLDER) */
static int watch_fd = -1;
static long watch_pid;

struct ksigaction { unsigned long handler, flags, restorer, mask; };

static void set_disposition(int sig, unsigned long handler) {
  struct ksigaction ka = {.handler = handler};
  SYS4(SYS_rt_sigaction, sig, &ka, 0, 8);
}

/* holder_end: the holder's channel has ended (its helper has gone, or let it go): wait for its init to end, reap it, exit */
static void holder_end(void) {
  struct pollfd pf = {.fd = watch_fd, .events = POLLIN};
  while (SYS3(SYS_poll, &pf, 1, -1) == -EINTR) {}
  while (SYS4(SYS_wait4, watch_pid, 0, __WALL, 0) == -EINTR) {}
  SYS1(SYS_exit, 0);
}

/* agent_gone: the agent's channel has ended; a holder still has its init to wait for */
static void agent_gone(void) {
  if (watch_fd >= 0) holder_end();
  SYS1(SYS_exit, 0);
}

static int agent_run(struct start s, struct hold h);
static void hold_init(uint64_t flags, int *tids, int ntid, int pdeath, unsigned long stack_top, struct out *o);

/* agent_start starts a child from its start data in memory, copied first: it may let go of the memory they are in (see agent_run) */
static int agent_start(void *arg, unsigned long unused) {
  (void)unused;
  struct start s = *(struct start *)arg;
  struct hold h = {0};
  if (s.hold) h = *s.hold;
  return agent_run(s, h);
}

/* agent_start_packed starts a child on its creator's children_stack (its top: stack_top), its start data in `packed` */
static int agent_start_packed(void *packed, unsigned long stack_top) {
  unsigned long p = (unsigned long)packed, mask = (1UL << START_FD_BITS) - 1;
  struct start s = {.req = (int)(p & mask), .rep = (int)((p >> START_FD_BITS) & mask), .own_files = (p & START_OWN_FILES) != 0, .quiet_hello = (p & START_QUIET_HELLO) != 0, .stack_top = stack_top};
  struct hold none = {0};
  return agent_run(s, none);
}

static int agent_run(struct start s, struct hold h) {
  int on_socket = s.req == s.rep;
  /*
   * the helper's own child, on a stack of its own: the helper's heap (the controller's) and stack
   * (frames it never returns to) are of no use to an agent, which never allocates; dropped, so
   * that every process it and its descendants clone has less to copy
   */
  for (int i = 0; i < 2; i++)
    if (s.drop[i][1] > s.drop[i][0]) SYS3(SYS_madvise, s.drop[i][0], s.drop[i][1] - s.drop[i][0], MADV_DONTNEED);
  /* the same for an agent's child: its creator's frames above this one (its return address, just above the frame, stays) */
  unsigned long dead = ((unsigned long)__builtin_frame_address(0) + 16 + 4095) & ~4095UL;
  if (s.drop_frames && s.stack_top > dead) SYS3(SYS_madvise, dead, s.stack_top - dead, MADV_DONTNEED);
  if (s.pdeath) SYS2(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL);
  if (s.holder) {
    SYS0(SYS_setsid);
    /*
     * the helper ignores SIGCHLD (the kernel reaps its holders), SIGPIPE (an agent it writes to
     * may be gone), SIGINT and SIGQUIT (a terminal's, Node's to judge); a holder waits for its
     * children, and a container's processes, all made below it, keep every signal's default action, as on a model host (a SIGPIPE sent to one ends it)
     */
    set_disposition(SIGCHLD, 0);
    set_disposition(SIGPIPE, 0);
    set_disposition(SIGINT, 0);
    set_disposition(SIGQUIT, 0);
  }
  if (s.own_files) {
    /* its channel at 4 (a socket, both ways) or 4 and 5 (FIFOs), nothing else above its stdio */
    if (s.req != 4) SYS3(SYS_dup3, s.req, 4, 0);
    if (on_socket) s.req = s.rep = 4;
    else {
      s.req = 4;
      if (s.rep != 5) { SYS3(SYS_dup3, s.rep, 5, 0); s.rep = 5; }
    }
    SYS3(NR_CLOSE_RANGE, on_socket ? 5 : 6, ~0U, 0);
  }
  if (s.stdio) {
    /* nor the helper's stdio: a detached helper's caller must see its output end */
    long null = SYS4(SYS_openat, AT_FDCWD, "/dev/null", O_RDWR, 0);
    if (null >= 0) {
      for (int fd = 0; fd < 3; fd++) SYS3(SYS_dup3, null, fd, 0);
      if (null > 2) SYS1(SYS_close, null);
    }
  }
  char status[LINE];
  struct out o;
  OUT_EMPTY(o);
  put_str(&o, "hello");
  if (!s.quiet_hello) {
    put_str(&o, " nspid=");
    if (read_file_raw("/proc/thread-self/status", status, sizeof status) > 0) put_nspid(&o, status);
  } else {
    /* its process group and session as its own namespace numbers them: the controller's `ids` takes them from here */
    put_str(&o, " pgrp=");
    put_num(&o, SYS1(SYS_getpgid, 0));
    put_str(&o, " sid=");
    put_num(&o, SYS1(SYS_getsid, 0));
  }
  if (send_out(s.rep, &o) < 0) return 1;
  if (s.hold) {
    /* a holder's one task, at once: its init, answered as the holder's first reply (the controller asks nothing) */
    OUT_EMPTY(o);
    hold_init(h.flags, h.tids, h.ntid, h.pdeath, s.stack_top, &o);
    if (send_out(s.rep, &o) < 0) return 1;
  }
  agent_loop(s.req, s.rep, on_socket, s.stack_top);
  return 0;
}

/* channel_open makes DIR/ID.req and DIR/ID.rep and opens both ends for the agent. */
static int channel_open(long long id, int *req, int *rep) {
  char name[64];
  struct out o;
  OUT_EMPTY(o);
  put_num(&o, id);
  put_str(&o, ".req");
  o.buf[o.len] = 0;
  memcpy(name, o.buf, (size_t)o.len + 1);
  long r = SYS4(SYS_mknodat, DIRFD, name, S_IFIFO | 0600, 0);
  if (r < 0) return (int)r;
  long fr = SYS4(SYS_openat, DIRFD, name, O_RDWR | O_CLOEXEC, 0);
  if (fr < 0) return (int)fr;
  name[o.len - 3] = 'r', name[o.len - 2] = 'e', name[o.len - 1] = 'p';
  r = SYS4(SYS_mknodat, DIRFD, name, S_IFIFO | 0600, 0);
  if (r < 0) { SYS1(SYS_close, fr); return (int)r; }
  long fw = SYS4(SYS_openat, DIRFD, name, O_RDWR | O_CLOEXEC, 0);
  if (fw < 0) { SYS1(SYS_close, fr); return (int)fw; }
  *req = (int)fr;
  *rep = (int)fw;
  return 0;
}

/* channel_remove unlinks DIR/ID.req and DIR/ID.rep. */
static void channel_remove(long long id) {
  struct out o;
  OUT_EMPTY(o);
  put_num(&o, id);
  put_str(&o, ".req");
  o.buf[o.len] = 0;
  SYS3(SYS_unlinkat, DIRFD, o.buf, 0);
  o.buf[o.len - 3] = 'r', o.buf[o.len - 2] = 'e', o.buf[o.len - 1] = 'p';
  SYS3(SYS_unlinkat, DIRFD, o.buf, 0);
}

/* the page the helper's argument and environment strings start on: /proc/PID/environ reads them there, in every agent too */
static unsigned long strings_page;

/* helper_memory finds the helper's [heap] and [stack] in /proc/self/maps (zeros where it finds none), the stack up to its strings */
static void helper_memory(unsigned long drop[2][2]) {
  memset(drop, 0, sizeof(unsigned long) * 4);
  FILE *f = fopen("/proc/self/maps", "re");
  char line[512];
  while (f && fgets(line, sizeof line, f)) {
    unsigned long lo, hi;
    int which = strstr(line, " [heap]") ? 0 : strstr(line, " [stack]") ? 1 : -1;
    if (which >= 0 && sscanf(line, "%lx-%lx", &lo, &hi) == 2) drop[which][0] = lo, drop[which][1] = hi;
  }
  if (f) fclose(f);
  if (strings_page > drop[1][0] && strings_page < drop[1][1]) drop[1][1] = strings_page;
}

/*
 * boot_tick: CLOCK_BOOTTIME in clock ticks (USER_HZ, 100 on x86_64), the unit of a process's start
 * time, field 22 of /proc/PID/stat (fs/proc/array.c do_task_stat: nsec_to_clock_t of the task's
 * start_boottime, which kernel/fork.c copy_process takes from ktime_get_boottime_ns() in the middle
 * of the clone). A clone between two equal ticks started at that tick: no /proc read needed.
 */
static unsigned long long boot_tick(void) {
  struct timespec ts;
  if (SYS2(SYS_clock_gettime, CLOCK_BOOTTIME, &ts) < 0) return 0;
  return ((unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec) / 10000000ULL;
}

/* CHANNEL_FAILED: spawn_agent could not make the new agent's channel (not a result of clone3) */
#define CHANNEL_FAILED (-100000L)

/*
 * children_stack readies, at an agent's first child, the region its children start on (see
 * START_*): a fresh mapping, and its own stack (the STACK_SIZE below `stack_top`) kept from them.
 * 0, or -1 when it cannot (its children then start on a copy of its stack, as a thread's do).
 */
static int children_stack(unsigned long stack_top, unsigned long *region) {
  if (*region) return 0;
  if (!stack_top) return -1;
  long r = SYS6(SYS_mmap, 0, STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (r < 0 && r > -4096) return -1;
  if (SYS3(SYS_madvise, stack_top - STACK_SIZE, STACK_SIZE, MADV_DONTFORK) < 0) {
    SYS2(SYS_munmap, r, STACK_SIZE);
    return -1;
  }
  *region = (unsigned long)r;
  return 0;
}

/*
 * choose_stack says where a new agent starts, and where its start data are (`*s`, `*start`): on
 * its creator's children_stack, its start data in registers (packed); on that region with its
 * start data at the region's foot, once the region is there but the data do not pack (the
 * creator's own stack is MADV_DONTFORK from then on: a child cannot start on a copy of it); the
 * helper's child on a fresh stack of its own; an agent's child on the copy of its creator's stack
 * (its creator made none on a region yet); in a shared address space (CLONE_VM) on a fresh
 * stack, its start data on it, which outlive this frame. 0, or a negative errno (no fresh stack).
 */
static long choose_stack(uint64_t flags, int from_helper, int pdeath, unsigned long stack_top, unsigned long *region, struct start *local, struct start **s, int (**start)(void *, unsigned long), void **stack, struct clone_args_v2 *args) {
  *s = local;
  *start = agent_start;
  *stack = NULL;
  if (flags & CLONE_VM) {
    void *fresh = (void *)SYS6(SYS_mmap, 0, STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if ((long)fresh < 0 && (long)fresh > -4096) return (long)fresh;
    *stack = fresh;
    local->stack_top = (unsigned long)fresh + STACK_SIZE;
    *s = (struct start *)fresh;
    **s = *local;
    args->stack = (uint64_t)(uintptr_t)fresh;
    args->stack_size = STACK_SIZE;
    return 0;
  }
  if (from_helper) {
    /* its own copy of a fresh stack, so that it can let go of the helper's (agent_start) */
    helper_memory(local->drop);
    void *fresh = (void *)SYS6(SYS_mmap, 0, STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if ((long)fresh < 0 && (long)fresh > -4096) memset(local->drop, 0, sizeof local->drop);
    else *stack = fresh, args->stack = (uint64_t)(uintptr_t)fresh, args->stack_size = STACK_SIZE, local->stack_top = (unsigned long)fresh + STACK_SIZE;
    return 0;
  }
  int packs = !pdeath && local->req < (1 << START_FD_BITS) && local->rep < (1 << START_FD_BITS);
  if (region && (*region || packs) && children_stack(stack_top, region) == 0) {
    args->stack = (uint64_t)*region;
    args->stack_size = STACK_SIZE;
    if (packs) {
      *start = agent_start_packed;
      *s = (struct start *)((unsigned long)local->req | ((unsigned long)local->rep << START_FD_BITS) | (local->own_files ? START_OWN_FILES : 0) | (local->quiet_hello ? START_QUIET_HELLO : 0));
    } else {
      /* the child's copy of the region holds them (agent_start copies them first) */
      local->stack_top = *region + STACK_SIZE;
      *s = (struct start *)*region;
      **s = *local;
    }
    return 0;
  }
  local->stack_top = stack_top;
  local->drop_frames = stack_top != 0;
  return 0;
}

/*
 * spawn_agent is clone3 whose child becomes agent NEWID; returns clone3's
 * raw result, or CHANNEL_FAILED - errno. With `ctl` the channel is a socket
 * pair, nothing in the directory (no mknod, which a busy file system makes
 * slow): *ctl gets the controller's end, to hand over; else two FIFOs. With
 * `pidfd` (an agent's child, not a thread) the clone makes a pidfd of the
 * child too (CLONE_PIDFD), also to hand over: from it the controller knows
 * the child's pids at once, without waiting for the child to say them.
 * `from_helper`: the helper's own child, which must not keep its stdio. With `born`, the child's
 * start time when the clock says it for sure (see boot_tick), else 0.
 */
static long spawn_agent(long long newid, uint64_t flags, uint64_t exit_signal, const int *tids, int ntid, int pdeath, int from_helper, unsigned long stack_top, unsigned long *region, int *ctl, int *pidfd, const struct hold *holder, unsigned long long *born) {
  int req, rep;
  if (ctl) {
    int sv[2];
    long r = SYS4(SYS_socketpair, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
    if (r < 0) return CHANNEL_FAILED + r;
    *ctl = sv[0];
    req = rep = sv[1];
  } else {
    int r = channel_open(newid, &req, &rep);
    if (r < 0) return CHANNEL_FAILED + r;
  }
  struct clone_args_v2 args;
  memset(&args, 0, sizeof args);
  args.flags = flags;
  args.exit_signal = exit_signal;
  args.set_tid = ntid ? (uint64_t)(uintptr_t)tids : 0;
  args.set_tid_size = (uint64_t)ntid;
  if (pidfd && (flags & CLONE_THREAD)) pidfd = NULL; /* a thread's pidfd needs 6.9 (PIDFD_THREAD): the thread says its pids itself */
  if (pidfd) {
    *pidfd = -1;
    args.flags |= CLONE_PIDFD;
    args.pidfd = (uint64_t)(uintptr_t)pidfd;
  }
  struct start local = {.req = req, .rep = rep, .own_files = !(flags & CLONE_FILES), .stdio = from_helper && !(flags & CLONE_FILES), .pdeath = pdeath, .quiet_hello = pidfd != NULL, .holder = holder != NULL, .hold = holder};
  struct start *s;
  void *stack;
  int (*start)(void *, unsigned long);
  long r = choose_stack(flags, from_helper, pdeath, stack_top, region, &local, &s, &start, &stack, &args);
  if (r < 0) {
    SYS1(SYS_close, req);
    if (rep != req) SYS1(SYS_close, rep);
    if (ctl) SYS1(SYS_close, *ctl);
    else channel_remove(newid);
    return r;
  }
  unsigned long long before = born ? boot_tick() : 0;
  long ret = clone3_run(&args, start, s, args.stack ? args.stack + args.stack_size : 0);
  if (born) *born = ret > 0 && before && boot_tick() == before ? before : 0;
  /* a stack in a shared address space is the child's; one in a copy of it, the child has its copy of */
  if (stack && (ret < 0 || !(flags & CLONE_VM))) SYS2(SYS_munmap, stack, STACK_SIZE);
  if (ret < 0 && pidfd) *pidfd = -1;
  if (ret < 0 && ctl) SYS1(SYS_close, *ctl);
  else if (ret < 0) channel_remove(newid);
  if (ret < 0 || !(flags & CLONE_FILES)) {
    SYS1(SYS_close, req);
    if (rep != req) SYS1(SYS_close, rep);
  }
  return ret;
}

static int hexval(char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

/* map_at: mmap's result for a mapping wanted at `addr`; a kernel without MAP_FIXED_NOREPLACE (before 4.17) takes it as a hint and may map elsewhere: undone, EEXIST */
static long map_at(long long addr, long long len, long r) {
  if (r >= 0 && r != addr) {
    SYS2(SYS_munmap, r, len);
    return -EEXIST;
  }
  return r;
}

static int parse_tids(char *s, int *tids, int cap);

/* the leader of a holder's init: a session of its own, the init (the holder's child), then it is done */
struct leader { struct clone_args_v2 *args; struct start *init; int result; };

static int leader_start(void *arg, unsigned long unused) {
  struct leader *l = arg;
  (void)unused;
  SYS0(SYS_setsid);
  long r = clone3_run(l->args, agent_start, l->init, 0);
  return write_all(l->result, (const char *)&r, sizeof r) < 0;
}

/* hold_init is a holder's "hold": its init, through a leader (see THE HOLDER); the reply hands the init's socket over */
static void hold_init(uint64_t flags, int *tids, int ntid, int pdeath, unsigned long stack_top, struct out *o) {
  if (watch_fd >= 0) { put_result(o, -EBUSY); return; }
  int sv[2], pp[2];
  long r = SYS4(SYS_socketpair, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
  if (r < 0) { put_result(o, r); return; }
  r = SYS2(SYS_pipe2, pp, O_CLOEXEC);
  if (r < 0) { SYS1(SYS_close, sv[0]); SYS1(SYS_close, sv[1]); put_result(o, r); return; }
  struct clone_args_v2 init_args;
  memset(&init_args, 0, sizeof init_args);
  init_args.flags = flags | CLONE_NEWPID | CLONE_PARENT; /* exit_signal 0: CLONE_PARENT takes the leader's own */
  init_args.set_tid = ntid ? (uint64_t)(uintptr_t)tids : 0;
  init_args.set_tid_size = (uint64_t)ntid;
  /* the init starts below the holder's and the leader's frames, dead in it: it lets go of them, as an agent's child does (agent_start) */
  struct start init = {.req = sv[1], .rep = sv[1], .own_files = 1, .pdeath = pdeath, .stack_top = stack_top, .drop_frames = stack_top != 0, .quiet_hello = 1};
  struct leader l = {.args = &init_args, .init = &init, .result = pp[1]};
  struct clone_args_v2 leader_args;
  memset(&leader_args, 0, sizeof leader_args);
  leader_args.exit_signal = SIGCHLD;
  long leader = clone3_run(&leader_args, leader_start, &l, 0);
  SYS1(SYS_close, sv[1]);
  SYS1(SYS_close, pp[1]);
  r = leader;
  if (leader > 0) {
    long got = 0, n;
    while ((n = SYS3(SYS_read, pp[0], (char *)&r + got, sizeof r - got)) > 0 || n == -EINTR) if (n > 0) got += n;
    if (got != sizeof r) r = -ECHILD;
    while (SYS4(SYS_wait4, leader, 0, __WALL, 0) == -EINTR) {}
  }
  SYS1(SYS_close, pp[0]);
  if (r <= 0) { SYS1(SYS_close, sv[0]); put_result(o, r); return; }
  /* its socket, and a pidfd of it, which says its pids: its hello does not (quiet_hello), so without the pidfd the controller could never follow it */
  long fd = SYS2(NR_PIDFD_OPEN, r, 0);
  long handed = fd >= 0 ? SYS3(SYS_fcntl, fd, F_DUPFD_CLOEXEC, 0) : fd;
  if (handed < 0) {
    /* no init it cannot follow: killed (its socket closing too) and reaped here, its parent, and the hold fails with why */
    SYS2(SYS_kill, r, SIGKILL);
    while (SYS4(SYS_wait4, r, 0, __WALL, 0) == -EINTR) {}
    if (fd >= 0) SYS1(SYS_close, fd);
    SYS1(SYS_close, sv[0]);
    put_result(o, handed);
    return;
  }
  watch_pid = r;
  watch_fd = (int)fd;
  put_result(o, r);
  put_str(o, " chan=fd2");
  o->fd = sv[0];
  o->fd2 = (int)handed;
}

/* agent_request carries out one request; returns 0 to reply with `o`, 1 when the agent must stop. */
static void agent_request(char **t, int n, struct out *o, int on_socket, unsigned long stack_top, unsigned long *region) {
  long long a[MAX_TOKENS];
  for (int i = 1; i < n; i++) a[i] = 0, parse_ll(t[i], &a[i]);
  const char *op = t[0];
  long r;
  if (!strcmp(op, "clone3") && n >= 5) {
    int ntid = (int)a[4];
    int tids[40];
    if (ntid < 0 || ntid > 40 || n < 5 + ntid) { put_result(o, -EINVAL); return; }
    for (int i = 0; i < ntid; i++) tids[i] = (int)a[5 + i];
    /* an agent on a socket hands the new agent's socket to the controller with its reply; one on FIFOs (attached) makes FIFOs */
    int ctl = -1, pidfd = -1;
    unsigned long long born = 0;
    r = spawn_agent(a[1], (uint64_t)a[2], (uint64_t)a[3], tids, ntid, 0, 0, stack_top, region, on_socket ? &ctl : NULL, on_socket ? &pidfd : NULL, NULL, &born);
    if (r <= CHANNEL_FAILED) {
      put_str(o, "err cannot make the channel of a new agent: ");
      put_str(o, errname(CHANNEL_FAILED - r));
      return;
    }
    put_result(o, r);
    if (r > 0 && on_socket) {
      put_str(o, pidfd >= 0 ? " chan=fd2" : " chan=fd");
      o->fd = ctl;
      if (pidfd >= 0) o->fd2 = pidfd;
    }
    if (r > 0 && born) {
      put_str(o, " born=");
      put_num(o, (long long)born);
    }
  } else if (!strcmp(op, "exit") && n >= 2) {
    SYS1(SYS_exit, a[1]);
  } else if (!strcmp(op, "exit_group") && n >= 2) {
    SYS1(SYS_exit_group, a[1]);
  } else if (!strcmp(op, "wait4") && n >= 3) {
    int status = 0;
    r = SYS4(SYS_wait4, a[1], &status, a[2], 0);
    put_result(o, r);
    put_str(o, " status=");
    put_num(o, r > 0 ? status : 0);
  } else if (!strcmp(op, "setsid")) {
    put_result(o, SYS0(SYS_setsid));
  } else if (!strcmp(op, "setpgid") && n >= 3) {
    put_result(o, SYS2(SYS_setpgid, a[1], a[2]));
  } else if (!strcmp(op, "setuid") && n >= 2) {
    put_result(o, SYS1(SYS_setuid, a[1]));
  } else if (!strcmp(op, "unshare") && n >= 2) {
    put_result(o, SYS1(SYS_unshare, a[1]));
  } else if (!strcmp(op, "kill") && n >= 3) {
    put_result(o, SYS2(SYS_kill, a[1], a[2]));
  } else if (!strcmp(op, "setns") && n >= 3) {
    long fd = SYS2(NR_PIDFD_OPEN, a[1], 0);
    if (fd < 0) {
      put_result(o, fd);
      put_str(o, " stage=pidfd");
      return;
    }
    r = SYS2(SYS_setns, fd, a[2]);
    SYS1(SYS_close, fd);
    put_result(o, r);
    put_str(o, " stage=setns");
  } else if (!strcmp(op, "pidfd_open") && n >= 3) {
    r = SYS2(NR_PIDFD_OPEN, a[1], a[2]);
    if (r >= 0) SYS1(SYS_close, r), r = 0;
    put_result(o, r);
  } else if (!strcmp(op, "ids")) {
    put_str(o, "r 0 - pid=");
    put_num(o, SYS0(SYS_getpid));
    put_str(o, " ppid=");
    put_num(o, SYS0(SYS_getppid));
    put_str(o, " pgrp=");
    put_num(o, SYS1(SYS_getpgid, 0));
    put_str(o, " sid=");
    put_num(o, SYS1(SYS_getsid, 0));
    put_str(o, " tid=");
    put_num(o, SYS0(SYS_gettid));
    put_str(o, " uid=");
    put_num(o, SYS0(SYS_getuid));
  } else if (!strcmp(op, "read") && n >= 2) {
    char buf[256];
    r = read_file_raw(t[1], buf, sizeof buf);
    put_result(o, r);
    if (r >= 0) {
      put_str(o, " value=");
      for (char *p = buf; *p && *p != '\n'; p++)
        if (*p != ' ' && o->len < LINE - 2) o->buf[o->len++] = *p;
    }
  } else if (!strcmp(op, "write") && n >= 3) {
    long fd = SYS4(SYS_openat, AT_FDCWD, t[1], O_WRONLY | O_CLOEXEC, 0);
    if (fd < 0) { put_result(o, fd); return; }
    r = SYS3(SYS_write, fd, t[2], strlen(t[2]));
    SYS1(SYS_close, fd);
    put_result(o, r < 0 ? r : 0);
  } else if (!strcmp(op, "mmap") && n >= 4) {
    put_result(o, SYS6(SYS_mmap, 0, a[1], a[2], a[3], -1, 0));
  } else if (!strcmp(op, "map") && n >= 5) {
    /* a restored mapping at its own address: never over one that is there (MAP_FIXED_NOREPLACE) */
    r = SYS6(SYS_mmap, a[1], a[2], a[3], (a[4] & (MAP_SHARED | MAP_PRIVATE)) | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    put_result(o, map_at(a[1], a[2], r));
  } else if (!strcmp(op, "mapfile") && n >= 5) {
    /* a shared mapping another process holds, through its /proc/PID/map_files link: the same memory */
    long fd = SYS4(SYS_openat, AT_FDCWD, t[4], O_RDWR | O_CLOEXEC, 0);
    if (fd < 0) { put_result(o, fd); put_str(o, " stage=open"); return; }
    r = SYS6(SYS_mmap, a[1], a[2], a[3], MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
    SYS1(SYS_close, fd);
    put_result(o, map_at(a[1], a[2], r));
  } else if (!strcmp(op, "munmap") && n >= 3) {
    put_result(o, SYS2(SYS_munmap, a[1], a[2]));
  } else if (!strcmp(op, "poke") && n >= 3) {
    /* writes through /proc/self/mem would go around protections; a plain store is what a program does */
    unsigned char *p = (unsigned char *)(uintptr_t)a[1];
    const char *h = t[2];
    long len = (long)strlen(h) / 2;
    for (long i = 0; i < len; i++) {
      int hi = hexval(h[2 * i]), lo = hexval(h[2 * i + 1]);
      if (hi < 0 || lo < 0) { put_result(o, -EINVAL); return; }
      p[i] = (unsigned char)(hi * 16 + lo);
    }
    put_result(o, 0);
  } else if (!strcmp(op, "peek") && n >= 3) {
    const unsigned char *p = (const unsigned char *)(uintptr_t)a[1];
    static const char hx[] = "0123456789abcdef";
    put_result(o, 0);
    put_str(o, " hex=");
    for (long i = 0; i < a[2] && o->len < LINE - 4; i++) {
      o->buf[o->len++] = hx[p[i] >> 4];
      o->buf[o->len++] = hx[p[i] & 15];
    }
  } else if (!strcmp(op, "hello")) {
    char status[LINE];
    put_str(o, "r 0 - nspid=");
    if (read_file_raw("/proc/thread-self/status", status, sizeof status) > 0) put_nspid(o, status);
  } else if (!strcmp(op, "noop")) {
    put_result(o, 0);
  } else {
    put_str(o, "err unknown request ");
    put_str(o, op);
  }
}

/* verb_in: the request's first word is one of `verbs` (a list ending with NULL) */
static int verb_in(const char *req, const char *const *verbs) {
  for (; *verbs; verbs++) {
    size_t l = strlen(*verbs);
    if (!strncmp(req, *verbs, l) && (req[l] == ' ' || !req[l])) return 1;
  }
  return 0;
}

/* own_only: requests that change nothing but the agent's own memory, so that several agents may carry them out at once */
static int own_only(const char *req) {
  static const char *const names[] = {"ids", "hello", "read", "peek", "noop", "map", "mmap", "munmap", "poke", NULL};
  return verb_in(req, names);
}

/*
 * agent_loop serves the agent's channel. A line may hold several requests
 * separated by ';' (a run the controller sends at once): they are carried
 * out in order until one fails, each answered with a line of its own as
 * soon as it is done (the controller takes in a new agent while this one
 * makes the next), and "skipped" for the rest.
 */
static void agent_loop(int req, int rep, int on_socket, unsigned long stack_top) {
  char line[LINE];
  struct linebuf lb;
  lb.have = 0, lb.nfds = 0, lb.skipping = lb.too_long = 0;
  /*
   * the replies to requests that change only this agent's memory, and to clones (with the new
   * agents' descriptors), written together: at the end of their line, before any other request,
   * or when full (the controller takes in one message of new agents while this one makes more)
   */
  struct out held;
  OUT_EMPTY(held);
  int held_fds[HELD_FDS], nheld = 0;
  int line_failed = 0;
  /* where its children start (children_stack): none until its first */
  unsigned long children_region = 0;
  for (;;) {
    long n = read_line(req, &lb, line, sizeof line);
    if (n < 0) agent_gone();
    if (lb.too_long) {
      struct out o;
      OUT_EMPTY(o);
      put_str(&o, "err request too long");
      if (send_out(rep, &o) < 0 && !on_socket) agent_gone();
      line_failed = 1;
      continue;
    }
    /* a line starting with '+' goes on from the one before: after a failure there, it is skipped too */
    int failed = line[0] == '+' ? line_failed : 0;
    long long id;
    if (!strncmp(line, "persist ", 8) && !parse_ll(line + 8, &id)) {
      /* from a socket to FIFOs DIR/ID.req|rep, which outlive the controller (detach) */
      struct out o;
      OUT_EMPTY(o);
      int fr, fw;
      int r = on_socket ? channel_open(id, &fr, &fw) : 0;
      put_result(&o, r);
      /* the answer on the socket; if its controller has gone (it was stopped, and continued since), on the FIFO */
      int sent = send_out(rep, &o) == 0;
      if (!sent && !(on_socket && r == 0)) agent_gone();
      if (on_socket && r == 0) {
        SYS1(SYS_close, req);
        if (rep != req) SYS1(SYS_close, rep);
        req = fr, rep = fw, on_socket = 0, lb.have = 0;
        if (!sent) {
          OUT_EMPTY(o);
          put_result(&o, 0);
          if (send_out(rep, &o) < 0) agent_gone();
        }
      }
      continue;
    }
    for (char *p = line[0] == '+' ? line + 1 : line, *next; p; p = next) {
      next = strchr(p, ';');
      if (next) *next++ = 0;
      int hold = failed || own_only(p) || !strncmp(p, "clone3 ", 7);
      /* anything else may end this agent or change others: what is held goes first */
      /* on a socket whose controller has gone, what it left may still be read (a "persist": see persist_all) */
      if (!hold && held.len > 0) {
        if (send_with_fds(rep, held.buf, held.len, held_fds, nheld) < 0 && !on_socket) agent_gone();
        held.len = 0, nheld = 0;
      }
      char *t[MAX_TOKENS];
      int nt = split(p, t);
      struct out o;
      OUT_EMPTY(o);
      if (failed) put_str(&o, "skipped");
      else if (nt == 0) put_str(&o, "err empty request");
      else agent_request(t, nt, &o, on_socket, stack_top, &children_region);
      o.buf[o.len] = 0;
      if (!strncmp(o.buf, "r -1", 4) || !strncmp(o.buf, "err", 3)) failed = 1;
      int nfds = o.fd <= 0 ? 0 : o.fd2 > 0 ? 2 : 1;
      if (hold && (held.len + o.len + 1 >= LINE || nheld + nfds > HELD_FDS)) {
        if (send_with_fds(rep, held.buf, held.len, held_fds, nheld) < 0 && !on_socket) agent_gone();
        held.len = 0, nheld = 0;
      }
      if (hold) {
        memcpy(held.buf + held.len, o.buf, (size_t)o.len);
        held.len += o.len;
        held.buf[held.len++] = '\n';
        if (nfds > 0) held_fds[nheld++] = o.fd;
        if (nfds > 1) held_fds[nheld++] = o.fd2;
        continue;
      }
      if (held.len > 0 && send_with_fds(rep, held.buf, held.len, held_fds, nheld) < 0 && !on_socket) agent_gone();
      held.len = 0, nheld = 0;
      if (send_out(rep, &o) < 0 && !on_socket) agent_gone();
    }
    if (held.len > 0 && send_with_fds(rep, held.buf, held.len, held_fds, nheld) < 0 && !on_socket) agent_gone();
    held.len = 0, nheld = 0;
    line_failed = failed;
  }
}

/* ---------- the controller ---------- */

struct agent {
  int used, alive;
  int req, rep, pidfd;
  long tid;                    /* in the helper's pid namespace */
  unsigned long long start;    /* start time: tells the agent from a later process with its pid */
  int is_init;
  int is_thread;               /* made with CLONE_THREAD: never a zombie, only gone */
  int nlev;                    /* its pid at each level, the helper's namespace first */
  long nspid[40];
  struct linebuf *in;          /* what the controller has read of its replies, not yet taken */
  int sock;                    /* its channel is a socket (req and rep: the one descriptor of it), not FIFOs */
  int stuck;                   /* seen in its exit and not done (an init waiting for its namespace to empty) */
  int owed;                    /* replies it will still send to requests answered "stopped" (it stopped in the call): to be skipped */
  int hello_pending;           /* its hello line is still to come, ahead of its first reply (adopt) */
  int hello_ids;               /* its hello said its process group and session (hello_pgrp, hello_sid) */
  long hello_pgrp, hello_sid;
  int ids_sent;                /* it has been sent a setsid or setpgid: what its hello said may be out of date */
  int children_elsewhere;      /* its children may go to another pid namespace than its own (it was sent setns or unshare, or attached): see levels_known */
};

static struct agent agents[MAX_AGENTS];
/* holders[ID]: the holder of init agent ID (see THE HOLDER), followed as an agent is */
static struct agent holders[MAX_AGENTS];
static const char *dir_path;

static struct agent *agent_of(long long id) {
  return id >= 0 && id < MAX_AGENTS && agents[id].used ? &agents[id] : NULL;
}

/* task_stat: what the helper reads of /proc/PID/stat (fields 3 state, 5 pgrp, 6 session, 9 flags, 22 starttime) */
struct task_stat { char state; long pgrp, session; unsigned long flags; unsigned long long start; };

/* proc_stat reads an agent's task's /proc/PID/stat: 0, or -1 when the task is gone (no such pid, or another process's), -2 when /proc could not say (a task in the middle of its exit) */
static int proc_stat(const struct agent *ag, struct task_stat *ts) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%ld/stat", ag->tid);
  long r = read_file_raw(path, buf, sizeof buf);
  if (r == -ENOENT || r == -ESRCH) return -1;
  if (r <= 0) return -2;
  char *p = strrchr(buf, ')');
  if (!p) return -2;
  struct task_stat t;
  if (sscanf(p + 2, "%c %*d %ld %ld %*d %*d %lu %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu", &t.state, &t.pgrp, &t.session, &t.flags, &t.start) != 5) return -2;
  if (ag->start && t.start != ag->start) return -1;
  *ts = t;
  return 0;
}

/* pending_signals: the signals pending for the task or its process (SigPnd | ShdPnd), 0 when /proc cannot say */
static unsigned long long pending_signals(const struct agent *ag) {
  char path[64], buf[4096];
  snprintf(path, sizeof path, "/proc/%ld/status", ag->tid);
  if (read_file_raw(path, buf, sizeof buf) <= 0) return 0;
  unsigned long long mask = 0;
  for (const char *key = "\nSigPnd:"; key; key = strcmp(key, "\nSigPnd:") ? NULL : "\nShdPnd:") {
    const char *p = strstr(buf, key);
    if (p) mask |= strtoull(p + 8, NULL, 16);
  }
  return mask;
}

#define SIGBIT(sig) (1ULL << ((sig) - 1))

static int sigkill_pending(const struct agent *ag) {
  return (pending_signals(ag) & SIGBIT(SIGKILL)) != 0;
}

static int pidfd_exited(const struct agent *ag, int ms) {
  struct pollfd pf = {.fd = ag->pidfd, .events = POLLIN};
  return poll(&pf, 1, ms) > 0;
}

#define PF_EXITING 0x4

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nap(long us) {
  struct timespec ts = {.tv_sec = 0, .tv_nsec = us * 1000};
  nanosleep(&ts, NULL);
}

/* STUCK_MS: without a readable wchan, how long an exiting task must sleep before it counts as waiting for others */
#define STUCK_MS 50

/*
 * stuck_exiting: the task is an init stuck in its exit, waiting for the
 * processes of its namespace whose parents are outside it to be reaped
 * (kernel/pid_namespace.c zap_pid_ns_processes, its last loop). Its wchan
 * says so exactly; where wchan is hidden, an exiting task asleep for
 * STUCK_MS counts (*since: when that sleep was first seen, 0 if not).
 */
static int stuck_exiting(const struct agent *ag, long *since) {
  struct task_stat ts;
  if (proc_stat(ag, &ts) < 0 || !(ts.flags & PF_EXITING) || (ts.state != 'S' && ts.state != 'D')) {
    *since = 0;
    return 0;
  }
  char path[64], wchan[128];
  snprintf(path, sizeof path, "/proc/%ld/wchan", ag->tid);
  if (read_file_raw(path, wchan, sizeof wchan) > 0 && strcmp(wchan, "0") != 0) return !strcmp(wchan, "zap_pid_ns_processes");
  long t = now_ms();
  if (!*since) *since = t;
  return t - *since >= STUCK_MS;
}

/*
 * settled_one: 1 when the agent is idle, stuck in an exit that waits for
 * others, or dead and done with: a zombie, or gone from /proc (an exited
 * thread is released a moment after its pidfd reports the exit, and its pid
 * is only free once it is gone).
 */
/*
 * RELEASE_GRACE_MS: how long after a task vanishes from /proc the settling
 * waits. An exited thread is unhashed (gone from /proc) under tasklist_lock
 * but its pid numbers are freed just after the lock is dropped (6.15+
 * release_task: free_pids), and nothing else tells when that is done.
 */
#define RELEASE_GRACE_MS 10
static long last_vanished;

static int settled_one(struct agent *ag, long *since) {
  if (!ag->alive) return 1;
  struct task_stat ts;
  int r = proc_stat(ag, &ts);
  if (r == -2) return 0;
  if (r < 0) { ag->alive = 0; last_vanished = now_ms(); return 1; }
  /* a thread passes through EXIT_ZOMBIE to EXIT_DEAD under tasklist_lock (exit_notify): its Z is never final */
  if (ts.state == 'Z' && !ag->is_thread) { ag->alive = 0; return 1; }
  if (ts.state == 'Z') return 0;
  if (ts.state == 'X' || pidfd_exited(ag, 0)) return 0;
  if (ts.flags & PF_EXITING) {
    ag->stuck = 1; /* for good: a reap may set it going again at any later time */
    return stuck_exiting(ag, since);
  }
  *since = 0;
  /*
   * an idle agent sleeps in its read (or is stopped: it does nothing until SIGCONT); one that runs may have just taken
   * a SIGKILL off its queue, not yet exiting; one asleep with a SIGKILL or a stop pending has yet to act on it
   */
  unsigned long long pending = pending_signals(ag);
  if (pending & SIGBIT(SIGKILL)) return 0;
  if (ts.state == 'T' || ts.state == 't') return 1;
  return ts.state == 'S' && !(pending & (SIGBIT(SIGSTOP) | SIGBIT(SIGTSTP) | SIGBIT(SIGTTIN) | SIGBIT(SIGTTOU)));
}

/*
 * settle waits (up to 10 s) until the agents a call may have changed are
 * settled: the kernel has finished what the call set off. `only` is one
 * agent, or NULL for every agent; `stuck_only` limits it to those seen
 * stuck in their exit (what a reap can set going again).
 */
static int settle_some(struct agent *only, int stuck_only) {
  static long since[MAX_AGENTS];
  int lo = only ? (int)(only - agents) : 0, hi = only ? lo + 1 : MAX_AGENTS;
  memset(since + lo, 0, sizeof since[0] * (size_t)(hi - lo));
  long t0 = now_ms();
  for (int round = 0;; round++) {
    int all = 1;
    for (int i = lo; i < hi; i++)
      if (agents[i].used && agents[i].alive && (!stuck_only || agents[i].stuck) && !settled_one(&agents[i], &since[i])) all = 0;
    if (all && now_ms() - last_vanished >= RELEASE_GRACE_MS) return 0;
    if (now_ms() - t0 > 10000) return -1;
    nap(round < 50 ? 100 : 1000);
  }
}

static int settle(struct agent *only) {
  return settle_some(only, 0);
}

/* stops_possible: a stop signal went out through an agent, or agents were attached (stopped or not, no one can say): an exit may orphan a process group with stopped members, which the kernel then sends SIGHUP */
static int stops_possible;

static int is_stop_signal(long long sig) {
  return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

/* SETTLE_*: which agents a request can change, so which must be settled after it */
enum { SETTLE_NONE, SETTLE_SELF, SETTLE_ALL, SETTLE_STUCK };

/*
 * settle_scope: a request changes other processes only through an exit or a
 * signal. An exit changes the agent itself (its children go to a reaper
 * without a signal, its parent's SIGCHLD is ignored) unless it is an init
 * (its namespace is killed), ends a whole thread group, or may orphan a
 * process group with stopped members. A signal to itself (not a stop) is
 * an exit; any other may reach any agent. A reap may let an init stuck in
 * its exit finish it (the last process it waited for is gone). Every other
 * request changes no other process, and the agent's own reply says it is
 * done.
 */
static int settle_scope(const struct agent *ag, char **t, int n) {
  long long pid = 0, sig = 0;
  if (!strcmp(t[0], "exit")) {
    int init = ag->nlev > 0 && ag->nspid[ag->nlev - 1] == 1 && !ag->is_thread;
    return init || stops_possible ? SETTLE_ALL : SETTLE_SELF;
  }
  if (!strcmp(t[0], "exit_group")) return SETTLE_ALL;
  if (!strcmp(t[0], "kill") && n >= 3 && !parse_ll(t[1], &pid) && !parse_ll(t[2], &sig)) {
    if (is_stop_signal(sig)) stops_possible = 1;
    if (sig == 0) return SETTLE_NONE;
    int self = !ag->is_thread && ag->nlev > 0 && pid == ag->nspid[ag->nlev - 1] && ag->nspid[ag->nlev - 1] != 1;
    return self && !is_stop_signal(sig) ? SETTLE_SELF : SETTLE_ALL;
  }
  if (!strcmp(t[0], "kill")) return SETTLE_ALL;
  if (!strcmp(t[0], "wait4")) return SETTLE_STUCK;
  return SETTLE_NONE;
}

/* fill_in reads, without waiting, what the agent's channel holds into its line buffer: how much, or 0 or below when nothing could be read */
static long fill_in(struct agent *ag) {
  struct linebuf *lb = ag->in;
  long r;
  if (ag->sock) {
    /* a socket's reply may bring a new agent's socket with it (SCM_RIGHTS): queued, taken in order with the clone replies */
    struct iovec iov = {.iov_base = lb->data + lb->have, .iov_len = (size_t)(LINE - lb->have)};
    union { char buf[CMSG_SPACE(HELD_FDS * sizeof(int))]; struct cmsghdr align; } c;
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.buf, .msg_controllen = sizeof c.buf};
    r = recvmsg(ag->rep, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    for (struct cmsghdr *cm = r > 0 ? CMSG_FIRSTHDR(&mh) : NULL; cm; cm = CMSG_NXTHDR(&mh, cm)) {
      if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) continue;
      int n = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
      for (int i = 0; i < n; i++) {
        int fd;
        memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof fd);
        if (lb->nfds < (int)(sizeof lb->fds / sizeof lb->fds[0])) lb->fds[lb->nfds++] = fd;
        else close(fd);
      }
    }
  } else {
    r = read(ag->rep, lb->data + lb->have, (size_t)(LINE - lb->have));
  }
  if (r > 0) lb->have += r;
  return r;
}

/* take_line: line_from the agent's replies, after reading what its channel holds if need be; -1 when nothing could be read */
static int take_line(struct agent *ag, char *buf, long cap) {
  if (line_from(ag->in, buf, cap)) return 1;
  if (fill_in(ag) <= 0) return -1;
  return line_from(ag->in, buf, cap);
}

static int open_channel_ends(long long id, struct agent *ag) {
  char name[64];
  snprintf(name, sizeof name, "%lld.req", id);
  ag->req = openat(DIRFD, name, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  snprintf(name, sizeof name, "%lld.rep", id);
  ag->rep = openat(DIRFD, name, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (ag->req < 0 || ag->rep < 0) return -1;
  if (!ag->in && !(ag->in = calloc(1, sizeof *ag->in))) return -1;
  /* blocking writes and reads from here on; poll says when a reply is there */
  fcntl(ag->req, F_SETFL, 0);
  return 0;
}

static int any_line(struct agent *ag, char *buf, long cap, int ms, int asked, int *why);

/* ids_moved: a setpgid naming another process has been sent: no hello's ids are trusted any more */
static int ids_moved;

/*
 * ids_may_change notes, before `req` goes to agent `ag`, where its children may go (setns and
 * unshare point them elsewhere), and what it may change of the process groups and sessions: a process's group and session change only by its own setsid or setpgid, or its
 * parent's setpgid naming it (setpgid(2)).
 */
static void ids_may_change(struct agent *ag, const char *req) {
  if (!strncmp(req, "setns ", 6) || !strncmp(req, "unshare ", 8)) ag->children_elsewhere = 1;
  int setsid = !strncmp(req, "setsid", 6) && (req[6] == 0 || req[6] == ' ' || req[6] == '\n');
  int setpgid = !strncmp(req, "setpgid ", 8);
  if (!setsid && !setpgid) return;
  ag->ids_sent = 1;
  /* another process named, or a thread's call, which moves its whole process */
  if (ag->is_thread || (setpgid && (req[8] != '0' || (req[9] != ' ' && req[9] != 0)))) ids_moved = 1;
}

/* take_hello takes an agent's hello line (with pgrp= and sid=, the ids it started with, when its creator handed a pidfd over): 0, or -1 when the line is no hello */
static int take_hello(struct agent *ag, const char *line) {
  if (strncmp(line, "hello", 5) != 0 || (line[5] != 0 && line[5] != ' ')) return -1;
  ag->hello_pending = 0;
  const char *pg = strstr(line, " pgrp="), *sd = strstr(line, " sid=");
  if (pg && sd) {
    ag->hello_pgrp = strtol(pg + 6, NULL, 10);
    ag->hello_sid = strtol(sd + 5, NULL, 10);
    ag->hello_ids = 1;
  }
  return 0;
}

/* the agents whose hello is still to come, in the order they were made (their hellos come in about that order) */
static int hello_queue[MAX_AGENTS];
static int hello_head, hello_tail;

/*
 * early_hellos takes, without waiting, the hellos that have come from the agents made last, up to
 * the first still to come: done while the helper would wait on a creator anyway, so that `ids`
 * and `confirm` find them taken.
 */
static void early_hellos(void) {
  for (; hello_head < hello_tail; hello_head++) {
    struct agent *ag = &agents[hello_queue[hello_head]];
    if (!ag->used || !ag->hello_pending) continue;
    struct linebuf *lb = ag->in;
    if (!memchr(lb->data, '\n', (size_t)lb->have) && fill_in(ag) <= 0) return;
    /* a hello, whole: anything else is the first reply's reader's to judge (reply_line) */
    if (!memchr(lb->data, '\n', (size_t)lb->have) || strncmp(lb->data, "hello", 5) != 0 || (lb->data[5] != ' ' && lb->data[5] != '\n')) return;
    char line[LINE];
    line_from(lb, line, sizeof line);
    take_hello(ag, line);
  }
  hello_head = hello_tail = 0;
}

/*
 * reply_line reads one reply line from an agent's channel, giving up when the agent dies, is
 * stuck exiting, or after `ms`; a hello still to come (adopt) is read first and checked.
 */
static int reply_line(struct agent *ag, char *buf, long cap, int ms, int *why) {
  for (;;) {
    int r = any_line(ag, buf, cap, ms, 1, why);
    if (r < 0 || !ag->hello_pending) return r;
    if (take_hello(ag, buf) < 0) {
      ag->hello_pending = 0;
      /* not the agent the pidfd named, or not started as one: say so as the reply */
      snprintf(buf, (size_t)cap, "err the new agent did not start (it said nothing)");
      return 0;
    }
  }
}

/* skip_owed: `line` is a reply owed to a request answered "stopped" (counted off); a hello still to come is none, whatever is owed */
static int skip_owed(struct agent *ag, const char *line) {
  if (ag->owed == 0) return 0;
  if (ag->hello_pending && !strncmp(line, "hello", 5) && (line[5] == 0 || line[5] == ' ')) return 0;
  ag->owed--;
  return 1;
}

/* fresh_line: line_from the agent's replies, past those owed to requests answered "stopped" before */
static int fresh_line(struct agent *ag, char *buf, long cap) {
  while (line_from(ag->in, buf, cap))
    if (!skip_owed(ag, buf)) return 1;
  return 0;
}

/* is_stopped: the agent's task is stopped (a stop signal; not a tracer's stop) and no SIGKILL is on its way */
static int is_stopped(const struct agent *ag) {
  struct task_stat ts;
  return proc_stat(ag, &ts) == 0 && ts.state == 'T' && !sigkill_pending(ag);
}

/*
 * any_line reads the next line an agent writes (its hello or a reply), past those owed to requests
 * answered "stopped"; *why 4: the agent stopped (a stop signal it sent itself, or was sent, before
 * it could answer: when `asked` (a request of ours is outstanding) it answers once continued, and
 * that answer is skipped then; a hello alone (not asked) owes no reply, so nothing is to be skipped)
 */
static int any_line(struct agent *ag, char *buf, long cap, int ms, int asked, int *why) {
  long since = 0, t0 = now_ms();
  *why = 0;
  if (fresh_line(ag, buf, cap)) return 0;
  /* what is there already is taken without a poll (take_line does not block): most replies are */
  while (take_line(ag, buf, cap) == 1) {
    if (!skip_owed(ag, buf)) return 0;
    if (fresh_line(ag, buf, cap)) return 0;
  }
  for (;;) {
    struct pollfd pf[2] = {{.fd = ag->rep, .events = POLLIN}, {.fd = ag->pidfd, .events = POLLIN}};
    if (poll(pf, 2, 2) < 0) continue;
    /* an agent writes each reply with one write (at most PIPE_BUF bytes), and has one request at a time */
    if (pf[0].revents & POLLIN) {
      int got = take_line(ag, buf, cap);
      if (got == 1 && skip_owed(ag, buf)) {
        if (fresh_line(ag, buf, cap)) return 0;
        continue;
      }
      if (got == 1) return 0;
      if (got == 0) continue;
    }
    /* dead: settling waits until it is a zombie or gone */
    if (pf[1].revents & POLLIN) {
      *why = 1;
      return -1;
    }
    /* the agent closed its end (it is exiting): no busy loop while it finishes */
    if (pf[0].revents & POLLHUP) nap(500);
    /* a leader whose threads live on is a zombie its thread pidfd may not report */
    struct task_stat ts;
    int r = proc_stat(ag, &ts);
    if (r == -1 || (r == 0 && (ts.state == 'Z' || ts.state == 'X'))) {
      *why = 1;
      return -1;
    }
    if (r == 0 && ts.state == 'T' && !sigkill_pending(ag)) {
      if (asked) ag->owed++;
      *why = 4;
      return -1;
    }
    if (stuck_exiting(ag, &since)) { *why = 2; return -1; }
    if (now_ms() - t0 >= ms) { *why = 3; return -1; }
  }
}

static int record(struct agent *ag, const char *hello, struct out *o, long long id, int is_init, unsigned long long born);

/* PIDFD_GET_INFO (fs/pidfs.c pidfd_info, Linux 6.13): a pidfd's task, its pid in the caller's namespace first; the first version of its answer */
struct pidfd_info_v0 { uint64_t mask, cgroupid; uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid; int32_t exit_code; };
#define PIDFD_GET_INFO_V0 _IOWR(0xFF, 11, struct pidfd_info_v0)

/* made: how an agent's child was made, which says most of its pids (see levels_known) */
struct made { const struct agent *creator; long long flags; const int *tids; int ntid; long ret; };

/*
 * levels_known appends a new child's pid at every level, the helper's first, from what says them
 * without /proc: its creator's levels, and that its children go to its own namespace (every agent
 * made here, until it is sent setns or unshare), or to a new one below it (CLONE_NEWPID), whose
 * first pid is 1; clone3's answer, its pid in the creator's namespace; set_tid, which the kernel
 * gave at each level it names (innermost first); and its pid in the helper's namespace
 * (PIDFD_GET_INFO). 0, or -1 when a level is left unknown (the pidfd's fdinfo then says them all).
 */
static int levels_known(const struct made *m, int pidfd, struct out *o) {
  const struct agent *cr = m ? m->creator : NULL;
  if (!cr || cr->children_elsewhere || cr->nlev < 1 || (m->flags & CLONE_THREAD)) return -1;
  int nlev = cr->nlev + ((m->flags & CLONE_NEWPID) ? 1 : 0);
  long pid[40] = {0};
  if (nlev > 40 || m->ntid > nlev) return -1;
  pid[cr->nlev - 1] = m->ret;
  if (m->flags & CLONE_NEWPID) pid[nlev - 1] = 1;
  for (int k = 0; k < m->ntid; k++) {
    long *at = &pid[nlev - 1 - k];
    if (*at && *at != m->tids[k]) return -1;
    *at = m->tids[k];
  }
  struct pidfd_info_v0 info;
  memset(&info, 0, sizeof info);
  if (SYS3(SYS_ioctl, pidfd, PIDFD_GET_INFO_V0, &info) < 0 || !info.pid || (pid[0] && pid[0] != (long)info.pid)) return -1;
  pid[0] = info.pid;
  for (int i = 0; i < nlev; i++)
    if (pid[i] <= 0) return -1;
  for (int i = 0; i < nlev; i++) {
    if (i) put_str(o, ",");
    put_num(o, pid[i]);
  }
  return 0;
}

/*
 * follow makes the controller's record `ag` of a new agent, reached on `sock` (its channel), or on
 * its FIFOs when sock is -1. With a pidfd of it (CLONE_PIDFD, handed over with its socket), at once:
 * its pids are known (levels_known) or in the pidfd's fdinfo (NSpid as the helper's /proc numbers
 * them), and its hello is read ahead of its first reply (reply_line); else from its hello line,
 * which says its pids. `born`: its start time when its creator knew it.
 */
static int follow(struct agent *ag, long long id, struct out *o, int is_init, int sock, int pidfd, unsigned long long born, const struct made *m) {
  if (sock >= 0) {
    ag->sock = 1;
    ag->req = sock;
    ag->rep = sock; /* one descriptor both ways */
    if (!(ag->in = calloc(1, sizeof *ag->in))) return -1;
  } else if (open_channel_ends(id, ag) < 0) return -1;
  char line[LINE];
  if (pidfd >= 0) {
    struct out pids;
    OUT_EMPTY(pids);
    put_str(&pids, "nspid=");
    if (levels_known(m, pidfd, &pids) < 0) {
      char path[64];
      pids.len = 6;
      snprintf(path, sizeof path, "/proc/self/fdinfo/%d", pidfd);
      if (read_file_raw(path, line, sizeof line) > 0) put_nspid(&pids, line);
    }
    if (pids.len == 6) return -1; /* no NSpid: the child is already gone */
    pids.buf[pids.len] = 0;
    memcpy(line, pids.buf, (size_t)pids.len + 1);
    ag->hello_pending = 1;
    if (id >= 0 && hello_tail < MAX_AGENTS) hello_queue[hello_tail++] = (int)id;
  } else {
    /* no pidfd yet (its pid is in its hello), so wait on the channel alone */
    struct pollfd pf = {.fd = ag->rep, .events = POLLIN};
    while (take_line(ag, line, sizeof line) != 1)
      if (poll(&pf, 1, 10000) <= 0) return -1;
  }
  return record(ag, line, o, id, is_init, born);
}

/*
 * adopt: follow, and when it fails (no NSpid, no pidfd of its own, no channel, no hello) the new
 * agent is let go whole: killed through its pidfd when there is one, and its channel closed, so
 * that it sees EOF and exits even where no signal could reach it; nothing of it is left open here.
 */
static int adopt(struct agent *ag, long long id, struct out *o, int is_init, int sock, int pidfd, unsigned long long born, const struct made *m) {
  memset(ag, 0, sizeof *ag);
  ag->pidfd = -1;
  ag->req = ag->rep = -1;
  int r = follow(ag, id, o, is_init, sock, pidfd, born, m);
  if (r == 0) {
    if (pidfd >= 0) close(pidfd);
    return 0;
  }
  int kill_by = ag->pidfd >= 0 ? ag->pidfd : pidfd;
  if (kill_by >= 0) SYS4(NR_PIDFD_SEND_SIGNAL, kill_by, SIGKILL, 0, 0);
  if (pidfd >= 0) close(pidfd);
  if (ag->pidfd >= 0) close(ag->pidfd);
  if (sock >= 0) close(sock);
  else {
    char path[4096];
    if (ag->req >= 0) close(ag->req);
    if (ag->rep >= 0) close(ag->rep);
    for (int end = 0; id >= 0 && end < 2; end++) {
      snprintf(path, sizeof path, "%s/%lld.%s", dir_path, id, end ? "rep" : "req");
      unlink(path);
    }
  }
  for (int i = 0; ag->in && i < ag->in->nfds; i++) close(ag->in->fds[i]);
  free(ag->in);
  memset(ag, 0, sizeof *ag);
  ag->pidfd = -1;
  return -1;
}

/* record fills in an agent's record from a line carrying its nspid=, and says so in `o` (if any); `born`: its start time when its creator knew it (else /proc says) */
static int record(struct agent *ag, const char *hello, struct out *o, long long id, int is_init, unsigned long long born) {
  const char *ns = strstr(hello, "nspid=");
  if (!ns) return -1;
  ag->tid = strtol(ns + 6, NULL, 10);
  for (const char *p = ns + 6; *p && ag->nlev < 40;) {
    char *end;
    ag->nspid[ag->nlev++] = strtol(p, &end, 10);
    if (*end != ',') break;
    p = end + 1;
  }
  ag->pidfd = (int)SYS2(NR_PIDFD_OPEN, ag->tid, PIDFD_THREAD);
  if (ag->pidfd < 0) return -1;
  struct task_stat ts;
  if (born) ag->start = born;
  else if (proc_stat(ag, &ts) < 0) return -1;
  else ag->start = ts.start;
  ag->used = 1;
  ag->alive = 1;
  ag->is_init = is_init;
  if (!o) return 0;
  put_str(o, " child=");
  put_num(o, id);
  put_str(o, " ");
  /* its nspid= (up to the end of the list) and its start time: Node need not read /proc again */
  const char *end = ns + 6;
  while ((*end >= '0' && *end <= '9') || *end == ',') end++;
  while (ns < end && o->len < LINE - 2) o->buf[o->len++] = *ns++;
  put_str(o, " start=");
  put_num(o, (long long)ag->start);
  return 0;
}

/* cmd_attach reaches an agent a helper made before (a persistent one) through its channel. */
static void cmd_attach(long long id, struct out *o) {
  if (id < 0 || id >= MAX_AGENTS || agents[id].used) { put_str(o, "err bad or taken agent id"); return; }
  struct agent *ag = &agents[id];
  memset(ag, 0, sizeof *ag);
  ag->pidfd = -1;
  /* an agent that was stopped when its helper left makes its FIFOs once continued: a moment (see persist_all) */
  for (int tries = 0; open_channel_ends(id, ag) < 0; tries++) {
    if (ag->req >= 0) close(ag->req);
    if (ag->rep >= 0) close(ag->rep);
    if (tries == 10) { free(ag->in); memset(ag, 0, sizeof *ag); put_str(o, "err no channel for that agent"); return; }
    nap(20000);
  }
  char line[LINE];
  struct pollfd pf = {.fd = ag->rep, .events = POLLIN};
  if (write_all(ag->req, "hello\n", 6) < 0) { close(ag->req); close(ag->rep); put_str(o, "err the agent is gone"); return; }
  /* what it answered while no one followed it (requests it stopped in, a move to its FIFOs) is skipped */
  for (int got; (got = take_line(ag, line, sizeof line)) != 1 || !strstr(line, "nspid=");)
    if (got != 1 && poll(&pf, 1, 5000) <= 0) { close(ag->req); close(ag->rep); put_str(o, "err the agent does not answer"); return; }
  stops_possible = 1;
  put_str(o, "ok");
  if (record(ag, line, o, id, 0, 0) < 0) { put_str(o, " but cannot follow it"); return; }
  ag->children_elsewhere = 1; /* what an earlier helper sent it is not known here */
}

static long long id_of_tid(long tid) {
  for (int i = 0; i < MAX_AGENTS; i++)
    if (agents[i].used && agents[i].tid == tid) return i;
  return -1;
}

/* last_of appends " NAME=N", N the last number of the status line KEY (its own pid namespace's, of an NS... line) */
static void last_of(struct out *o, const char *status, const char *key, const char *name) {
  const char *p = strstr(status, key);
  long long v = 0;
  for (p = p ? p + strlen(key) : NULL; p && *p && *p != '\n'; p++)
    if (*p >= '0' && *p <= '9') {
      char *end;
      v = strtoll(p, &end, 10);
      p = end - 1;
    }
  put_str(o, name);
  put_num(o, v);
}

/* the helper's own process group and session, taken when it starts (it never changes them): their leaders live in its pid namespace or above */
static long helper_pgrp, helper_sid;

/*
 * own_number: the number agent `ag`'s own pid namespace gives process `pid` (as the helper
 * numbers it), the leader of its group or session: 0 for the helper or the leader of its own group
 * or session (outside every namespace it makes), an agent's own record for an agent (a leader the
 * agent shares a group with lives in its namespace or above it, where it has no number), -1 when
 * neither says.
 */
static long own_number(const struct agent *ag, long pid) {
  static long long last = -1;
  if (pid == getpid() || pid == helper_pgrp || pid == helper_sid) return 0;
  long long k = last >= 0 && agents[last].used && agents[last].tid == pid ? last : id_of_tid(pid);
  if (k < 0) return -1;
  last = k;
  return agents[k].nlev >= ag->nlev ? agents[k].nspid[ag->nlev - 1] : 0;
}

/*
 * cmd_ids says which process group and session agent ID is in, as its own pid namespace numbers
 * them: what its getpgid(0) and getsid(0) would say, without waking it. /proc/PID/stat gives their
 * leaders as the helper numbers them, translated through the agents' records; where a leader is
 * none of them, NSpgid and NSsid of /proc/PID/status, which end with the agent's own numbers.
 * An agent whose hello said them (its own getpgid(0) and getsid(0) as it started) and that no
 * request since can have moved (ids_may_change) is answered from its hello, read now if need be:
 * no /proc read, and the hello is one `confirm` need not wait for.
 */
static void cmd_ids(long long id, struct out *o) {
  struct agent *ag = agent_of(id);
  if (!ag) { put_str(o, "err no agent"); return; }
  if (ag->alive && !ag->ids_sent && !ids_moved && ag->hello_pending && !pidfd_exited(ag, 0)) {
    char line[LINE];
    int why;
    if (any_line(ag, line, sizeof line, 10000, 0, &why) == 0 && take_hello(ag, line) < 0) {
      put_str(o, "err the agent said something else than its hello");
      return;
    }
  }
  /* one that has died since (not settled yet) is gone, as /proc would say */
  if (ag->alive && !ag->ids_sent && !ids_moved && ag->hello_ids && !pidfd_exited(ag, 0)) {
    put_str(o, "r 0 - pgrp=");
    put_num(o, ag->hello_pgrp);
    put_str(o, " sid=");
    put_num(o, ag->hello_sid);
    return;
  }
  char path[64], buf[4096];
  struct task_stat ts;
  if (!ag->alive || proc_stat(ag, &ts) < 0) {
    put_str(o, "gone");
    return;
  }
  long own_pgrp = own_number(ag, ts.pgrp), own_sid = own_number(ag, ts.session);
  snprintf(path, sizeof path, "/proc/%ld/status", ag->tid);
  if ((own_pgrp < 0 || own_sid < 0) && read_file_raw(path, buf, sizeof buf) <= 0) { put_str(o, "gone"); return; }
  put_str(o, "r 0 -");
  if (own_pgrp < 0) last_of(o, buf, "\nNSpgid:", " pgrp=");
  else put_str(o, " pgrp="), put_num(o, own_pgrp);
  if (own_sid < 0) last_of(o, buf, "\nNSsid:", " sid=");
  else put_str(o, " sid="), put_num(o, own_sid);
}

/*
 * cmd_confirm reads the hello of every agent named (by `only`) still owing it (adopt): each
 * has started and answers on its channel, or the reply names the first that did not.
 */
static void cmd_confirm(struct out *o, const char *only) {
  for (int i = 0; i < MAX_AGENTS; i++) {
    struct agent *ag = &agents[i];
    /* one the plan ended (killed, say, before it ever ran) has nothing to say: settling saw it die */
    if (!ag->used || !only[i] || !ag->hello_pending || !ag->alive) continue;
    char line[LINE];
    int why;
    /* one the plan has killed since (a zombie killed by a signal) may have died before it ever ran: it owes nothing */
    if (pidfd_exited(ag, 0)) { ag->hello_pending = 0; continue; }
    if (any_line(ag, line, sizeof line, 10000, 0, &why) < 0 || take_hello(ag, line) < 0) {
      put_str(o, "err agent ");
      put_num(o, i);
      put_str(o, why == 1 ? " died before it started" : why == 3 ? " did not start in 10 s" : " did not start");
      return;
    }
  }
  put_str(o, "ok");
}

static void cmd_state(long long id, struct out *o) {
  struct agent *ag = agent_of(id);
  if (!ag) { put_str(o, "err no agent"); return; }
  char path[64], buf[4096];
  snprintf(path, sizeof path, "/proc/%ld/status", ag->tid);
  struct task_stat ts;
  int r = proc_stat(ag, &ts);
  /*
   * a thread is never a lasting zombie: it is on its way out (exit_notify), so wait (1 s at most) until it is gone;
   * the same for one still exiting: the last thread of an init waits in zap_pid_ns_processes until the other
   * threads' pids are freed, which settling takes for stuck (kernel/pid_namespace.c: init_pids is 2 for a thread)
   */
  for (int i = 0; i < 1000 && ag->is_thread && (r == -2 || (r == 0 && (ts.state == 'Z' || ts.state == 'X' || (ts.flags & PF_EXITING)))); i++) {
    nap(1000);
    r = proc_stat(ag, &ts);
  }
  if (r < 0 || read_file_raw(path, buf, sizeof buf) <= 0 || ts.state == 'X') {
    put_str(o, "s gone ppid=- nspid=");
    return;
  }
  put_str(o, ts.state == 'Z' ? "s zombie" : (ts.flags & PF_EXITING) ? "s exiting" : "s alive");
  const char *pp = strstr(buf, "\nPPid:");
  long ppid = pp ? strtol(pp + 6, NULL, 10) : 0;
  long long pid_id = id_of_tid(ppid);
  put_str(o, " ppid=");
  if (pid_id >= 0) put_num(o, pid_id);
  else put_str(o, "out");
  put_str(o, " nspid=");
  put_nspid(o, buf);
}

static void close_agent(struct agent *ag, long long id) {
  char path[4096];
  /* an init's holder: its channel ends here, and it goes on waiting for its init alone */
  if (ag >= agents && ag < agents + MAX_AGENTS && holders[id].used) close_agent(&holders[id], -1);
  if (ag->req >= 0) close(ag->req);
  if (ag->rep >= 0 && ag->rep != ag->req) close(ag->rep);
  if (ag->pidfd >= 0) close(ag->pidfd);
  for (int i = 0; ag->in && i < ag->in->nfds; i++) close(ag->in->fds[i]);
  free(ag->in);
  /* an agent on a socket has no FIFOs (unless it moved to them: persist, before a detach) */
  if (!ag->sock) {
    snprintf(path, sizeof path, "%s/%lld.req", dir_path, id);
    unlink(path);
    snprintf(path, sizeof path, "%s/%lld.rep", dir_path, id);
    unlink(path);
  }
  memset(ag, 0, sizeof *ag);
}

/*
 * cmd_reset kills every agent and waits until the inits the helper made are
 * reaped by their holders, and the holders gone: nothing it made is left.
 * Each init is first put back into a process group of its own: an init
 * sitting in another group of its namespace can never finish its exit
 * (zap_pid_ns_processes waits for its namespace to hold no pid but the
 * init's, and the group holds one), and once it is exiting only its parent
 * can move it.
 */
/* ask sends one request to an idle agent and waits (2 s at most) for its reply; 0 if it answered */
static int ask(struct agent *ag, const char *req) {
  char line[LINE];
  int why;
  ids_may_change(ag, req);
  if (write_all(ag->req, req, (long)strlen(req)) < 0) return -1;
  return reply_line(ag, line, sizeof line, 2000, &why);
}

/*
 * unstick_inits puts every namespace init the helper made back into a
 * process group of its own before anything is killed: a living init does it
 * itself, one already stuck in its exit is moved by its parent, if that is an
 * agent still waiting for requests (a container's init, whose parent is its
 * holder, in another session, cannot be moved: see THE HOLDER).
 */
static void unstick_inits(const char *only) {
  char req[128];
  for (int i = 0; i < MAX_AGENTS; i++) {
    struct agent *ag = &agents[i];
    if (!ag->used || (only && !only[i]) || !ag->alive || ag->nlev < 2 || ag->nspid[ag->nlev - 1] != 1 || ag->is_thread) continue;
    struct task_stat ts;
    if (proc_stat(ag, &ts) < 0) continue;
    if (!(ts.flags & PF_EXITING)) { ask(ag, "setpgid 0 0\n"); continue; }
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%ld/status", ag->tid);
    if (read_file_raw(path, buf, sizeof buf) <= 0) continue;
    const char *pp = strstr(buf, "\nPPid:");
    long long pid_id = pp ? id_of_tid(strtol(pp + 6, NULL, 10)) : -1;
    struct agent *parent = pid_id >= 0 ? &agents[pid_id] : NULL;
    if (!parent || !parent->alive || parent->nlev < 1 || parent->nlev > ag->nlev || proc_stat(parent, &ts) < 0 || (ts.flags & PF_EXITING)) continue;
    long mine = ag->nspid[parent->nlev - 1]; /* the init's pid as its parent sees it */
    snprintf(req, sizeof req, "setpgid %ld %ld\n", mine, mine);
    ask(parent, req);
  }
}

/* cmd_reset: `only` NULL for every agent, else the agents it marks (reset ID...: what one restore made, leaving the others alone) */
static void cmd_reset(struct out *o, const char *only) {
  unstick_inits(only);
  for (int i = 0; i < MAX_AGENTS; i++)
    if (agents[i].used && (!only || only[i]) && agents[i].alive && agents[i].pidfd >= 0) SYS4(NR_PIDFD_SEND_SIGNAL, agents[i].pidfd, SIGKILL, 0, 0);
  int stuck = 0;
  for (int i = 0; i < MAX_AGENTS; i++)
    if (agents[i].used && (!only || only[i]) && agents[i].is_init) {
      /* never wait for good: an init stuck in its exit is reported, not waited on */
      struct pollfd pf = {.fd = agents[i].pidfd, .events = POLLIN};
      if (agents[i].pidfd >= 0 && poll(&pf, 1, 10000) <= 0) { stuck++; continue; }
      if (!holders[i].used) continue;
      /* its holder, let go, reaps it and exits (the helper ignores SIGCHLD: the kernel reaps the holder) */
      struct pollfd hf = {.fd = holders[i].pidfd, .events = POLLIN};
      holders[i].pidfd = -1;
      close_agent(&holders[i], -1);
      if (hf.fd >= 0 && poll(&hf, 1, 10000) <= 0) stuck++;
      if (hf.fd >= 0) close(hf.fd);
    }
  for (int i = 0; i < MAX_AGENTS; i++)
    if (agents[i].used && (!only || only[i])) close_agent(&agents[i], i);
  if (stuck) {
    put_str(o, "err inits stuck in their exit, left behind: ");
    put_num(o, stuck);
  } else {
    put_str(o, "ok");
  }
}

/*
 * take_reply reads the agent's reply to `request` into `o`, adopting the
 * child of a clone that succeeded; 0 when the agent died or answered
 * nothing instead (o says which).
 */
static int take_reply(struct agent *ag, const char *request, struct out *o) {
  char line[LINE];
  int why;
  if (reply_line(ag, line, sizeof line, 10000, &why) < 0) {
    put_str(o, why == 1 ? "dead" : why == 2 ? "stuck" : why == 4 ? "stopped" : "timeout");
    return 0;
  }
  /* a new agent's socket (and with fd2 its pidfd) came with this reply: take them (the token is the helper's own business) */
  int sock = -1, pidfd = -1;
  char *chan = strstr(line, " chan=fd");
  if (chan) {
    int two = chan[8] == '2';
    memmove(chan, chan + 8 + two, strlen(chan + 8 + two) + 1);
    if (ag->in->nfds >= 1 + two) {
      sock = ag->in->fds[0];
      if (two) pidfd = ag->in->fds[1];
      ag->in->nfds -= 1 + two;
      memmove(ag->in->fds, ag->in->fds + 1 + two, sizeof(int) * (size_t)ag->in->nfds);
    }
  }
  /* the new agent's start time, as its creator read the clock (see boot_tick): the helper's business too */
  unsigned long long born = 0;
  char *b = strstr(line, " born=");
  if (b) {
    char *end;
    born = strtoull(b + 6, &end, 10);
    memmove(b, end, strlen(end) + 1);
  }
  put_str(o, line);
  char *t[MAX_TOKENS];
  char copy[LINE];
  snprintf(copy, sizeof copy, "%s", request);
  int n = split(copy, t);
  int made_init = n >= 2 && !strcmp(t[0], "hold");
  if (n >= 2 && (!strcmp(t[0], "clone3") || made_init) && !strncmp(line, "r ", 2) && strncmp(line, "r -1", 4) != 0) {
    long long newid = 0;
    parse_ll(t[1], &newid);
    long long flags = 0;
    if (n >= 3) parse_ll(t[2], &flags);
    int bad = newid < 0 || newid >= MAX_AGENTS || (chan && sock < 0);
    /* what the request and the answer say of the child's pids: set_tid (clone3 NEWID FLAGS SIGNAL N TID...) and the pid returned */
    int tids[40];
    long long v = 0;
    struct made m = {.creator = made_init ? NULL : ag, .flags = flags, .tids = tids, .ntid = 0, .ret = strtol(line + 2, NULL, 10)};
    if (n >= 5 && !parse_ll(t[4], &v) && v > 0 && v <= 40 && n >= 5 + v)
      for (m.ntid = (int)v; v-- > 0;) {
        long long tid = 0;
        parse_ll(t[5 + v], &tid);
        tids[v] = (int)tid;
      }
    if (bad || adopt(&agents[newid], newid, o, made_init, chan ? sock : -1, pidfd, born, &m) < 0) {
      if (bad && sock >= 0) close(sock);
      if (bad && pidfd >= 0) close(pidfd);
      put_str(o, " child=lost");
    }
    else agents[newid].is_thread = (flags & CLONE_THREAD) != 0;
  }
  return 1;
}

static void cmd_op(long long id, char *rest, struct out *o) {
  struct agent *ag = agent_of(id);
  if (!ag) { put_str(o, "err no agent"); return; }
  if (!ag->alive) { put_str(o, "gone"); return; }
  if (strchr(rest, ';')) { put_str(o, "err one request at a time"); return; }
  char req[LINE];
  snprintf(req, sizeof req, "%s\n", rest);
  char *rt[MAX_TOKENS];
  char rcopy[LINE];
  snprintf(rcopy, sizeof rcopy, "%s", rest);
  int rn = split(rcopy, rt);
  if (is_stopped(ag)) { put_str(o, "err the agent is stopped: nothing is sent to it until it is continued"); return; }
  int scope = rn > 0 ? settle_scope(ag, rt, rn) : SETTLE_NONE;
  ids_may_change(ag, rest);
  if (write_all(ag->req, req, (long)strlen(req)) < 0) { put_str(o, "gone"); return; }
  if (!take_reply(ag, rest, o) && scope == SETTLE_NONE) scope = SETTLE_ALL;
  if (scope != SETTLE_NONE && settle_some(scope == SETTLE_SELF ? ag : NULL, scope == SETTLE_STUCK) < 0) put_str(o, " unsettled");
}

/* runnable: a request that needs no settling after it (not an exit, a signal or a reap), so that an agent may be sent several at once */
static int runnable(const char *req) {
  return strncmp(req, "exit", 4) != 0 && strncmp(req, "kill", 4) != 0 && strncmp(req, "wait4", 5) != 0 && !strchr(req, ';');
}

/* parse_tids reads SET_TID: one number (0: none), or A,B,... innermost level first; the count, or -1 */
static int parse_tids(char *s, int *tids, int cap) {
  int n = 0;
  for (char *p = s, *next; p; p = next, n++) {
    next = strchr(p, ',');
    if (next) *next++ = 0;
    long long v;
    if (n == cap || parse_ll(p, &v) || v < 0 || v > 0x7fffffff) return -1;
    tids[n] = (int)v;
  }
  return n == 1 && tids[0] == 0 ? 0 : n;
}

static void cmd_init(char **t, int n, struct out *o) {
  long long id, flags, persist;
  int tids[40];
  /* SET_TID as given goes on to the holder, which reads it again: parse_tids checks a copy (it cuts the text at commas) */
  char tid_text[512];
  snprintf(tid_text, sizeof tid_text, "%s", n < 5 ? "" : t[3]);
  int ntid = n < 5 || strlen(t[3]) >= sizeof tid_text ? -1 : parse_tids(t[3], tids, 40);
  if (n < 5 || parse_ll(t[1], &id) || parse_ll(t[2], &flags) || ntid < 0 || parse_ll(t[4], &persist) || id < 0 || id >= MAX_AGENTS) {
    put_str(o, "err usage: init ID FLAGS SET_TID PERSIST");
    return;
  }
  /* the holder first (a session of its own), then the init, its child (see THE HOLDER) */
  struct agent *hd = &holders[id];
  if (hd->used) close_agent(hd, -1);
  int sock = -1, pidfd = -1;
  struct hold h = {.flags = (uint64_t)flags, .ntid = ntid, .pdeath = !persist};
  memcpy(h.tids, tids, sizeof tids);
  long r = spawn_agent(-1, 0, SIGCHLD, NULL, 0, !persist, 1, 0, NULL, &sock, &pidfd, &h, NULL);
  if (r <= CHANNEL_FAILED) {
    put_str(o, "err cannot make the channel of a new agent: ");
    put_str(o, errname(CHANNEL_FAILED - r));
    return;
  }
  if (r < 0) { put_result(o, r); return; }
  /* followed from its pidfd at once; its hello, then its init (its first reply, unasked) */
  if (adopt(hd, -1, NULL, 0, sock, pidfd, 0, NULL) < 0) {
    /* adopt has killed it through its pidfd and closed its channel; without a pidfd, its pid is still its own (it is our child, not reaped) */
    if (pidfd < 0 && r > 0) kill((pid_t)r, SIGKILL);
    put_str(o, "err the holder of a new init is gone");
    return;
  }
  /* its reply is taken as the answer to what it was started with (take_reply then follows the init as agent ID) */
  char req[LINE];
  snprintf(req, sizeof req, "hold %lld %lld %s %d", id, flags, tid_text, !persist);
  int made = take_reply(hd, req, o) && !strncmp(o->buf, "r ", 2) && strncmp(o->buf, "r -1", 4) != 0 && agent_of(id);
  if (!made) {
    /* no init: the holder has nothing to hold */
    SYS4(NR_PIDFD_SEND_SIGNAL, hd->pidfd, SIGKILL, 0, 0);
    struct pollfd pf = {.fd = hd->pidfd, .events = POLLIN};
    poll(&pf, 1, 10000);
    close_agent(hd, -1);
    return;
  }
  put_str(o, " holder=");
  put_num(o, hd->tid);
}

/* what the serving loop does after a command: print its reply, stop, or nothing more (a batch printed its own) */
enum { DONE_REPLY, DONE_QUIT, DONE_DETACH, DONE_PRINTED };

/* persist_all moves every agent on a socket to FIFOs DIR/ID.req|rep before the controller goes (detach): the socket would end with it */
static void persist_all(void) {
  char req[64];
  for (int i = 0; i < MAX_AGENTS; i++) {
    struct agent *ag = &agents[i];
    if (!ag->used || !ag->alive || !ag->sock) continue;
    snprintf(req, sizeof req, "persist %d\n", i);
    /* a stopped agent carries it out once continued, whoever is there by then (its socket's end is gone: it answers on its FIFO) */
    if (is_stopped(ag)) write_all(ag->req, req, (long)strlen(req));
    else ask(ag, req);
  }
}

static void cmd_batch(long long count);

/* agents_named marks the agents a command names after its verb: IDs, or LO-HI for a range */
static const char *agents_named(char **t, int n) {
  static char only[MAX_AGENTS];
  memset(only, 0, sizeof only);
  for (int i = 1; i < n; i++) {
    long long id, hi;
    char *dash = strchr(t[i], '-');
    if (dash) *dash = 0;
    if (parse_ll(t[i], &id) || (dash ? parse_ll(dash + 1, &hi) : (hi = id, 0))) continue;
    for (long long k = id < 0 ? 0 : id; k <= hi && k < MAX_AGENTS; k++) only[k] = 1;
  }
  return only;
}

/* dispatch carries out one command line, its reply in `o`; within a batch, only the commands on agents */
/* TOO_LONG stands for a request line longer than LINE (thrown away: see next_request) */
#define TOO_LONG "\001"

/* next_request reads the controller's next request line from stdin, without its newline: 1, or 0 at its end; an over-long one is read through its newline and given as TOO_LONG, never run in pieces */
static int next_request(char *line, int cap) {
  if (!fgets(line, cap, stdin)) return 0;
  size_t len = strcspn(line, "\n");
  if (line[len] == '\n' || feof(stdin)) {
    line[len] = 0;
    return 1;
  }
  for (int c; (c = getchar()) != EOF && c != '\n';) {}
  snprintf(line, (size_t)cap, "%s", TOO_LONG);
  return 1;
}

static int dispatch(char *line, struct out *o, int in_batch) {
  if (!strcmp(line, TOO_LONG)) { put_str(o, "err request too long"); return DONE_REPLY; }
  char copy[LINE];
  snprintf(copy, sizeof copy, "%s", line);
  char *t[MAX_TOKENS];
  int n = split(copy, t);
  long long id = -1;
  if (n == 0) put_str(o, "err empty command");
  else if (!strcmp(t[0], "init")) cmd_init(t, n, o);
  else if (!strcmp(t[0], "state") && n >= 2) { parse_ll(t[1], &id); cmd_state(id, o); }
  else if (!strcmp(t[0], "ids") && n >= 2) { parse_ll(t[1], &id); cmd_ids(id, o); }
  else if (!strcmp(t[0], "confirm")) { cmd_confirm(o, agents_named(t, n)); }
  else if (!strcmp(t[0], "op") && n >= 3) {
    parse_ll(t[1], &id);
    char *rest = strchr(strchr(line, ' ') + 1, ' ') + 1;
    while (*rest == ' ') rest++;
    cmd_op(id, rest, o);
  } else if (in_batch) {
    put_str(o, "err not in a batch: ");
    put_str(o, t[0]);
  } else if (!strcmp(t[0], "quit")) return DONE_QUIT;
  else if (!strcmp(t[0], "detach")) {
    persist_all();
    return DONE_DETACH;
  }
  else if (!strcmp(t[0], "attach") && n >= 2) { parse_ll(t[1], &id); cmd_attach(id, o); }
  else if (!strcmp(t[0], "reset") && n == 1) cmd_reset(o, NULL);
  else if (!strcmp(t[0], "reset")) cmd_reset(o, agents_named(t, n));
  else if (!strcmp(t[0], "batch") && n >= 2 && !parse_ll(t[1], &id) && id >= 0) { cmd_batch(id); return DONE_PRINTED; }
  else {
    put_str(o, "err unknown command ");
    put_str(o, t[0]);
  }
  return DONE_REPLY;
}

/*
 * failed_in_batch: a reply that stops a batch. A death is the expected end
 * of an exit, or of a signal, and of nothing else.
 */
static int op_target(const char *line, long long *id, const char **request);

static int failed_in_batch(const char *line, const char *reply) {
  static const char *const stopping[] = {"kill", NULL}, *const ending[] = {"exit", "exit_group", "kill", NULL};
  long long id;
  const char *req;
  if (!strncmp(reply, "err", 3) || !strncmp(reply, "timeout", 7) || !strncmp(reply, "gone", 4) || !strncmp(reply, "r -1 ", 5)) return 1;
  if (strstr(reply, " unsettled") || strstr(reply, "child=lost")) return 1;
  /* a kill that stopped its caller: expected; anything else that stops is not */
  if (!strncmp(reply, "stopped", 7)) return !(op_target(line, &id, &req) && verb_in(req, stopping));
  if (!strncmp(reply, "dead", 4) || !strncmp(reply, "stuck", 5)) return !(op_target(line, &id, &req) && verb_in(req, ending));
  return 0;
}

/* op_target splits "op ID REQUEST" into ID and REQUEST (a pointer into the line); 0 if the line is not an op */
static int op_target(const char *line, long long *id, const char **request) {
  if (strncmp(line, "op ", 3) != 0) return 0;
  const char *p = line + 3, *end = strchr(p, ' ');
  char num[24];
  if (!end || end == p || end - p >= (long)sizeof num) return 0;
  memcpy(num, p, (size_t)(end - p));
  num[end - p] = 0;
  if (parse_ll(num, id)) return 0;
  while (*end == ' ') end++;
  *request = end;
  return 1;
}

/* put_reply prints one reply line of a batch and says whether it stops the batch */
/* a batch's replies are gathered and written together (the caller waits for all of them) */
static char batch_out[1 << 16];
static size_t batch_len;

static void flush_replies(void) {
  fwrite(batch_out, 1, batch_len, stdout);
  fflush(stdout);
  batch_len = 0;
}

static int put_reply(const char *line, struct out *o) {
  o->buf[o->len] = 0;
  if (batch_len + (size_t)o->len + 1 > sizeof batch_out) flush_replies();
  memcpy(batch_out + batch_len, o->buf, (size_t)o->len);
  batch_len += (size_t)o->len;
  batch_out[batch_len++] = '\n';
  return failed_in_batch(line, o->buf);
}

/* MAX_WAVE: the most requests in one wave; MAX_PER_AGENT: the most to one agent (their replies, at most LINE bytes each, fit in its channel unread) */
#define MAX_WAVE 2048
#define MAX_PER_AGENT 8

/*
 * take_answer takes agent `ag`'s reply to the batch's `line` (an op sent to it), settling every
 * agent when it did not answer (it died, or is stuck), and puts it among the batch's replies
 * ("skipped" once the batch has failed, the reply read all the same: the channel stays in step).
 * Whether the agent answered.
 */
static int take_answer(struct agent *ag, const char *line, int *failed) {
  long long id;
  const char *req = "";
  struct out r;
  OUT_EMPTY(r);
  op_target(line, &id, &req);
  int answered = take_reply(ag, req, &r);
  if (!answered && settle(NULL) < 0) put_str(&r, " unsettled");
  if (*failed) r.len = 0, put_str(&r, "skipped");
  int stop = put_reply(line, &r);
  *failed = *failed || stop;
  return answered;
}

/* MAX_RUN: the most requests of one run */
#define MAX_RUN 4096

/*
 * send_run_line sends agent `ag` the requests lines[from..to) as one line (REQ;REQ;...), marked
 * with a leading '+' when it goes on from the run's line before: after a failure there the agent
 * skips it too. 0, or -1 when the agent takes nothing more.
 */
static int send_run_line(struct agent *ag, char **lines, long long from, long long to, int more) {
  char run[LINE + 2];
  int rl = 0;
  long long id;
  const char *req;
  if (more) run[rl++] = '+';
  for (long long i = from; i < to; i++) {
    op_target(lines[i], &id, &req);
    ids_may_change(ag, req);
    rl += snprintf(run + rl, sizeof run - (size_t)rl, "%s%s", i > from ? ";" : "", req);
  }
  run[rl++] = '\n';
  return write_all(ag->req, run, rl);
}

/* run_line_end: where the run's line that starts at `from` ends (its requests fit in one line of the agent's) */
static long long run_line_end(char **lines, long long from, long long to) {
  long long id, i = from;
  const char *req;
  long len = 1;
  for (; i < to; i++) {
    op_target(lines[i], &id, &req);
    long l = (long)strlen(req) + 1;
    if (i > from && len + l >= LINE - 2) break;
    len += l;
  }
  return i;
}

/*
 * cmd_run carries out a run, lines[k..j): requests to one agent that need no settling. They go in
 * lines the agent carries out back to back, two of them with it at a time, so that it never waits
 * for the controller between one line and the next; every reply the agent sends is read (after a
 * failure it answers "skipped" itself), so that its channel stays in step, and a line not yet sent
 * by then is not sent at all.
 */
static void cmd_run(struct agent *ag, char **lines, long long k, long long j, int *failed) {
  long long sent = k, cut[2] = {k, k};
  int answering = 1, more = 0;
  /* cut[0]: the end of the line being answered; cut[1]: of the one after it, sent too */
  for (int n = 0; n < 2 && sent < j && answering; n++) {
    long long end = run_line_end(lines, sent, j);
    answering = send_run_line(ag, lines, sent, end, more) == 0;
    more = 1;
    if (answering) cut[n] = sent = end;
  }
  for (long long i = k; i < j; i++) {
    if (i < sent && answering) {
      answering = take_answer(ag, lines[i], failed);
      /* the agent's message is taken: while it makes the next, the hellos of those it made */
      if (answering && !memchr(ag->in->data, '\n', (size_t)ag->in->have)) early_hellos();
    }
    else {
      /* not sent, or the agent is gone */
      struct out r;
      OUT_EMPTY(r);
      put_str(&r, *failed ? "skipped" : "gone");
      int stop = put_reply(lines[i], &r);
      *failed = *failed || stop;
    }
    if (i + 1 == cut[0]) {
      /* that line is answered: the one after the next goes, unless the run has failed */
      cut[0] = cut[1];
      if (sent < j && answering && !*failed) {
        long long end = run_line_end(lines, sent, j);
        if (send_run_line(ag, lines, sent, end, 1) == 0) cut[1] = sent = end;
        else answering = 0;
      }
    }
  }
}

/*
 * cmd_batch reads `count` command lines and carries them out in order, each
 * settled only as far as it needs (see settle_scope), until one fails; it
 * replies with one line for each: its reply, or "skipped" after a failure.
 * Two shapes go faster with the same result:
 * consecutive requests to one agent that need no settling (a run) go to it
 * in one line, and it carries them out back to back; consecutive requests
 * that change nothing but their agent's own memory (a wave: ids, peek, map,
 * ...) are sent to all their agents before any reply is read (after a
 * failure in a wave, the others may have run, answered "skipped": they
 * changed no other process).
 */
static void cmd_batch(long long count) {
  char **lines = calloc((size_t)count + 1, sizeof *lines);
  long long got = 0;
  char line[LINE];
  while (lines && got < count && next_request(line, sizeof line)) {
    if (!(lines[got] = strdup(line))) break;
    got++;
  }
  int failed = !lines || got < count;
  for (long long k = 0; k < count;) {
    struct out o;
  OUT_EMPTY(o);
    long long id, id2;
    const char *req, *req2;
    if (failed || k >= got) {
      put_str(&o, k >= got ? "err the batch ended early" : "skipped");
      put_reply("", &o);
      k++;
      continue;
    }
    if (!op_target(lines[k], &id, &req) || !agent_of(id) || !agents[id].alive) {
      dispatch(lines[k], &o, 1);
      failed = put_reply(lines[k], &o);
      k++;
      continue;
    }
    struct agent *ag = &agents[id];
    long long j = k + 1;
    /* a run: one agent, requests needing no settling, in lines of at most LINE (see cmd_run); one of own-memory requests alone goes in a wave, beside other agents' */
    int others = runnable(req) && !own_only(req);
    if (runnable(req))
      while (j < got && j - k < MAX_RUN && op_target(lines[j], &id2, &req2) && id2 == id && runnable(req2) && (long)strlen(req2) < LINE - 8) others = others || !own_only(req2), j++;
    if (j - k >= 2 && others) {
      cmd_run(ag, lines, k, j, &failed);
      k = j;
      continue;
    }
    /* a wave: requests that change only their agents' own memory, all sent before any reply is read */
    static unsigned char in_wave[MAX_AGENTS];
    j = k;
    while (j < got && j - k < MAX_WAVE && op_target(lines[j], &id2, &req2) && own_only(req2) && agent_of(id2) && agents[id2].alive && in_wave[id2] < MAX_PER_AGENT) {
      /* the same agent's next requests of the wave go in the same line: it wakes once and answers them together */
      char one[LINE];
      int l = snprintf(one, sizeof one, "%s", req2);
      long long first = j++, id3;
      const char *req3;
      while (j < got && j - k < MAX_WAVE && in_wave[id2] + (j - first) < MAX_PER_AGENT && op_target(lines[j], &id3, &req3) && id3 == id2 && own_only(req3) && l + (long)strlen(req3) + 2 < LINE)
        l += snprintf(one + l, sizeof one - (size_t)l, ";%s", req3), j++;
      one[l++] = '\n';
      if (write_all(agents[id2].req, one, l) < 0) {
        j = first;
        break;
      }
      in_wave[id2] = (unsigned char)(in_wave[id2] + (j - first));
    }
    if (j - k >= 1) {
      for (long long i = k; i < j; i++) {
        op_target(lines[i], &id2, &req2);
        in_wave[id2] = 0;
        take_answer(&agents[id2], lines[i], &failed);
      }
      k = j;
      continue;
    }
    dispatch(lines[k], &o, 1);
    failed = put_reply(lines[k], &o);
    k++;
  }
  flush_replies();
  for (long long i = 0; lines && i < got; i++) free(lines[i]);
  free(lines);
}

static int serve(const char *dir) {
  dir_path = dir;
  helper_pgrp = getpgrp();
  helper_sid = getsid(0);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  /*
   * a parent that died before the prctl sends nothing: the helper was handed to a reaper by then
   * (the machine's init, or a subreaper, whatever its pid), so it checks it still has the parent
   * that started it (CKPT_HELPER_PARENT, its pid), and goes if not
   */
  const char *parent = getenv("CKPT_HELPER_PARENT");
  if (parent ? strtol(parent, NULL, 10) != (long)getppid() : getppid() == 1) return 1;
  signal(SIGPIPE, SIG_IGN);
  /* a terminal's Ctrl-C or Ctrl-\ reaches the whole foreground group, Node with it: Node decides (and undoes through the helper), so the helper must outlive them */
  signal(SIGINT, SIG_IGN);
  signal(SIGQUIT, SIG_IGN);
  /* its only children are holders, which end on their own: the kernel reaps them */
  signal(SIGCHLD, SIG_IGN);
  int d = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (d < 0) { printf("err cannot open %s\n", dir); return 1; }
  /* agents that dropped to another uid make their children's FIFOs here too: writable by all, sticky, not listable */
  if (fchmod(d, 01733) < 0) { printf("err cannot chmod %s\n", dir); return 1; }
  if (d != DIRFD) { dup2(d, DIRFD); close(d); }
  char line[LINE];
  setvbuf(stdout, NULL, _IOLBF, 0);
  while (next_request(line, sizeof line)) {
    struct out o;
  OUT_EMPTY(o);
    int done = dispatch(line, &o, 0);
    if (done == DONE_QUIT) break;
    if (done == DONE_DETACH) return 0;
    if (done == DONE_PRINTED) continue;
    o.buf[o.len] = 0;
    printf("%s\n", o.buf);
  }
  struct out o;
  OUT_EMPTY(o);
  cmd_reset(&o, NULL);
  return 0;
}

/*
 * probe: can this process make a container, a user and a pid namespace of its own whose root is
 * its own uid (as `run` does)? Root can; another user only where the machine lets unprivileged
 * users make user namespaces (kernel.unprivileged_userns_clone, user.max_user_namespaces, an
 * LSM); root without capabilities cannot map uid 0 (that needs CAP_SETFCAP since Linux 5.12,
 * kernel/user_namespace.c verify_root_map). One line either way.
 */
static int probe(void) {
  int gate[2];
  if (pipe(gate) < 0) { printf("cannot make a pipe: %s\n", errname(errno)); return 1; }
  struct clone_args_v2 args;
  memset(&args, 0, sizeof args);
  args.flags = CLONE_NEWUSER | CLONE_NEWPID;
  args.exit_signal = SIGCHLD;
  long r = syscall(NR_CLONE3, &args, sizeof args);
  if (r == 0) {
    /* wait until the parent has written the maps (or given up): its end closing says so */
    char c;
    close(gate[1]);
    while (read(gate[0], &c, 1) < 0 && errno == EINTR) {}
    _exit(0);
  }
  close(gate[0]);
  if (r < 0) {
    close(gate[1]);
    if (geteuid() != 0)
      printf("not root (euid %d), and this machine does not let an unprivileged user make a user namespace: clone3(CLONE_NEWUSER|CLONE_NEWPID) failed with %s (see kernel.unprivileged_userns_clone and user.max_user_namespaces)\n", (int)geteuid(), errname(errno));
    else
      printf("cannot make a user and a pid namespace: clone3(CLONE_NEWUSER|CLONE_NEWPID) failed with %s\n", errname(errno));
    return 1;
  }
  char path[64], map[64];
  snprintf(path, sizeof path, "/proc/%ld/uid_map", r);
  int len = snprintf(map, sizeof map, "0 %d 1\n", (int)geteuid());
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  int err = fd < 0 ? errno : write(fd, map, (size_t)len) == len ? 0 : errno;
  if (fd >= 0) close(fd);
  close(gate[1]);
  int status;
  waitpid((pid_t)r, &status, 0);
  if (err) {
    printf("cannot map uid %d as root of a user namespace of its own: writing its uid_map failed with %s%s\n", (int)geteuid(), errname(err), geteuid() == 0 && err == EPERM ? " (root without CAP_SETFCAP may not map uid 0)" : "");
    return 1;
  }
  printf("ok\n");
  return 0;
}

int main(int argc, char **argv) {
  strings_page = (unsigned long)argv[0] & ~4095UL;
  if (argc == 2 && !strcmp(argv[1], "probe")) return probe();
  if (argc == 3 && !strcmp(argv[1], "serve")) return serve(argv[2]);
  fprintf(stderr, "usage: ckpt-helper probe | ckpt-helper serve DIR\n");
  return 2;
}
