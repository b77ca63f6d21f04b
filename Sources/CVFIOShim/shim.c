/* GNU-only and variadic calls that Swift's Glibc module cannot reach. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <signal.h>
#include <unistd.h>

#include "CVFIOShim.h"

int vst_ioctl(int fd, unsigned long request, void *arg) { return ioctl(fd, request, arg); }

int vst_ioctl_int(int fd, unsigned long request, unsigned long value) {
  return ioctl(fd, request, value);
}

int vst_memfd_create(const char *name, unsigned int flags) { return memfd_create(name, flags); }

int vst_eventfd(unsigned int initval, int flags) { return eventfd(initval, flags); }

int vst_fallocate(int fd, int mode, off_t offset, off_t len) {
  return fallocate(fd, mode, offset, len);
}

int vst_errno(void) { return errno; }

int vst_fork_holder(const int *keep, int nkeep, int maxfd) {
  pid_t pid = fork();
  if (pid != 0) return pid; /* parent, or -1 */
  setsid();
  for (int fd = 0; fd < maxfd; fd++) {
    int kept = 0;
    for (int i = 0; i < nkeep; i++) kept |= keep[i] == fd;
    if (!kept) close(fd);
  }
  if (chdir("/") != 0) _exit(1);
  for (;;) pause();
}

#if defined(__x86_64__)
void vst_iosubmit_cmds512(void *dst, const void *src, size_t count) {
  const unsigned char *from = src;
  const unsigned char *end = from + count * 64;
  for (; from < end; from += 64) {
    const struct { char _[64]; } *s = (const void *)from;
    struct { char _[64]; } *d = dst;
    /* MOVDIR64B (%rdx), %rax, as the kernel's movdir64b() */
    __asm__ volatile(".byte 0x66, 0x0f, 0x38, 0xf8, 0x02" : "+m"(*d) : "m"(*s), "a"(d), "d"(s));
  }
}
#endif
