// SPDX-License-Identifier: GPL-2.0-only
/*
 * bench: times the C selftest library (tools/testing/selftests/vfio/lib, the "libvfio" of
 * Linux 7.3, and the liveupdate selftests' lu_utils.c) on the operations that
 * Sources/vfio-bench/main.swift times through the Swift port. Built by scripts/bench/Makefile
 * against the libvfio objects of linux-source-7.3 with the selftests' own CFLAGS.
 *
 * Usage: bench [-d BDF] [-D BDF] [-E BDF] [-s DIVISOR] [-n ROUNDS] [-f SUBSTRING] [-l]
 *   -d BDF       device bound to vfio-pci (default $VFIO_SELFTESTS_BDF, else 0000:00:03.0)
 *   -D BDF       a device with a selftest DMA driver (igb), for driver_memcpy_64b and
 *                driver_memcpy_max (default $BENCH_DRIVER_BDF; unset: those two skip)
 *   -E BDF       QEMU's edu device, for driver_memcpy_64b_edu and driver_memcpy_max_edu
 *                (default $BENCH_EDU_BDF; unset: those two skip), through the benches' own
 *                edu driver (scripts/bench/drivers/edu/edu.c, the C twin of EDU.swift)
 *   -s DIVISOR   divide every round count by DIVISOR (20 for a CI smoke run); at least 5 rounds
 *                (the edu operations, whose round is ~200 ms of QEMU's clock: 3 rounds, 1 with
 *                a divisor)
 *   -n ROUNDS    exactly ROUNDS rounds for every operation (a batch of scripts/guest/bench.sh's
 *                interleaved runs); first_init: always 1
 *   -f NAME      only operation NAME; when no operation has that name, those containing it
 *   -l           list the operations' names and their default round counts, run nothing
 *   -P PREFIX    luo_retrieve_memfd's session names; with -p A (stage 1: preserve them for A
 *                alternations, or with -q K for alternation K alone, and hold them until the
 *                kexec), -a K (stage 2: time alternation K)
 *                or -c A (stage 2: retrieve and finish those left): see luo_prepare()
 * Output, one line per operation (stdout):  op<TAB>rounds<TAB>min_ns<TAB>median_ns<TAB>max_ns
 * or, when the operation cannot run here:   op<TAB>SKIP<TAB>reason
 * (run_one_test prints a second line, run_one_test_to_ktap, from the same rounds: see there.)
 * Each round is timed alone with clock_gettime(CLOCK_MONOTONIC); one untimed warm-up round
 * comes first, except for first_init:MODE, whose one round is the first device init of a
 * process (the operation's child is a fresh fork of this small program). Every operation runs
 * in a forked child: libvfio exits on any failure (VFIO_ASSERT), and an IOMMU mode the kernel
 * lacks must only skip that operation.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <libgen.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libvfio.h>
#include <libliveupdate.h>

static const char *bdf;
/* The DMA-capable device of the driver_memcpy operations (-D; $BENCH_DRIVER_BDF). */
static const char *driver_bdf;
/* QEMU's edu device of the driver_memcpy_*_edu operations (-E; $BENCH_EDU_BDF). */
static const char *edu_bdf;
/* The edu device masks DMA addresses to 28 bits (EDU.swift's dmaMask). */
#define EDU_DMA_MASK ((1ull << 28) - 1)
static const char *modes[] = {
	"vfio_type1_iommu", "vfio_type1v2_iommu", "iommufd_compat_type1",
	"iommufd_compat_type1v2", "iommufd",
};
#define NMODES (sizeof(modes) / sizeof(modes[0]))

enum op_kind { OP_INIT, OP_FIRST_INIT, OP_MAP, OP_CONFIG, OP_LUO, OP_MEMCPY, OP_RUN_ONE_TEST, OP_LUO_RETRIEVE, OP_INIT_FROM_FD };

struct op {
	char name[96];
	enum op_kind kind;
	const char *mode;
	size_t map_size;
	long rounds;
	/* OP_MEMCPY on the edu device (edu_bdf) instead of driver_bdf's igb. */
	bool edu;
};

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void report(const char *name, uint64_t *t, long n)
{
	qsort(t, n, sizeof(*t), cmp_u64);
	printf("%s\t%ld\t%llu\t%llu\t%llu\n", name, n, (unsigned long long)t[0],
	       (unsigned long long)t[(n - 1) / 2], (unsigned long long)t[n - 1]);
	fflush(stdout);
}

static void run_init(struct op *op, uint64_t *t)
{
	for (long i = op->kind == OP_FIRST_INIT ? 0 : -1; i < op->rounds; i++) {
		uint64_t t0 = now_ns();
		struct iommu *iommu = iommu_init(op->mode);
		struct vfio_pci_device *device = vfio_pci_device_init(bdf, iommu);

		vfio_pci_device_cleanup(device);
		iommu_cleanup(iommu);
		if (i >= 0)
			t[i] = now_ns() - t0;
	}
}

/*
 * init_from_fd:iommufd: iommu_init + the VFIO Live Update series' __vfio_pci_device_init(bdf,
 * iommu, fd) from a cdev fd opened beforehand (untimed: open(/dev/vfio/devices/vfioN) each
 * round) + vfio_pci_device_cleanup (which closes the fd) + iommu_cleanup. libvfio has that entry
 * point with the series' patch 0015 applied (scripts/build-c-selftests.sh --bench builds the
 * bench's libvfio so).
 */
static void run_init_from_fd(struct op *op, uint64_t *t)
{
	const char *cdev_path = vfio_pci_get_cdev_path(bdf);

	for (long i = -1; i < op->rounds; i++) {
		int fd = open(cdev_path, O_RDWR);
		uint64_t t0;

		VFIO_ASSERT_GE(fd, 0, "open(%s)", cdev_path);
		t0 = now_ns();
		struct iommu *iommu = iommu_init(op->mode);
		struct vfio_pci_device *device = __vfio_pci_device_init(bdf, iommu, fd);

		vfio_pci_device_cleanup(device);
		iommu_cleanup(iommu);
		if (i >= 0)
			t[i] = now_ns() - t0;
	}
	free((void *)cdev_path);
}

/*
 * BENCH_PAGEMAP=1 (diagnostics): after the warm-up round, how many physically contiguous runs
 * the pinned buffer is made of (/proc/self/pagemap; needs root). The IOMMU maps each run with
 * one call, so a fragmented buffer costs more IOMMU map calls and invalidations.
 */
static void pagemap_report(const char *name, void *vaddr, size_t size)
{
	uint64_t prev = 0, e;
	long runs = 0, pages = size / 4096;
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd < 0)
		return;
	for (long i = 0; i < pages; i++) {
		uintptr_t va = (uintptr_t)vaddr + i * 4096;

		if (pread(fd, &e, 8, va / 4096 * 8) != 8)
			break;
		e &= (1ull << 55) - 1;
		if (i == 0 || e != prev + 1)
			runs++;
		prev = e;
	}
	close(fd);
	fprintf(stderr, "pagemap %s: %ld pages in %ld physically contiguous runs\n",
		name, pages, runs);
}

static void run_map(struct op *op, uint64_t *t)
{
	struct iommu *iommu = iommu_init(op->mode);
	struct vfio_pci_device *device = vfio_pci_device_init(bdf, iommu);
	struct iova_allocator *allocator = iova_allocator_init(iommu);
	struct dma_region region;

	region.vaddr = mmap(NULL, op->map_size, PROT_READ | PROT_WRITE,
			    MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	VFIO_ASSERT_NE(region.vaddr, MAP_FAILED);
	region.iova = iova_allocator_alloc(allocator, op->map_size);
	region.size = op->map_size;

	for (long i = -1; i < op->rounds; i++) {
		uint64_t t0 = now_ns();

		iommu_map(iommu, &region);
		iommu_unmap(iommu, &region);
		if (i >= 0)
			t[i] = now_ns() - t0;
		else if (getenv("BENCH_PAGEMAP"))
			pagemap_report(op->name, region.vaddr, op->map_size);
	}
	munmap(region.vaddr, op->map_size);
	iova_allocator_cleanup(allocator);
	vfio_pci_device_cleanup(device);
	iommu_cleanup(iommu);
}

static void run_config(struct op *op, uint64_t *t)
{
	struct iommu *iommu = iommu_init(op->mode);
	struct vfio_pci_device *device = vfio_pci_device_init(bdf, iommu);
	volatile u16 vendor = 0;

	for (long i = -1; i < op->rounds; i++) {
		uint64_t t0 = now_ns();

		vendor = vfio_pci_config_readw(device, PCI_VENDOR_ID);
		if (i >= 0)
			t[i] = now_ns() - t0;
	}
	VFIO_ASSERT_NE(vendor, 0xffff);
	vfio_pci_device_cleanup(device);
	iommu_cleanup(iommu);
}

static void run_luo(struct op *op, uint64_t *t)
{
	int luo_fd = luo_open_device();

	if (luo_fd < 0) {
		fprintf(stderr, "open(%s): %s\n", LUO_DEVICE, strerror(errno));
		exit(4);
	}
	for (long i = -1; i < op->rounds; i++) {
		uint64_t t0 = now_ns();
		int session_fd = luo_create_session(luo_fd, "vfio-bench");

		if (session_fd < 0) {
			fprintf(stderr, "luo_create_session: %s\n", strerror(-session_fd));
			exit(1);
		}
		if (create_and_preserve_memfd(session_fd, 1, "vfio-bench") < 0) {
			fprintf(stderr, "create_and_preserve_memfd: %s\n", strerror(errno));
			exit(1);
		}
		close(session_fd);
		if (i >= 0)
			t[i] = now_ns() - t0;
	}
	close(luo_fd);
}

/*
 * driver_memcpy_64b / driver_memcpy_max: one vfio_pci_driver_memcpy() (start + wait) of 64 bytes,
 * or of the driver's max_memcpy_size, between two halves of a mapped buffer, as
 * vfio_pci_driver_test sets the driver up (a 2 MiB driver region, MAP_SHARED anonymous memory).
 * map_size 0 means the driver's max_memcpy_size.
 * driver_memcpy_64b_edu / driver_memcpy_max_edu: the same on QEMU's edu device (op->edu) through
 * the benches' edu driver (max_memcpy_size 4095: two DMA transfers, each ~100 ms of QEMU's
 * clock); its IOVAs must lie below the device's 28-bit DMA mask, as the port's IOVAAllocator
 * (dmaMask:) allocates them: libvfio's allocator has no mask but hands the lowest IOVAs out
 * first, which is checked.
 */
static void run_memcpy(struct op *op, uint64_t *t)
{
	const char *dev_bdf = op->edu ? edu_bdf : driver_bdf;
	struct iommu *iommu = iommu_init(op->mode);
	struct vfio_pci_device *device = vfio_pci_device_init(dev_bdf, iommu);
	struct iova_allocator *allocator = iova_allocator_init(iommu);
	struct vfio_pci_driver *driver = &device->driver;
	struct dma_region mem;
	u64 size;

	VFIO_ASSERT_NOT_NULL(driver->ops, "No driver found for %s", dev_bdf);
	if (op->edu)
		VFIO_ASSERT_EQ(strcmp(driver->ops->name, "edu"), 0, "the driver found for %s is %s, not edu",
			       dev_bdf, driver->ops->name);
	mem.size = 2 << 20;
	mem.vaddr = mmap(NULL, mem.size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	VFIO_ASSERT_NE(mem.vaddr, MAP_FAILED);
	mem.iova = iova_allocator_alloc(allocator, mem.size);
	iommu_map(iommu, &mem);
	driver->region.size = 2 << 20;
	driver->region.vaddr = mmap(NULL, driver->region.size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	VFIO_ASSERT_NE(driver->region.vaddr, MAP_FAILED);
	driver->region.iova = iova_allocator_alloc(allocator, driver->region.size);
	if (op->edu) {
		VFIO_ASSERT_LE(mem.iova + mem.size - 1, EDU_DMA_MASK, "IOVA 0x%llx is beyond edu's DMA mask",
			       (unsigned long long)mem.iova);
		VFIO_ASSERT_LE(driver->region.iova + driver->region.size - 1, EDU_DMA_MASK,
			       "IOVA 0x%llx is beyond edu's DMA mask", (unsigned long long)driver->region.iova);
	}
	iommu_map(iommu, &driver->region);
	vfio_pci_driver_init(device);
	size = op->map_size ? op->map_size : driver->max_memcpy_size;
	VFIO_ASSERT_LE(size, mem.size / 2);
	memset(mem.vaddr, 0xa5, size);
	for (long i = -1; i < op->rounds; i++) {
		uint64_t t0 = now_ns();

		VFIO_ASSERT_EQ(vfio_pci_driver_memcpy(device, mem.iova, mem.iova + mem.size / 2, size), 0);
		if (i >= 0)
			t[i] = now_ns() - t0;
	}
	VFIO_ASSERT_EQ(memcmp(mem.vaddr, (char *)mem.vaddr + mem.size / 2, size), 0);
	vfio_pci_driver_remove(device);
	iommu_unmap(iommu, &driver->region);
	iommu_unmap(iommu, &mem);
	munmap(driver->region.vaddr, driver->region.size);
	munmap(mem.vaddr, mem.size);
	iova_allocator_cleanup(allocator);
	vfio_pci_device_cleanup(device);
	iommu_cleanup(iommu);
}

/*
 * run_one_test: one C selftest program running one test, as a user runs it:
 * <dir of this executable>/selftests/vfio_pci_device_test -r vfio_pci_device_test.config_space_read_write BDF
 * (the kselftest harness's "-r FIXTURE.TEST"; the default iommu mode, iommufd). A round is
 * posix_spawn() to waitpid() (the line "run_one_test"); beside it, "run_one_test_to_ktap" is the
 * time from the same launch to the moment its top-level KTAP result line ("ok N ..." or
 * "not ok N ...") is read from its stdout (a pipe). A round whose line is not "ok" fails the op.
 * vfio-bench does the same with `vfio-selftests run` of the same test.
 */
extern char **environ;
static const char run_one_test_prog[] = "vfio_pci_device_test";
static const char run_one_test_name[] = "vfio_pci_device_test.config_space_read_write";

static uint64_t *run_one_test_ktap;

static void run_one_test(struct op *op, uint64_t *t)
{
	char exe[PATH_MAX], prog[PATH_MAX + 64];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0) {
		fprintf(stderr, "readlink(/proc/self/exe): %s\n", strerror(errno));
		exit(1);
	}
	exe[n] = 0;
	snprintf(prog, sizeof(prog), "%s/selftests/%s", dirname(exe), run_one_test_prog);
	if (access(prog, X_OK)) {
		fprintf(stderr, "no C selftest program %s (scripts/build-c-selftests.sh --bench puts it there)\n", prog);
		exit(4);
	}
	run_one_test_ktap = calloc(op->rounds, sizeof(uint64_t));
	for (long i = -1; i < op->rounds; i++) {
		char *argv[] = { prog, "-r", (char *)run_one_test_name, (char *)bdf, NULL };
		posix_spawn_file_actions_t fa;
		char buf[8192], line[512];
		size_t len = 0;
		uint64_t t0, t_line = 0;
		int pfd[2], status;
		int ok = 0, result = 0;
		pid_t pid;

		/* From the pipe's creation on, as vfio-bench (Syscalls.spawnWithStdoutPipe). */
		t0 = now_ns();
		VFIO_ASSERT_EQ(pipe2(pfd, O_CLOEXEC), 0);
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_adddup2(&fa, pfd[1], STDOUT_FILENO);
		posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
		VFIO_ASSERT_EQ(posix_spawn(&pid, prog, &fa, NULL, argv, environ), 0);
		close(pfd[1]);
		posix_spawn_file_actions_destroy(&fa);
		while ((n = read(pfd[0], buf, sizeof(buf))) > 0) {
			for (ssize_t j = 0; j < n; j++) {
				if (buf[j] != '\n') {
					if (len < sizeof(line) - 1)
						line[len++] = buf[j];
					continue;
				}
				line[len] = 0;
				len = 0;
				if (!result && (!strncmp(line, "ok ", 3) || !strncmp(line, "not ok ", 7))) {
					t_line = now_ns() - t0;
					result = 1;
					ok = line[0] == 'o';
					if (!ok)
						fprintf(stderr, "%s: %s\n", run_one_test_prog, line);
				}
			}
		}
		close(pfd[0]);
		VFIO_ASSERT_EQ(waitpid(pid, &status, 0), pid);
		if (i >= 0) {
			t[i] = now_ns() - t0;
			run_one_test_ktap[i] = t_line;
		}
		if (!result || !ok || !WIFEXITED(status) || WEXITSTATUS(status)) {
			fprintf(stderr, "%s -r %s: %s, exit status %d\n", run_one_test_prog, run_one_test_name,
				!result ? "no KTAP result line" : ok ? "ok" : "not ok", status);
			exit(1);
		}
	}
}

/*
 * luo_retrieve_memfd: a Live Update session and its memfd retrieved after a kexec. A session
 * can only be retrieved in the boot after the kexec that preserved it, so this op has three
 * modes (scripts/guest/bench.sh drives them across a two-stage boot):
 *   -p A -P PREFIX  (stage 1, untimed) creates sessions PREFIX-K-I for K in 1..A (with -q K,
 *                   for that K alone: bench.sh preserves the sides' sessions alternation by
 *                   alternation, in the order stage 2 retrieves them, because the kernel finds
 *                   a session by walking its list of incoming sessions), I in
 *                   0..rounds (I = 0: the warm-up round), each with one memfd (token 1) holding
 *                   its own name (create_and_preserve_memfd), and keeps them open until the kexec
 *                   in a daemon (lu_utils's daemonize_and_wait, after closing /dev/liveupdate,
 *                   as the luo_* tests do); prints nothing on stdout but the daemon's messages;
 *   -a K -P PREFIX  (stage 2, timed) a round is luo_retrieve_session(PREFIX-K-I) +
 *                   restore_and_verify_memfd(token 1, the name) + close + luo_session_finish +
 *                   close;
 *   -c A -P PREFIX  (stage 2, after the timed runs) retrieves and finishes whatever sessions
 *                   PREFIX-K-I are left (alternations never run), so none outlives the bench.
 * Without -P it skips: there is nothing to retrieve in a boot no stage 1 prepared.
 */
static const char *luo_prefix;
static long luo_prepare_alts, luo_prepare_only, luo_alt, luo_drain_alts;
static const char luo_retrieve_skip[] =
	"needs the sessions a stage-1 run preserved before a kexec (scripts/guest/bench.sh in a two-stage boot)";

static void luo_name(char *buf, size_t n, long k, long i)
{
	snprintf(buf, n, "%s-%ld-%ld", luo_prefix, k, i);
}

static int luo_open_or_die(void)
{
	int luo_fd = luo_open_device();

	if (luo_fd < 0) {
		fprintf(stderr, "open(%s): %s\n", LUO_DEVICE, strerror(errno));
		exit(4);
	}
	return luo_fd;
}

static void luo_prepare(long alts, long rounds)
{
	char name[LIVEUPDATE_SESSION_NAME_LENGTH];
	long first = luo_prepare_only ? luo_prepare_only : 1, last = luo_prepare_only ? luo_prepare_only : alts;
	long count = (last - first + 1) * (rounds + 1);
	int r, luo_fd;

	r = luo_ensure_nofile_limit(count);
	if (r < 0) {
		fprintf(stderr, "luo_ensure_nofile_limit(%ld): %s\n", count, strerror(-r));
		exit(1);
	}
	luo_fd = luo_open_or_die();
	for (long k = first; k <= last; k++) {
		for (long i = 0; i <= rounds; i++) {
			int session_fd;

			luo_name(name, sizeof(name), k, i);
			session_fd = luo_create_session(luo_fd, name);
			if (session_fd < 0) {
				fprintf(stderr, "luo_create_session(%s): %s\n", name, strerror(-session_fd));
				exit(1);
			}
			r = create_and_preserve_memfd(session_fd, 1, name);
			if (r < 0) {
				fprintf(stderr, "create_and_preserve_memfd(%s): %s\n", name, strerror(-r));
				exit(1);
			}
			/* Kept open: closing an outgoing session unpreserves it. */
		}
	}
	close(luo_fd);
	fprintf(stderr, "%s: %ld sessions preserved\n", luo_prefix, count);
	fflush(stdout);
	daemonize_and_wait();
}

/* restore_and_verify_memfd + close + luo_session_finish + close of a retrieved session. */
static void luo_finish_one(int session_fd, const char *name)
{
	int mfd, r;

	mfd = restore_and_verify_memfd(session_fd, 1, name);
	if (mfd < 0) {
		fprintf(stderr, "restore_and_verify_memfd(%s): %s\n", name, strerror(-mfd));
		exit(1);
	}
	close(mfd);
	r = luo_session_finish(session_fd);
	if (r < 0) {
		fprintf(stderr, "luo_session_finish(%s): %s\n", name, strerror(-r));
		exit(1);
	}
	close(session_fd);
}

static void luo_retrieve_one(int luo_fd, const char *name)
{
	int session_fd = luo_retrieve_session(luo_fd, name);

	if (session_fd < 0) {
		fprintf(stderr, "luo_retrieve_session(%s): %s\n", name, strerror(-session_fd));
		exit(1);
	}
	luo_finish_one(session_fd, name);
}

static void run_luo_retrieve(struct op *op, uint64_t *t)
{
	char name[LIVEUPDATE_SESSION_NAME_LENGTH];
	int luo_fd = luo_open_or_die();

	for (long i = -1; i < op->rounds; i++) {
		uint64_t t0;

		luo_name(name, sizeof(name), luo_alt, i + 1);
		t0 = now_ns();
		luo_retrieve_one(luo_fd, name);
		if (i >= 0)
			t[i] = now_ns() - t0;
	}
	close(luo_fd);
}

static void luo_drain(long alts, long rounds)
{
	char name[LIVEUPDATE_SESSION_NAME_LENGTH];
	int luo_fd = luo_open_or_die();
	long n = 0;

	for (long k = 1; k <= alts; k++) {
		for (long i = 0; i <= rounds; i++) {
			int session_fd;

			luo_name(name, sizeof(name), k, i);
			session_fd = luo_retrieve_session(luo_fd, name);
			if (session_fd == -ENOENT)
				continue;
			if (session_fd < 0) {
				fprintf(stderr, "luo_retrieve_session(%s): %s\n", name, strerror(-session_fd));
				exit(1);
			}
			luo_finish_one(session_fd, name);
			n++;
		}
	}
	close(luo_fd);
	fprintf(stderr, "%s: %ld sessions left over, retrieved and finished\n", luo_prefix, n);
}

/* Runs op in a child; its stderr comes back through a pipe (last line = the skip reason). */
static int run_op(struct op *op)
{
	int pfd[2], status;
	char err[4096];
	size_t len = 0;
	ssize_t n;
	pid_t pid;

	if (op->kind == OP_MEMCPY && op->edu && !edu_bdf) {
		printf("%s\tSKIP\tno edu device (-E BDF or BENCH_EDU_BDF: scripts/bench.sh boots QEMU's edu at 0000:00:04.0)\n",
		       op->name);
		fflush(stdout);
		return 0;
	}
	if (op->kind == OP_MEMCPY && !op->edu && !driver_bdf) {
		printf("%s\tSKIP\tno DMA-capable device (-D BDF or BENCH_DRIVER_BDF: scripts/bench.sh boots an igb at 0000:00:06.0)\n",
		       op->name);
		fflush(stdout);
		return 0;
	}
	if ((op->kind == OP_LUO || op->kind == OP_LUO_RETRIEVE) && access(LUO_DEVICE, F_OK) != 0) {
		printf("%s\tSKIP\tno %s (kernel without LUO, or booted without liveupdate=on)\n",
		       op->name, LUO_DEVICE);
		fflush(stdout);
		return 0;
	}
	if (op->kind == OP_LUO_RETRIEVE && !luo_prefix) {
		printf("%s\tSKIP\t%s\n", op->name, luo_retrieve_skip);
		fflush(stdout);
		return 0;
	}
	if (op->kind == OP_LUO_RETRIEVE && (luo_prepare_alts || luo_drain_alts)) {
		/* Stage 1's preparation or stage 2's drain: no timing, no result line; exit status. */
		fflush(stdout);
		pid = fork();
		if (pid < 0)
			return -1;
		if (pid == 0) {
			if (luo_prepare_alts)
				luo_prepare(luo_prepare_alts, op->rounds);
			else
				luo_drain(luo_drain_alts, op->rounds);
			_exit(0);
		}
		waitpid(pid, &status, 0);
		return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
	}
	if (pipe(pfd))
		return -1;
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		uint64_t *t = calloc(op->rounds, sizeof(*t));

		close(pfd[0]);
		dup2(pfd[1], STDERR_FILENO);
		/* libvfio prints progress on stdout (dev_info): keep stdout for results only. */
		int devnull = open("/dev/null", O_WRONLY);
		int out = dup(STDOUT_FILENO);

		dup2(devnull, STDOUT_FILENO);
		switch (op->kind) {
		case OP_INIT:
		case OP_FIRST_INIT: run_init(op, t); break;
		case OP_MAP: run_map(op, t); break;
		case OP_CONFIG: run_config(op, t); break;
		case OP_LUO: run_luo(op, t); break;
		case OP_MEMCPY: run_memcpy(op, t); break;
		case OP_RUN_ONE_TEST: run_one_test(op, t); break;
		case OP_LUO_RETRIEVE: run_luo_retrieve(op, t); break;
		case OP_INIT_FROM_FD: run_init_from_fd(op, t); break;
		}
		fflush(stdout);
		dup2(out, STDOUT_FILENO);
		report(op->name, t, op->rounds);
		if (op->kind == OP_RUN_ONE_TEST)
			report("run_one_test_to_ktap", run_one_test_ktap, op->rounds);
		_exit(0);
	}
	close(pfd[1]);
	while ((n = read(pfd[0], err + len, sizeof(err) - 1 - len)) > 0) {
		len += n;
		if (len == sizeof(err) - 1) { /* keep the tail */
			memmove(err, err + len / 2, len - len / 2);
			len -= len / 2;
		}
	}
	err[len] = 0;
	close(pfd[0]);
	waitpid(pid, &status, 0);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		fputs(err, stderr);
		return 0;
	}
	fputs(err, stderr);
	/* The reason: the last non-empty line of the child's stderr, tabs flattened. */
	while (len && (err[len - 1] == '\n' || err[len - 1] == ' '))
		err[--len] = 0;
	char *reason = strrchr(err, '\n');

	reason = reason ? reason + 1 : err;
	for (char *c = reason; *c; c++)
		if (*c == '\t')
			*c = ' ';
	if (!*reason)
		reason = "child failed";
	printf("%s\tSKIP\t%s (exit %d)\n", op->name, reason,
	       WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	fflush(stdout);
	return 1;
}

int main(int argc, char **argv)
{
	long divisor = 1, exact_rounds = 0;
	const char *filter = NULL;
	struct op ops[4 * NMODES + 14];
	int nops = 0, c, list = 0;

	bdf = getenv("VFIO_SELFTESTS_BDF");
	if (!bdf || !*bdf)
		bdf = "0000:00:03.0";
	driver_bdf = getenv("BENCH_DRIVER_BDF");
	if (driver_bdf && !*driver_bdf)
		driver_bdf = NULL;
	edu_bdf = getenv("BENCH_EDU_BDF");
	if (edu_bdf && !*edu_bdf)
		edu_bdf = NULL;
	while ((c = getopt(argc, argv, "d:D:E:s:n:f:P:p:q:a:c:lh")) != -1) {
		switch (c) {
		case 'd': bdf = optarg; break;
		case 'D': driver_bdf = optarg; break;
		case 'E': edu_bdf = optarg; break;
		case 's': divisor = strtol(optarg, NULL, 10); break;
		case 'n': exact_rounds = strtol(optarg, NULL, 10); break;
		case 'f': filter = optarg; break;
		case 'P': luo_prefix = optarg; break;
		case 'p': luo_prepare_alts = strtol(optarg, NULL, 10); break;
		case 'q': luo_prepare_only = strtol(optarg, NULL, 10); break;
		case 'a': luo_alt = strtol(optarg, NULL, 10); break;
		case 'c': luo_drain_alts = strtol(optarg, NULL, 10); break;
		case 'l': list = 1; break;
		default:
			fprintf(stderr, "usage: %s [-d BDF] [-D BDF] [-E BDF] [-s DIVISOR] [-n ROUNDS] [-f NAME] [-P PREFIX [-p A [-q K] | -a K | -c A]] [-l]\n", argv[0]);
			return c == 'h' ? 0 : 2;
		}
	}
	if (divisor < 1)
		divisor = 1;
	if ((luo_prepare_alts || luo_drain_alts || luo_alt) && !luo_prefix) {
		fprintf(stderr, "-p, -a and -c need -P PREFIX\n");
		return 2;
	}
	if (luo_prefix && !luo_alt)
		luo_alt = 1;
#define ROUNDS(n) (exact_rounds > 0 ? exact_rounds : (n) / divisor < 5 ? 5 : (n) / divisor)
/* The edu memcpy's round is two DMA transfers of ~100 ms of QEMU's clock each: few rounds, 1 for -s. */
#define EDU_ROUNDS(n) (exact_rounds > 0 ? exact_rounds : divisor > 1 ? 1 : (n))
	for (size_t m = 0; m < NMODES; m++) {
		ops[nops] = (struct op){ .kind = OP_FIRST_INIT, .mode = modes[m], .rounds = 1 };
		snprintf(ops[nops].name, sizeof(ops[nops].name), "first_init:%s", modes[m]);
		nops++;
	}
	for (size_t m = 0; m < NMODES; m++) {
		ops[nops] = (struct op){ .kind = OP_INIT, .mode = modes[m], .rounds = ROUNDS(100) };
		snprintf(ops[nops].name, sizeof(ops[nops].name), "init_cleanup:%s", modes[m]);
		nops++;
	}
	/* The series' entry point takes a cdev fd in iommufd mode only (it asserts fd == -1 otherwise). */
	ops[nops] = (struct op){ .name = "init_from_fd:iommufd", .kind = OP_INIT_FROM_FD, .mode = "iommufd", .rounds = ROUNDS(100) };
	nops++;
	for (size_t m = 0; m < NMODES; m++) {
		ops[nops] = (struct op){ .kind = OP_MAP, .mode = modes[m], .map_size = 4096, .rounds = ROUNDS(10000) };
		snprintf(ops[nops].name, sizeof(ops[nops].name), "dma_map_unmap_4k:%s", modes[m]);
		nops++;
	}
	for (size_t m = 0; m < NMODES; m++) {
		ops[nops] = (struct op){ .kind = OP_MAP, .mode = modes[m], .map_size = 2 << 20, .rounds = ROUNDS(1000) };
		snprintf(ops[nops].name, sizeof(ops[nops].name), "dma_map_unmap_2m:%s", modes[m]);
		nops++;
	}
	ops[nops] = (struct op){ .name = "config_read_vendor:iommufd", .kind = OP_CONFIG, .mode = "iommufd", .rounds = ROUNDS(100000) };
	nops++;
	ops[nops] = (struct op){ .name = "luo_session_preserve_memfd", .kind = OP_LUO, .rounds = ROUNDS(1000) };
	nops++;
	ops[nops] = (struct op){ .name = "driver_memcpy_64b:iommufd", .kind = OP_MEMCPY, .mode = "iommufd", .map_size = 64, .rounds = ROUNDS(2000) };
	nops++;
	ops[nops] = (struct op){ .name = "driver_memcpy_max:iommufd", .kind = OP_MEMCPY, .mode = "iommufd", .map_size = 0, .rounds = ROUNDS(2000) };
	nops++;
	ops[nops] = (struct op){ .name = "driver_memcpy_64b_edu:iommufd", .kind = OP_MEMCPY, .mode = "iommufd", .map_size = 64, .rounds = EDU_ROUNDS(3), .edu = true };
	nops++;
	ops[nops] = (struct op){ .name = "driver_memcpy_max_edu:iommufd", .kind = OP_MEMCPY, .mode = "iommufd", .map_size = 0, .rounds = EDU_ROUNDS(3), .edu = true };
	nops++;
	ops[nops] = (struct op){ .name = "run_one_test", .kind = OP_RUN_ONE_TEST, .rounds = ROUNDS(100) };
	nops++;
	ops[nops] = (struct op){ .name = "luo_retrieve_memfd", .kind = OP_LUO_RETRIEVE, .rounds = ROUNDS(400) };
	nops++;

	int failed = 0, exact = 0;

	if (list) {
		for (int i = 0; i < nops; i++)
			printf("%s\t%ld\n", ops[i].name, ops[i].rounds);
		return 0;
	}

	for (int i = 0; filter && i < nops; i++)
		exact |= !strcmp(ops[i].name, filter);
	for (int i = 0; i < nops; i++) {
		if (filter && (exact ? strcmp(ops[i].name, filter) : !strstr(ops[i].name, filter)))
			continue;
		if (run_op(&ops[i]) < 0)
			failed = 1;
	}
	return failed;
}
