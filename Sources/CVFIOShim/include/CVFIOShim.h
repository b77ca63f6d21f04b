// SPDX-License-Identifier: GPL-2.0-only
/*
 * CVFIOShim: the kernel uAPI this project speaks, defined here rather than taken from the
 * host's linux-libc-dev (Debian 12 ships Linux 6.1 headers: no iommufd cdev, no liveupdate).
 *
 * Struct and field names follow include/uapi/linux/{vfio,iommufd,liveupdate}.h of Linux 7.3 so
 * that the Swift code reads like the C selftests. Every size and offset is checked against real
 * uAPI headers by Tests/UAPIConformanceTests. The ioctl numbers live in Swift (UAPI.swift) and
 * are checked by the same test.
 *
 * This header must never include <linux/vfio.h>, <linux/iommufd.h> or <linux/liveupdate.h>.
 */
#ifndef CVFIOSHIM_H
#define CVFIOSHIM_H

#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

typedef uint8_t vst_u8;
typedef uint16_t vst_u16;
typedef uint32_t vst_u32;
typedef int32_t vst_s32;
typedef uint64_t vst_u64;
typedef uint64_t vst_aligned_u64 __attribute__((aligned(8)));

/* ---- linux/vfio.h ------------------------------------------------------------------------ */

struct vfio_info_cap_header {
  vst_u16 id;
  vst_u16 version;
  vst_u32 next;
};

struct vfio_group_status {
  vst_u32 argsz;
  vst_u32 flags;
};

struct vfio_device_info {
  vst_u32 argsz;
  vst_u32 flags;
  vst_u32 num_regions;
  vst_u32 num_irqs;
  vst_u32 cap_offset;
  vst_u32 pad;
};

struct vfio_region_info {
  vst_u32 argsz;
  vst_u32 flags;
  vst_u32 index;
  vst_u32 cap_offset;
  vst_aligned_u64 size;
  vst_aligned_u64 offset;
};

struct vfio_irq_info {
  vst_u32 argsz;
  vst_u32 flags;
  vst_u32 index;
  vst_u32 count;
};

/* Followed by `count` data elements (u8 bools or s32 eventfds) in the ioctl buffer. */
struct vfio_irq_set {
  vst_u32 argsz;
  vst_u32 flags;
  vst_u32 index;
  vst_u32 start;
  vst_u32 count;
};

/* Followed by the feature's data in the ioctl buffer. */
struct vfio_device_feature {
  vst_u32 argsz;
  vst_u32 flags;
};

struct vfio_device_bind_iommufd {
  vst_u32 argsz;
  vst_u32 flags;
  vst_s32 iommufd;
  vst_u32 out_devid;
  vst_aligned_u64 token_uuid_ptr;
};

struct vfio_device_attach_iommufd_pt {
  vst_u32 argsz;
  vst_u32 flags;
  vst_u32 pt_id;
  vst_u32 pasid;
};

struct vfio_device_detach_iommufd_pt {
  vst_u32 argsz;
  vst_u32 flags;
  vst_u32 pasid;
};

struct vfio_iommu_type1_info {
  vst_u32 argsz;
  vst_u32 flags;
  vst_aligned_u64 iova_pgsizes;
  vst_u32 cap_offset;
  vst_u32 pad;
};

struct vfio_iova_range {
  vst_u64 start;
  vst_u64 end;
};

/* Followed by `nr_iovas` struct vfio_iova_range. */
struct vfio_iommu_type1_info_cap_iova_range {
  struct vfio_info_cap_header header;
  vst_u32 nr_iovas;
  vst_u32 reserved;
};

struct vfio_iommu_type1_dma_map {
  vst_u32 argsz;
  vst_u32 flags;
  vst_u64 vaddr;
  vst_u64 iova;
  vst_u64 size;
};

struct vfio_iommu_type1_dma_unmap {
  vst_u32 argsz;
  vst_u32 flags;
  vst_u64 iova;
  vst_u64 size;
};

/* VFIO_DEVICE_FEATURE_MIGRATION data */
struct vfio_device_feature_migration {
  vst_aligned_u64 flags;
};

/* VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE data */
struct vfio_device_feature_mig_state {
  vst_u32 device_state;
  vst_s32 data_fd;
};

/* VFIO_DEVICE_FEATURE_MIG_DATA_SIZE data */
struct vfio_device_feature_mig_data_size {
  vst_aligned_u64 stop_copy_length;
};

struct vfio_precopy_info {
  vst_u32 argsz;
  vst_u32 flags;
  vst_aligned_u64 initial_bytes;
  vst_aligned_u64 dirty_bytes;
};

/* ---- linux/iommufd.h --------------------------------------------------------------------- */

struct iommu_destroy {
  vst_u32 size;
  vst_u32 id;
};

struct iommu_ioas_alloc {
  vst_u32 size;
  vst_u32 flags;
  vst_u32 out_ioas_id;
};

struct iommu_iova_range {
  vst_aligned_u64 start;
  vst_aligned_u64 last;
};

struct iommu_ioas_iova_ranges {
  vst_u32 size;
  vst_u32 ioas_id;
  vst_u32 num_iovas;
  vst_u32 __reserved;
  vst_aligned_u64 allowed_iovas;
  vst_aligned_u64 out_iova_alignment;
};

struct iommu_ioas_map {
  vst_u32 size;
  vst_u32 flags;
  vst_u32 ioas_id;
  vst_u32 __reserved;
  vst_aligned_u64 user_va;
  vst_aligned_u64 length;
  vst_aligned_u64 iova;
};

struct iommu_ioas_unmap {
  vst_u32 size;
  vst_u32 ioas_id;
  vst_aligned_u64 iova;
  vst_aligned_u64 length;
};

/* ---- linux/liveupdate.h ------------------------------------------------------------------ */

#define VST_LIVEUPDATE_SESSION_NAME_LENGTH 64

struct liveupdate_ioctl_create_session {
  vst_u32 size;
  vst_s32 fd;
  vst_u8 name[VST_LIVEUPDATE_SESSION_NAME_LENGTH];
};

struct liveupdate_ioctl_retrieve_session {
  vst_u32 size;
  vst_s32 fd;
  vst_u8 name[VST_LIVEUPDATE_SESSION_NAME_LENGTH];
};

struct liveupdate_session_preserve_fd {
  vst_u32 size;
  vst_s32 fd;
  vst_aligned_u64 token;
};

struct liveupdate_session_retrieve_fd {
  vst_u32 size;
  vst_s32 fd;
  vst_aligned_u64 token;
};

struct liveupdate_session_finish {
  vst_u32 size;
  vst_u32 reserved;
};

struct liveupdate_session_get_name {
  vst_u32 size;
  vst_u32 reserved;
  vst_u8 name[VST_LIVEUPDATE_SESSION_NAME_LENGTH];
};

/* ---- GNU-only and variadic calls (shim.c, compiled with _GNU_SOURCE) ---------------------- */

/* The ioctl choke point: returns the raw result; errno is preserved for the caller. */
int vst_ioctl(int fd, unsigned long request, void *arg);
int vst_ioctl_int(int fd, unsigned long request, unsigned long value);
int vst_memfd_create(const char *name, unsigned int flags);
int vst_eventfd(unsigned int initval, int flags);
int vst_fallocate(int fd, int mode, off_t offset, off_t len);
int vst_errno(void);
/* memmem(3): where needle first occurs in haystack, or NULL. */
const void *vst_memmem(const void *haystack, size_t haystacklen, const void *needle, size_t needlelen);

/*
 * Forks the Live Update holder: a child that keeps exactly the fds in keep[0..nkeep) open until
 * the machine kexecs (closing an outgoing session unpreserves it). The child calls only
 * async-signal-safe functions (setsid, close_range or close, chdir, pause) and never returns; it
 * closes every other fd, stdin/stdout/stderr included, so it holds no pipe or device it was not
 * given: keep[] must be sorted ascending, and the gaps between its fds are closed with one
 * close_range(2) each (without it, one close(2) per fd below maxfd). Returns the child's pid in
 * the parent, or -1 with errno.
 */
int vst_fork_holder(const int *keep, int nkeep, int maxfd);

#if defined(__x86_64__)
/*
 * The kernel's iosubmit_cmds512 (tools/arch/x86/include/asm/io.h): copies count 64-byte units
 * from src to the single MMIO location dst (64-byte aligned), each with one MOVDIR64B. The
 * caller must know the CPU has MOVDIR64B (the C dsa driver does not check either).
 */
void vst_iosubmit_cmds512(void *dst, const void *src, size_t count);
#endif

/*
 * MMIO: exactly one access of the given width (a volatile load or store, like the kernel's
 * readl/writel). Swift has no volatile access; its generic loads and stores of a FixedWidthInteger
 * lower to memcpy, which glibc performs as two overlapping accesses for 4 and 8 bytes, and a
 * device register must see one. `addr` need not be aligned (x86 makes one access either way).
 * Static inline, so that Swift's optimizer inlines them as C's readl/writel are: a call and a
 * return around each access cost the port a quarter of a DMA driver's memcpy under TCG, where
 * every return is an indirect branch (docs/benchmark.md). The volatile pointee types carry
 * aligned(1) so an unaligned address is not UB.
 */
typedef volatile vst_u16 __attribute__((aligned(1))) vst_mmio_u16;
typedef volatile vst_u32 __attribute__((aligned(1))) vst_mmio_u32;
typedef volatile vst_u64 __attribute__((aligned(1))) vst_mmio_u64;

static inline vst_u8 vst_mmio_read8(const void *addr) { return *(const volatile vst_u8 *)addr; }
static inline vst_u16 vst_mmio_read16(const void *addr) { return *(const vst_mmio_u16 *)addr; }
static inline vst_u32 vst_mmio_read32(const void *addr) { return *(const vst_mmio_u32 *)addr; }
static inline vst_u64 vst_mmio_read64(const void *addr) { return *(const vst_mmio_u64 *)addr; }
static inline void vst_mmio_write8(void *addr, vst_u8 value) { *(volatile vst_u8 *)addr = value; }
static inline void vst_mmio_write16(void *addr, vst_u16 value) { *(vst_mmio_u16 *)addr = value; }
static inline void vst_mmio_write32(void *addr, vst_u32 value) { *(vst_mmio_u32 *)addr = value; }
static inline void vst_mmio_write64(void *addr, vst_u64 value) { *(vst_mmio_u64 *)addr = value; }

/*
 * clock_gettime(CLOCK_MONOTONIC) in nanoseconds, inline for the same reason: vfio-bench reads it
 * on both edges of every timed round, as bench.c's now_ns() does. (A Swift wrapper in the syscall
 * layer, @inlinable and @inline(__always), was still a call in vfio-bench's release binary, and
 * its return and the next call's entry fell inside every round; scripts/check-sources.py lets
 * vfio-bench call this one shim function directly.)
 */
#include <time.h>
static inline vst_u64 vst_monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (vst_u64)ts.tv_sec * 1000000000ull + (vst_u64)ts.tv_nsec;
}

#endif
