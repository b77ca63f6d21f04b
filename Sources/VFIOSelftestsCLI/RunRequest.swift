import LibVFIO

/// What `vfio-selftests run` asks of the test binary, validated: the stage, the iommu mode,
/// the devices, and the environment and arguments each per-device run gets.
public struct RunRequest: Equatable, Sendable {
  public var stage: Int?
  public var iommuMode: IOMMUMode?
  public var filter: String?

  public enum Invalid: Error, Equatable, CustomStringConvertible {
    case stage(String)
    public var description: String {
      switch self {
      case .stage(let s): "invalid stage '\(s)': expected 1 (before kexec) or 2 (after kexec)"
      }
    }
  }

  /// Parses `--stage` (1 or 2) and `--iommu-mode` (one of the five C mode names).
  public init(stage: String?, iommuMode: String?, filter: String? = nil) throws {
    if let stage {
      guard let n = Int(stage), n == 1 || n == 2 else { throw Invalid.stage(stage) }
      self.stage = n
    }
    if let iommuMode {
      guard let m = IOMMUMode(rawValue: iommuMode) else { throw VFIOError.unknownIOMMUMode(iommuMode) }
      self.iommuMode = m
    }
    self.filter = filter
  }

  /// The devices to run against: those named, else the journal's, else `VFIO_SELFTESTS_BDF`;
  /// an empty list means one run without a device (the hardware suites skip).
  public static func devices(named: [PCIAddress], journaled: [PCIAddress], environment: [String: String]) throws(VFIOError) -> [PCIAddress] {
    if !named.isEmpty { return named }
    if !journaled.isEmpty { return journaled }
    if let raw = environment["VFIO_SELFTESTS_BDF"], !raw.isEmpty { return [try PCIAddress(parsing: raw)] }
    return []
  }

  /// The test binary's environment for one device: the caller's, plus the device, stage and mode.
  public func environment(device: PCIAddress?, base: [String: String]) -> [String: String] {
    var env = base
    if let device { env["VFIO_SELFTESTS_BDF"] = device.description } else { env.removeValue(forKey: "VFIO_SELFTESTS_BDF") }
    if let stage { env["VFIO_SELFTESTS_STAGE"] = String(stage) }
    if let iommuMode { env["VFIO_SELFTESTS_IOMMU_MODE"] = iommuMode.rawValue }
    return env
  }

  /// The test binary's arguments.
  public func arguments(eventStream: String, junit: String?) -> [String] {
    var args = ["--testing-library", "swift-testing", "--event-stream-output-path", eventStream, "--event-stream-version", "0"]
    if let junit { args += ["--xunit-output", junit] }
    if let filter { args += ["--filter", filter] }
    return args
  }

  /// Where each device's JUnit goes: `FILE` for one device, `FILE` with `.<bdf>` before the
  /// extension for several.
  public static func junitPath(_ base: String, device: PCIAddress?, deviceCount: Int) -> String {
    guard deviceCount > 1, let device else { return base }
    let tag = device.description.replacingOccurrences(of: ":", with: "_")
    if let dot = base.lastIndex(of: "."), !base[dot...].contains("/") {
      return String(base[..<dot]) + ".\(tag)" + String(base[dot...])
    }
    return base + ".\(tag)"
  }
}

import Foundation
