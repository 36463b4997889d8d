# Job control and an orphaned process group. A session leader (pid 2)
# starts a job in a process group of its own (pid 3) and stops it; then the
# leader exits. The job goes to init, which is in another session: nobody is
# left to continue it, so the kernel sends its group SIGHUP and SIGCONT
# (POSIX.1 3.2.2.2), the SIGHUP ends it, and init reaps both. A restore
# between the stop and the exit must know the job as a stopped job of its
# group, or it stays stopped for ever and init never reaps it.
var who, job

program main
  who = fork() start leader
loop:
  who = wait4(-1, 0, 0, 0)
  if who < 0 goto done
  print "init reaped %d\n", who
  goto loop
done:
  sleep 100000000
end

program leader
  who = setsid()
  job = fork() start job
  sleep 3
  who = kill(job, SIGSTOP)
  sleep 30
  exit(0)
end

program job
  who = setpgid(0, 0)
  sleep 100000000
end
