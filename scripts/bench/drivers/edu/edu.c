// SPDX-License-Identifier: GPL-2.0-only
/*
 * The selftest driver for QEMU's edu device (1234:11e8; QEMU's docs/specs/edu.rst and
 * hw/misc/edu.c) for the benchmark's C libvfio: the port's own C twin of
 * Sources/LibVFIO/Drivers/EDU.swift, for scripts/bench only. The kernel's libvfio has no edu
 * driver; scripts/build-c-selftests.sh --bench copies this file into the benches' libvfio tree
 * (lib/drivers/edu/edu.c) and adds it to libvfio.mk and vfio_pci_driver.c's driver list
 * (libvfio-edu.patch beside it), so the driver_memcpy_*_edu operations compare like with like.
 * The C selftest programs (compare-c.sh, CI) are built from the unpatched tree and never see it.
 *
 * It does what EDU.swift does, register for register and in the same order (see there for why):
 * - BAR 0: 0x00 reads 0xRRrr00ed (probe and init check it), 0x04 reads back the inverse of what
 *   was written (init checks 0 and 0x5aa5c33c).
 * - A memcpy of up to 4095 bytes (max_memcpy_size: edu.c's off-by-one of QEMU issue #1254) is two
 *   DMA transfers through the device's 4 KiB buffer at 0x40000, RAM -> buffer then buffer -> RAM,
 *   each run by a QEMU timer 100 ms of virtual time after the command: memcpy_start programs the
 *   first and returns; memcpy_wait polls the command register (usleep(1000) between reads, 3 s at
 *   most per transfer) and programs the second, and both of each further copy (count at most 64).
 * - IOVAs are masked to 28 bits by the device: memcpy_start asserts both ranges lie below 256 MiB
 *   (the caller allocates them so); a transfer that does not finish in time is -ETIMEDOUT, the only
 *   error the device can show.
 * - MSI vector 0 through VFIO; send_msi raises and acknowledges interrupt 0x10000000.
 * The driver keeps its state (the BAR and the pending copy) in driver.region, as the kernel's
 * drivers do; EDU.swift keeps it in its instance and needs no region.
 */
#include <errno.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include <linux/io.h>
#include <linux/pci_regs.h>

#include <libvfio.h>

#define PCI_VENDOR_ID_QEMU		0x1234
#define PCI_DEVICE_ID_QEMU_EDU		0x11e8

/* BAR 0 registers (edu.rst, "MMIO area spec"). */
#define EDU_IDENTIFICATION		0x00
#define EDU_LIVENESS			0x04
#define EDU_STATUS			0x20
#define EDU_INTERRUPT_RAISE		0x60
#define EDU_INTERRUPT_ACK		0x64
#define EDU_DMA_SOURCE			0x80
#define EDU_DMA_DESTINATION		0x88
#define EDU_DMA_COUNT			0x90
#define EDU_DMA_COMMAND			0x98

/* DMA command register bits. */
#define EDU_DMA_CMD_START		0x1
#define EDU_DMA_CMD_TO_RAM		0x2	/* set: buffer -> RAM; clear: RAM -> buffer */

#define EDU_BUFFER_ADDRESS		0x40000ull
#define EDU_BUFFER_SIZE			4096ull
#define EDU_MAX_TRANSFER		(EDU_BUFFER_SIZE - 1)
#define EDU_DMA_MASK			((1ull << 28) - 1)
#define EDU_MAX_COUNT			64
#define EDU_SELFTEST_INTERRUPT		0x10000000u
#define EDU_MSI_VECTOR			0

#define EDU_TRANSFER_TIMEOUT_NS		(3ull * 1000000000ull)
#define EDU_POLL_INTERVAL_US		1000

struct edu_state {
	void *bar0;

	/* The copies memcpy_start() asked for; the first transfer of the first is running. */
	bool pending;
	u64 src;
	u64 dst;
	u64 size;
	u64 count;
};

static inline struct edu_state *to_edu_state(struct vfio_pci_device *device)
{
	return device->driver.region.vaddr;
}

static inline bool edu_is_identification(u32 value)
{
	return (value & 0xffff) == 0x00ed;
}

/* Whether [iova, iova + size) lies within the device's DMA mask (an empty range does). */
static inline bool edu_dma_range_fits(u64 iova, u64 size)
{
	return size == 0 || (iova <= EDU_DMA_MASK && size - 1 <= EDU_DMA_MASK - iova);
}

static inline u64 edu_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static inline u64 edu_dma_command(struct edu_state *edu)
{
	return readq(edu->bar0 + EDU_DMA_COMMAND);
}

static int edu_probe(struct vfio_pci_device *device)
{
	if (!vfio_pci_device_match(device, PCI_VENDOR_ID_QEMU, PCI_DEVICE_ID_QEMU_EDU))
		return -EINVAL;

	if (!device->bars[0].vaddr)
		return -EINVAL;

	if (!edu_is_identification(readl(device->bars[0].vaddr + EDU_IDENTIFICATION)))
		return -EINVAL;

	return 0;
}

static void edu_start_transfer(struct edu_state *edu, u64 src, u64 dst, u64 size, bool to_ram)
{
	writeq(src, edu->bar0 + EDU_DMA_SOURCE);
	writeq(dst, edu->bar0 + EDU_DMA_DESTINATION);
	writeq(size, edu->bar0 + EDU_DMA_COUNT);
	writeq(EDU_DMA_CMD_START | (to_ram ? EDU_DMA_CMD_TO_RAM : 0), edu->bar0 + EDU_DMA_COMMAND);
}

/* Polls the command register until the running transfer is done, up to the timeout. */
static bool edu_wait_for_engine(struct edu_state *edu)
{
	u64 deadline = edu_now_ns() + EDU_TRANSFER_TIMEOUT_NS;

	while (edu_dma_command(edu) & EDU_DMA_CMD_START) {
		if (edu_now_ns() >= deadline)
			return !(edu_dma_command(edu) & EDU_DMA_CMD_START);
		usleep(EDU_POLL_INTERVAL_US);
	}
	return true;
}

/* Whether the transfer finished in time; if not, says which. */
static bool edu_transfer_done(struct vfio_pci_device *device, bool to_ram, u64 size,
			      u64 iova, u64 copy, u64 count)
{
	struct edu_state *edu = to_edu_state(device);

	if (edu_wait_for_engine(edu))
		return true;

	dev_err(device, "edu: DMA %s, 0x%llx bytes %s IOVA 0x%llx, copy %llu of %llu not done after 3 s (command register 0x%llx)\n",
		to_ram ? "edu -> RAM" : "RAM -> edu", (unsigned long long)size, to_ram ? "to" : "from",
		(unsigned long long)iova, (unsigned long long)copy, (unsigned long long)count,
		(unsigned long long)edu_dma_command(edu));
	return false;
}

/*
 * Checks the identification and liveness registers, turns on memory decoding and bus mastering
 * (INTx off), waits for a transfer left running, clears the interrupt state and enables MSI
 * vector 0 through VFIO.
 */
static void edu_init(struct vfio_pci_device *device)
{
	struct edu_state *edu = to_edu_state(device);
	const u32 patterns[] = { 0x00000000, 0x5aa5c33c };
	u32 id, read;
	int i;

	VFIO_ASSERT_GE(device->driver.region.size, sizeof(*edu));
	VFIO_ASSERT_NOT_NULL(device->bars[0].vaddr, "edu %s: BAR 0 is not mapped\n", device->bdf);
	edu->bar0 = device->bars[0].vaddr;
	edu->pending = false;

	id = readl(edu->bar0 + EDU_IDENTIFICATION);
	VFIO_ASSERT_TRUE(edu_is_identification(id),
			 "edu %s: identification register reads 0x%x, expected 0xRRrr00ed\n", device->bdf, id);
	for (i = 0; i < ARRAY_SIZE(patterns); i++) {
		writel(patterns[i], edu->bar0 + EDU_LIVENESS);
		read = readl(edu->bar0 + EDU_LIVENESS);
		VFIO_ASSERT_EQ(read, ~patterns[i], "edu %s: liveness register: wrote 0x%x\n",
			       device->bdf, patterns[i]);
	}

	vfio_pci_cmd_set(device, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
	VFIO_ASSERT_TRUE(edu_wait_for_engine(edu), "edu %s: init: DMA transfer still running after 3 s\n",
			 device->bdf);
	writel(0, edu->bar0 + EDU_STATUS);	/* no interrupt after a factorial */
	writel(0xffffffff, edu->bar0 + EDU_INTERRUPT_ACK);

	VFIO_ASSERT_GE(device->msi_info.count, 1, "edu %s: no MSI vector\n", device->bdf);
	vfio_pci_msi_enable(device, EDU_MSI_VECTOR, 1);

	device->driver.max_memcpy_size = EDU_MAX_TRANSFER;
	device->driver.max_memcpy_count = EDU_MAX_COUNT;
	device->driver.msi = EDU_MSI_VECTOR;
}

/* Waits for a running transfer, clears the interrupt state, disables MSI and bus mastering. */
static void edu_remove(struct vfio_pci_device *device)
{
	struct edu_state *edu = to_edu_state(device);
	bool idle;

	edu->pending = false;
	idle = edu_wait_for_engine(edu);
	writel(0xffffffff, edu->bar0 + EDU_INTERRUPT_ACK);
	vfio_pci_msi_disable(device);
	vfio_pci_cmd_clear(device, PCI_COMMAND_MASTER);
	VFIO_ASSERT_TRUE(idle, "edu %s: remove: DMA transfer still running after 3 s\n", device->bdf);
}

/* Checks the request, starts the RAM -> buffer transfer of the first copy, and returns. */
static void edu_memcpy_start(struct vfio_pci_device *device,
			     iova_t src, iova_t dst, u64 size, u64 count)
{
	struct edu_state *edu = to_edu_state(device);
	u64 command;

	VFIO_ASSERT_TRUE(size > 0 && size <= EDU_MAX_TRANSFER,
			 "edu %s: copy of %llu bytes: the DMA buffer takes 1 to %llu\n", device->bdf,
			 (unsigned long long)size, EDU_MAX_TRANSFER);
	VFIO_ASSERT_TRUE(edu_dma_range_fits(src, size),
			 "edu %s: source IOVA 0x%llx is beyond the DMA mask 0x%llx\n", device->bdf,
			 (unsigned long long)src, EDU_DMA_MASK);
	VFIO_ASSERT_TRUE(edu_dma_range_fits(dst, size),
			 "edu %s: destination IOVA 0x%llx is beyond the DMA mask 0x%llx\n", device->bdf,
			 (unsigned long long)dst, EDU_DMA_MASK);
	command = edu_dma_command(edu);
	VFIO_ASSERT_FALSE(command & EDU_DMA_CMD_START,
			  "edu %s: memcpy_start: DMA transfer still running (command register 0x%llx)\n",
			  device->bdf, (unsigned long long)command);

	edu->pending = true;
	edu->src = src;
	edu->dst = dst;
	edu->size = size;
	edu->count = count;
	if (count > 0)
		edu_start_transfer(edu, src, EDU_BUFFER_ADDRESS, size, false);
}

/* Runs the pending copies one transfer at a time; -ETIMEDOUT when one does not finish in time. */
static int edu_memcpy_wait(struct vfio_pci_device *device)
{
	struct edu_state *edu = to_edu_state(device);
	u64 i;

	if (!edu->pending)
		return 0;
	edu->pending = false;

	for (i = 0; i < edu->count; i++) {
		if (i > 0)
			edu_start_transfer(edu, edu->src, EDU_BUFFER_ADDRESS, edu->size, false);
		if (!edu_transfer_done(device, false, edu->size, edu->src, i + 1, edu->count))
			return -ETIMEDOUT;
		edu_start_transfer(edu, EDU_BUFFER_ADDRESS, edu->dst, edu->size, true);
		if (!edu_transfer_done(device, true, edu->size, edu->dst, i + 1, edu->count))
			return -ETIMEDOUT;
	}
	return 0;
}

/* Raises the selftest's interrupt (one MSI, sent as the register is written) and acknowledges it. */
static void edu_send_msi(struct vfio_pci_device *device)
{
	struct edu_state *edu = to_edu_state(device);

	writel(EDU_SELFTEST_INTERRUPT, edu->bar0 + EDU_INTERRUPT_RAISE);
	writel(EDU_SELFTEST_INTERRUPT, edu->bar0 + EDU_INTERRUPT_ACK);
}

const struct vfio_pci_driver_ops edu_ops = {
	.name = "edu",
	.probe = edu_probe,
	.init = edu_init,
	.remove = edu_remove,
	.memcpy_start = edu_memcpy_start,
	.memcpy_wait = edu_memcpy_wait,
	.send_msi = edu_send_msi,
};
