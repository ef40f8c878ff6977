/*
 * Minimal pod sandbox process for the local node: holds the pod's namespaces open, exits cleanly on
 * SIGTERM/SIGINT and reaps children that get re-parented to it when the pod shares one PID namespace.
 * Built with `gcc -static` because the image carries no libc.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef HAEIN_PAUSE_VERSION
#define HAEIN_PAUSE_VERSION "dev"
#endif

static void stop(int sig) {
  (void)sig;
  _exit(0);
}

static void reap(int sig) {
  (void)sig;
  /* Several children may have exited before this handler ran: collect them all, never block. */
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

static int install(int sig, void (*handler)(int), int flags) {
  struct sigaction action;
  memset(&action, 0, sizeof(action));
  action.sa_handler = handler;
  action.sa_flags = flags;
  sigemptyset(&action.sa_mask);
  return sigaction(sig, &action, NULL);
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "-v") == 0) {
    printf("haein-pause %s\n", HAEIN_PAUSE_VERSION);
    return 0;
  }
  if (getpid() != 1) {
    fprintf(stderr, "haein-pause: warning: not PID 1, only own children are reaped\n");
  }
  if (install(SIGTERM, stop, 0) != 0 || install(SIGINT, stop, 0) != 0 ||
      install(SIGCHLD, reap, SA_NOCLDSTOP | SA_RESTART) != 0) {
    perror("haein-pause: sigaction");
    return 1;
  }
  for (;;) {
    pause();
  }
}
