// SPDX-License-Identifier: GPL-2.0-only
import CVFIOShim
import LibVFIO
import SystemPackage

/// memfds as the Live Update tests use them: one page holding a NUL-terminated string.
public enum Memfd {
  /// `memfd_create(name, 0)`.
  public static func create(_ name: String = "test_mfd") throws(LiveUpdateError) -> FileDescriptor {
    try LiveUpdateSyscalls.memfdCreate(name).get("memfd_create(\(name))", "memfd '\(name)'")
  }

  /// A one-page memfd holding `data` (written through a shared mapping, as the C helper does).
  public static func create(holding data: String, name: String = "test_mfd") throws(LiveUpdateError) -> FileDescriptor {
    let fd = try create(name)
    do throws(LiveUpdateError) {
      let page = MappedMemory.pageSize
      try LiveUpdateSyscalls.truncate(fd, size: page).get("ftruncate(\(page))", "memfd '\(name)'")
      try MappedMemory.writeCStringResult(data, toShared: fd, size: page).get("mmap", "memfd '\(name)'")
      return fd
    } catch {
      LiveUpdateSyscalls.close(fd)
      throw error
    }
  }

  /// `create_and_preserve_memfd`: a memfd holding `data`, preserved in `session` under `token`,
  /// then closed here (the session keeps its own reference).
  public static func preserve(_ data: String, in session: LiveUpdateSession, token: UInt64) throws(LiveUpdateError) {
    let fd = try create(holding: data)
    defer { LiveUpdateSyscalls.close(fd) }
    try session.preserve(fd, token: token)
  }

  /// `close(fd)` of a memfd (one from `restore`, say), errors ignored as C's `close(fd)` does: the
  /// system call and nothing else (SystemPackage's `close()` costs the debug build more than
  /// the call itself, and `luo_stress_files` closes 500).
  public static func close(_ fd: FileDescriptor) {
    LiveUpdateSyscalls.close(fd)
  }

  /// `fallocate(fd, 0, 0, size)`: backs the whole memfd with memory now.
  public static func allocate(_ fd: FileDescriptor, size: Int) throws(LiveUpdateError) {
    try LiveUpdateSyscalls.allocate(fd, size: size).get("fallocate(0x\(String(size, radix: 16)))", "memfd fd \(fd.rawValue)")
  }

  /// The string at the start of a memfd (up to the first NUL, within one page).
  public static func contents(of fd: FileDescriptor) throws(LiveUpdateError) -> String {
    let map = try MappedMemory.sharedResult(fd, offset: 0, size: MappedMemory.pageSize, protection: .read).get("mmap", "memfd fd \(fd.rawValue)")
    defer { map.unmap() }
    return map.cString()
  }

  /// `restore_and_verify_memfd`: retrieves `token` from `session`; when `expected` is given, the
  /// memfd must start with its bytes and a NUL (C's `strcmp`, in the mapping itself: one mmap
  /// and one munmap, no object, no copy and no String unless they differ). Returns the fd,
  /// which the caller owns.
  public static func restore(from session: LiveUpdateSession, token: UInt64, expecting expected: String?) throws(LiveUpdateError) -> FileDescriptor {
    let fd = try session.retrieve(token: token)
    guard let expected else { return fd }
    switch MappedMemory.sharedCStringMismatchResult(fd, size: MappedMemory.pageSize, expecting: expected) {
    case .success(nil):
      return fd
    case .success(let got?):
      LiveUpdateSyscalls.close(fd)
      throw .dataMismatch(token: token, expected: expected, got: got)
    case .failure(let e):
      LiveUpdateSyscalls.close(fd)
      throw .syscall(operation: "mmap", object: "memfd fd \(fd.rawValue)", errno: e)
    }
  }
}

/// `luo_ensure_nofile_limit`: makes sure `minimum` (+32 spare) fds can be open; EPERM when
/// the hard limit is lower and the caller may not raise it.
public func ensureNoFileLimitResult(_ minimum: Int) -> Result<Void, Errno> {
  let want = UInt64(minimum + 32)
  return LiveUpdateSyscalls.noFileLimit().flatMap { current in
    if current.soft >= want { return .success(()) }
    return LiveUpdateSyscalls.setNoFileLimit(soft: want, hard: max(current.hard, want))
  }
}
