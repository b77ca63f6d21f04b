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
    let barrier = ThreadBarrier(count: addresses.count)
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
  /// C's `<mode>.init`: one case per mode.
  @Suite("vfio_pci_device_init_perf_test", .tags(.iommuModes), .hangGuard)
  struct VFIOPCIDeviceInitPerf {
    @Test("init", arguments: try IOMMUMode.underTest()) func initDevices(_ mode: IOMMUMode) throws {
      try requireVFIODevice(mode)
      try VFIOPCIDeviceInitPerfTest.initDevices(mode)
    }
  }
}
