// SPDX-License-Identifier: GPL-2.0-only
/* GNU-only and variadic calls that Swift's Glibc module cannot reach. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
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

/* One access each: the volatile pointee types carry aligned(1) so an unaligned address is not UB. */
typedef volatile vst_u16 __attribute__((aligned(1))) vst_mmio_u16;
typedef volatile vst_u32 __attribute__((aligned(1))) vst_mmio_u32;
typedef volatile vst_u64 __attribute__((aligned(1))) vst_mmio_u64;

vst_u8 vst_mmio_read8(const void *addr) { return *(const volatile vst_u8 *)addr; }
vst_u16 vst_mmio_read16(const void *addr) { return *(const vst_mmio_u16 *)addr; }
vst_u32 vst_mmio_read32(const void *addr) { return *(const vst_mmio_u32 *)addr; }
vst_u64 vst_mmio_read64(const void *addr) { return *(const vst_mmio_u64 *)addr; }
void vst_mmio_write8(void *addr, vst_u8 value) { *(volatile vst_u8 *)addr = value; }
void vst_mmio_write16(void *addr, vst_u16 value) { *(vst_mmio_u16 *)addr = value; }
void vst_mmio_write32(void *addr, vst_u32 value) { *(vst_mmio_u32 *)addr = value; }
void vst_mmio_write64(void *addr, vst_u64 value) { *(vst_mmio_u64 *)addr = value; }
