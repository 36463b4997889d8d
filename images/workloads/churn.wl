# Forks and reaps without end, so pids wrap past pid_max (to 300, as the
# kernel's allocator does after its first pass). Reports each wrap.
var pid, last, forks, wraps

program main
loop:
  pid = fork()
  if pid == 0 goto child
  pid = wait4(pid, 0, 0, 0)
  forks = forks + 1
  if pid > last goto next
  wraps = wraps + 1
  print "wrap %d: pid %d after %d (%d forks)\n", wraps, pid, last, forks
next:
  last = pid
  goto loop
child:
  exit(0)
end
