// SPDX-License-Identifier: GPL-2.0-only
import CVFIOShim
import LibVFIO
import SystemPackage

/// Facts about the Live Update Orchestrator device.
public enum LiveUpdate {
  /// The LUO character device (`LUO_DEVICE` in the C selftests).
  public static let devicePath = "/dev/liveupdate"
  /// Session names are at most 63 bytes plus the NUL (`LIVEUPDATE_SESSION_NAME_LENGTH`).
  public static let maxSessionNameLength = LiveUpdateUAPI.sessionNameLength - 1

  /// Throws unless `name` fits the 64-byte name field with its NUL: never silently truncated.
  static func checkName(_ name: String) throws(LiveUpdateError) {
    let count = name.utf8.count
    guard count <= maxSessionNameLength else { throw .sessionNameTooLong(name: name, bytes: count) }
  }

  /// The 64-byte name field for `name`, NUL-terminated; throws rather than truncate.
  static func nameField(_ name: String) throws(LiveUpdateError) -> [UInt8] {
    try checkName(name)
    var arg = liveupdate_ioctl_create_session()
    copyName(name, into: &arg.name)
    return bytes(ofName: arg.name)
  }
}

/// `/dev/liveupdate`, opened exclusively (a second open fails with EBUSY).
public final class LiveUpdateDevice {
  /// `/dev/liveupdate`; nil once closed.
  public var fd: FileDescriptor? { openFD }
  // Private storage behind the public getter: with every access in this file the optimizer
  // drops the runtime exclusivity check a public `var` costs on each session call.
  private var openFD: FileDescriptor?
  public let path: String

  /// `open(/dev/liveupdate, O_RDWR)`; the errno when it cannot be opened (ENOENT: no LUO, or
  /// `liveupdate=on` missing from the kernel command line; EBUSY: already open).
  public static func openResult(path: String = LiveUpdate.devicePath) -> Result<LiveUpdateDevice, Errno> {
    openFile(path, .readWrite).map { LiveUpdateDevice(fd: $0, path: path) }
  }

  /// Like `openResult`, throwing a LiveUpdateError that names the device.
  public convenience init(path: String = LiveUpdate.devicePath) throws(LiveUpdateError) {
    let fd = try openFile(path, .readWrite).get("open(\(path))", path)
    self.init(fd: fd, path: path)
  }

  init(fd: FileDescriptor, path: String) {
    openFD = fd
    self.path = path
  }

  deinit { close() }

  /// Closes the device (other processes may then open it). Sessions stay open.
  public func close() {
    if let fd { LiveUpdateSyscalls.close(fd) }
    openFD = nil
  }

  private func device() throws(LiveUpdateError) -> FileDescriptor {
    guard let fd else { throw .syscall(operation: "use of \(path)", object: path, errno: .badFileDescriptor) }
    return fd
  }

  /// `LIVEUPDATE_IOCTL_CREATE_SESSION` with the raw 64-byte name field (no NUL check here: the
  /// kernel's). For tests of the kernel's own validation; use `createSession(_:)` otherwise.
  public func createSessionResult(rawName: [UInt8]) -> Result<FileDescriptor, Errno> {
    var arg = liveupdate_ioctl_create_session()
    arg.size = UInt32(MemoryLayout<liveupdate_ioctl_create_session>.size)
    copyName(rawName, into: &arg.name)
    guard let fd else { return .failure(.badFileDescriptor) }
    if let e = LiveUpdateSyscalls.createSession(fd, &arg) { return .failure(e) }
    return .success(FileDescriptor(rawValue: arg.fd))
  }

  /// Creates outgoing session `name` (preserved across the next kexec while its fd is open).
  /// Like the C `luo_create_session()`: the ioctl and no other work (no allocation but the
  /// session object, no string formatted unless it fails).
  public func createSession(_ name: String) throws(LiveUpdateError) -> LiveUpdateSession {
    try LiveUpdate.checkName(name)
    let luo = try device()
    var arg = liveupdate_ioctl_create_session()
    arg.size = UInt32(MemoryLayout<liveupdate_ioctl_create_session>.size)
    copyName(name, into: &arg.name)
    if let e = LiveUpdateSyscalls.createSession(luo, &arg) {
      throw .syscall(operation: "ioctl(LIVEUPDATE_IOCTL_CREATE_SESSION)", object: "session '\(name)'", errno: e)
    }
    return LiveUpdateSession(fd: FileDescriptor(rawValue: arg.fd), name: name, incoming: false)
  }

  /// `LIVEUPDATE_IOCTL_RETRIEVE_SESSION`: the session, or the error; a failed ioctl is a
  /// `.syscall` whose `errno` is ENOENT when there is none and EINVAL when it was already
  /// retrieved.
  public func retrieveSessionResult(_ name: String) -> Result<LiveUpdateSession, LiveUpdateError> {
    let luo: FileDescriptor
    do throws(LiveUpdateError) {
      try LiveUpdate.checkName(name)
      luo = try device()
    } catch {
      return .failure(error)
    }
    var arg = liveupdate_ioctl_retrieve_session()
    arg.size = UInt32(MemoryLayout<liveupdate_ioctl_retrieve_session>.size)
    copyName(name, into: &arg.name)
    if let e = LiveUpdateSyscalls.retrieveSession(luo, &arg) {
      return .failure(.syscall(operation: "ioctl(LIVEUPDATE_IOCTL_RETRIEVE_SESSION)", object: "session '\(name)'", errno: e))
    }
    return .success(LiveUpdateSession(fd: FileDescriptor(rawValue: arg.fd), name: name, incoming: true))
  }

  /// Retrieves incoming session `name` after a kexec.
  public func retrieveSession(_ name: String) throws(LiveUpdateError) -> LiveUpdateSession {
    switch retrieveSessionResult(name) {
    case .success(let session): return session
    case .failure(let e): throw e
    }
  }
}
