// SPDX-License-Identifier: GPL-2.0-only
// The port of the series' vfio_pci_liveupdate_kexec_test (v5): two stages, iommufd mode,
// sessions state-<bdf> and device-<bdf>, tokens 0 (state), 1 (device), 2 (memfd).
// `stage_machinery` (state session, stage detection, mismatch both ways) needs only LUO; the
// device part needs vfio-pci's LUO file handler and skips with the probe's reason without it.
import Foundation
import Glibc
import LibLiveUpdate
import LibVFIO
import SystemPackage
import Testing

enum VFIOPCILiveUpdateKexecTest {
  static let stateToken: UInt64 = 0
  static let deviceToken: UInt64 = 1
  static let memfdToken: UInt64 = 2
  static let memcpyIOVA: UInt64 = 1 << 32
  static let driverSize = 1 << 20

  /// 1 GiB + 1 MiB as in C; `VFIO_SELFTESTS_LIVEUPDATE_MEMFD_SIZE` (bytes, at least 2 MiB)
  /// allows a smaller buffer for small guests.
  static var memfdSize: Int { get throws { try SelftestsEnvironment.current.liveUpdateMemfdSize() } }

  /// `state-<bdf>` (the stage check of `stage_machinery`), `device-<bdf>` (the device and the
  /// memfd) and `device-<bdf>-state`: the state session of `preserve_device_across_kexec`, which
  /// cannot share `state-<bdf>` with `stage_machinery` in one run.
  static func names(_ a: PCIAddress) -> (state: String, device: String, deviceState: String) {
    ("state-\(a)", "device-\(a)", "device-\(a)-state")
  }

  /// The memfd as `dma_memfd_map` lays it out: the memcpy region (all but the last 1 MiB) at
  /// IOVA 4 GiB and the driver's 1 MiB region right after it, both DMA-mapped. Two shared views
  /// of the one memfd, so the driver region is a mapping of its own.
  struct MemfdRegions {
    let memcpy: MappedMemory
    let driver: MappedMemory
    var memcpySize: UInt64 { UInt64(memcpy.size) }
    var driverIOVA: UInt64 { memcpyIOVA + memcpySize }
    func unmap() {
      memcpy.unmap()
      driver.unmap()
    }
  }

  static func mapMemfd(_ memfd: FileDescriptor, into device: VFIOPCIDevice) throws -> MemfdRegions {
    let memcpySize = try memfdSize - driverSize
    let memcpy = try MappedMemory.sharedResult(memfd, offset: 0, size: memcpySize, protection: [.read, .write]).get()
    let driver = try MappedMemory.sharedResult(memfd, offset: Int64(memcpySize), size: driverSize, protection: [.read, .write]).get()
    let regions = MemfdRegions(memcpy: memcpy, driver: driver)
    try device.iommu.map(DMARegion(vaddr: memcpy.address, iova: memcpyIOVA, size: regions.memcpySize))
    try device.iommu.map(DMARegion(vaddr: driver.address, iova: regions.driverIOVA, size: UInt64(driverSize)))
    return regions
  }

  /// The device's selftest driver, initialized on the memfd's driver region; nil (saying why)
  /// when the device has none or cannot reach the C test's IOVAs.
  static func driver(for device: VFIOPCIDevice, _ regions: MemfdRegions) throws -> VFIOPCIDriver? {
    guard let driver = VFIOPCIDriver.probe(device) else {
      print("\(device.id): no selftest driver for this device: no DMA memcpy across kexec")
      return nil
    }
    let end = regions.driverIOVA + UInt64(driverSize) - 1
    guard end <= driver.ops.dmaMask else {
      print("\(device.id): \(driver.name) reaches IOVAs up to 0x\(String(driver.ops.dmaMask, radix: 16)), not this test's 0x\(String(memcpyIOVA, radix: 16))-0x\(String(end, radix: 16)): no DMA memcpy across kexec")
      return nil
    }
    try driver.initialize(region: VFIOPCIDriverRegion(memory: regions.driver, iova: regions.driverIOVA))
    return driver
  }

  /// `min(512 MiB, max_memcpy_size)`, as both of C's memcpy helpers take it (and at most half
  /// the memcpy region, which VFIO_SELFTESTS_LIVEUPDATE_MEMFD_SIZE may shrink).
  static func memcpySize(_ driver: VFIOPCIDriver, _ regions: MemfdRegions) -> UInt64 {
    min(512 << 20, driver.maxMemcpySize, regions.memcpySize / 2)
  }

  static func stage1(_ address: PCIAddress) throws {
    let (_, deviceSession, deviceState) = names(address)
    let iommu = try IOMMU(mode: .iommufd)
    defer { iommu.close() }
    let device = try VFIOPCIDevice(address: address, iommu: iommu)
    defer { device.close() }
    let luo = try LiveUpdateDevice()
    defer { luo.close() }
    _ = try LiveUpdateStage.select(requested: .beforeKexec, luo: luo, stateSession: deviceState)

    let session = try luo.createSession(deviceSession)
    print("Preserving device in session")
    try session.preserve(device.fd, token: deviceToken)

    let memfd = try Memfd.create("dma-buffer")
    defer { try? memfd.close() }
    let size = try memfdSize
    try Memfd.allocate(memfd, size: size)
    print("Preserving memfd of size 0x\(String(size, radix: 16)) in session")
    try session.preserve(memfd, token: memfdToken)
    let memory = try mapMemfd(memfd, into: device)
    defer { memory.unmap() }
    // `dma_memcpy_start`: a long run of copies in flight across the kexec. Then, as C, the
    // interrupt the driver enabled is disabled before the hand-over (the kernel refuses to freeze
    // a device with interrupts on, and the kexec then fails); C disables MSI-X, which its
    // drivers use; edu uses MSI. Without a driver nothing enabled one, and disabling it would
    // be EINVAL.
    if let driver = try driver(for: device, memory) {
      let size = memcpySize(driver, memory)
      let count = min((7200 << 30) / size, driver.maxMemcpyCount)
      memory.memcpy.fill(1, count: Int(size))
      print("Kicking off \(count) DMA memcpy operations of size 0x\(String(size, radix: 16))...")
      try driver.memcpyStart(src: memcpyIOVA, dst: memcpyIOVA + memory.memcpySize / 2, size: size, count: count)
      if let index = device.enabledIRQIndex { try device.disableIRQ(index: index) }
    }
    var keep = [device.fd, memfd]
    if let fd = iommu.iommufd { keep.append(fd) }
    try handOver(luo, stateSession: deviceState, stateToken: stateToken, [session], alsoKeeping: keep)
  }

  static func stage2(_ address: PCIAddress) throws {
    let (_, deviceSession, deviceState) = names(address)
    let luo = try LiveUpdateDevice()
    defer { luo.close() }
    // Whether stage 1 handed anything over at all: without its state session every check below
    // would fail for the same reason, so say that once.
    guard let state = try retrievedSession(luo, deviceState) else {
      Issue.record(Comment(rawValue: "stage 1 left nothing preserved: no session '\(deviceState)' after kexec (stage 1 failed or did not run in the previous boot; see its output)"))
      return
    }
    defer { state.close() }
    #expect(try StateSession.readStage(state, token: stateToken) == 2)
    try checkOpenVFIODeviceFails(address)
    let session = try luo.retrieveSession(deviceSession)
    defer { session.close() }
    print("Retrieving memfd from LUO")
    let memfd = try session.retrieve(token: memfdToken)
    defer { try? memfd.close() }
    #expect(errnoOf(session.finishResult()) != nil, "Finishing the session before retrieving the device (should fail)")
    let deviceFD = try session.retrieve(token: deviceToken)
    #expect(errnoOf(session.finishResult()) != nil, "Finishing the session before binding to iommufd (should fail)")
    let iommu = try IOMMU(mode: .iommufd)
    defer { iommu.close() }
    let device = try VFIOPCIDevice(address: address, iommu: iommu, deviceFD: deviceFD)
    defer { device.close() }
    let memory = try mapMemfd(memfd, into: device)
    defer { memory.unmap() }
    #expect(errnoOf(session.finishResult()) == nil, "Finishing the session after the device is back")
    // `dma_memcpy_one`: the device copies again after the hand-over, compared byte for byte.
    if let driver = try driver(for: device, memory) {
      let size = memcpySize(driver, memory)
      let dst = Int(memory.memcpySize / 2)
      memory.memcpy.fill(1, count: Int(size))
      memory.memcpy.fill(0, at: dst, count: Int(size))
      let rc = try driver.memcpy(src: memcpyIOVA, dst: memcpyIOVA + UInt64(dst), size: size)
      #expect(rc == 0, "\(driver.name): memcpy of 0x\(String(size, radix: 16)) bytes after kexec returned \(rc) (-110: the copy never completed)")
      // Compared byte for byte, as C's memcmp; a difference is reported by its first offset, not
      // by printing both buffers.
      let copied = memory.memcpy.bytes(at: dst, count: Int(size)), source = memory.memcpy.bytes(at: 0, count: Int(size))
      let firstDifference = copied.indices.first { copied[$0] != source[$0] }
      #expect(firstDifference == nil,
              "\(driver.name): 0x\(String(size, radix: 16)) bytes copied after kexec differ, first at offset 0x\(String(firstDifference ?? 0, radix: 16)) (0x\(String(copied[firstDifference ?? 0], radix: 16)), expected 0x\(String(source[firstDifference ?? 0], radix: 16)))")
      print("\(driver.name): memcpy of 0x\(String(size, radix: 16)) bytes after kexec compared equal")
      try driver.remove()
    }
  }

  /// Session `name` retrieved, or nil when this boot has none (ENOENT).
  static func retrievedSession(_ luo: LiveUpdateDevice, _ name: String) throws -> LiveUpdateSession? {
    switch luo.retrieveSessionResult(name) {
    case .success(let s): return s
    case .failure(let e) where e.errno == .noSuchFileOrDirectory: return nil
    case .failure(let e): throw e
    }
  }

  /// `check_open_vfio_device_fails`: a preserved device cannot be opened again, through its
  /// cdev or through its group in any container mode: EBUSY.
  static func checkOpenVFIODeviceFails(_ address: PCIAddress) throws {
    let cdev = try #require(try PCISysfs().vfioCdevPath(address))
    switch openFile(cdev, .readWrite) {
    case .success(let fd): try? fd.close(); Issue.record("open(\(cdev)) succeeded on a preserved device")
    case .failure(let e): #expect(e == .resourceBusy, "open(\(cdev))")
    }
    for mode in IOMMUMode.allCases where mode.usesContainer {
      if let reason = HostCapabilities().unavailability(of: mode) {
        print("Skipping the group check in \(mode): \(reason)")
        continue
      }
      let iommu = try IOMMU(mode: mode)
      defer { iommu.close() }
      let group = try VFIOGroup(for: address, iommu: iommu)
      defer { group.close() }
      print("Checking ioctl(group_fd, VFIO_GROUP_GET_DEVICE_FD, \"\(address)\") fails (\(mode))")
      let r = group.deviceFDResult()
      if case .success(let fd) = r { try? fd.close() }
      #expect(errnoOf(r) == .resourceBusy, "\(mode)")
    }
  }

  /// `stage_machinery`: the state session carries stage 2 across kexec, and a stage request
  /// that disagrees with the machine fails both ways with both stages, the session and whether
  /// it exists.
  static func stageMachinery(_ address: PCIAddress, _ stage: LiveUpdateStage) throws {
    let (state, _, _) = names(address)
    let probe = state + "-probe"
    let luo = try LiveUpdateDevice()
    defer { luo.close() }
    switch stage {
    case .beforeKexec:
      #expect(try LiveUpdateStage.select(requested: .beforeKexec, luo: luo, stateSession: state) == nil)
      #expect(throws: LiveUpdateError.stageMismatch(requested: 2, detected: 1, stateSession: state, exists: false)) {
        try LiveUpdateStage.select(requested: .afterKexec, luo: luo, stateSession: state)
      }
      // A second state session that stage 2 spends on the other direction of the check.
      let probeSession = try StateSession.create(luo, name: probe, token: stateToken, nextStage: .afterKexec)
      try handOver(luo, stateSession: state, stateToken: stateToken, [probeSession])
    case .afterKexec:
      #expect(throws: LiveUpdateError.stageMismatch(requested: 1, detected: 2, stateSession: probe, exists: true)) {
        try LiveUpdateStage.select(requested: .beforeKexec, luo: luo, stateSession: probe)
      }
      let session = try #require(try LiveUpdateStage.select(requested: .afterKexec, luo: luo, stateSession: state))
      defer { session.close() }
      #expect(try StateSession.readStage(session, token: stateToken) == 2)
      try session.finish()
    }
  }
}

extension Hardware {
  @Suite("vfio_pci_liveupdate_kexec_test", .liveUpdate, .staged, .vfioDevice(.iommufd), .hangGuard)
  struct VFIOPCILiveUpdateKexec {
    @Test func stage_machinery() throws {
      try VFIOPCILiveUpdateKexecTest.stageMachinery(try deviceUnderTest(), try #require(try KexecStage.current()))
    }

    @Test(.vfioLiveUpdate) func preserve_device_across_kexec() throws {
      let address = try deviceUnderTest()
      switch try #require(try KexecStage.current()) {
      case .beforeKexec: try VFIOPCILiveUpdateKexecTest.stage1(address)
      case .afterKexec: try VFIOPCILiveUpdateKexecTest.stage2(address)
      }
    }
  }
}
