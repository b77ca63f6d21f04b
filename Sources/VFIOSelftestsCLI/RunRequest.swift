// SPDX-License-Identifier: GPL-2.0-only
import LibVFIO
import SystemPackage

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

  /// Parses `--stage` (1 or 2, with the environment's stage parser) and `--iommu-mode` (one of
  /// the five C mode names).
  public init(stage: String?, iommuMode: String?, filter: String? = nil, skip: String? = nil, extraDevices: [PCIAddress] = []) throws {
    if let stage {
      do throws(SelftestsEnvironment.Mismatch) { self.stage = try SelftestsEnvironment.Parse.stage(stage) } catch { throw Invalid.stage(stage) }
    }
    if let iommuMode { self.iommuMode = try IOMMUMode(named: iommuMode) }
    self.filter = filter
    self.skip = skip
    self.extraDevices = extraDevices
  }

  /// The devices to run against: those named, else the journal's, else `VFIO_SELFTESTS_BDF`;
  /// an empty list means one run without a device (the hardware suites skip).
  public static func devices(named: [PCIAddress], journaled: [PCIAddress], environment: SelftestsEnvironment) throws(VFIOError) -> [PCIAddress] {
    if !named.isEmpty { return named }
    if !journaled.isEmpty { return journaled }
    return try environment.address(.bdf).map { [$0] } ?? []
  }

  /// The test binary's environment for one device: the caller's, plus the device, stage and mode.
  public func environment(device: PCIAddress?, base: [String: String]) -> [String: String] {
    typealias V = SelftestsEnvironment.Variable
    var env = base
    if let device { env[V.bdf.rawValue] = device.description } else { env.removeValue(forKey: V.bdf.rawValue) }
    if !extraDevices.isEmpty {
      env[V.bdfs.rawValue] = ((device.map { [$0] } ?? []) + extraDevices.filter { $0 != device }).map(\.description).joined(separator: " ")
    }
    if let stage { env[V.stage.rawValue] = String(stage) }
    if let iommuMode {
      env[V.iommuMode.rawValue] = iommuMode.rawValue
      env[V.iommuModes.rawValue] = iommuMode.rawValue
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
    switch openFile(path, .writeOnly, options: [.create, .closeOnExec], permissions: [.ownerReadWrite, .groupRead, .otherRead]) {
    case .success(let fd): try? fd.close()
    case .failure(let e): throw OutputError(option: option, path: path, errno: e.rawValue)
    }
  }

  public struct OutputError: Error, Equatable, CustomStringConvertible {
    public var option: String
    public var path: String
    public var errno: Int32
    public var description: String { "\(option) \(path): cannot write: \(Errno(rawValue: errno)) (errno \(errno))" }
  }
}
