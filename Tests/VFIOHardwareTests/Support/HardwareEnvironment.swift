// SPDX-License-Identifier: GPL-2.0-only
import Foundation
import Glibc
import LibVFIO
import Synchronization
import SystemPackage
import Testing

extension Tag {
  /// Tests that need a real VFIO device (`VFIO_SELFTESTS_BDF`) and root.
  @Tag static var hardware: Self
}

/// Every hardware suite nests in this one so that tests sharing the device never run at once.
@Suite(.serialized, .tags(.hardware), .checksKernelLog)
struct Hardware {}

/// The device and switches the hardware suites take from the environment, as the C selftests do.
enum HardwareEnvironment {
  /// Kernel capabilities a strict run expects (the one list: `StrictCapability`).
  typealias Capability = StrictCapability

  /// `VFIO_SELFTESTS_STRICT`: `1` expects every capability; a comma-separated list of
  /// `StrictCapability` names expects those. An expected
  /// capability that is missing fails the test instead of skipping it.
  /// A value that does not parse is recorded as an issue and counts as strict (`vfio-selftests
  /// run` refuses it before the run).
  static func isStrict(_ capability: Capability) -> Bool {
    do {
      return try SelftestsEnvironment.current.strict().expects(capability)
    } catch {
      Issue.record(Comment(rawValue: error.description))
      return true
    }
  }

  /// The capability a mode, or a device in a mode, needs.
  static func capability(for mode: IOMMUMode, device: Bool) -> Capability { Capability(for: mode, device: device) }

  /// `VFIO_SELFTESTS_IOMMU_MODE=<mode>` (set by `vfio-selftests run --iommu-mode`): only the
  /// suites of that mode run; the others skip with the reason "VFIO_SELFTESTS_IOMMU_MODE=<mode>".
  static func iommuModeFilter() throws(VFIOError) -> IOMMUMode? { try SelftestsEnvironment.current.iommuMode() }

  /// `VFIO_SELFTESTS_TIMEOUT_SCALE`: C's harness time limits (30 s a test; some tests more) are
  /// multiplied by this number (at least 1; default 1), for emulators such as QEMU's TCG, where a
  /// pin of C's 1 GiB regions alone can take longer than the limit. The value in use is printed
  /// with every check against it. Anything but a number from 1 to 100 is an error.
  static func timeoutScale() throws -> Double { try SelftestsEnvironment.current.timeoutScale() }

  /// The time the C harness gives the test a port mirrors (kselftest_harness.h: 30 s unless the
  /// test says otherwise), times VFIO_SELFTESTS_TIMEOUT_SCALE, and how to say it.
  struct CTimeLimit {
    let c: Duration
    let scale: Double
    var limit: Duration { c * scale }
    var description: String {
      scale == 1 ? "C's \(c) timeout" : "C's \(c) timeout × \(scale) (VFIO_SELFTESTS_TIMEOUT_SCALE), \(limit)"
    }
  }

  static func cTimeLimit(_ c: Duration = .seconds(30)) throws -> CTimeLimit {
    CTimeLimit(c: c, scale: try timeoutScale())
  }

  /// Runs `body` and fails the test when it took longer than `cTimeLimit(cLimit)`.
  static func withinCTimeLimit(_ cLimit: Duration = .seconds(30), sourceLocation: SourceLocation = #_sourceLocation,
                               _ body: () throws -> Void) throws {
    let limit = try cTimeLimit(cLimit)
    let start = ContinuousClock.now
    defer {
      let elapsed = ContinuousClock.now - start
      #expect(elapsed <= limit.limit, "took \(elapsed), beyond \(limit)", sourceLocation: sourceLocation)
    }
    try body()
  }

  enum Resolution: Sendable {
    case device(PCIAddress)
    case skip(String)
    case fail(String)
  }

  /// The device under test, from `VFIO_SELFTESTS_BDF` (or another variable naming one BDF).
  static func device(_ variable: SelftestsEnvironment.Variable = .bdf) -> Resolution {
    variable == .bdf ? bdfResolution : resolve(variable)
  }

  /// `VFIO_SELFTESTS_BDF`, parsed once: the environment is read once per process
  /// (`SelftestsEnvironment.current`), and every hardware case asks for it at least twice (its
  /// requirement and its fixture), each parse Character-level string work that the debug build
  /// the suites run as does unoptimized.
  private static let bdfResolution = resolve(.bdf)

  private static func resolve(_ variable: SelftestsEnvironment.Variable) -> Resolution {
    do {
      guard let a = try SelftestsEnvironment.current.address(variable) else { return .skip("\(variable.rawValue) not set") }
      return .device(a)
    } catch {
      return .fail(error.description)
    }
  }

  enum DevicesResolution {
    case devices([PCIAddress])
    case skip(String)
    case fail(String)
  }

  /// The devices of the suites that take several: `VFIO_SELFTESTS_BDFS` (space-separated), else
  /// `VFIO_SELFTESTS_BDF`.
  static func devices() -> DevicesResolution {
    do {
      if let all = try SelftestsEnvironment.current.addresses(.bdfs) { return .devices(all) }
    } catch {
      return .fail(error.description)
    }
    switch device() {
    case .device(let a): return .devices([a])
    case .skip(let reason): return .skip("VFIO_SELFTESTS_BDFS and \(reason)")
    case .fail(let message): return .fail(message)
    }
  }
}

/// What a test needs beyond a device in a mode: a probe run on the opened device that returns
/// the C test's skip text when the device lacks it.
struct DeviceFeature: Sendable {
  /// Names the check: its answers are kept per process (`RequiresVFIODevice.missing`).
  let key: String
  let missing: @Sendable (VFIOPCIDevice) -> String?

  static let reset = DeviceFeature(key: "reset") { $0.supportsReset ? nil : "Device does not support reset" }

  static func irq(_ index: UInt32) -> DeviceFeature {
    DeviceFeature(key: "irq\(index)") { device in
      let info = index == VFIO.PCI_MSI_IRQ_INDEX ? device.msiInfo : device.msixInfo
      return info.count > 0 ? nil : "MSI\(index == VFIO.PCI_MSIX_IRQ_INDEX ? "-x" : ""): not supported"
    }
  }

  /// Every one of `features`; the first one missing gives the reason.
  static func all(_ features: DeviceFeature...) -> DeviceFeature {
    DeviceFeature(key: features.map(\.key).joined(separator: "+")) { device in features.lazy.compactMap { $0.missing(device) }.first }
  }

  /// Skips the case with the C test's text unless `device`, opened by the case itself, has the
  /// feature: where C's fixture or test skips after opening the device, the same check without
  /// a second open (`RequiresVFIODevice.missing` opens the device once more to ask).
  func require(of device: VFIOPCIDevice) throws {
    if let reason = missing(device) { try Test.cancel(Comment(rawValue: reason)) }
  }

  /// A mapped read/write BAR of at least `minimumSize` bytes (the MMIO DMA tests).
  static func mappableBAR(minimumSize: UInt64 = 0) -> DeviceFeature {
    DeviceFeature(key: "mappableBAR>=\(minimumSize)") { device in
      guard let bar = device.largestMappedBAR else { return "No mappable BAR found on device \(device.id)" }
      return bar.info.size >= minimumSize ? nil : "BAR too small (size=0x\(String(bar.info.size, radix: 16)))"
    }
  }
}

/// Skips (a true skip, with the reason, in the console and in xunit) unless the device named by
/// `VFIO_SELFTESTS_BDF` can be opened in `mode` on this kernel, as root, and has `feature`.
/// With `VFIO_SELFTESTS_STRICT=1`, a kernel that lacks the mode or the device's VFIO interface
/// fails instead; an unset BDF and a device without the feature always skip.
struct RequiresVFIODevice: TestTrait, SuiteTrait {
  let mode: IOMMUMode
  let feature: DeviceFeature?
  /// The variable naming the device (the SR-IOV suites take their PF from another one).
  var variable = SelftestsEnvironment.Variable.bdf
  var isRecursive: Bool { true }

  func prepare(for test: Test) async throws {
    guard !test.isSuite else { return }
    guard try Self.modeSelected(mode) else { return }
    try requireVFIODevice(mode, needs: feature, variable: variable)
  }

  /// Skips unless `VFIO_SELFTESTS_IOMMU_MODE` is unset or names `mode`; throws
  /// `RequirementFailure` when it names no mode at all.
  static func modeSelected(_ mode: IOMMUMode) throws -> Bool {
    let only: IOMMUMode
    do throws(VFIOError) {
      guard let m = try HardwareEnvironment.iommuModeFilter() else { return true }
      only = m
    } catch {
      throw RequirementFailure(description: error.description)
    }
    if only != mode { try Test.cancel(Comment(rawValue: "VFIO_SELFTESTS_IOMMU_MODE=\(only)")) }
    return true
  }

  /// Opens the device briefly to see whether it has `feature`; the C test's skip text if not.
  /// The answer is kept for the process, per feature, device and mode: a device's BARs, reset and
  /// interrupts do not change while the suites run, and the open and close cost as much as the
  /// test's own (a per-case check had doubled the time of vfio_dma_mapping_mmio_test's cases).
  static func missing(_ feature: DeviceFeature, _ address: PCIAddress, _ mode: IOMMUMode) throws -> String? {
    let key = "\(feature.key) \(address) \(mode.rawValue)"
    if let known = answers.withLock({ $0[key] }) { return known }
    let answer = try withDevice(mode, .pci(address)) { feature.missing($0) }
    answers.withLock { $0[key] = answer }
    return answer
  }

  private static let answers = Mutex<[String: String?]>([:])
}

extension Trait where Self == RequiresVFIODevice {
  /// Needs the device from `VFIO_SELFTESTS_BDF`, usable in `mode`, and optionally `feature`.
  static func vfioDevice(_ mode: IOMMUMode, needs feature: DeviceFeature? = nil) -> Self {
    RequiresVFIODevice(mode: mode, feature: feature)
  }
}

/// The address the traits already validated.
func deviceUnderTest() throws -> PCIAddress {
  guard case .device(let address) = HardwareEnvironment.device() else {
    throw VFIOError.unexpected(operation: "test setup", device: "-", detail: "no device (the trait should have skipped)")
  }
  return address
}

/// The device under test, opened in `mode` for the duration of `body`, then closed (device
/// first, then the IOMMU), whatever `body` does.
func withDevice<R>(_ mode: IOMMUMode, _ body: (VFIOPCIDevice) throws -> R) throws -> R {
  try withDevice(mode, .pci(try deviceUnderTest()), body)
}

/// Device `id` (a PCI function or an mdev), opened in `mode` for `body`, then closed (device
/// first, then the IOMMU).
func withDevice<R>(_ mode: IOMMUMode, _ id: VFIODeviceID, _ body: (VFIOPCIDevice) throws -> R) throws -> R {
  let iommu = try IOMMU(mode: mode)
  defer { iommu.close() }
  let device = try VFIOPCIDevice(id: id, iommu: iommu)
  defer { device.close() }
  return try body(device)
}

/// libvfio's `dev_info`: a line prefixed with the device address.
func devInfo(_ device: VFIOPCIDevice, _ message: String) {
  print("\(device.id): \(message)")
}

extension Trait where Self == TimeLimitTrait {
  /// Every hardware test's hang guard: a hung ioctl is reported as a failure after this, never
  /// waited on forever. It is a guard, not a performance check: under TCG on a loaded host a
  /// test that takes seconds on hardware can take minutes. The C harness's own limits (30 s a
  /// test, some more) are checked in the tests that mirror them, scaled by
  /// VFIO_SELFTESTS_TIMEOUT_SCALE.
  static var hangGuard: Self { .timeLimit(.minutes(10)) }
}

extension Result where Failure == VFIOError {
  /// The errno of a failed system call; nil on success or a failure that is not a system call's.
  var errno: Errno? {
    if case .failure(let e) = self { return e.errno }
    return nil
  }
}
