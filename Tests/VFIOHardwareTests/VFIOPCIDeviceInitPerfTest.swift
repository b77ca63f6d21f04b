// SPDX-License-Identifier: GPL-2.0-only
// The port of tools/testing/selftests/vfio/vfio_pci_device_init_perf_test.c: initialize every
// device in parallel against one shared IOMMU, then report wall time and the per-device min, max
// and mean init time. Like the C test it asserts nothing beyond init and cleanup succeeding; it
// reports, it makes no performance claim. Devices: VFIO_SELFTESTS_BDFS (space-separated), else
// VFIO_SELFTESTS_BDF.
import Dispatch
import Foundation
import LibVFIO
import Synchronization
import Testing

enum VFIOPCIDeviceInitPerfTest {
  static func devices() throws -> [PCIAddress] {
    switch HardwareEnvironment.devices() {
    case .devices(let addresses): return addresses
    case .skip(let reason), .fail(let reason):
      throw VFIOError.unexpected(operation: "test setup", device: "-", detail: reason)
    }
  }

  static func seconds(_ ns: UInt64) -> String {
    let frac = String(ns % 1_000_000_000)
    return "\(ns / 1_000_000_000).\(String(repeating: "0", count: 9 - frac.count))\(frac)s"
  }

  /// `pthread_barrier_t`: the first `count - 1` callers of a round wait until the last arrives.
  /// Rounds are told apart by a generation number: with one semaphore for every round (as this
  /// was), a thread released early could take the next round's wake-up meant for a slower one,
  /// leaving that one waiting forever (seen with three devices: the test hung).
  final class Barrier: @unchecked Sendable {
    let count: Int
    private let condition = NSCondition()
    private var arrived = 0
    private var generation = 0
    init(count: Int) { self.count = count }
    func wait() {
      condition.lock()
      defer { condition.unlock() }
      let round = generation
      arrived += 1
      if arrived >= count {
        arrived = 0
        generation += 1
        condition.broadcast()
        return
      }
      while round == generation { condition.wait() }
    }
  }

  /// `vfio_pci_device_init_perf_test.<mode>.init`
  static func initDevices(_ mode: IOMMUMode) throws {
    try HardwareEnvironment.withinCTimeLimit { try initDevicesBody(mode) }
  }

  static func initDevicesBody(_ mode: IOMMUMode) throws {
    let addresses = try devices()
    print("Testing parallel initialization of \(addresses.count) devices:")
    for a in addresses { print("    \(a)") }
    // Shared by every worker, as in C (init only reads it; in container modes the workers race
    // VFIO_SET_IOMMU, whose result libvfio ignores for that reason).
    nonisolated(unsafe) let iommu = try IOMMU(mode: mode)
    defer { iommu.close() }
    let times = Mutex([(start: UInt64, end: UInt64)](repeating: (0, 0), count: addresses.count))
    let failures = Mutex([String]())
    let barrier = Barrier(count: addresses.count)
    // One thread per device (not concurrentPerform, which caps threads at the CPU count and
    // would deadlock at the barrier with more devices than CPUs).
    let done = DispatchGroup()
    for i in addresses.indices {
      done.enter()
      Thread {
        defer { done.leave() }
        barrier.wait()
        let start = DispatchTime.now().uptimeNanoseconds
        let device: VFIOPCIDevice?
        do {
          device = try VFIOPCIDevice(address: addresses[i], iommu: iommu)
        } catch {
          device = nil
          failures.withLock { $0.append("\(addresses[i]): \(error)") }
        }
        let end = DispatchTime.now().uptimeNanoseconds
        times.withLock { $0[i] = (start, end) }
        barrier.wait()
        device?.close()
      }.start()
    }
    done.wait()
    let failed = failures.withLock { $0 }
    for f in failed { Issue.record(Comment(rawValue: f)) }
    guard failed.isEmpty else { return }
    let t = times.withLock { $0 }
    let durations = t.map { $0.end - $0.start }
    let wall = t.map(\.end).max()! - t.map(\.start).min()!
    print("Wall time: \(seconds(wall))")
    print("Min init time (per device): \(seconds(durations.min()!))")
    print("Max init time (per device): \(seconds(durations.max()!))")
    print("Avg init time (per device): \(seconds(durations.reduce(0, +) / UInt64(durations.count)))")
  }
}

extension Hardware {
  @Suite("vfio_pci_device_init_perf_test", .hangGuard)
  struct VFIOPCIDeviceInitPerf {
    @Test(.vfioDevice(.vfioType1)) func vfio_type1_iommu_init() throws { try VFIOPCIDeviceInitPerfTest.initDevices(.vfioType1) }
    @Test(.vfioDevice(.vfioType1v2)) func vfio_type1v2_iommu_init() throws { try VFIOPCIDeviceInitPerfTest.initDevices(.vfioType1v2) }
    @Test(.vfioDevice(.iommufdCompatType1)) func iommufd_compat_type1_init() throws { try VFIOPCIDeviceInitPerfTest.initDevices(.iommufdCompatType1) }
    @Test(.vfioDevice(.iommufdCompatType1v2)) func iommufd_compat_type1v2_init() throws { try VFIOPCIDeviceInitPerfTest.initDevices(.iommufdCompatType1v2) }
    @Test(.vfioDevice(.iommufd)) func iommufd_init() throws { try VFIOPCIDeviceInitPerfTest.initDevices(.iommufd) }
  }
}

/// The barrier itself (no device needed): five threads through 200 rounds, every round complete
/// before any thread starts the next.
@Suite("init_perf barrier", .timeLimit(.minutes(1)))
struct InitPerfBarrierTests {
  @Test func everyThreadPassesEveryRound() {
    let threads = 5, rounds = 200
    let barrier = VFIOPCIDeviceInitPerfTest.Barrier(count: threads)
    let passed = Mutex([Int](repeating: 0, count: rounds))
    let done = DispatchGroup()
    for _ in 0..<threads {
      done.enter()
      Thread {
        defer { done.leave() }
        for r in 0..<rounds {
          barrier.wait()
          passed.withLock { $0[r] += 1 }
        }
      }.start()
    }
    #expect(done.wait(timeout: .now() + 30) == .success, "a thread was left waiting at the barrier")
    #expect(passed.withLock { $0 }.allSatisfy { $0 == threads })
  }
}
