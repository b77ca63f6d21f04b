// SPDX-License-Identifier: GPL-2.0-only
// The tests parameterized over the iommu modes (one per C test, one case per mode): the modes a
// run tests, their tag, and the checks each case makes of what its mode needs (what the
// per-mode suites' `.vfioDevice(mode)` and `.vfioDevices(mode, needs:)` traits checked), with
// the same skip reasons and the same strict-mode failures.
import Foundation
import LibVFIO
import Testing

extension Tag {
  /// A test whose arguments are `IOMMUMode.underTest()`. `vfio-selftests` names its cases by
  /// mode even when Swift Testing lists none (a test a trait skipped while planning, `--list-tests`).
  @Tag static var iommuModes: Self
}

extension IOMMUMode {
  /// The modes this run tests (`VFIO_SELFTESTS_IOMMU_MODES`, else `VFIO_SELFTESTS_IOMMU_MODE`,
  /// else all five): the arguments of every test over the modes, so a mode not chosen has no
  /// case at all. A name that is no mode fails every such test.
  static func underTest() throws -> [IOMMUMode] {
    try SelftestsEnvironment.current.iommuModesUnderTest()
  }
}

/// A capability `VFIO_SELFTESTS_STRICT` expects that the kernel lacks, or a bad device variable:
/// thrown from a test case, it fails that case saying why.
struct RequirementFailure: Error, CustomStringConvertible {
  var description: String
}

/// The device of `variable` (`VFIO_SELFTESTS_BDF`), usable in `mode`, as root, with `feature`:
/// cancels the case (a skip with the reason) when not; throws `RequirementFailure` under
/// `VFIO_SELFTESTS_STRICT` for a mode or a device interface the kernel lacks.
func requireVFIODevice(_ mode: IOMMUMode, needs feature: DeviceFeature? = nil,
                       variable: SelftestsEnvironment.Variable = .bdf) throws {
  let address: PCIAddress
  switch HardwareEnvironment.device(variable) {
  case .skip(let reason): try Test.cancel(Comment(rawValue: reason))
  case .fail(let message): throw RequirementFailure(description: message)
  case .device(let a): address = a
  }
  let host = HostCapabilities()
  guard host.isRoot else { try Test.cancel("not root") }
  try requireMode(mode, host: host, device: address)
  if let feature, let reason = try RequiresVFIODevice.missing(feature, address, mode) {
    try Test.cancel(Comment(rawValue: reason))
  }
}

/// `mode` on this kernel (and, given `device`, that device's VFIO interface for it): cancels the
/// case with the reason when the kernel lacks it, or throws `RequirementFailure` when
/// `VFIO_SELFTESTS_STRICT` expects that capability.
func requireMode(_ mode: IOMMUMode, host: HostCapabilities, device: PCIAddress? = nil) throws {
  let missing = host.unavailability(of: mode).map { ($0, false) } ?? device.flatMap { host.deviceUnavailability($0, mode: mode) }.map { ($0, true) }
  guard let (reason, isDevice) = missing else { return }
  let capability = HardwareEnvironment.capability(for: mode, device: isDevice)
  if HardwareEnvironment.isStrict(capability) {
    throw RequirementFailure(description: "VFIO_SELFTESTS_STRICT (\(capability.rawValue)): \(mode): \(reason)")
  }
  try Test.cancel(Comment(rawValue: "\(mode): \(reason)"))
}

/// At least one device of `VFIO_SELFTESTS_BDFS` (else `VFIO_SELFTESTS_BDF`) usable in `mode`
/// with `feature`, per case, as `.vfioDevices(mode, needs:)` checks it.
func requireVFIODevices(_ mode: IOMMUMode, needs feature: DeviceFeature) throws {
  let given: [PCIAddress]
  switch HardwareEnvironment.devices() {
  case .skip(let reason): try Test.cancel(Comment(rawValue: reason))
  case .fail(let message): throw RequirementFailure(description: message)
  case .devices(let d): given = d
  }
  let host = HostCapabilities()
  guard host.isRoot else { try Test.cancel("not root") }
  try requireMode(mode, host: host)
  let usable = try UsableDevices.find(given, mode: mode, feature: feature)
  if !usable.strictFailures.isEmpty { throw RequirementFailure(description: usable.strictFailures.joined(separator: "; ")) }
  if usable.devices.isEmpty { try Test.cancel(Comment(rawValue: usable.noneReason(given: given))) }
}
