// SPDX-License-Identifier: GPL-2.0-only
/* GNU-only and variadic calls that Swift's Glibc module cannot reach. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "CVFIOShim.h"

int vst_ioctl(int fd, unsigned long request, void *arg) { return ioctl(fd, request, arg); }

int vst_ioctl_int(int fd, unsigned long request, unsigned long value) {
  return ioctl(fd, request, value);
}

int vst_memfd_create(const char *name, unsigned int flags) { return memfd_create(name, flags); }

const void *vst_memmem(const void *haystack, size_t haystacklen, const void *needle, size_t needlelen) {
  return memmem(haystack, haystacklen, needle, needlelen);
}

int vst_eventfd(unsigned int initval, int flags) { return eventfd(initval, flags); }

int vst_fallocate(int fd, int mode, off_t offset, off_t len) {
  return fallocate(fd, mode, offset, len);
}

int vst_errno(void) { return errno; }

/* Closes every fd in [from, to] (to inclusive): close_range(2), or one close each without it. */
static void vst_close_span(unsigned int from, unsigned int to, int maxfd) {
  if (from > to) return;
  if (syscall(SYS_close_range, from, to, 0) == 0) return;
  for (unsigned int fd = from; fd <= to && fd < (unsigned int)maxfd; fd++) close(fd);
}

/* keep[] is sorted ascending (the caller sorts it: the child of a multi-threaded process must not
 * allocate): the child closes the gaps between the kept fds, O(nkeep) system calls. */
int vst_fork_holder(const int *keep, int nkeep, int maxfd) {
  pid_t pid = fork();
  if (pid != 0) return pid; /* parent, or -1 */
  setsid();
  unsigned int next = 0;
  for (int i = 0; i < nkeep; i++) {
    if (keep[i] < 0 || (unsigned int)keep[i] < next) continue;
    if ((unsigned int)keep[i] > next) vst_close_span(next, (unsigned int)keep[i] - 1, maxfd);
    next = (unsigned int)keep[i] + 1;
  }
  vst_close_span(next, ~0U, maxfd);
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

/* The MMIO accessors are static inline in CVFIOShim.h. */
