// SPDX-License-Identifier: GPL-2.0-only
// The port of tools/testing/selftests/vfio/vfio_pci_driver_test.c (Linux 7.3): a selftest driver
// makes the device copy memory by DMA and send an MSI, so the IOMMU's mappings are checked end
// to end, in each of the five iommu modes (fixture vfio_pci_driver_test, one variant per mode).
//
// Devices: C takes one BDF and, when the selftests have no driver for it, prints "No driver found
// for device <bdf>" and skips. This port runs every test on each device of VFIO_SELFTESTS_BDFS
// (else VFIO_SELFTESTS_BDF) that has a driver, says which it leaves out, and skips with C's text
// when none has one.
//
// Time limits: C's harness gives each test 30 s (memcpy_storm 60 s), setup and teardown included.
// Each test checks C's limit itself, per device, around setup, body and teardown, multiplied by
// VFIO_SELFTESTS_TIMEOUT_SCALE (default 1; for emulators). Swift Testing's limits are in
// minutes: each test has ten as a hang guard.
//
// A device with a narrow DMA mask (QEMU's edu: 28 bits) would alias C's IOVAs (1 GiB regions
// allocated from the bottom of the IOVA space put the unmapped one at or above 2 GiB, which edu
// turns into IOVA 0, the mapped source). For such a device the regions shrink to a quarter of
// what the mask reaches (64 MiB for edu; the driver region stays 2 MiB) and every IOVA is
// allocated below the mask; the test says so in its output.
import Glibc
import LibVFIO
import SystemPackage
import Testing

extension DeviceFeature {
  /// A selftest driver for the device (C's `device_has_selftests_driver`), else C's skip text.
  static let selftestsDriver = DeviceFeature(key: "selftestsDriver") { device in
    VFIOPCIDriver.probe(device) == nil ? VFIOPCIDriverError.noDriver(device: device.id.description).description : nil
  }
}

enum VFIOPCIDriverTest {
  /// C's sizes: `SZ_1G` memcpy region, `SZ_2M` driver region, `SZ_1G` reserved unmapped IOVA.
  struct Layout: Equatable {
    var memcpyRegionSize: UInt64 = 1 << 30
    var driverRegionSize: UInt64 = 2 << 20
    var unmappedSize: UInt64 = 1 << 30

    static let c = Layout()

    /// C's layout, or for a device reaching fewer than 64 bits, one that fits a quarter of its
    /// reach per region, so all three fit below its mask.
    init(dmaMask: UInt64 = .max) {
      let bits = UInt64.bitWidth - dmaMask.leadingZeroBitCount
      guard bits < UInt64.bitWidth else { return }
      let reach: UInt64 = 1 << bits
      memcpyRegionSize = min(memcpyRegionSize, reach >> 2)
      driverRegionSize = min(driverRegionSize, reach >> 3)
      unmappedSize = memcpyRegionSize
    }
  }

  /// Anonymous shared memory mapped for the device (C's `region_setup`).
  struct Region {
    let memory: MappedMemory
    let dma: DMARegion
  }

  /// `FIXTURE(vfio_pci_driver_test)`, set up for one device in one mode.
  final class Fixture {
    let address: PCIAddress
    let device: VFIOPCIDevice
    let driver: VFIOPCIDriver
    let memcpyRegion: Region
    let driverRegion: VFIOPCIDriverRegion
    let unmappedIOVA: UInt64
    let size: UInt64
    let srcOffset = 0
    let dstOffset: Int
    let srcIOVA: UInt64
    let dstIOVA: UInt64
    /// C's per-test timeout, from setup on.
    let deadline: ContinuousClock.Instant

    init(address: PCIAddress, device: VFIOPCIDevice, driver: VFIOPCIDriver, memcpyRegion: Region, driverRegion: VFIOPCIDriverRegion,
         unmappedIOVA: UInt64, deadline: ContinuousClock.Instant) throws {
      self.address = address
      self.device = device
      self.driver = driver
      self.memcpyRegion = memcpyRegion
      self.driverRegion = driverRegion
      self.unmappedIOVA = unmappedIOVA
      self.deadline = deadline
      // "Use 4x the driver's max_memcpy_size to exercise the chunking logic in
      // vfio_pci_driver_memcpy(). Cap to half the memcpy region so src and dst do not overlap."
      size = min(driver.maxMemcpySize * 4, memcpyRegion.dma.size / 2)
      dstOffset = Int(size)
      let base = memcpyRegion.memory.address
      srcIOVA = try #require(device.iova(forHostAddress: base + UInt(srcOffset)), "to_iova(src)")
      dstIOVA = try #require(device.iova(forHostAddress: base + UInt(dstOffset)), "to_iova(dst)")
    }

    var msi: UInt32 { driver.msi ?? 0 }

    /// `memset(src, 'x')`, `memset(dst, 'y')`.
    func fill() {
      memcpyRegion.memory.write([UInt8](repeating: UInt8(ascii: "x"), count: Int(size)), at: srcOffset)
      memcpyRegion.memory.write([UInt8](repeating: UInt8(ascii: "y"), count: Int(size)), at: dstOffset)
    }

    /// `ASSERT_EQ(0, memcmp(src, dst, size))`, byte for byte, naming the first byte that differs.
    func expectDstEqualsSrc(sourceLocation: SourceLocation = #_sourceLocation) {
      let chunk = 1 << 20
      var offset = 0
      while offset < Int(size) {
        let n = min(chunk, Int(size) - offset)
        let src = memcpyRegion.memory.bytes(at: srcOffset + offset, count: n)
        let dst = memcpyRegion.memory.bytes(at: dstOffset + offset, count: n)
        if src != dst, let i = src.indices.first(where: { src[$0] != dst[$0] }) {
          let differing = src.indices.filter { src[$0] != dst[$0] }.count
          Issue.record(Comment(rawValue: "memcmp(src, dst, 0x\(String(size, radix: 16))): byte 0x\(String(offset + i, radix: 16)) differs "
            + "(src 0x\(String(src[i], radix: 16)), dst 0x\(String(dst[i], radix: 16))), \(differing) differing bytes in that MiB"), sourceLocation: sourceLocation)
          return
        }
        offset += n
      }
    }

    /// `ASSERT_NO_MSI`: when the driver can send MSIs, a nonblocking read of the MSI eventfd
    /// must fail with EAGAIN.
    func expectNoMSI(sourceLocation: SourceLocation = #_sourceLocation) throws {
      guard driver.supportsSendMSI else { return }
      let r = device.readEventfdResult(vector: msi, nonblocking: true)
      #expect(r.errno == .resourceTemporarilyUnavailable, "ASSERT_NO_MSI: read(msi_fd) gave \(r), expected EAGAIN", sourceLocation: sourceLocation)
    }

    /// C's blocking `read(msi_fd, &value, 8)`, with a time limit: the counter once it is non-zero,
    /// or nil when no MSI came within `timeout`.
    func waitForMSI(timeout: Duration = .seconds(5)) throws -> UInt64? {
      let end = ContinuousClock.now + timeout
      while true {
        switch device.readEventfdResult(vector: msi, nonblocking: true) {
        case .success(let value): return value
        case .failure(let e) where e.errno == .resourceTemporarilyUnavailable:
          if ContinuousClock.now >= end { return nil }
          usleep(1000)
        case .failure(let e):
          throw e
        }
      }
    }

    /// `vfio_pci_driver_send_msi`, then `ASSERT_EQ(8, read(msi_fd))` and `ASSERT_EQ(1, value)`.
    func sendMSIAndExpectOne(sourceLocation: SourceLocation = #_sourceLocation) throws {
      try driver.sendMSI()
      let value = try waitForMSI()
      #expect(value == 1, "send_msi: MSI eventfd (vector \(msi)) read \(value.map(String.init) ?? "nothing within 5 s"), expected 1", sourceLocation: sourceLocation)
    }

    /// Fails once C's timeout has passed (for the loops, between rounds).
    func checkDeadline(_ what: String, limit: Duration) throws {
      guard ContinuousClock.now <= deadline else {
        throw VFIOError.unexpected(operation: what, device: address.description, detail: "past the test's time limit (C's \(limit), times VFIO_SELFTESTS_TIMEOUT_SCALE)")
      }
    }
  }

  /// `region_setup`: `size` bytes of anonymous `MAP_SHARED` memory at the next IOVA, mapped.
  static func regionSetup(_ iommu: IOMMU, _ allocator: inout IOVAAllocator, size: UInt64, what: String) throws -> Region {
    let memory = try MappedMemory.anonymousSharedResult(size: Int(size)).get("mmap(\(what), 0x\(String(size, radix: 16)) bytes, MAP_SHARED|MAP_ANONYMOUS)", device: "-")
    do {
      let dma = DMARegion(vaddr: memory.address, iova: try allocator.allocate(size: size), size: size)
      try iommu.map(dma)
      return Region(memory: memory, dma: dma)
    } catch {
      memory.unmap()
      throw error
    }
  }

  /// `region_teardown`: unmap from the IOMMU, then munmap; a failure is recorded.
  static func regionTeardown(_ iommu: IOMMU, _ region: Region) {
    do { try iommu.unmap(region.dma) } catch { Issue.record(error, "region teardown") }
    region.memory.unmap()
  }

  /// `FIXTURE_SETUP`, `body`, `FIXTURE_TEARDOWN` for `address` in `mode`.
  static func withFixture(_ address: PCIAddress, _ mode: IOMMUMode, limit: Duration, _ body: (Fixture) throws -> Void) throws {
    let deadline = ContinuousClock.now + limit
    let iommu = try IOMMU(mode: mode)
    defer { iommu.close() }
    let device = try VFIOPCIDevice(address: address, iommu: iommu)
    defer { device.close() }
    guard let driver = VFIOPCIDriver.probe(device) else { throw VFIOError.driver(.noDriver(device: address.description)) }

    let mask = driver.ops.dmaMask
    let layout = Layout(dmaMask: mask)
    var allocator = IOVAAllocator(ranges: try iommu.iovaRanges(), dmaMask: mask)
    let memcpyRegion = try regionSetup(iommu, &allocator, size: layout.memcpyRegionSize, what: "memcpy region")
    var driverRegion: Region?
    defer {
      regionTeardown(iommu, memcpyRegion)
      if let driverRegion { regionTeardown(iommu, driverRegion) }
    }
    let region = try regionSetup(iommu, &allocator, size: layout.driverRegionSize, what: "driver region")
    driverRegion = region
    // "Any IOVA that doesn't overlap memcpy_region and driver->region."
    let unmappedIOVA = try allocator.allocate(size: layout.unmappedSize)

    let forDriver = VFIOPCIDriverRegion(memory: region.memory, iova: region.dma.iova)
    try driver.initialize(region: forDriver)
    defer {
      if driver.initialized {
        do { try driver.remove() } catch { Issue.record(error, "vfio_pci_driver_remove") }
      }
    }
    let f = try Fixture(address: address, device: device, driver: driver, memcpyRegion: memcpyRegion, driverRegion: forDriver,
                        unmappedIOVA: unmappedIOVA, deadline: deadline)
    print("\(address): driver \(driver.name): max_memcpy_size 0x\(hex(driver.maxMemcpySize)), max_memcpy_count \(driver.maxMemcpyCount), "
      + "msi \(f.msi)\(driver.supportsSendMSI ? "" : " (no send_msi)"); size 0x\(hex(f.size))")
    if layout != .c {
      print("\(address): \(driver.name) reaches only IOVAs up to its DMA mask 0x\(hex(mask)): memcpy region \(layout.memcpyRegionSize >> 20) MiB "
        + "at IOVA 0x\(hex(memcpyRegion.dma.iova)), driver region \(layout.driverRegionSize >> 20) MiB at IOVA 0x\(hex(region.dma.iova)), "
        + "unmapped IOVA 0x\(hex(unmappedIOVA)) (\(layout.unmappedSize >> 20) MiB reserved), all below the mask, instead of C's 1 GiB, 2 MiB, 1 GiB")
    }
    try body(f)
  }

  /// Runs `body` on each device under test with its own fixture and C's time limit; a body may
  /// return a skip reason for its device. Skips the test when it skipped on every device.
  static func run(_ mode: IOMMUMode, limit cLimit: Duration = .seconds(30), _ body: (Fixture) throws -> String?) throws {
    var skips: [String] = []
    var ran = 0
    let limit = try HardwareEnvironment.cTimeLimit(cLimit)
    for address in try devicesUnderTest(mode, needs: .selftestsDriver) {
      let start = ContinuousClock.now
      var skip: String?
      try withFixture(address, mode, limit: limit.limit) { skip = try body($0) }
      let elapsed = ContinuousClock.now - start
      #expect(elapsed <= limit.limit, "\(address): setup, test and teardown took \(elapsed), beyond \(limit)")
      print("\(address): setup, test and teardown took \(elapsed) (limit: \(limit))")
      if let skip {
        print("\(address): SKIP: \(skip)")
        skips.append(skip)
      } else {
        ran += 1
      }
    }
    if ran == 0, let reason = skips.first { try Test.cancel(Comment(rawValue: reason)) }
  }

  /// The IOMMU's DMA fault reports the kernel logged while `body` ran (intel-iommu's
  /// "DMAR: [DMA Read|Write ...] ... fault addr ..."; AMD-Vi and arm-smmu ones too), to show what a
  /// copy to or from an unmapped IOVA did when the device itself reports nothing.
  static func withIOMMUFaults<R>(_ body: () throws -> R) rethrows -> (R, [String]) {
    let watch = KernelLogWatch()
    let r = try body()
    let faults = watch.newMessages().filter {
      ($0.hasPrefix("DMAR:") && $0.contains("fault addr")) || $0.contains("AMD-Vi: Event logged") || $0.contains("smmu") && $0.contains("fault")
    }
    return (r, faults)
  }

  static func reportUnmappedCopy(_ f: Fixture, _ what: String, result: Int32, faults: [String]) {
    // intel-iommu's dmar_fault prints through one ratelimit (10 lines per 5 s, about three faults),
    // so a copy right after another faulting one (to_unmapped after from_unmapped) may show none.
    let seen = faults.isEmpty
      ? "no IOMMU fault report logged during the copy (the kernel rate-limits them)"
      : "\(faults.count) IOMMU fault report(s) logged, first: \(faults[0])"
    print("\(f.address): memcpy \(what) unmapped IOVA 0x\(hex(f.unmappedIOVA)) returned \(result) (C ignores it); \(seen)")
  }

  // MARK: the tests

  /// `init_remove`: ten rounds of remove then init.
  static func initRemove(_ mode: IOMMUMode) throws {
    try run(mode) { f in
      for _ in 0..<10 {
        try f.driver.remove()
        try f.driver.initialize(region: f.driverRegion)
      }
      return nil
    }
  }

  /// `memcpy_success`
  static func memcpySuccess(_ mode: IOMMUMode) throws {
    try run(mode) { f in
      f.fill()
      #expect(try f.driver.memcpy(src: f.srcIOVA, dst: f.dstIOVA, size: f.size) == 0)
      f.expectDstEqualsSrc()
      try f.expectNoMSI()
      return nil
    }
  }

  /// `memcpy_from_unmapped_iova` (the return value is ignored: not every device reports it).
  static func memcpyFromUnmappedIOVA(_ mode: IOMMUMode) throws {
    try run(mode) { f in
      let (r, faults) = try withIOMMUFaults { try f.driver.memcpy(src: f.unmappedIOVA, dst: f.dstIOVA, size: f.size) }
      reportUnmappedCopy(f, "from", result: r, faults: faults)
      try f.expectNoMSI()
      return nil
    }
  }

  /// `memcpy_to_unmapped_iova` (the return value is ignored).
  static func memcpyToUnmappedIOVA(_ mode: IOMMUMode) throws {
    try run(mode) { f in
      let (r, faults) = try withIOMMUFaults { try f.driver.memcpy(src: f.srcIOVA, dst: f.unmappedIOVA, size: f.size) }
      reportUnmappedCopy(f, "to", result: r, faults: faults)
      try f.expectNoMSI()
      return nil
    }
  }

  /// `send_msi`
  static func sendMSI(_ mode: IOMMUMode) throws {
    try run(mode) { f in
      guard f.driver.supportsSendMSI else { return "Driver does not support send_msi()" }
      try f.sendMSIAndExpectOne()
      return nil
    }
  }

  /// `mix_and_match`: ten rounds of a good copy (compared), a copy from the unmapped IOVA
  /// (ignored) and, when the driver has it, an MSI.
  static func mixAndMatch(_ mode: IOMMUMode) throws {
    try run(mode) { f in
      for round in 0..<10 {
        try f.checkDeadline("mix_and_match round \(round)", limit: .seconds(30))
        f.fill()
        #expect(try f.driver.memcpy(src: f.srcIOVA, dst: f.dstIOVA, size: f.size) == 0, "round \(round)")
        f.expectDstEqualsSrc()
        _ = try f.driver.memcpy(src: f.unmappedIOVA, dst: f.dstIOVA, size: f.size)
        if f.driver.supportsSendMSI { try f.sendMSIAndExpectOne() }
      }
      return nil
    }
  }

  /// `memcpy_storm`: as many copies of up to max_memcpy_size as the driver takes at once (up to
  /// 250 GiB in all), one start and one wait.
  static func memcpyStorm(_ mode: IOMMUMode) throws {
    try run(mode, limit: .seconds(60)) { f in
      let totalSize: UInt64 = 250 << 30
      let size = min(f.driver.maxMemcpySize, f.memcpyRegion.dma.size / 2)
      let count = min(totalSize / size, f.driver.maxMemcpyCount)
      print("Kicking off \(count) memcpys of size 0x\(hex(size))")
      try f.driver.memcpyStart(src: f.srcIOVA, dst: f.dstIOVA, size: size, count: count)
      #expect(try f.driver.memcpyWait() == 0)
      try f.expectNoMSI()
      return nil
    }
  }
}

private func hex<T: BinaryInteger>(_ v: T) -> String { String(v, radix: 16) }

// One test per C test, one case per C variant (FIXTURE_VARIANT_ADD_ALL_IOMMU_MODES); the suite's
// type is named as the C harness names the fixture, so `--filter vfio_pci_driver_test` matches.

extension Hardware {
  @Suite("vfio_pci_driver_test", .tags(.iommuModes))
  struct vfio_pci_driver_test {
    @Test(.hangGuard, arguments: try IOMMUMode.underTest()) func init_remove(_ mode: IOMMUMode) throws {
      try requireVFIODevices(mode, needs: .selftestsDriver)
      try VFIOPCIDriverTest.initRemove(mode)
    }
    @Test(.hangGuard, arguments: try IOMMUMode.underTest()) func memcpy_success(_ mode: IOMMUMode) throws {
      try requireVFIODevices(mode, needs: .selftestsDriver)
      try VFIOPCIDriverTest.memcpySuccess(mode)
    }
    @Test(.hangGuard, arguments: try IOMMUMode.underTest()) func memcpy_from_unmapped_iova(_ mode: IOMMUMode) throws {
      try requireVFIODevices(mode, needs: .selftestsDriver)
      try VFIOPCIDriverTest.memcpyFromUnmappedIOVA(mode)
    }
    @Test(.hangGuard, arguments: try IOMMUMode.underTest()) func memcpy_to_unmapped_iova(_ mode: IOMMUMode) throws {
      try requireVFIODevices(mode, needs: .selftestsDriver)
      try VFIOPCIDriverTest.memcpyToUnmappedIOVA(mode)
    }
    @Test(.hangGuard, arguments: try IOMMUMode.underTest()) func send_msi(_ mode: IOMMUMode) throws {
      try requireVFIODevices(mode, needs: .selftestsDriver)
      try VFIOPCIDriverTest.sendMSI(mode)
    }
    @Test(.hangGuard, arguments: try IOMMUMode.underTest()) func mix_and_match(_ mode: IOMMUMode) throws {
      try requireVFIODevices(mode, needs: .selftestsDriver)
      try VFIOPCIDriverTest.mixAndMatch(mode)
    }
    @Test(.hangGuard, arguments: try IOMMUMode.underTest()) func memcpy_storm(_ mode: IOMMUMode) throws {
      try requireVFIODevices(mode, needs: .selftestsDriver)
      try VFIOPCIDriverTest.memcpyStorm(mode)
    }
  }
}
