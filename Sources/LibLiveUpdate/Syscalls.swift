// SPDX-License-Identifier: GPL-2.0-only
// The one layer of LibLiveUpdate that touches raw pointers and C conventions: memfd_create,
// ftruncate and fallocate, the fd limit, the holder's fork and reaping, and the uAPI's fixed
// `name[64]` char arrays (the uAPI itself: UAPI.swift). Nothing else in LibLiveUpdate imports
// Glibc (scripts/check-sources.py).
// Everything above it is typed and throws LiveUpdateError; LibVFIO's `package` helpers
// (`valueOrErrno`, `openFile`, `FileDescriptor.ioctl`) are used where they fit.
import CVFIOShim
import Glibc
import LibVFIO
import SystemPackage

enum LiveUpdateSyscalls {
  /// `memfd_create(name, 0)` (EINTR retried): the new fd or the errno.
  static func memfdCreate(_ name: String) -> Result<FileDescriptor, Errno> {
    // withCString: the implicit String-to-pointer conversion inside the closure made a
    // ContiguousArray (a heap allocation) per call.
    unsafe name.withCString { p in valueOrErrno { unsafe vst_memfd_create(p, 0) } }.map { FileDescriptor(rawValue: $0) }
  }

  // The session calls the C tests loop over (thousands of sessions and files), each a concrete
  // function: the ioctl and a compare, nothing generic. In the debug build (what CI runs) the
  // generic `FileDescriptor.ioctl<T>` with its `Result<CInt, Errno>`, and SystemPackage's
  // `FileDescriptor.close()`, cost more user time per call than the kernel spends in the call.

  /// `ioctl(fd, request, arg)` (EINTR retried): nil, or the errno.
  private static func ioctl(_ fd: FileDescriptor, _ request: UInt, _ arg: UnsafeMutableRawPointer) -> Errno? {
    while true {
      if unsafe vst_ioctl(fd.rawValue, request, arg) != -1 { return nil }
      let e = vst_errno()
      if e != EINTR { return Errno(rawValue: e) }
    }
  }

  /// `LIVEUPDATE_IOCTL_CREATE_SESSION`: nil, or the errno.
  static func createSession(_ luo: FileDescriptor, _ arg: inout liveupdate_ioctl_create_session) -> Errno? {
    unsafe ioctl(luo, LiveUpdateUAPI.CREATE_SESSION, &arg)
  }

  /// `LIVEUPDATE_IOCTL_RETRIEVE_SESSION`: nil, or the errno.
  static func retrieveSession(_ luo: FileDescriptor, _ arg: inout liveupdate_ioctl_retrieve_session) -> Errno? {
    unsafe ioctl(luo, LiveUpdateUAPI.RETRIEVE_SESSION, &arg)
  }

  /// `LIVEUPDATE_SESSION_PRESERVE_FD`: nil, or the errno.
  static func preserveFD(_ session: FileDescriptor, _ arg: inout liveupdate_session_preserve_fd) -> Errno? {
    unsafe ioctl(session, LiveUpdateUAPI.SESSION_PRESERVE_FD, &arg)
  }

  /// `LIVEUPDATE_SESSION_RETRIEVE_FD`: nil, or the errno.
  static func retrieveFD(_ session: FileDescriptor, _ arg: inout liveupdate_session_retrieve_fd) -> Errno? {
    unsafe ioctl(session, LiveUpdateUAPI.SESSION_RETRIEVE_FD, &arg)
  }

  /// `LIVEUPDATE_SESSION_FINISH`: nil, or the errno.
  static func finish(_ session: FileDescriptor, _ arg: inout liveupdate_session_finish) -> Errno? {
    unsafe ioctl(session, LiveUpdateUAPI.SESSION_FINISH, &arg)
  }

  /// `close(fd)`, once (Linux releases the fd even when close reports EINTR, so it is never
  /// retried); errors ignored, as every caller here did with `try? fd.close()`.
  static func close(_ fd: FileDescriptor) {
    _ = Glibc.close(fd.rawValue)
  }

  /// `ftruncate(fd, size)` (EINTR retried): the errno on failure.
  static func truncate(_ fd: FileDescriptor, size: Int) -> Result<Void, Errno> {
    valueOrErrno { ftruncate(fd.rawValue, off_t(size)) }.map { _ in () }
  }

  /// `fallocate(fd, 0, 0, size)` (EINTR retried): the errno on failure.
  static func allocate(_ fd: FileDescriptor, size: Int) -> Result<Void, Errno> {
    valueOrErrno { vst_fallocate(fd.rawValue, 0, 0, off_t(size)) }.map { _ in () }
  }

  /// `getrlimit(RLIMIT_NOFILE)`: the soft and hard limits or the errno.
  static func noFileLimit() -> Result<(soft: UInt64, hard: UInt64), Errno> {
    var lim = rlimit()
    guard unsafe getrlimit(Int32(RLIMIT_NOFILE.rawValue), &lim) == 0 else { return .failure(Errno(rawValue: vst_errno())) }
    return .success((UInt64(lim.rlim_cur), UInt64(lim.rlim_max)))
  }

  /// `setrlimit(RLIMIT_NOFILE, {soft, hard})`: the errno on failure.
  static func setNoFileLimit(soft: UInt64, hard: UInt64) -> Result<Void, Errno> {
    var lim = rlimit(rlim_cur: rlim_t(soft), rlim_max: rlim_t(hard))
    guard unsafe setrlimit(Int32(RLIMIT_NOFILE.rawValue), &lim) == 0 else { return .failure(Errno(rawValue: vst_errno())) }
    return .success(())
  }

  /// `getdtablesize()`: the size of this process's fd table.
  static func descriptorTableSize() -> Int32 {
    getdtablesize()
  }

  /// Forks the holder in the C shim (`vst_fork_holder`): the child keeps exactly `fds` (closing
  /// every other fd: close_range(2) over the gaps, or each fd below `maxfd` without it) and
  /// waits; returns the child's pid or the errno.
  static func forkHolder(keeping fds: [CInt], maxfd: CInt) -> Result<pid_t, Errno> {
    let sorted = fds.sorted()  // the shim walks the gaps between them; the child must not allocate
    let pid = unsafe sorted.withUnsafeBufferPointer { unsafe vst_fork_holder($0.baseAddress, Int32($0.count), maxfd) }
    guard pid > 0 else { return .failure(Errno(rawValue: vst_errno())) }
    return .success(pid)
  }

  /// `waitpid(pid, &status, 0)` once: the wait status or the errno.
  @discardableResult
  static func waitForExit(_ pid: pid_t) -> Result<CInt, Errno> {
    var status: CInt = 0
    guard unsafe waitpid(pid, &status, 0) != -1 else { return .failure(Errno(rawValue: vst_errno())) }
    return .success(status)
  }
}

/// Copies `name`'s UTF-8 bytes into a uAPI `name[64]` field (imported as a tuple), with one
/// memcpy and never past its end. The field was zeroed and the caller checked the
/// length (`LiveUpdate.checkName`), so the NUL stays.
func copyName<Field>(_ name: String, into field: inout Field) {
  var name = name
  name.withUTF8 { unsafe copyBytes($0, into: &field) }
}

/// Copies `bytes` into a uAPI `name[64]` field, with one memcpy and never past its end.
func copyName<Field>(_ bytes: [UInt8], into field: inout Field) {
  unsafe bytes.withUnsafeBufferPointer { unsafe copyBytes($0, into: &field) }
}

private func copyBytes<Field>(_ src: UnsafeBufferPointer<UInt8>, into field: inout Field) {
  unsafe withUnsafeMutableBytes(of: &field) { dst in
    let n = min(src.count, dst.count)
    if n > 0 { unsafe dst.baseAddress!.copyMemory(from: src.baseAddress!, byteCount: n) }
  }
}

/// All the bytes of a uAPI `name[64]` field.
func bytes<Field>(ofName field: Field) -> [UInt8] {
  unsafe withUnsafeBytes(of: field) { unsafe Array($0) }
}

/// The string in a uAPI `name[64]` field, up to its first NUL.
func string<Field>(fromName field: Field) -> String {
  unsafe withUnsafeBytes(of: field) { unsafe String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
}
