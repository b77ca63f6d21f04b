// SPDX-License-Identifier: GPL-2.0-only
import Foundation
import LibVFIO

/// What `vfio-selftests run` asks of the test binary, validated: the stage, the iommu mode,
/// the devices, and the environment and arguments each per-device run gets.
public struct RunRequest: Equatable, Sendable {
  public var stage: Int?
  public var iommuMode: IOMMUMode?
  public var filter: String?
  public var skip: String?
  /// Devices the suites may use besides the one under test (`VFIO_SELFTESTS_BDFS`: the driver
  /// test's devices, init_perf's), with no run of their own.
  public var extraDevices: [PCIAddress] = []

  public enum Invalid: Error, Equatable, CustomStringConvertible {
    case stage(String)
    public var description: String {
      switch self {
      case .stage(let s): "invalid stage '\(s)': expected 1 (before kexec) or 2 (after kexec)"
      }
    }
  }

  /// Parses `--stage` (1 or 2) and `--iommu-mode` (one of the five C mode names).
  public init(stage: String?, iommuMode: String?, filter: String? = nil, skip: String? = nil, extraDevices: [PCIAddress] = []) throws {
    if let stage {
      guard let n = Int(stage), n == 1 || n == 2 else { throw Invalid.stage(stage) }
      self.stage = n
    }
    if let iommuMode {
      guard let m = IOMMUMode(rawValue: iommuMode) else { throw VFIOError.unknownIOMMUMode(iommuMode) }
      self.iommuMode = m
    }
    self.filter = filter
    self.skip = skip
    self.extraDevices = extraDevices
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
    if !extraDevices.isEmpty {
      env["VFIO_SELFTESTS_BDFS"] = ((device.map { [$0] } ?? []) + extraDevices.filter { $0 != device }).map(\.description).joined(separator: " ")
    }
    if let stage { env["VFIO_SELFTESTS_STAGE"] = String(stage) }
    if let iommuMode {
      env["VFIO_SELFTESTS_IOMMU_MODE"] = iommuMode.rawValue
      env[IOMMUMode.underTestVariable] = iommuMode.rawValue
    }
    return env
  }

  /// The test binary's filter arguments (the event-stream ones are added where it is spawned).
  /// Its own xunit is not asked for: KTAP and JUnit both come from the event stream.
  public func arguments() -> [String] {
    var args: [String] = []
    if let filter { args += ["--filter", filter] }
    if let skip { args += ["--skip", skip] }
    return args
  }

  /// Checks before anything runs that a report can be written to `path` (`-`: stdout): it
  /// creates the file if it is missing, leaving it empty, so a run never ends in an unwritable
  /// path. Throws a one-line error naming the option, the path and the errno.
  public static func checkOutput(_ path: String, option: String) throws(OutputError) {
    if path == "-" { return }
    let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
    if fd < 0 { throw OutputError(option: option, path: path, errno: errno) }
    close(fd)
  }

  public struct OutputError: Error, Equatable, CustomStringConvertible {
    public var option: String
    public var path: String
    public var errno: Int32
    public var description: String { "\(option) \(path): cannot write: \(String(cString: strerror(errno))) (errno \(errno))" }
  }
}
