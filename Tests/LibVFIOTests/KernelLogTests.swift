// SPDX-License-Identifier: GPL-2.0-only
// The kernel-report classifier and the /dev/kmsg record parser, on report texts as the kernel
// prints them (lockdep.c, sched/core.c, hung_task.c, watchdog.c, rcu/tree_stall.h, panic.c).
import LibVFIO
import Testing

@Suite struct KernelLogTests {
  @Test(arguments: [
    ("WARNING: possible circular locking dependency detected", KernelReport.Kind.lockdep),
    ("WARNING: possible recursive locking detected", .lockdep),
    ("WARNING: inconsistent lock state", .lockdep),
    ("WARNING: suspicious RCU usage", .lockdep),
    ("BUG: sleeping function called from invalid context at kernel/locking/mutex.c:580", .sleepingInAtomic),
    ("BUG: scheduling while atomic: vfio/123/0x00000002", .sleepingInAtomic),
    ("INFO: task kworker/0:1:12 blocked for more than 60 seconds.", .hungTask),
    ("watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [swapper/0:1]", .softLockup),
    ("rcu: INFO: rcu_preempt self-detected stall on CPU", .rcuStall),
    ("Oops: general protection fault, probably for non-canonical address 0xdead000000000100: 0000 [#1] SMP", .oops),
    ("kernel BUG at mm/slub.c:435!", .oops),
    ("BUG: KASAN: slab-use-after-free in vfio_pci_core_ioctl+0x12/0x30", .bug),
    ("list_add corruption. prev->next should be next (ffff888100000000), but was 0000000000000000.", .bug),
    ("WARNING: CPU: 1 PID: 123 at drivers/vfio/pci/vfio_pci_core.c:100 vfio_pci_core_ioctl+0x12/0x30 [vfio_pci_core]", .warning),
    // Every header passes kind(of:)'s one-pass word filter (strstr) before its own check.
    ("UBSAN: array-index-out-of-bounds in drivers/vfio/pci/vfio_pci_config.c:1200:5", .bug),
    ("list_del corruption, ffff888100000000->next is LIST_POISON1 (dead000000000100)", .bug),
    ("Kernel panic - not syncing: Fatal exception", .oops),
    ("general protection fault, probably for non-canonical address 0xdead000000000100: 0000 [#1] SMP", .oops),
    ("INFO: rcu_sched detected stalls on CPUs/tasks:", .rcuStall),
    ("BUG: workqueue lockup - pool cpus=0 node=0 flags=0x0 nice=0 stuck for 31s!", .softLockup),
  ])
  func classifies(line: String, kind: KernelReport.Kind) {
    #expect(KernelReport.kind(of: line) == kind)
  }

  @Test(arguments: [
    "vfio-pci 0000:00:03.0: resetting",
    "INFO: lockdep is turned off.",
    "Lock dependency validator: Copyright (c) 2006 Red Hat, Inc., Ingo Molnar",
    "DEBUG_LOCKS_WARN_ON is mentioned here but is not a header",
    "iommufd: DEBUG build",
  ])
  func ordinaryMessages(line: String) {
    #expect(KernelReport.kind(of: line) == nil)
  }

  @Test func reportQuotesTheLinesAfterItsHeader() {
    let log = ["vfio-pci 0000:00:03.0: enabling device", "======================================================",
               "WARNING: possible circular locking dependency detected", "7.3.4 #1 Not tainted",
               "------------------------------------------------------", "vfio/123 is trying to acquire lock:",
               "ffff888100a0b0c0 (&vdev->memory_lock){++++}-{4:4}, at: vfio_pci_core_reset+0x40/0x90",
               "", "but task is already holding lock:", "ffff888100a0b0d0 (&mm->mmap_lock){++++}-{4:4}", "more"]
    let reports = KernelReport.reports(in: log)
    #expect(reports.count == 1)
    #expect(reports.first?.kind == .lockdep)
    #expect(reports.first?.lines.count == 1 + KernelReport.contextLines)
    #expect(reports.first?.lines.first == "WARNING: possible circular locking dependency detected")
  }

  @Test func consecutiveReportsAreSeparate() {
    let log = ["INFO: task a:1 blocked for more than 60 seconds.", "      Not tainted 7.3.4 #1",
               "WARNING: CPU: 0 PID: 1 at kernel/x.c:1 f+0x0/0x1", "Modules linked in: vfio_pci"]
    let reports = KernelReport.reports(in: log)
    #expect(reports.map(\.kind) == [.hungTask, .warning])
    #expect(reports.first?.lines == ["INFO: task a:1 blocked for more than 60 seconds.", "      Not tainted 7.3.4 #1"])
  }

  @Test func selfTestReportCountsOnlyWhenAskedFor() {
    let log = ["WARNING: CPU: 0 PID: 1 at \(KernelReport.selfTestMarker) the harness's own check"]
    #expect(KernelReport.reports(in: log).isEmpty)
    #expect(KernelReport.reports(in: log, includingSelfTest: true).map(\.kind) == [.warning])
  }

  @Test func kmsgRecords() {
    #expect(KernelLogWatch.message(ofRecord: "4,1234,5678901,-;WARNING: CPU: 0 PID: 1 at x\n SUBSYSTEM=pci\n DEVICE=+pci:0000:00:03.0\n")
      == "WARNING: CPU: 0 PID: 1 at x")
    #expect(KernelLogWatch.message(ofRecord: "6,1,2,-;plain\n") == "plain")
    #expect(KernelLogWatch.message(ofRecord: "no separator") == nil)
  }

  @Test func missingLogSaysWhy() {
    let watch = KernelLogWatch(path: "/nonexistent/kmsg")
    #expect(watch.unavailability?.contains("/nonexistent/kmsg") == true)
    #expect(watch.newMessages().isEmpty)
  }
}
