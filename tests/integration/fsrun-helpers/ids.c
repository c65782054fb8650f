/*
 * Prints the real, effective and saved user and group ids of the process, one a line:
 *   ruid=R, euid=E, suid=S, rgid=R, egid=E, sgid=S
 * Installed setuid root in a test image, it shows whether executing it gained privileges.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <unistd.h>

int main(void)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0) {
		perror("getresuid");
		return 1;
	}
	printf("ruid=%u\neuid=%u\nsuid=%u\nrgid=%u\negid=%u\nsgid=%u\n", (unsigned)ru, (unsigned)eu,
	       (unsigned)su, (unsigned)rg, (unsigned)eg, (unsigned)sg);
	return 0;
}
