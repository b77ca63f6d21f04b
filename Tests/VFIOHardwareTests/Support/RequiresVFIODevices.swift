// SPDX-License-Identifier: GPL-2.0-only
// The device list of the suites that run on every device given (VFIO_SELFTESTS_BDFS, else
// VFIO_SELFTESTS_BDF) that has a feature, such as reset: the trait that skips when none has it,
// and the list the test body runs on.
import LibVFIO
import Testing

/// The devices of `HardwareEnvironment.devices()` usable in `mode` that have `feature`, and why
/// each other one is left out (`<bdf>: <reason>`, the reason being the C test's skip text for a
/// missing feature).
struct UsableDevices {
  var devices: [PCIAddress] = []
  var excluded: [String] = []
  /// Failures under `VFIO_SELFTESTS_STRICT`: a device the kernel cannot offer in `mode`.
  var strictFailures: [String] = []

  /// Opens each device briefly (in `mode`) to probe `feature`.
  static func find(_ addresses: [PCIAddress], mode: IOMMUMode, feature: DeviceFeature) throws -> UsableDevices {
    var out = UsableDevices()
    let host = HostCapabilities()
    for address in addresses {
      if let reason = host.deviceUnavailability(address, mode: mode) {
        let capability = HardwareEnvironment.capability(for: mode, device: true)
        if HardwareEnvironment.isStrict(capability) {
          out.strictFailures.append("VFIO_SELFTESTS_STRICT (\(capability.rawValue)): \(mode): \(address): \(reason)")
        }
        out.excluded.append("\(address): \(reason)")
        continue
      }
      if let reason = try RequiresVFIODevice.missing(feature, address, mode) {
        out.excluded.append("\(address): \(reason)")
        continue
      }
      out.devices.append(address)
    }
    return out
  }

  /// The skip reason when no device is usable: with one device given, the reason itself (for a
  /// missing feature, exactly the C test's text); with several, each device's.
  func noneReason(given: [PCIAddress]) -> String {
    if given.count == 1, let only = excluded.first {
      return String(only.dropFirst("\(given[0]): ".count))
    }
    return "no device in VFIO_SELFTESTS_BDFS is usable: " + excluded.joined(separator: "; ")
  }
}

/// Skips (a true skip, with the reason) unless `mode` works on this kernel and at least one of
/// the devices given can be opened in it and has `feature`. With `VFIO_SELFTESTS_STRICT`, a
/// kernel that lacks the mode, or a device's VFIO interface for it, fails instead.
struct RequiresVFIODevices: TestTrait, SuiteTrait {
  let mode: IOMMUMode
  let feature: DeviceFeature
  var isRecursive: Bool { true }

  func prepare(for test: Test) async throws {
    guard !test.isSuite else { return }
    guard try RequiresVFIODevice.modeSelected(mode) else { return }
    try requireVFIODevices(mode, needs: feature)
  }
}

extension Trait where Self == RequiresVFIODevices {
  /// Needs at least one device of `VFIO_SELFTESTS_BDFS` (else `VFIO_SELFTESTS_BDF`) usable in
  /// `mode` with `feature`.
  static func vfioDevices(_ mode: IOMMUMode, needs feature: DeviceFeature) -> Self {
    RequiresVFIODevices(mode: mode, feature: feature)
  }
}

/// The devices a test under `.vfioDevices(mode, needs: feature)` runs on; says which it leaves out.
func devicesUnderTest(_ mode: IOMMUMode, needs feature: DeviceFeature) throws -> [PCIAddress] {
  guard case .devices(let given) = HardwareEnvironment.devices() else {
    throw VFIOError.unexpected(operation: "test setup", device: "-", detail: "no devices (the trait should have skipped)")
  }
  let usable = try UsableDevices.find(given, mode: mode, feature: feature)
  for reason in usable.excluded { print("not tested: \(reason)") }
  return usable.devices
}
