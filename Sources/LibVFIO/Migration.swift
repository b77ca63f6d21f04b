// SPDX-License-Identifier: GPL-2.0-only
import CVFIOShim
import SystemPackage

/// `enum vfio_device_mig_state`, with the kernel's values.
public enum MigrationState: UInt32, CaseIterable, Sendable, CustomStringConvertible {
  case error = 0
  case stop = 1
  case running = 2
  case stopCopy = 3
  case resuming = 4
  case runningP2P = 5
  case preCopy = 6
  case preCopyP2P = 7

  /// The kernel's name (`VFIO_DEVICE_STATE_RUNNING_P2P` → `RUNNING_P2P`).
  public var description: String {
    switch self {
    case .error: "ERROR"
    case .stop: "STOP"
    case .running: "RUNNING"
    case .stopCopy: "STOP_COPY"
    case .resuming: "RESUMING"
    case .runningP2P: "RUNNING_P2P"
    case .preCopy: "PRE_COPY"
    case .preCopyP2P: "PRE_COPY_P2P"
    }
  }

  /// A raw state value for messages: the name when it is one, else the number.
  public static func name(_ raw: UInt32) -> String { MigrationState(rawValue: raw)?.description ?? "state \(raw)" }
}

/// `VFIO_DEVICE_FEATURE_MIGRATION` flags.
public struct MigrationFlags: OptionSet, Sendable, CustomStringConvertible {
  public let rawValue: UInt64
  public init(rawValue: UInt64) { self.rawValue = rawValue }

  public static let stopCopy = MigrationFlags(rawValue: VFIO.MIGRATION_STOP_COPY)
  public static let p2p = MigrationFlags(rawValue: VFIO.MIGRATION_P2P)
  public static let preCopy = MigrationFlags(rawValue: VFIO.MIGRATION_PRE_COPY)

  public var description: String {
    var names: [String] = []
    if contains(.stopCopy) { names.append("STOP_COPY") }
    if contains(.p2p) { names.append("P2P") }
    if contains(.preCopy) { names.append("PRE_COPY") }
    let rest = rawValue & ~(MigrationFlags.stopCopy.rawValue | MigrationFlags.p2p.rawValue | MigrationFlags.preCopy.rawValue)
    if rest != 0 { names.append("0x\(String(rest, radix: 16))") }
    return names.isEmpty ? "none" : names.joined(separator: "|")
  }
}

/// The data transfer fd a `VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE` SET returns: read in the saving
/// states (PRE_COPY, PRE_COPY_P2P, STOP_COPY), written in RESUMING. Closed once.
public final class MigrationDataFile {
  public private(set) var fd: FileDescriptor
  let device: String

  init(fd: FileDescriptor, device: String) {
    self.fd = fd
    self.device = device
  }

  deinit { close() }

  public func close() {
    if fd.rawValue >= 0 { try? fd.close() }
    fd = FileDescriptor(rawValue: -1)
  }

  /// One `read(2)` of at most `maxCount` bytes; the bytes (empty at end of stream) or the errno.
  public func readResult(maxCount: Int) -> Result<[UInt8], Errno> {
    fd.readBytes(maxCount: maxCount)
  }

  /// Reads until end of stream (`read` returns 0), in `chunk`-byte reads: the whole STOP_COPY
  /// stream, or in PRE_COPY what is available until the temporary end of stream.
  public func readToEnd(chunk: Int = 4096, limit: Int = 1 << 30) throws(VFIOError) -> [UInt8] {
    var out: [UInt8] = []
    while true {
      let part = try readResult(maxCount: chunk).get("read(migration data fd, \(chunk))", device: device)
      if part.isEmpty { return out }
      out += part
      guard out.count <= limit else {
        throw .unexpected(operation: "read(migration data fd)", device: device, detail: "stream exceeds \(limit) bytes without end of stream")
      }
    }
  }

  /// One `write(2)`; the count written or the errno.
  public func writeResult(_ bytes: ArraySlice<UInt8>) -> Result<Int, Errno> {
    fd.writeBytes(bytes)
  }

  /// Writes all of `bytes` (looping over short writes) in `chunk`-byte writes, as a RESUMING
  /// user feeds the stream.
  public func writeAll(_ bytes: [UInt8], chunk: Int = 4096) throws(VFIOError) {
    var offset = 0
    while offset < bytes.count {
      let end = min(offset + chunk, bytes.count)
      let n = try writeResult(bytes[offset..<end]).get("write(migration data fd, \(end - offset) at \(offset))", device: device)
      guard n > 0 else {
        throw .unexpected(operation: "write(migration data fd)", device: device, detail: "wrote 0 bytes at \(offset) of \(bytes.count)")
      }
      offset += n
    }
  }

  /// `VFIO_MIG_GET_PRECOPY_INFO`, throwing on failure.
  public func precopyInfo() throws(VFIOError) -> vfio_precopy_info {
    try precopyInfoResult().get("ioctl(data fd, VFIO_MIG_GET_PRECOPY_INFO)", device: device)
  }

  /// `VFIO_MIG_GET_PRECOPY_INFO` (valid in the PRE_COPY states); the info or the errno.
  public func precopyInfoResult() -> Result<vfio_precopy_info, Errno> {
    var info = vfio_precopy_info()
    info.argsz = UInt32(MemoryLayout<vfio_precopy_info>.size)
    return fd.ioctl(VFIO.MIG_GET_PRECOPY_INFO, &info).map { _ in info }
  }
}

// MARK: the migration uAPI on a device

extension VFIOPCIDevice {
  /// `VFIO_DEVICE_FEATURE` with `flags` (GET/SET/PROBE | feature) and `payload` after the header.
  /// Returns the payload as the kernel left it, or the errno. `T` is a uAPI struct.
  public func featureResult<T>(_ flags: UInt32, _ payload: T) -> Result<T, Errno> {
    Self.featureResult(on: fd, flags, payload)
  }

  /// `VFIO_DEVICE_FEATURE` on any VFIO device fd (the same, for fds not wrapped in a
  /// `VFIOPCIDevice`, such as a `VFIODeviceFile`'s).
  public static func featureResult<T>(on fd: FileDescriptor, _ flags: UInt32, _ payload: T) -> Result<T, Errno> {
    let header = MemoryLayout<vfio_device_feature>.size
    let size = header + MemoryLayout<T>.size
    let buf = IoctlBuffer(byteCount: size)
    var f = vfio_device_feature()
    f.argsz = UInt32(size)
    f.flags = flags
    buf.store(f)
    buf.store(payload, toByteOffset: header)
    switch buf.ioctl(fd, VFIO.DEVICE_FEATURE) {
    case .success: return .success(buf.load(fromByteOffset: header, as: T.self))
    case .failure(let e): return .failure(e)
    }
  }

  /// `VFIO_DEVICE_FEATURE_MIGRATION` GET: the device's migration flags, or the errno (ENOTTY
  /// when the device does not support migration).
  public func migrationFlagsResult() -> Result<MigrationFlags, Errno> {
    featureResult(VFIO.DEVICE_FEATURE_GET | VFIO.DEVICE_FEATURE_MIGRATION, vfio_device_feature_migration())
      .map { MigrationFlags(rawValue: $0.flags) }
  }

  /// `VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE` GET: the raw state value, or the errno.
  public func migrationStateResult() -> Result<UInt32, Errno> {
    featureResult(VFIO.DEVICE_FEATURE_GET | VFIO.DEVICE_FEATURE_MIG_DEVICE_STATE, vfio_device_feature_mig_state())
      .map { $0.device_state }
  }

  /// The migration flags; throws ENOTTY for a device without migration.
  public func migrationFlags() throws(VFIOError) -> MigrationFlags {
    try migrationFlagsResult().get("ioctl(VFIO_DEVICE_FEATURE, GET MIGRATION)", device: name)
  }

  /// The estimated STOP_COPY stream length.
  public func migrationDataSize() throws(VFIOError) -> UInt64 {
    try migrationDataSizeResult().get("ioctl(VFIO_DEVICE_FEATURE, GET MIG_DATA_SIZE)", device: name)
  }

  /// The current migration state.
  public func migrationState() throws(VFIOError) -> MigrationState {
    let raw = try migrationStateResult().get("ioctl(VFIO_DEVICE_FEATURE, GET MIG_DEVICE_STATE)", device: name)
    guard let s = MigrationState(rawValue: raw) else {
      throw .unexpected(operation: "ioctl(VFIO_DEVICE_FEATURE, GET MIG_DEVICE_STATE)", device: name, detail: "unknown state \(raw)")
    }
    return s
  }

  /// `VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE` SET to a raw state value: the data fd the arc
  /// returned (nil when `data_fd` is -1), or the errno.
  public func setMigrationStateResult(_ raw: UInt32) -> Result<MigrationDataFile?, Errno> {
    var mig = vfio_device_feature_mig_state()
    mig.device_state = raw
    mig.data_fd = -1
    return featureResult(VFIO.DEVICE_FEATURE_SET | VFIO.DEVICE_FEATURE_MIG_DEVICE_STATE, mig).map { out in
      out.data_fd >= 0 ? MigrationDataFile(fd: FileDescriptor(rawValue: out.data_fd), device: name) : nil
    }
  }

  /// Moves the device to `state`; the data fd when the arc returns one.
  @discardableResult
  public func setMigrationState(_ state: MigrationState) throws(VFIOError) -> MigrationDataFile? {
    try setMigrationStateResult(state.rawValue).get("ioctl(VFIO_DEVICE_FEATURE, SET MIG_DEVICE_STATE \(state))", device: name)
  }

  /// `VFIO_DEVICE_FEATURE_MIG_DATA_SIZE` GET: the estimated STOP_COPY stream length, or the errno.
  public func migrationDataSizeResult() -> Result<UInt64, Errno> {
    featureResult(VFIO.DEVICE_FEATURE_GET | VFIO.DEVICE_FEATURE_MIG_DATA_SIZE, vfio_device_feature_mig_data_size())
      .map { $0.stop_copy_length }
  }
}
