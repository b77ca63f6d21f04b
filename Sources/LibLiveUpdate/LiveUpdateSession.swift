// SPDX-License-Identifier: GPL-2.0-only
import CVFIOShim
import LibVFIO
import SystemPackage

/// A Live Update session: outgoing (created; fds are preserved into it) or incoming
/// (retrieved after kexec; fds are retrieved from it, then it is finished). Closing an outgoing
/// session unpreserves its files; closing an incoming one tries to finish it.
public final class LiveUpdateSession {
  /// The session fd; nil once closed or released.
  public var fd: FileDescriptor? { openFD }
  // Private storage behind the public getter: with every access in this file the optimizer
  // drops the runtime exclusivity check a public `var` costs on each session call.
  private var openFD: FileDescriptor?
  public let name: String
  public let incoming: Bool

  init(fd: FileDescriptor, name: String, incoming: Bool) {
    openFD = fd
    self.name = name
    self.incoming = incoming
  }

  deinit { close() }

  public func close() {
    if let fd { LiveUpdateSyscalls.close(fd) }
    openFD = nil
  }

  /// Gives up ownership of the session fd without closing it (for the holder, which must keep
  /// it open until kexec).
  public func release() -> FileDescriptor? {
    defer { openFD = nil }
    return fd
  }

  var label: String { "session '\(name)'" }

  private func session() -> Result<FileDescriptor, Errno> {
    fd.map { .success($0) } ?? .failure(.badFileDescriptor)
  }

  // The session calls below are what the C tests loop over (thousands of sessions and files):
  // each is the one ioctl (a concrete wrapper in Syscalls.swift), with no closure, generic,
  // allocation or formatted string unless it fails.

  /// `LIVEUPDATE_SESSION_PRESERVE_FD`; the errno as the kernel gives it (ENOENT: no handler can
  /// preserve this file; EBUSY: already preserved; EEXIST: token in use).
  public func preserveResult(_ file: FileDescriptor, token: UInt64) -> Result<Void, Errno> {
    guard let fd else { return .failure(.badFileDescriptor) }
    var arg = liveupdate_session_preserve_fd()
    arg.size = UInt32(MemoryLayout<liveupdate_session_preserve_fd>.size)
    arg.fd = file.rawValue
    arg.token = token
    if let e = LiveUpdateSyscalls.preserveFD(fd, &arg) { return .failure(e) }
    return .success(())
  }

  public func preserve(_ file: FileDescriptor, token: UInt64) throws(LiveUpdateError) {
    if case .failure(let e) = preserveResult(file, token: token) {
      throw .syscall(operation: "ioctl(LIVEUPDATE_SESSION_PRESERVE_FD, token 0x\(String(token, radix: 16)))", object: label, errno: e)
    }
  }

  /// `LIVEUPDATE_SESSION_RETRIEVE_FD`; ENOENT for an unknown token.
  public func retrieveResult(token: UInt64) -> Result<FileDescriptor, Errno> {
    guard let fd else { return .failure(.badFileDescriptor) }
    var arg = liveupdate_session_retrieve_fd()
    arg.size = UInt32(MemoryLayout<liveupdate_session_retrieve_fd>.size)
    arg.token = token
    if let e = LiveUpdateSyscalls.retrieveFD(fd, &arg) { return .failure(e) }
    return .success(FileDescriptor(rawValue: arg.fd))
  }

  public func retrieve(token: UInt64) throws(LiveUpdateError) -> FileDescriptor {
    switch retrieveResult(token: token) {
    case .success(let file): return file
    case .failure(let e):
      throw .syscall(operation: "ioctl(LIVEUPDATE_SESSION_RETRIEVE_FD, token 0x\(String(token, radix: 16)))", object: label, errno: e)
    }
  }

  /// `LIVEUPDATE_SESSION_FINISH`; EBUSY while a file cannot finish yet.
  public func finishResult() -> Result<Void, Errno> {
    guard let fd else { return .failure(.badFileDescriptor) }
    var arg = liveupdate_session_finish()
    arg.size = UInt32(MemoryLayout<liveupdate_session_finish>.size)
    if let e = LiveUpdateSyscalls.finish(fd, &arg) { return .failure(e) }
    return .success(())
  }

  public func finish() throws(LiveUpdateError) {
    if case .failure(let e) = finishResult() { throw .syscall(operation: "ioctl(LIVEUPDATE_SESSION_FINISH)", object: label, errno: e) }
  }

  /// `LIVEUPDATE_SESSION_GET_NAME`: the name the kernel holds for this session.
  public func kernelName() throws(LiveUpdateError) -> String {
    var arg = liveupdate_session_get_name()
    arg.size = UInt32(MemoryLayout<liveupdate_session_get_name>.size)
    _ = try session().flatMap { $0.ioctl(LiveUpdateUAPI.SESSION_GET_NAME, &arg) }.get("ioctl(LIVEUPDATE_SESSION_GET_NAME)", label)
    return string(fromName: arg.name)
  }
}
