// SPDX-License-Identifier: GPL-2.0-only
// The driver layer's own logic (vfio_pci_driver.c's checks: call order, in-progress state, size
// and count limits, chunking), driven through a fake driver with no device. This checks the
// library only: what a real driver does with a real device is for the guest run of
// vfio_pci_driver_test.
import LibVFIO
import Testing

/// What the fake driver was asked to do, in order.
final class DriverCalls {
  var log: [String] = []
}

/// A driver with no device: it records its calls, returns `waitResults` from successive waits
/// (0 once they run out), and can fail memcpy_start.
final class FakeDriver: VFIOPCIDriverOps {
  static let name = "fake"
  static var requiredRegionSize: Int { 8192 }
  static var dmaMask: UInt64 { 0xffff_ffff }

  struct StartFailure: Error {}

  let maxMemcpySize: UInt64
  let maxMemcpyCount: UInt64
  let msi: UInt32 = 3
  let calls: DriverCalls
  var waitResults: [Int32]
  let failStart: Bool
  let hasSendMSI: Bool

  init(calls: DriverCalls, maxSize: UInt64 = 4096, maxCount: UInt64 = 16, waitResults: [Int32] = [], failStart: Bool = false, hasSendMSI: Bool = true) {
    self.calls = calls
    maxMemcpySize = maxSize
    maxMemcpyCount = maxCount
    self.waitResults = waitResults
    self.failStart = failStart
    self.hasSendMSI = hasSendMSI
    calls.log.append("init")
  }

  static func probe(_ device: VFIOPCIDevice) -> Bool { false }

  /// Never called: the tests build the driver through VFIOPCIDriver's device-free initializer.
  init(device: VFIOPCIDevice, region: VFIOPCIDriverRegion) throws {
    throw VFIOError.unexpected(operation: "init", device: device.id.description, detail: "the fake driver has no device")
  }

  func remove() throws { calls.log.append("remove") }

  func memcpyStart(src: UInt64, dst: UInt64, size: UInt64, count: UInt64) throws {
    if failStart { throw StartFailure() }
    calls.log.append("start 0x\(String(src, radix: 16)) 0x\(String(dst, radix: 16)) 0x\(String(size, radix: 16)) \(count)")
  }

  func memcpyWait() throws -> Int32 {
    calls.log.append("wait")
    return waitResults.isEmpty ? 0 : waitResults.removeFirst()
  }

  var sendMSI: (() throws -> Void)? {
    hasSendMSI ? { [calls] in calls.log.append("send_msi") } : nil
  }
}

@Suite("VFIOPCIDriver checks (fake driver, no device)")
struct VFIOPCIDriverTests {
  let calls = DriverCalls()

  func region(size: Int = 8192, iova: UInt64 = 0x10_0000) throws -> VFIOPCIDriverRegion {
    VFIOPCIDriverRegion(memory: try MappedMemory.anonymousResult(size: size).get(), iova: iova)
  }

  func driver(maxSize: UInt64 = 4096, maxCount: UInt64 = 16, waitResults: [Int32] = [], failStart: Bool = false, hasSendMSI: Bool = true) -> VFIOPCIDriver {
    VFIOPCIDriver(deviceName: "0000:00:04.0", ops: FakeDriver.self) { [calls] _ in
      FakeDriver(calls: calls, maxSize: maxSize, maxCount: maxCount, waitResults: waitResults, failStart: failStart, hasSendMSI: hasSendMSI)
    }
  }

  @Test func everyOpBeforeInitIsRefused() throws {
    let d = driver()
    #expect(!d.initialized)
    #expect(throws: VFIOError.driver(.notInitialized(driver: "fake", op: "remove"))) { try d.remove() }
    #expect(throws: VFIOError.driver(.notInitialized(driver: "fake", op: "memcpy_start"))) { try d.memcpyStart(src: 0, dst: 0x1000, size: 8, count: 1) }
    #expect(throws: VFIOError.driver(.notInitialized(driver: "fake", op: "memcpy_wait"))) { _ = try d.memcpyWait() }
    #expect(throws: VFIOError.driver(.notInitialized(driver: "fake", op: "send_msi"))) { try d.sendMSI() }
    #expect(throws: VFIOError.driver(.notInitialized(driver: "fake", op: "memcpy_start"))) { _ = try d.memcpy(src: 0, dst: 0x1000, size: 8) }
    #expect(calls.log.isEmpty)
    #expect(d.maxMemcpySize == 0 && d.maxMemcpyCount == 0 && d.msi == nil)
  }

  @Test func initRemoveCyclesAndTheLimitsComeFromTheDriver() throws {
    let d = driver(maxSize: 1024, maxCount: 4095)
    let r = try region()
    for _ in 0..<3 {
      try d.initialize(region: r)
      #expect(d.initialized && d.maxMemcpySize == 1024 && d.maxMemcpyCount == 4095 && d.msi == 3)
      try d.remove()
      #expect(!d.initialized)
    }
    #expect(calls.log == ["init", "remove", "init", "remove", "init", "remove"])
  }

  @Test func initWhileInitializedIsRefused() throws {
    let d = driver()
    try d.initialize(region: try region())
    #expect(throws: VFIOError.driver(.alreadyInitialized(driver: "fake"))) { try d.initialize(region: try region()) }
    #expect(calls.log == ["init"])
  }

  @Test func aRegionSmallerThanTheDriverNeedsIsRefused() throws {
    let d = driver()
    #expect(throws: VFIOError.driver(.regionTooSmall(driver: "fake", size: 4096, needed: 8192))) { try d.initialize(region: try region(size: 4096)) }
    #expect(!d.initialized && calls.log.isEmpty)
  }

  @Test func aRegionBeyondTheDMAMaskIsRefused() throws {
    let d = driver()
    #expect(throws: VFIOError.driver(.beyondDMAMask(driver: "fake", what: "driver region", iova: 0xffff_f000, size: 8192, mask: 0xffff_ffff))) {
      try d.initialize(region: try region(iova: 0xffff_f000))
    }
    #expect(!d.initialized && calls.log.isEmpty)
    // The last 8 KiB below the mask are fine.
    try d.initialize(region: try region(iova: 0xffff_e000))
  }

  @Test func sizeAndCountAboveTheLimitsNeverReachTheDriver() throws {
    let d = driver(maxSize: 4096, maxCount: 16)
    try d.initialize(region: try region())
    #expect(throws: VFIOError.driver(.sizeTooLarge(driver: "fake", size: 4097, max: 4096))) { try d.memcpyStart(src: 0, dst: 0x2000, size: 4097, count: 1) }
    #expect(throws: VFIOError.driver(.countTooLarge(driver: "fake", count: 17, max: 16))) { try d.memcpyStart(src: 0, dst: 0x2000, size: 4096, count: 17) }
    #expect(!d.memcpyInProgress)
    try d.memcpyStart(src: 0, dst: 0x2000, size: 4096, count: 16)
    #expect(d.memcpyInProgress)
    #expect(calls.log == ["init", "start 0x0 0x2000 0x1000 16"])
  }

  @Test func whileAMemcpyIsInProgressOnlyWaitIsAllowed() throws {
    let d = driver(waitResults: [-110])
    try d.initialize(region: try region())
    try d.memcpyStart(src: 0x1000, dst: 0x2000, size: 64, count: 2)
    #expect(throws: VFIOError.driver(.memcpyInProgress(driver: "fake", op: "remove"))) { try d.remove() }
    #expect(throws: VFIOError.driver(.memcpyInProgress(driver: "fake", op: "send_msi"))) { try d.sendMSI() }
    #expect(throws: VFIOError.driver(.memcpyInProgress(driver: "fake", op: "memcpy_start"))) { try d.memcpyStart(src: 0, dst: 0, size: 1, count: 1) }
    #expect(throws: VFIOError.driver(.memcpyInProgress(driver: "fake", op: "memcpy_start"))) { _ = try d.memcpy(src: 0, dst: 0, size: 1) }
    #expect(d.initialized)
    #expect(try d.memcpyWait() == -110)
    #expect(!d.memcpyInProgress)
    #expect(throws: VFIOError.driver(.noMemcpyInProgress(driver: "fake"))) { _ = try d.memcpyWait() }
    try d.sendMSI()
    try d.remove()
    #expect(calls.log == ["init", "start 0x1000 0x2000 0x40 2", "wait", "send_msi", "remove"])
  }

  @Test func aStartTheDriverRefusesLeavesNoMemcpyInProgress() throws {
    let d = driver(failStart: true)
    try d.initialize(region: try region())
    #expect(throws: FakeDriver.StartFailure.self) { try d.memcpyStart(src: 0, dst: 0x1000, size: 8, count: 1) }
    #expect(!d.memcpyInProgress)
    try d.remove()
  }

  @Test func memcpyGoesInChunksOfMaxSizeEachStartedWithCountOneThenWaited() throws {
    let d = driver(maxSize: 4096)
    try d.initialize(region: try region())
    #expect(try d.memcpy(src: 0x1000, dst: 0x10_0000, size: 10000) == 0)
    #expect(calls.log == [
      "init",
      "start 0x1000 0x100000 0x1000 1", "wait",
      "start 0x2000 0x101000 0x1000 1", "wait",
      "start 0x3000 0x102000 0x710 1", "wait",
    ])
    #expect(!d.memcpyInProgress)
  }

  @Test func memcpyStopsAtTheFirstNonZeroWait() throws {
    let d = driver(maxSize: 256, waitResults: [0, -5, 0])
    try d.initialize(region: try region())
    #expect(try d.memcpy(src: 0, dst: 0x1000, size: 1024) == -5)
    #expect(calls.log == ["init", "start 0x0 0x1000 0x100 1", "wait", "start 0x100 0x1100 0x100 1", "wait"])
    #expect(!d.memcpyInProgress)
    try d.remove()
  }

  @Test func memcpyOfNothingCallsNothing() throws {
    let d = driver()
    try d.initialize(region: try region())
    #expect(try d.memcpy(src: 0, dst: 0x1000, size: 0) == 0)
    #expect(calls.log == ["init"])
  }

  @Test func memcpyWithMaxSizeZeroIsRefusedInsteadOfLoopingForever() throws {
    let d = driver(maxSize: 0)
    try d.initialize(region: try region())
    #expect(throws: VFIOError.driver(.sizeTooLarge(driver: "fake", size: 8, max: 0))) { _ = try d.memcpy(src: 0, dst: 0x1000, size: 8) }
    #expect(calls.log == ["init"])
  }

  @Test func sendMSIWithoutTheOpIsRefused() throws {
    let d = driver(hasSendMSI: false)
    try d.initialize(region: try region())
    #expect(!d.supportsSendMSI)
    #expect(throws: VFIOError.driver(.noOp(driver: "fake", op: "send_msi"))) { try d.sendMSI() }
  }

  @Test func errorTextsNameTheDriverAndTheNumbers() {
    #expect(VFIOPCIDriverError.noDriver(device: "0000:00:03.0").description == "No driver found for device 0000:00:03.0")
    #expect(VFIOPCIDriverError.sizeTooLarge(driver: "edu", size: 0x1001, max: 0x1000).description == "edu: memcpy size 0x1001 > max_memcpy_size 0x1000")
    #expect(VFIOPCIDriverError.beyondDMAMask(driver: "edu", what: "driver region", iova: 0x1000_0000, size: 0x20_0000, mask: 0xfff_ffff).description
      == "edu: driver region at IOVA 0x10000000 (0x200000 bytes) is beyond the device's DMA mask 0xfffffff")
  }

  /// The port's own driver comes after C's four, so it wins only where none of them matches.
  @Test func eduIsRegisteredLastWithItsTwentyEightBitMask() {
    #expect(VFIOPCIDriver.all.last.map(ObjectIdentifier.init) == ObjectIdentifier(EDU.self))
    #expect(EDU.dmaMask == 0x0fff_ffff)
    #expect(EDU.requiredRegionSize == 0)
  }
}
