// SPDX-License-Identifier: GPL-2.0-only
// Reset × migration stress: the four-party lock cycle the xe-vfio-pci review found
// (set_device_state, the migration file's read, DMA pinning, device reset) that the "deferred
// reset" pattern breaks. Concurrent threads hammer each party for a bounded time.
import Foundation
import Glibc
import LibVFIO
import Synchronization
import SystemPackage
import Testing


extension VFIOMigrationTest {
  /// `VFIO_SELFTESTS_MIGRATION_STRESS_SECONDS`: `N` for every mode, or `mode=N[,mode=N...]` for
  /// those modes only (CI: `iommufd=60` on the debug kernel); 3 s otherwise.
  static func stressSeconds(_ mode: IOMMUMode) throws -> Double { try SelftestsEnvironment.current.migrationStressSeconds(mode) }

  /// For a bounded time, concurrently: VFIO_DEVICE_RESET; the cycle RUNNING -> RUNNING_P2P ->
  /// STOP -> STOP_COPY -> STOP -> RUNNING (without P2P: RUNNING -> STOP -> ...); reads of the
  /// STOP_COPY data fds; DMA map/unmap. Every call succeeds or fails with an allowed errno,
  /// nothing hangs, and the kernel log holds no lockdep, hung-task or WARNING report.
  static func stress(_ mode: IOMMUMode) throws {
    try withMigrationDevice(mode) { device in
      let flags = try device.migrationFlags()
      try backToRunning(device)
      // A type1 container holding only an emulated (mdev) group reports no IOVA range
      // capability; any IOVA works there, so take 4 GiB..8 GiB.
      let ranges = (try? device.iommu.iovaRanges()) ?? [IOVARange(start: 1 << 32, last: (1 << 33) - 1)]
      var allocator = IOVAAllocator(ranges: ranges)
      let memory = try MappedMemory.anonymousResult(size: MappedMemory.pageSize).get()
      defer { memory.unmap() }
      let region = DMARegion(vaddr: memory.address, iova: try allocator.allocate(size: UInt64(memory.size)), size: UInt64(memory.size))

      let seconds = try stressSeconds(mode)
      let log = KernelLogWatch()
      let state = StressState(device: device, seconds: seconds)
      let cycle: [MigrationState] = flags.contains(.p2p)
        ? [.runningP2P, .stop, .stopCopy, .stop, .running] : [.stop, .stopCopy, .stop, .running]
      // The errnos each call may fail with while the others race it: a reset returns the device
      // to RUNNING and ends the data session, so a read of an old fd sees ENODEV (mtty) or EIO,
      // and a SET may race nothing else (the driver serializes it); EAGAIN from a reset that
      // cannot take the device's locks (vfio-pci's try-lock).
      let resetAllowed: Set<Errno> = [.resourceTemporarilyUnavailable]
      let setAllowed: Set<Errno> = []
      let readAllowed: Set<Errno> = [Errno(rawValue: ENODEV), .ioError, .invalidArgument, .noMessage]
      let dmaAllowed: Set<Errno> = []

      let workers: [(String, @Sendable (StressState) -> Void)] = [
        ("reset", { s in
          while s.running {
            s.doing("reset", "VFIO_DEVICE_RESET")
            s.check("VFIO_DEVICE_RESET", s.device.resetResult(), allowed: resetAllowed)
          }
        }),
        ("state", { s in
          while s.running {
            for target in cycle {
              s.doing("state", "SET \(target)")
              let r = s.device.setMigrationStateResult(target.rawValue)
              s.check("SET \(target)", r, allowed: setAllowed)
              if case .success(let f?) = r {
                let box = StressState.DataFile(f)
                s.dataFiles.withLock { $0.append(box) }
              }
            }
            s.count("cycle")
          }
        }),
        ("read", { s in
          while s.running {
            guard let f = s.dataFiles.withLock({ $0.isEmpty ? nil : $0.removeFirst() })?.file else { usleep(100); continue }
            s.doing("read", "read(data fd)")
            while true {
              let r = f.readResult(maxCount: 4096)
              s.check("read(data fd)", r, allowed: readAllowed)
              if case .success(let b) = r, !b.isEmpty { continue }
              break
            }
            f.close()
          }
        }),
        ("dma", { s in
          while s.running {
            s.doing("dma", "map")
            let m: Result<Void, Errno> = Result { () throws(VFIOError) in try s.device.iommu.map(region) }.mapError { $0.errno ?? .ioError }
            s.check("DMA map", m, allowed: dmaAllowed)
            s.doing("dma", "unmap")
            if case .success = m {
              let u: Result<UInt64, Errno> = Result { () throws(VFIOError) in try s.device.iommu.unmap(region) }.mapError { $0.errno ?? .ioError }
              s.check("DMA unmap", u, allowed: dmaAllowed)
            }
          }
        }),
      ]

      say(device, "stress: \(workers.count) threads (\(workers.map(\.0).joined(separator: ", "))) for " + String(format: "%.1f s", seconds))
      let start = ContinuousClock.now
      let hung = state.run(workers, threadPrefix: "stress", grace: 20)
      let elapsed = ContinuousClock.now - start
      if let hung { Issue.record(Comment(rawValue: hung)) }
      for f in state.dataFiles.withLock({ let a = $0; $0 = []; return a }) { f.file.close() }

      let secs = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
      let counts = state.counts.withLock { $0 }
      let cycles = counts["cycle"] ?? 0
      let calls = counts.filter { !$0.key.contains(" E") && $0.key != "cycle" }.values.reduce(0, +)
      say(device, String(format: "stress %.1f s: %d state cycles (%.1f/s), %d calls (%.0f/s): ", secs, cycles, Double(cycles) / secs, calls, Double(calls) / secs)
        + counts.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
      for f in state.failures.withLock({ $0 }).prefix(10) { Issue.record(Comment(rawValue: f)) }
      #expect(cycles > 0, "no state cycle completed")
      #expect((counts["VFIO_DEVICE_RESET"] ?? 0) > 0 && (counts["DMA map"] ?? 0) > 0)

      if let why = log.unavailability { say(device, why) }
      let reports = KernelReport.reports(in: log.newMessages())
      for r in reports.prefix(10) { Issue.record(Comment(rawValue: "kernel log: \(r)")) }
      #expect(reports.isEmpty, "\(reports.count) kernel reports (lockdep, hung task, WARNING, BUG) during the stress")

      try backToRunning(device)
      #expect(try device.migrationState() == .running)
    }
  }
}
