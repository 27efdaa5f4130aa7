/*
 * berth-init: the init that `docker run --init` puts at pid 1 of a container, run as
 * `/sbin/docker-init -- command [arguments...]`.
 *
 * It runs the command as its one direct child, in the child's own process group (made the
 * terminal's foreground group when stdin is a terminal, so ^C reaches the command), forwards
 * every signal it can catch to that child, reaps every process that becomes its child (as
 * pid 1 of a pid namespace, or as a child subreaper when it is not pid 1), and exits the way
 * the command did: with its exit code, or 128 + the number of the signal that killed it.
 *
 * Signals are blocked and taken with sigwaitinfo(): a pid namespace's init is not sent the
 * signals it has no handler for, but blocked ones are still queued for it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

/* Faults of this process itself, and the terminal's job control: never forwarded. */
static const int unforwarded[] = {
	SIGFPE, SIGILL, SIGSEGV, SIGBUS, SIGABRT, SIGTRAP, SIGSYS, SIGTTIN, SIGTTOU,
};

/* Exit status of a usage error or of a failure of the init itself. */
enum { EXIT_USAGE = 2, EXIT_INIT_FAILED = 1 };
/* Exit statuses of a command that cannot be run, as a shell gives them. */
enum { EXIT_CANNOT_EXECUTE = 126, EXIT_NOT_FOUND = 127 };

static void fail(const char *what)
{
	fprintf(stderr, "docker-init: %s: %s\n", what, strerror(errno));
}

static int exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return EXIT_INIT_FAILED;
}

/* In the forked child: becomes the command. */
static void run_command(char **argv, const sigset_t *original_mask)
{
	if (setpgid(0, 0) == 0 && isatty(STDIN_FILENO)) {
		/* Allowed from a background group because SIGTTOU is ignored here. Not being
		 * the terminal's controlling process is not an error worth stopping for. */
		(void)tcsetpgrp(STDIN_FILENO, getpgrp());
	}
	signal(SIGTTIN, SIG_DFL);
	signal(SIGTTOU, SIG_DFL);
	sigprocmask(SIG_SETMASK, original_mask, NULL);
	execvp(argv[0], argv);
	int err = errno;
	fprintf(stderr, "docker-init: exec %s: %s\n", argv[0], strerror(err));
	_exit(err == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_EXECUTE);
}

/* Reaps every child that has ended; returns 1 and sets *status once `command` has. */
static int reap(pid_t command, int *status)
{
	int ended = 0;
	for (;;) {
		int s;
		pid_t pid = waitpid(-1, &s, WNOHANG);
		if (pid == 0 || (pid < 0 && errno == ECHILD))
			return ended;
		if (pid < 0) {
			if (errno != EINTR) {
				fail("waitpid");
				return ended;
			}
			continue;
		}
		if (pid == command) {
			*status = s;
			ended = 1;
		}
	}
}

int main(int argc, char **argv)
{
	int first = 1;
	if (first < argc && strcmp(argv[first], "--") == 0)
		first++;
	if (first >= argc) {
		fputs("usage: docker-init [--] command [arguments...]\n", stderr);
		return EXIT_USAGE;
	}

	sigset_t forwarded, original;
	sigfillset(&forwarded);
	for (size_t i = 0; i < sizeof unforwarded / sizeof unforwarded[0]; i++)
		sigdelset(&forwarded, unforwarded[i]);
	if (sigprocmask(SIG_BLOCK, &forwarded, &original) != 0) {
		fail("sigprocmask");
		return EXIT_INIT_FAILED;
	}
	/* Terminal I/O from a background group must not stop the init. */
	signal(SIGTTIN, SIG_IGN);
	signal(SIGTTOU, SIG_IGN);
	if (getpid() != 1 && prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
		fail("PR_SET_CHILD_SUBREAPER");
		return EXIT_INIT_FAILED;
	}

	pid_t command = fork();
	if (command < 0) {
		fail("fork");
		return EXIT_INIT_FAILED;
	}
	if (command == 0)
		run_command(argv + first, &original);
	/* Also here, so the group exists before any signal is forwarded to it. */
	(void)setpgid(command, command);

	for (;;) {
		siginfo_t info;
		int signal_number = sigwaitinfo(&forwarded, &info);
		if (signal_number < 0) {
			if (errno == EINTR)
				continue;
			fail("sigwaitinfo");
			return EXIT_INIT_FAILED;
		}
		if (signal_number == SIGCHLD) {
			int status;
			if (reap(command, &status))
				return exit_code(status);
			continue;
		}
		if (kill(command, signal_number) != 0 && errno != ESRCH)
			fail("forward signal");
	}
}
