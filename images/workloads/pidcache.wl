# Caches its pid in memory and keeps checking it against getpid(), in the
# init and in two children: any restore that changes a pid makes it print
# FAIL. It prints "ok" lines while all is well.
var cache, now, seen, child, round

program main
  cache = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
  child = fork()
  if child == 0 goto check
  child = fork()
check:
  now = getpid()
  store cache, now
  round = 0
again:
  sleep 5
  load seen, cache
  now = getpid()
  if seen != now goto fail
  round = round + 1
  print "ok %d round %d\n", now, round
  goto again
fail:
  print "FAIL: cached pid %d but getpid() says %d\n", seen, now
  exit(1)
end
