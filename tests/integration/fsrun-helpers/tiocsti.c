/*
 * Tries to push a character into the input queue of the terminal on fds 0, 1, 2 and on
 * /dev/tty with the TIOCSTI ioctl, the way a contained program would type commands into the
 * shell that started it. Prints one line per target:
 *   NAME tty=0|1 tiocsti=ok|ERRNO-TEXT
 * (NAME: fd0 fd1 fd2 devtty; "devtty open=ERRNO-TEXT" when /dev/tty cannot be opened).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static void try(const char *name, int fd)
{
	char c = ' ';
	int tty = isatty(fd);

	if (ioctl(fd, TIOCSTI, &c) == 0)
		printf("%s tty=%d tiocsti=ok\n", name, tty);
	else
		printf("%s tty=%d tiocsti=%s\n", name, tty, strerror(errno));
}

int main(void)
{
	int fd;

	setvbuf(stdout, NULL, _IOLBF, 0);
	try("fd0", 0);
	try("fd1", 1);
	try("fd2", 2);
	fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		printf("devtty open=%s\n", strerror(errno));
		return 0;
	}
	try("devtty", fd);
	close(fd);
	return 0;
}
