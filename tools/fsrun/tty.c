/*
 * -t: the payload gets a pseudo-terminal of the container's own devpts instance (never the
 * caller's terminal, which TIOCSTI could type into), and fsrun relays between the caller's
 * terminal, put in raw mode, and the master side. The window size follows SIGWINCH.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "layerfs/util.h"
#include "fsrun.h"

int fsrun_tty_open(int *ret_master, int *ret_slave)
{
	int m = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC), s;

	if (m < 0)
		return -errno;
	if (unlockpt(m) < 0) {
		int r = -errno;
		close(m);
		return r;
	}
	/* The peer by fd, not by a /dev/pts path that could be swapped. */
	s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (s < 0) {
		int r = -errno;
		close(m);
		return r;
	}
	*ret_master = m;
	*ret_slave = s;
	return 0;
}

static void copy_winsize(int from, int to)
{
	struct winsize ws;

	if (ioctl(from, TIOCGWINSZ, &ws) == 0)
		ioctl(to, TIOCSWINSZ, &ws);
}

/* Copies what is there from one fd to another; false at EOF or error of the source. */
static bool pump(int from, int to)
{
	char buf[8192];
	ssize_t n = read(from, buf, sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return true;
	if (n <= 0)
		return false;
	return lf_write_full(to, buf, n) == 0;
}

int fsrun_tty_relay(int master, pid_t child, const sigset_t *sigs, int *ret_status)
{
	struct termios saved, raw;
	bool restore = false, in_open = true, out_open = true, done = false;
	int sfd = signalfd(-1, sigs, SFD_CLOEXEC), status = 0;

	if (sfd < 0)
		return -errno;
	if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0) {
		raw = saved;
		cfmakeraw(&raw);
		restore = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
		copy_winsize(STDIN_FILENO, master);
	}
	while (!done || out_open) {
		struct pollfd p[3] = {
			{ .fd = sfd, .events = POLLIN },
			{ .fd = out_open ? master : -1, .events = POLLIN },
			{ .fd = in_open && !done ? STDIN_FILENO : -1, .events = POLLIN },
		};
		if (poll(p, 3, done ? 100 : -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (done && !(p[1].revents & (POLLIN | POLLHUP)))
			break; /* the payload is gone and its output drained */
		if (p[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGWINCH)
					copy_winsize(STDIN_FILENO, master);
				else if (si.ssi_signo != SIGCHLD)
					kill(child, si.ssi_signo);
				else if (waitpid(child, &status, WNOHANG) == child)
					done = true;
			}
		}
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR))
			out_open = pump(master, STDOUT_FILENO);
		if (p[2].revents & (POLLIN | POLLHUP | POLLERR))
			in_open = pump(STDIN_FILENO, master);
	}
	if (!done)
		while (waitpid(child, &status, 0) < 0 && errno == EINTR)
			;
	if (restore)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	close(sfd);
	*ret_status = status;
	return 0;
}
