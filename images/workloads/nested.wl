# A container nested three levels deep, with several sessions and process groups.
# Each level's init reports what it sees, starts the next level with
# clone(CLONE_NEWPID) and reaps what ends; the workers make their own
# sessions and process groups.
var pid, ppid, pgid, sid, child, status, i

program main
  pid = getpid()
  ppid = getppid()
  print "L1 init: pid %d ppid %d\n", pid, ppid
  child = clone(CLONE_NEWPID | SIGCHLD, 0, 0, 0, 0) start level2
  print "L1 init: level 2 init is %d here\n", child
  i = 0
spawn:
  if i >= 2 goto reap
  child = fork()
  if child == 0 goto worker
  i = i + 1
  goto spawn
worker:
  sid = setsid()
  pid = getpid()
  print "L1 worker %d leads session %d\n", pid, sid
  sleep 5
  exit(7)
reap:
  child = wait4(-1, 0, 0, 0)
  if child < 0 goto idle
  print "L1 init: reaped %d\n", child
  goto reap
idle:
  print "L1 init: no children left\n"
end

program level2
  pid = getpid()
  print "L2 init: pid %d\n", pid
  child = clone(CLONE_NEWPID | SIGCHLD, 0, 0, 0, 0) start level3
  child = fork()
  if child == 0 goto member
  status = setpgid(child, child)
  pgid = getpgid(child)
  print "L2 init: child %d now leads group %d\n", child, pgid
  child = wait4(-1, 0, 0, 0)
  print "L2 init: reaped %d\n", child
  child = wait4(-1, 0, 0, 0)
  print "L2 init: reaped %d\n", child
  exit(0)
member:
  sleep 2
  pgid = getpgid(0)
  print "L2 member: group %d\n", pgid
  exit(0)
end

program level3
  pid = getpid()
  ppid = getppid()
  sid = getsid(0)
  print "L3 init: pid %d ppid %d sid %d\n", pid, ppid, sid
  sid = setsid()
  print "L3 init: new session %d\n", sid
  exit(0)
end
