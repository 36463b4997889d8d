# A multi-threaded process: two threads share the process's memory and its
# pid; each reports its own tid. Variables are shared between threads, like C
# globals, so each thread runs its own program with its own variables.
var pid, one, two, done

program main
  pid = getpid()
  print "process %d starts two threads\n", pid
  clone(CLONE_THREAD | CLONE_SIGHAND | CLONE_VM, 0, 0, 0, 0) start first
  clone(CLONE_THREAD | CLONE_SIGHAND | CLONE_VM, 0, 0, 0, 0) start second
wait:
  if done >= 2 goto finished
  sleep 1
  goto wait
finished:
  print "main: threads %d and %d finished\n", one, two
  sleep 1000000
end

program first
  one = gettid()
  print "thread %d of process %d\n", one, pid
  sleep 3
  done = done + 1
  exit(0)
end

program second
  two = gettid()
  print "thread %d of process %d\n", two, pid
  sleep 3
  done = done + 1
  exit(0)
end
